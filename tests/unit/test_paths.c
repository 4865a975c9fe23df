/* Where vk finds its shipped Lua (vk/paths.h): the source tree when the
 * executable lies under the build folder, the installed data folder when it
 * does not, and `--provider NAME` as the shipped NAME.lua.  The installed
 * case is this same test binary copied out of the build folder and run
 * again: it prints what it sees and the first run checks it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vk/paths.h"
#include "vk/util.h"
#include "vk_paths_config.h"

static int print_paths(void)
{
	char p[256];
	printf("uninstalled=%d\nlua=%s\nproviders=%s\n", vk_paths_uninstalled(), vk_paths_lua_dir(),
	       vk_paths_providers_dir());
	printf("mynode=%s\n", vk_paths_shipped_provider("mynode", p, sizeof p) ? p : "(path)");
	return 0;
}

/* Copies this executable to DIR/test_paths and runs it with --print: its
 * output in *out (the caller frees). */
static int run_copy(const char *dir, char **out)
{
	char *dst = vk_asprintf("%s/test_paths", dir);
	char *cmd = vk_asprintf("cp /proc/%d/exe %s && %s --print", (int)getpid(), dst, dst);
	FILE *f = popen(cmd, "r");
	vk_buf b = {0};
	char line[512];
	while (f && fgets(line, sizeof line, f))
		vk_buf_printf(&b, "%s", line);
	int rc = f ? pclose(f) : -1;
	unlink(dst);
	free(dst);
	free(cmd);
	*out = b.data ? b.data : vk_strdup("");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--print") == 0)
		return print_paths();

	ok(vk_paths_uninstalled(), "a test binary under the build folder counts as uninstalled");
	is_str(vk_paths_lua_dir(), VK_SOURCE_ROOT "/lua", "uninstalled: the tree's lua/");
	is_str(vk_paths_providers_dir(), VK_SOURCE_ROOT "/providers", "uninstalled: the tree's providers/");

	char p[4096];
	ok(vk_paths_shipped_provider("mynode", p, sizeof p), "a bare name is a shipped provider");
	is_str(p, VK_SOURCE_ROOT "/providers/mynode.lua", "--provider mynode is the tree's providers/mynode.lua");
	ok(access(p, R_OK) == 0, "and that file is there");
	strcpy(p, "untouched");
	ok(!vk_paths_shipped_provider("providers/mynode.lua", p, sizeof p), "a path with a slash is used as given");
	ok(!vk_paths_shipped_provider("mynode.lua", p, sizeof p),
	   "a name ending in .lua is a file in the current folder");
	ok(!vk_paths_shipped_provider("", p, sizeof p), "an empty name is not a shipped provider");
	is_str(p, "untouched", "out is left alone when the argument is a path");
	ok(!vk_paths_shipped_provider("mynode", p, 8), "a path that does not fit is refused, not cut");

	char tmpl[] = "/tmp/vk-paths.XXXXXX";
	char *dir = mkdtemp(tmpl), *out = NULL;
	ok(dir != NULL, "a temporary folder for the copy");
	if (dir) {
		int rc = run_copy(dir, &out);
		ok(rc == 0, "the copy runs (rc %d)", rc);
		ok(strstr(out, "uninstalled=0\n") != NULL, "a binary outside the build folder counts as installed");
		ok(strstr(out, "lua=" VK_DATA_DIR "/lua\n") != NULL, "installed: lua/ under the data folder");
		ok(strstr(out, "providers=" VK_DATA_DIR "/providers\n") != NULL, "installed: providers/ under it");
		ok(strstr(out, "mynode=" VK_DATA_DIR "/providers/mynode.lua\n") != NULL,
		   "installed: --provider mynode is the installed mynode.lua");
		if (!strstr(out, "uninstalled=0"))
			tap_diag("the copy printed: %s", out);
		free(out);
		rmdir(dir);
	}
	return tap_done();
}
