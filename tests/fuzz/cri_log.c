/* CRI log lines ("TIME STREAM P|F text") and kubelet's PodLogOptions over
 * them, in Lua as mynode runs them (providers/mynode/cri_log.lua, M.select:
 * parse, join partial lines, since, tail, timestamps, limitBytes).
 * Input: one byte of option flags, then the log file's bytes. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lua_cov.h"

#ifndef VK_FUZZ_PROVIDERS
#error "VK_FUZZ_PROVIDERS: the tree's providers/ folder"
#endif

static lua_State *setup(void)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	/* cri_log.lua is pure: it requires nothing.  The flags byte picks the
	 * options: timestamps, tailLines 0-15, sinceSeconds, limitBytes, and
	 * whether the container ended (the last partial line is flushed). */
	const char *boot = "local L = dofile(...)\n"
			   "return {lines = function(data, f)\n"
			   "  local opts = {timestamps = f & 1 ~= 0}\n"
			   "  if f & 2 ~= 0 then opts.tailLines = (f >> 2) & 15 end\n"
			   "  if f & 64 ~= 0 then opts.sinceSeconds = 3600 end\n"
			   "  if f & 128 ~= 0 then opts.limitBytes = 100 end\n"
			   "  local text = L.select(data, opts, 1764662400, f & 32 ~= 0)\n"
			   "  assert(type(text) == 'string')\n"
			   "  return {text}\n"
			   "end}\n";
	if (luaL_loadstring(L, boot) != LUA_OK)
		abort();
	lua_pushstring(L, VK_FUZZ_PROVIDERS "/mynode/cri_log.lua");
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		fprintf(stderr, "cri_log: %s\n", lua_tostring(L, -1));
		abort();
	}
	lua_getfield(L, -1, "lines");
	if (!lua_isfunction(L, -1))
		abort();
	lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.lines");
	lua_settop(L, 0);
	vk_fuzz_lua_cov(L);
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
	lua_pushinteger(L, data[0]);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		fprintf(stderr, "cri_log: M.select raised: %s\n", lua_tostring(L, -1));
		abort(); /* kubectl logs would fail on this file */
	}
	if (!lua_istable(L, -1))
		abort();
	lua_settop(L, 0);
	if (lua_gc(L, LUA_GCCOUNT, 0) > 64 * 1024)
		lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
