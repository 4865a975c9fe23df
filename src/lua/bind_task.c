/* vk.task: a provider's own tasks; vk.spawn, vk.semaphore and vk.mutex
 * are this module's functions (modules.c puts them on `vk`).
 *
 *   spawn(fn, ...)  runs fn(...) as a task of its own, from the next loop
 *                   turn, under the same budgets as a callback; an error is
 *                   logged with the task's name and goes no further.
 *                   Returns a handle: :join() -> true, results... or
 *                   false, err (yields until the task ends); :done().
 *   semaphore(n), mutex()   see bind_sem.c */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

#define SPAWN_MT "vk.task"

typedef struct spawned {
	unsigned refs; /* the handle, the running task, each joiner */
	bool done, ok;
	int res_ref; /* {n=, ...} of the results, or the error string */
	vk_lua_host *h;
	vk_lua_waiter *head, *tail;
} spawned;

typedef struct {
	spawned *s;
} spawn_ud;

static void spawned_unref(void *obj)
{
	spawned *s = obj;
	if (--s->refs > 0)
		return;
	if (s->res_ref != LUA_NOREF && !s->h->closing)
		luaL_unref(s->h->L, LUA_REGISTRYINDEX, s->res_ref);
	free(s);
}

/* join()'s results: true, results... or false, err. */
static int push_joined(lua_State *L, void *ud)
{
	spawned *s = ud;
	if (s->res_ref == LUA_NOREF) {
		lua_pushboolean(L, s->ok);
		if (!s->ok)
			lua_pushliteral(L, "the task was cancelled");
		return s->ok ? 1 : 2;
	}
	lua_pushboolean(L, s->ok);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->res_ref);
	if (!s->ok)
		return 2;
	int tbl = lua_gettop(L);
	lua_getfield(L, tbl, "n");
	int n = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	luaL_checkstack(L, n, "vk.task:join: too many results");
	for (int i = 1; i <= n; i++)
		lua_rawgeti(L, tbl, i);
	lua_remove(L, tbl);
	return n + 1;
}

static int push_joined_waiter(lua_State *L, void *ud) { return push_joined(L, ((vk_lua_waiter *)ud)->obj); }

static void spawn_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	spawned *s = t->done_ud;
	vk_lua_host *h = t->h;
	if (err && err != -ECANCELED)
		vk_warn(t->speaker, "%s", errmsg);
	s->done = true;
	s->ok = err == 0;
	/* Keep the outcome only while someone can still join. */
	if (s->refs > 1 && !h->closing && lua_checkstack(h->L, nres + 3)) {
		if (err == 0) {
			lua_createtable(h->L, nres, 1);
			int tbl = lua_gettop(h->L);
			lua_pushinteger(h->L, nres);
			lua_setfield(h->L, tbl, "n");
			lua_xmove(t->co, h->L, nres);
			for (int i = nres; i >= 1; i--)
				lua_rawseti(h->L, tbl, i); /* pops the top: result i */
		} else {
			lua_pushstring(h->L, err == -ECANCELED ? "the task was cancelled" : errmsg);
		}
		s->res_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
	}
	while (s->head && !h->closing)
		vk_lua__wake(s->head);
	spawned_unref(s);
}

static spawned *check_spawned(lua_State *L)
{
	spawn_ud *u = luaL_checkudata(L, 1, SPAWN_MT);
	return u->s;
}

static int l_join(lua_State *L)
{
	spawned *s = check_spawned(L);
	if (s->done)
		return push_joined(L, s);
	vk_lua_task *t = vk_lua__current(L);
	if (t && t->done_ud == s && t->done == spawn_done)
		return luaL_error(L, "vk.task:join: a task cannot join itself");
	return vk_lua__wait(L, "vk.task:join", s, &s->refs, spawned_unref, push_joined_waiter, &s->head, &s->tail);
}

static int l_done(lua_State *L)
{
	lua_pushboolean(L, check_spawned(L)->done);
	return 1;
}

