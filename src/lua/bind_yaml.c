/* vk.yaml: decode(s) -> table (arrays marked, null as vk.json.null), with
 * the core's YAML reader (vk_yaml_parse, vk/yaml.h). */
#include <stdlib.h>

#include "host.h"
#include "vk/util.h"
#include "vk/yaml.h"

static int l_decode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	char *err = NULL;
	cJSON *j = vk_yaml_parse(s, n, &err);
	if (!j) {
		lua_pushfstring(L, "vk.yaml.decode: %s", err ? err : "out of memory");
		free(err);
		return lua_error(L);
	}
	vk_lua_push_json(L, j);
	cJSON_Delete(j);
	return 1;
}

int vk_lua__open_yaml(lua_State *L)
{
	static const luaL_Reg fns[] = {{"decode", l_decode}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
