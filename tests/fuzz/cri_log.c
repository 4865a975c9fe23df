/* CRI log lines ("TIME STREAM P|F text"), parsed in Lua by
 * providers/mynode/logs.lua (M.lines), run in a Lua state as vk runs it.
 * Input: one byte for the timestamps flag, then the log file's bytes. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef VK_FUZZ_PROVIDERS
#error "VK_FUZZ_PROVIDERS: the tree's providers/ folder"
#endif

static lua_State *setup(void)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	/* logs.lua's other requires are not used by M.lines: empty modules. */
	const char *boot = "for _, m in ipairs{'vk.cri', 'vk.fs', 'mynode.common'} do\n"
			   "  package.preload[m] = function() return {} end\n"
			   "end\n"
			   "return dofile(...)\n";
	if (luaL_loadstring(L, boot) != LUA_OK)
		abort();
	lua_pushstring(L, VK_FUZZ_PROVIDERS "/mynode/logs.lua");
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		fprintf(stderr, "cri_log: %s\n", lua_tostring(L, -1));
		abort();
	}
	lua_getfield(L, -1, "lines");
	if (!lua_isfunction(L, -1))
		abort();
	lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.lines");
	lua_settop(L, 0);
	return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lua_State *L;
	if (!L)
		L = setup();
	if (size < 1)
		return 0;
	lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.lines");
	lua_pushlstring(L, (const char *)data + 1, size - 1);
	lua_pushboolean(L, data[0] & 1);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		fprintf(stderr, "cri_log: M.lines raised: %s\n", lua_tostring(L, -1));
		abort(); /* kubectl logs would fail on this file */
	}
	if (!lua_istable(L, -1))
		abort();
	lua_settop(L, 0);
	if (lua_gc(L, LUA_GCCOUNT, 0) > 64 * 1024)
		lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
