/* `vk test` (vk/lua.h, vk_lua_test_run): runs one spec file in a host of
 * its own, on the virtual clock (vclock.c).  The spec language itself is
 * Lua, lua/vk/test.lua (describe/it/expect, pods, clock, mock); this file
 * gives it what only C can: the clock, tasks named like the core's
 * callbacks, the provider table's checks, and a call that cannot yield (a
 * provider's top level runs as in production, where I/O there is refused). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

typedef struct {
	vk_lua_test_cb cb;
	void *ud;
	vk_lua_host *h;
} run_ctx;

typedef struct {
	lua_State *L;
	int list; /* absolute index of the problems' table */
} problems;

static void add_problem(void *ud, char *problem)
{
	problems *p = ud;
	lua_pushstring(p->L, problem);
	lua_rawseti(p->L, p->list, (lua_Integer)luaL_len(p->L, p->list) + 1);
	free(problem);
}

/* validate(table, path) -> {"file:line: message", ...}, name: the checks
 * open and `vk check` make on a provider table. */
static int l_validate(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *path = luaL_checkstring(L, 2);
	char *name = NULL;
	lua_settop(L, 2);
	lua_newtable(L);     /* 3: the problems */
	lua_pushvalue(L, 1); /* 4: the table, as validate wants it on top */
	problems p = {L, 3};
	vk_lua__validate_provider(L, path, NULL, &name, add_problem, &p);
	lua_settop(L, 3);
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushnil(L);
	free(name);
	return 2;
}

/* top(fn, ...) -> fn(...), called so that it cannot yield: a provider's top
 * level runs like that in production, so I/O there fails the same way. */
static int l_top(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* task_pod() -> namespace, name of the running callback's pod (or nils). */
static int l_task_pod(lua_State *L)
{
	const char *ns, *name;
	vk_lua__task_pod(L, &ns, &name);
	lua_pushstring(L, ns);
	lua_pushstring(L, name);
	return 2;
}

static int open_core(lua_State *L)
{
	vk_lua__open_vclock(L);
	static const luaL_Reg fns[] = {
		{"call_as", vk_lua__spawn_as},
		{"validate", l_validate},
		{"top", l_top},
		{"task_pod", l_task_pod},
		{NULL, NULL},
	};
	luaL_setfuncs(L, fns, 0);
	return 1;
}

static void run_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	run_ctx *c = vk_lua__task_ud(t);
	int passed = 0, failed = 0;
	if (!err && nres >= 2) {
		passed = (int)lua_tointeger(t->co, -2);
		failed = (int)lua_tointeger(t->co, -1);
	}
	char *msg = err ? vk_strdup(errmsg ? errmsg : "error") : NULL;
	vk_lua_host *h = c->h;
	vk_lua_test_cb cb = c->cb;
	void *ud = c->ud;
	free(c);
	/* The spec is over: stop what the provider left running (every(),
	 * sleepers, pass-through I/O), then the clock. */
	vk_lua__host_ref(h);
	vk_lua__host_close(h);
	vk_lua__vclock_close(h);
	vk_lua__host_unref(h);
	cb(passed, failed, msg, ud);
	free(msg);
}

int vk_lua_test_run(const vk_lua_opts *o, int first, const cJSON *node, vk_lua_test_cb cb, void *ud)
{
	char *err = NULL;
	vk_lua_host *h = vk_lua__host_new(o, &err);
	if (!h) {
		free(err);
		return -ENOMEM;
	}
	vk_lua__vclock_enable(h);
	lua_State *L = h->L;
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, open_core);
	lua_setfield(L, -2, "vk.test.core");
	lua_pop(L, 1);
	static const char runner[] = "return require('vk.test').run(...)";
	if (luaL_loadbuffer(L, runner, sizeof runner - 1, "=vk test") != LUA_OK) {
		lua_pop(L, 1);
		vk_lua__vclock_close(h);
		vk_lua__host_close(h);
		return -EINVAL;
	}
	run_ctx *c = vk_xcalloc(1, sizeof *c);
	c->cb = cb;
	c->ud = ud;
	c->h = h;
	char *speaker = vk_asprintf("test %s", o->path);
	vk_lua_task *t = vk_lua__task_new(h, speaker, run_done, c);
	free(speaker);
	lua_pushstring(t->co, o->path);
	lua_pushinteger(t->co, first);
	vk_lua_push_json(t->co, node);
	vk_lua__task_queue(t, 3);
	return 0;
}
