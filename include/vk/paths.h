/* vk/paths.h - where vk finds the Lua it ships: its modules (lua/) and its
 * providers (providers/).
 *
 * An installed vk (`meson install`, the Debian package) reads them from the
 * data folder meson was configured with (/usr/share/vk/lua and
 * /usr/share/vk/providers for the package).  A vk run from the build folder
 * of a source tree (build/vk, the tests) reads the tree's own lua/ and
 * providers/ instead, so an edit in the tree needs no install.  Which of the
 * two a process is, is decided once from its executable's path. */
#ifndef VK_PATHS_H
#define VK_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* True when the running executable lies under the build folder meson
 * configured (build/vk, build-test/tests/unit/test_x): the tree's files
 * are used.  False for an installed binary. */
bool vk_paths_uninstalled(void);

/* The folder of vk's shipped Lua modules (holding vk/podspec.lua) and the
 * folder of its shipped providers (holding mynode.lua), for this process. */
const char *vk_paths_lua_dir(void);
const char *vk_paths_providers_dir(void);

/* `--provider NAME`: a bare name (no '/', not ending in ".lua") means the
 * shipped provider NAME.lua; its path is written to out and true returned.
 * Anything else is a path, used as given: false, out untouched.  A path
 * longer than n - 1 bytes is not a shipped provider either (false). */
bool vk_paths_shipped_provider(const char *arg, char *out, size_t n);

#endif
