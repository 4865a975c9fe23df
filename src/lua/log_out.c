/* The `out` object container_logs gets when it follows a log
 * (vk/provider.h, vk_provider_out): a userdata over the core's output.
 *
 *   out:write(s)  -> true | false   yields until the client took s (the
 *                                   backpressure of a slow client); false
 *                                   once the client went away or the output
 *                                   is complete (limitBytes): stop then
 *   out:closed()  -> boolean        the same news without writing
 *
 * The box outlives the call if the provider keeps it (a global, a closure):
 * the call's end detaches it, and a detached out is closed for good. */
#include <errno.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

#define LOG_OUT_MT "vk.LogOut"

typedef struct {
	vk_provider_out *o; /* NULL once the call ended */
	vk_lua_op *op;      /* the write waiting for the client, or NULL */
} log_out_box;

static int push_bool(lua_State *L, void *ud)
{
	lua_pushboolean(L, ud != NULL);
	return 1;
}

static void on_written(void *arg, bool ok)
{
	log_out_box *b = arg;
	vk_lua_op *op = b->op;
	b->op = NULL;
	if (op)
		vk_lua_op_finish(op, push_bool, ok ? (void *)b : NULL);
}

/* The provider is closing: the output must never call back into a box the
 * closing lua_State is about to free. */
static void on_cancel(void *ud)
{
	log_out_box *b = ud;
	vk_lua_op *op = b->op;
	b->op = NULL;
	if (b->o)
		b->o->cancel(b->o);
	if (op)
		vk_lua_op_finish(op, NULL, NULL);
}

static int l_write(lua_State *L)
{
	log_out_box *b = luaL_checkudata(L, 1, LOG_OUT_MT);
	size_t n;
	const char *s = luaL_checklstring(L, 2, &n);
	if (b->op) /* another task of the provider's is writing */
		return luaL_error(L,
		                  "out:write: another write is waiting for the client (write from one task at a time)");
	if (!b->o || b->o->closed(b->o)) {
		lua_pushboolean(L, 0);
		return 1;
	}
	if (n == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	vk_lua_op *op = vk_lua_op_new(L, "out:write");
	b->op = op;
	vk_lua_op_on_cancel(op, on_cancel, b);
	if (b->o->write(b->o, s, n, on_written, b) < 0) {
		b->op = NULL;
		vk_lua_op_finish(op, push_bool, NULL); /* finished early: false */
	}
	return vk_lua_op_yield(L, op);
}

static int l_closed(lua_State *L)
{
	log_out_box *b = luaL_checkudata(L, 1, LOG_OUT_MT);
	lua_pushboolean(L, !b->o || b->o->closed(b->o));
	return 1;
}

static int l_tostring(lua_State *L)
{
	log_out_box *b = luaL_checkudata(L, 1, LOG_OUT_MT);
	lua_pushfstring(L, "vk.LogOut (%s)", b->o && !b->o->closed(b->o) ? "open" : "closed");
	return 1;
}

void vk_lua__push_log_out(lua_State *L, vk_provider_out *o)
{
	log_out_box *b = lua_newuserdatauv(L, sizeof *b, 0);
	b->o = o;
	b->op = NULL;
	if (luaL_newmetatable(L, LOG_OUT_MT)) {
		static const luaL_Reg methods[] = {{"write", l_write}, {"closed", l_closed}, {NULL, NULL}};
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_setmetatable(L, -2);
}

void vk_lua__log_out_detach(lua_State *L, int ref)
{
	if (ref == LUA_NOREF || ref == LUA_REFNIL)
		return;
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	log_out_box *b = luaL_testudata(L, -1, LOG_OUT_MT);
	if (b)
		b->o = NULL; /* a write cannot be pending: the task has ended */
	lua_pop(L, 1);
	luaL_unref(L, LUA_REGISTRYINDEX, ref);
}
