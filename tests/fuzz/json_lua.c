/* JSON <-> Lua (vk_lua_push_json, vk_lua_to_json): every object from the
 * API server and every table a provider returns goes through it.  What
 * comes back from Lua must print as JSON that parses again. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>

#include "vk/json.h"
#include "host.h"
#include "vk/lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lua_State *L;
	if (!L) {
		vk_json_init();
		L = luaL_newstate();
		luaL_openlibs(L);
		vk_lua__json_init(L);
	}
	cJSON *in = cJSON_ParseWithLength((const char *)data, size);
	if (!in)
		return 0;
	vk_lua_push_json(L, in);
	cJSON_Delete(in);
	char *err = NULL;
	cJSON *out = vk_lua_to_json(L, -1, &err);
	lua_settop(L, 0);
	if (out) {
		char *s = cJSON_PrintUnformatted(out);
		cJSON *again = s ? cJSON_Parse(s) : NULL;
		if (!again)
			abort(); /* vk printed JSON it cannot read back */
		cJSON_Delete(again);
		free(s);
		cJSON_Delete(out);
	}
	free(err);
	if (lua_gc(L, LUA_GCCOUNT, 0) > 64 * 1024)
		lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
