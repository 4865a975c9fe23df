/* The Lua API as vk really offers it, against what its authors read: every
 * module vk registers (package.preload "vk.*"), each of its fields, each
 * method of an object a module hands out, and each provider callback the
 * core calls must be named in the editor stubs (lua/vk.d.lua and
 * lua/vk.*.d.lua) and in the man page vk-lua(7); every flag of the command
 * line in vk(1).  A binding or callback added without its documentation
 * fails here.  The names are taken from a live Lua host; the comparison
 * is tests/lua/stubs_cover.lua, run in that host's state. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "tap.h"
#include "vk/json.h"
#include "vk/provider.h"
#include "vk/util.h"

/* Appends the string keys of the table at src to the array at dst. */
static void add_keys(lua_State *L, int src, int dst)
{
	src = lua_absindex(L, src);
	dst = lua_absindex(L, dst);
	lua_pushnil(L);
	while (lua_next(L, src)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING) {
			lua_pushvalue(L, -1);
			lua_rawseti(L, dst, (lua_Integer)luaL_len(L, dst) + 1);
		}
	}
}

/* What the host offers, as a table for stubs_cover.lua:
 *   {modules = {["vk.timer"] = {"sleep", ...}, ["vk.notify"] = {}}, vk = {...},
 *    methods = {"stop", ...}, callbacks = {"create_pod", ...}} */
static void push_offered(lua_State *L)
{
	lua_newtable(L);
	lua_newtable(L); /* modules */
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1);
		const char *name = lua_tostring(L, -1);
		if (strncmp(name, "vk.", 3) != 0)
			continue;
		lua_getglobal(L, "require");
		lua_pushvalue(L, -2);
		if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
			tap_diag("require \"%s\": %s", name, lua_tostring(L, -1));
			lua_pop(L, 1);
			continue;
		}
		lua_newtable(L);
		if (lua_istable(L, -2))
			add_keys(L, -2, -1);
		lua_setfield(L, -5, name); /* modules[name] = keys */
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_setfield(L, -2, "modules");

	lua_newtable(L); /* vk: the aggregate table's own functions (spawn, ...) */
	lua_getglobal(L, "vk");
	add_keys(L, -1, -2);
	lua_pop(L, 1);
	lua_setfield(L, -2, "vk");

	/* Methods: every metatable a module registered under a "vk." name, now
	 * that each module is loaded, with an __index table of functions. */
	lua_newtable(L);
	int methods = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, LUA_REGISTRYINDEX)) {
		if (lua_type(L, -2) == LUA_TSTRING && strncmp(lua_tostring(L, -2), "vk.", 3) == 0 &&
		    lua_istable(L, -1)) {
			lua_getfield(L, -1, "__index");
			if (lua_istable(L, -1))
				add_keys(L, -1, methods);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_setfield(L, -2, "methods");

	lua_newtable(L); /* the provider's callbacks, as the core calls them */
	for (int k = 0; k < VK_CALL__COUNT; k++) {
		lua_pushstring(L, vk_provider_call_name((vk_provider_call)k));
		lua_rawseti(L, -2, k + 1);
	}
	const char *others[] = {"init", "on_reload", "name"}; /* src/lua/validate.c's */
	for (int i = 0; i < 3; i++) {
		lua_pushstring(L, others[i]);
		lua_rawseti(L, -2, VK_CALL__COUNT + i + 1);
	}
	lua_setfield(L, -2, "callbacks");
}

int main(void)
{
	vk_json_init();
	uv_loop_t *loop = uv_default_loop();
	vk_lua_opts o = {.loop = loop, .path = VK_SOURCE_LUA_DIR "/../providers/mock.lua"};
	char *err = NULL;
	vk_lua_host *h = vk_lua__host_new(&o, &err);
	ok(h != NULL, "a Lua host starts (%s)", err ? err : "ok");
	if (!h)
		return tap_done();

	lua_State *L = h->L; /* the checker runs in the host's state, beside the modules */
	if (luaL_loadfile(L, VK_SOURCE_LUA_DIR "/../tests/lua/stubs_cover.lua") != LUA_OK) {
		ok(false, "tests/lua/stubs_cover.lua loads: %s", lua_tostring(L, -1));
		return tap_done();
	}
	push_offered(L);
	lua_pushstring(L, VK_SOURCE_LUA_DIR "/..");
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		ok(false, "tests/lua/stubs_cover.lua runs: %s", lua_tostring(L, -1));
		return tap_done();
	}
	/* {{desc = ..., missing = "a, b" or nil}, ...} */
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
		lua_getfield(L, -1, "desc");
		lua_getfield(L, -2, "missing");
		ok(lua_isnil(L, -1), "%s", lua_tostring(L, -2));
		if (!lua_isnil(L, -1))
			tap_diag("missing: %s", lua_tostring(L, -1));
		lua_pop(L, 3);
	}
	lua_settop(L, 0);
	vk_lua__host_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
	return tap_done();
}