static int l_spawn_gc(lua_State *L)
{
	spawn_ud *u = luaL_checkudata(L, 1, SPAWN_MT);
	if (u->s)
		spawned_unref(u->s);
	u->s = NULL;
	return 0;
}

/* "provider create_pod default/web-1 > task mynode/probes.lua:40": the
 * root callback's name (not a chain of every task that spawned another)
 * and where this one was spawned. */
static char *task_speaker(lua_State *L, const vk_lua_task *parent)
{
	char where[LUA_IDSIZE + 32];
	vk_lua__where(L, 1, where, sizeof where);
	size_t n = strlen(where);
	if (n >= 2 && where[n - 2] == ':')
		where[n - 2] = '\0';
	const char *root = parent->speaker;
	const char *cut = strstr(root, " > task ");
	int rootlen = cut ? (int)(cut - root) : (int)strlen(root);
	return vk_asprintf("%.*s > task %s", rootlen, root, where[0] ? where : "?");
}

/* Starts the function at index fn with the arguments after it as a task
 * named speaker (taken), with the pod key ns/name (copied; may be NULL). */
static int start_spawn(lua_State *L, int fn, char *speaker, const char *ns, const char *name)
{
	vk_lua_host *h = vk_lua__host_of(L);
	int nargs = lua_gettop(L) - fn;
	spawn_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
	u->s = NULL;
	luaL_setmetatable(L, SPAWN_MT);
	spawned *s = vk_xcalloc(1, sizeof *s);
	s->refs = 2; /* the handle and the task */
	s->res_ref = LUA_NOREF;
	s->h = h;
	u->s = s;

	lua_pushvalue(L, fn);
	lua_xmove(L, h->L, 1); /* task_new takes the function from h->L */
	vk_lua_task *t = vk_lua__task_new(h, speaker, spawn_done, s);
	free(speaker);
	t->ns = vk_strdup(ns);
	t->name = vk_strdup(name);
	luaL_checkstack(t->co, nargs + 1, "vk.spawn: too many arguments");
	for (int i = fn + 1; i <= fn + nargs; i++)
		lua_pushvalue(L, i);
	lua_xmove(L, t->co, nargs);
	vk_lua__task_queue(t, nargs);
	return 1; /* the handle */
}

static int l_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	vk_lua_host *h = vk_lua__host_of(L);
	if (h->closing)
		return luaL_error(L, "vk.spawn: the provider is closing");
	vk_lua_task *parent = h->current;
	if (!parent || parent->co == h->L)
		return luaL_error(L, "vk.spawn: start tasks from init or a callback, not a module's top level");
	return start_spawn(L, 1, task_speaker(L, parent), parent->ns, parent->name);
}

/* call_as(speaker, ns, name, fn, ...): a task like the core's callback
 * tasks ("provider create_pod default/web", with that pod's key), for
 * `vk test` to call a provider's callbacks as the core would.  Returns the
 * same handle as vk.spawn. */
int vk_lua__spawn_as(lua_State *L)
{
	const char *speaker = luaL_checkstring(L, 1);
	const char *ns = luaL_optstring(L, 2, NULL);
	const char *name = luaL_optstring(L, 3, NULL);
	luaL_checktype(L, 4, LUA_TFUNCTION);
	vk_lua_host *h = vk_lua__host_of(L);
	if (h->closing)
		return luaL_error(L, "call_as: the host is closing");
	lua_getfield(L, LUA_REGISTRYINDEX, SPAWN_MT); /* the module is open: its metatable exists */
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		luaL_requiref(L, "vk.task", vk_lua__open_task, 0);
	}
	lua_pop(L, 1);
	return start_spawn(L, 4, vk_strdup(speaker), ns, name);
}

int vk_lua__open_task(lua_State *L)
{
	static const luaL_Reg task_methods[] = {{"join", l_join}, {"done", l_done}, {NULL, NULL}};
	vk_lua__sem_register(L);
	if (luaL_newmetatable(L, SPAWN_MT)) {
		luaL_newlib(L, task_methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_spawn_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {
		{"spawn", l_spawn},
		{"semaphore", vk_lua__semaphore_new},
		{"mutex", vk_lua__mutex_new},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
