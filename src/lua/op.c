/* Binding operations: the cosocket model.
 *
 * A binding records the running task in an op, starts its I/O and yields.
 * The I/O callback calls vk_lua_op_finish, which pushes the results onto
 * the coroutine and resumes it.  Every op is finished exactly once, also
 * after its cancel hook ran (the hook may call vk_lua_op_finish itself once
 * it has stopped the I/O); an abandoned op is then only freed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

vk_lua_op *vk_lua_op_new(lua_State *L, const char *what)
{
	vk_lua_host *h = vk_lua__host_of(L);
	vk_lua_task *t = h ? h->current : NULL;
	if (t && t->killed)
		luaL_error(L, "%s", t->killmsg);
	if (h && h->closing)
		luaL_error(L, "%s: the provider is closing", what);
	if (!lua_isyieldable(L) || !t)
		luaL_error(L,
		           "%s: cannot do I/O here: a module's top level (require) and metamethods "
		           "cannot yield; move the call into a callback",
		           what);
	if (t->co != L)
		luaL_error(L,
		           "%s: cannot do I/O inside a coroutine the provider created "
		           "(coroutine.create/wrap); call it from the callback itself",
		           what);
	if (t->op)
		luaL_error(L, "%s: another operation is already pending in this callback", what);
	vk_lua__op_free_early(t);
	vk_lua_op *op = vk_xcalloc(1, sizeof *op);
	op->task = t;
	op->h = h;
	op->what = vk_strdup(what);
	t->op = op;
	vk_lua__host_ref(h); /* the lua_State outlives every op */
	return op;
}

void vk_lua_op_on_cancel(vk_lua_op *op, void (*cancel)(void *ud), void *ud)
{
	op->cancel = cancel;
	op->cancel_ud = ud;
}

/* An op finished before its binding yielded stays with the task until the
 * binding yields (or raises, or the task ends). */
void vk_lua__op_free_early(vk_lua_task *t)
{
	vk_lua_op *op = t->early;
	if (!op)
		return;
	t->early = NULL;
	free(op->what);
	free(op);
	vk_lua__host_unref(t->h);
}

int vk_lua_op_yield(lua_State *L, vk_lua_op *op)
{
	if (op->finished_early) { /* the results are already on the stack */
		int n = op->early_n;
		vk_lua__op_free_early(op->task);
		return n;
	}
	op->yielded = true;
	/* No continuation: the values the resume passes become this C
	 * function's results. */
	return lua_yield(L, 0);
}

typedef struct {
	vk_lua_push_fn push;
	void *ud;
} push_ctx;

static int protected_push(lua_State *L)
{
	push_ctx *c = lua_touserdata(L, 1);
	lua_settop(L, 0);
	return c->push(L, c->ud);
}

/* Runs push on the main thread under pcall (a suspended coroutine cannot
 * run protected code), then moves its values to the coroutine.  A push
 * that raises becomes the usual `nil, message`. */
static int push_results(vk_lua_host *h, lua_State *co, const char *what, vk_lua_push_fn push, void *ud)
{
	if (!push)
		return 0;
	lua_State *L = h->L;
	int top = lua_gettop(L);
	push_ctx c = {push, ud};
	lua_pushcfunction(L, protected_push);
	lua_pushlightuserdata(L, &c);
	int n;
	if (lua_pcall(L, 1, LUA_MULTRET, 0) == LUA_OK) {
		n = lua_gettop(L) - top;
	} else {
		const char *m = lua_tostring(L, -1);
		char *msg = vk_asprintf("%s: %s", what, m ? m : "error");
		lua_settop(L, top);
		lua_pushnil(L);
		lua_pushstring(L, msg);
		free(msg);
		n = 2;
	}
	if (!lua_checkstack(co, n + 2)) {
		lua_settop(L, top);
		return 0;
	}
	lua_xmove(L, co, n);
	return n;
}

void vk_lua_op_finish(vk_lua_op *op, vk_lua_push_fn push, void *ud)
{
	vk_lua_task *t = op->task;
	vk_lua_host *h = op->h;
	if (!t) { /* abandoned: push is not called */
		free(op->what);
		free(op);
		vk_lua__host_unref(h);
		return;
	}
	if (!op->yielded) { /* finished before the binding yielded */
		op->early_n = push ? push(t->co, ud) : 0;
		op->finished_early = true;
		t->op = NULL;
		t->early = op;
		return;
	}
	t->op = NULL;
	int n = push_results(h, t->co, op->what, push, ud);
	free(op->what);
	free(op);
	vk_lua__task_resume(t, n);
	vk_lua__host_unref(h);
}
