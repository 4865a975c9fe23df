/* The module table behind require "vk.*", the aggregate `vk` table and
 * print().  A binding is one luaopen-style function; adding one means one
 * line in `modules` below (and one file, src/lua/bind_<name>.c). */
#include <string.h>

#include "host.h"
#include "vk/util.h"

static const luaL_Reg modules[] = {
	{"vk.timer", vk_lua__open_timer}, {"vk.log", vk_lua__open_log},       {"vk.json", vk_lua__open_json},
	{"vk.yaml", vk_lua__open_yaml},   {"vk.notify", vk_lua__open_notify}, {"vk.kube", vk_lua__open_kube},
	{"vk.http", vk_lua__open_http},   {"vk.cri", vk_lua__open_cri},       {"vk.fs", vk_lua__open_fs},
	{"vk.event", vk_lua__open_event}, {"vk.k8s", vk_lua__open_k8s},       {"vk.task", vk_lua__open_task},
	{"vk.store", vk_lua__open_store}, {"vk.crypto", vk_lua__open_crypto}, {"vk.config", vk_lua__open_config},
	{"vk.net", vk_lua__open_net},     {"vk.host", vk_lua__open_host},     {NULL, NULL},
};

/* vk.<name> requires "vk.<name>" on first use, so `vk.timer.sleep(10)`
 * works without a require line and modules cost nothing until used. */
static int vk_index(lua_State *L)
{
	const char *k = luaL_checkstring(L, 2);
	lua_getglobal(L, "require");
	lua_pushfstring(L, "vk.%s", k);
	lua_call(L, 1, 1);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, 1);
	return 1;
}

/* vk.spawn, vk.semaphore and vk.mutex are vk.task's functions. */
static int open_vk(lua_State *L)
{
	lua_newtable(L);
	luaL_requiref(L, "vk.task", vk_lua__open_task, 0);
	for (const char *const *f = (const char *const[]){"spawn", "semaphore", "mutex", NULL}; *f; f++) {
		lua_getfield(L, -1, *f);
		lua_setfield(L, -3, *f);
	}
	lua_pop(L, 1);
	lua_newtable(L);
	lua_pushcfunction(L, vk_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	return 1;
}

/* print() goes to the log, tagged like vk.log.info. */
static int lua_print(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	vk_lua_task *t = vk_lua__current(L);
	vk_info(t ? t->speaker : "provider", "%s", lua_tostring(L, -1));
	return 0;
}

static int refuse_exit(lua_State *L)
{
	return luaL_error(L, "os.exit is not available to a provider: an error() fails only this callback");
}

static int refuse_sethook(lua_State *L) { return luaL_error(L, "debug.sethook is reserved for vk's callback budget"); }

/* A provider must not end vk (os.exit) nor lift its own budget. */
static void guard_stdlib(lua_State *L)
{
	lua_getglobal(L, "os");
	lua_pushcfunction(L, refuse_exit);
	lua_setfield(L, -2, "exit");
	lua_pop(L, 1);
	lua_getglobal(L, "debug");
	lua_pushcfunction(L, refuse_sethook);
	lua_setfield(L, -2, "sethook");
	lua_pop(L, 1);
}

void vk_lua__open_modules(lua_State *L)
{
	guard_stdlib(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	for (const luaL_Reg *m = modules; m->name; m++) {
		lua_pushcfunction(L, m->func);
		lua_setfield(L, -2, m->name);
	}
	lua_pop(L, 1);
	luaL_requiref(L, "vk", open_vk, 1);
	lua_pop(L, 1);
	lua_pushcfunction(L, lua_print);
	lua_setglobal(L, "print");
}
