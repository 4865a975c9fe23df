/* vk.config: where a provider's config came from, so that its checks can
 * point at the line of the file (no yield):
 *   file()       -> the --provider-config path (made absolute), or nil
 *   lines(text)  -> {["key.sub[2].x"] = LINE, ...}: the 1-based line of every
 *                   mapping key and sequence item of the YAML text, by its
 *                   path (keys joined with '.', items as [N] from 1), or
 *                   nil, "line N: problem" for text that is not YAML
 * A provider reads the file with vk.fs.read_file, then names a bad setting
 * as "FILE:LINE: key: why" (providers/cloud.lua does). */
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"
#include "vk/yaml.h"

static int l_file(lua_State *L)
{
	vk_lua_host *h = vk_lua__host_of(L);
	if (h && h->config_path)
		lua_pushstring(L, h->config_path);
	else
		lua_pushnil(L);
	return 1;
}

static void record(const char *path, const char *key, int depth, size_t line, void *ud)
{
	(void)key, (void)depth;
	lua_State *L = ud;
	lua_pushinteger(L, (lua_Integer)line);
	lua_setfield(L, -2, path);
}

static int l_lines(lua_State *L)
{
	size_t n;
	const char *text = luaL_checklstring(L, 1, &n);
	lua_newtable(L);
	char *err = NULL;
	if (vk_yaml_walk_lines(text, n, record, L, &err) < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "vk.config.lines: %s", err);
		free(err);
		return 2;
	}
	return 1;
}

int vk_lua__open_config(lua_State *L)
{
	static const luaL_Reg fns[] = {{"file", l_file}, {"lines", l_lines}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
