/* vk_lua_sources_hash: the same sources give the same hash, another
 * module's contents another, and a missing file counts as empty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vk/lua.h"
#include "vk/util.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

int main(void)
{
	char dir[] = "/tmp/vk-sources.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char *prov = vk_asprintf("%s/p.lua", dir);
	char *mod = vk_asprintf("%s/helper.lua", dir);
	char *gone = vk_asprintf("%s/gone.lua", dir);
	write_file(prov, "return {}\n");
	write_file(mod, "return {a=1}\n");

	char h1[17], h2[17], h3[17], h4[17], h5[17];
	char *hf[] = {prov, mod, NULL};
	vk_lua_sources_hash(hf, h1);
	vk_lua_sources_hash(hf, h2);
	write_file(mod, "return {b=1}\n");
	vk_lua_sources_hash(hf, h3);
	ok(strlen(h1) == 16 && strspn(h1, "0123456789abcdef") == 16, "the hash is 16 hex digits (%s)", h1);
	is_str(h1, h2, "the same sources give the same hash");
	ok(strcmp(h1, h3) != 0, "a changed module changes the hash");

	/* a missing file hashes like an empty one, and still separates files */
	char *hg[] = {prov, gone, NULL};
	vk_lua_sources_hash(hg, h4);
	write_file(gone, "");
	vk_lua_sources_hash(hg, h5);
	is_str(h4, h5, "a missing file counts as empty");
	char *hp[] = {prov, NULL};
	vk_lua_sources_hash(hp, h5);
	ok(strcmp(h4, h5) != 0, "an empty file still counts as a file");

	unlink(prov);
	unlink(mod);
	unlink(gone);
	rmdir(dir);
	free(prov);
	free(mod);
	free(gone);
	return tap_done();
}
