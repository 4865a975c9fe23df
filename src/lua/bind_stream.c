/* The `stream` object of the exec, attach and port_forward callbacks: a
 * session of the kubelet API (vk/stream.h) as Lua sees it.
 *
 *   stream.stdin, .stdout, .stderr, .tty   what the client asked for
 *   stream:read()          -> the next chunk of stdin (port_forward: of the
 *                             connection), or nil at the end
 *   stream:write(s [, "stderr"]) -> true, or nil, err (closed)
 *   stream:resize()        -> {width=, height=} on the next terminal
 *                             resize, or nil at the end
 *   stream:close()         closes stdout and stderr (the data stream)
 *   stream:proxy(url)      -> true once the session ended, or nil, err;
 *                             only as the first use (see vk/stream.h)
 *
 * The object is a table (the fields) with the metatable "vk.stream"; a
 * userdata inside it ("vk.stream.ref") holds the C reference and lets go
 * of it when collected. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/stream.h"
#include "vk/util.h"

#define STREAM_MT "vk.stream"
#define REF_MT "vk.stream.ref"

typedef struct {
	vk_stream *st;
} stream_ref;

/* One call waiting on the session. */
typedef struct {
	vk_lua_op *op;
	vk_stream *st;
	const char *data; /* read: valid during the push only */
	size_t len;
	int status, width, height;
	const char *msg;
} waiter;

static vk_stream *check_stream(lua_State *L, const char *fn)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "__ref");
	stream_ref *r = luaL_testudata(L, -1, REF_MT);
	lua_pop(L, 1);
	if (!r || !r->st)
		luaL_error(L, "%s: bad self (a stream from exec, attach or port_forward expected)", fn);
	return r->st;
}

static void cancel_waiter(void *ud)
{
	waiter *w = ud;
	w->st->ops->cancel(w->st, w);
	vk_lua_op *op = w->op;
	free(w);
	vk_lua_op_finish(op, NULL, NULL);
}

static waiter *waiter_new(lua_State *L, vk_stream *st, const char *what)
{
	vk_lua_op *op = vk_lua_op_new(L, what);
	waiter *w = vk_xcalloc(1, sizeof *w);
	w->op = op;
	w->st = st;
	vk_lua_op_on_cancel(op, cancel_waiter, w);
	return w;
}

/* A call the session refused at once: the op ends, then the error. */
static int refused(lua_State *L, waiter *w, int rc, const char *what)
{
	vk_lua_op_finish(w->op, NULL, NULL);
	free(w);
	if (rc == -EBUSY)
		return luaL_error(L, "%s: another call of this kind is already waiting on this stream", what);
	if (rc == -EPIPE) {
		lua_pushnil(L);
		lua_pushstring(L, "closed");
		return 2;
	}
	if (rc == -EINVAL && strcmp(what, "stream:proxy") == 0)
		return luaL_error(
			L, "stream:proxy: only as the first use of the stream, with an http://127.0.0.1:PORT/ URL");
	return luaL_error(L, "%s: %s", what, strerror(-rc));
}

/* ---- read ------------------------------------------------------------------- */

static int push_read(lua_State *L, void *ud)
{
	waiter *w = ud;
	if (w->status == 0)
		lua_pushlstring(L, w->data, w->len);
	else
		lua_pushnil(L);
	return 1;
}

static void on_read(vk_stream *st, int status, const char *data, size_t len, void *ud)
{
	waiter *w = ud;
	w->status = status;
	w->data = data;
	w->len = len;
	vk_lua_op *op = w->op;
	vk_lua_op_finish(op, push_read, w);
	free(w);
}

static int l_read(lua_State *L)
{
	vk_stream *st = check_stream(L, "stream:read");
	waiter *w = waiter_new(L, st, "stream:read");
	vk_lua_op *op = w->op; /* w is freed when the answer comes at once */
	int rc = st->ops->read(st, on_read, w);
	if (rc < 0)
		return refused(L, w, rc, "stream:read");
	return vk_lua_op_yield(L, op);
}

/* ---- write, proxy ----------------------------------------------------------- */

static int push_done(lua_State *L, void *ud)
{
	waiter *w = ud;
	if (w->status == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, w->msg ? w->msg : strerror(-w->status));
	return 2;
}

static void on_done(vk_stream *st, int status, const char *msg, void *ud)
{
	waiter *w = ud;
	w->status = status;
	w->msg = msg;
	vk_lua_op *op = w->op;
	vk_lua_op_finish(op, push_done, w);
	free(w);
}

static int l_write(lua_State *L)
{
	vk_stream *st = check_stream(L, "stream:write");
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	const char *to = luaL_optstring(L, 3, "stdout");
	int fd = strcmp(to, "stdout") == 0 ? 1 : strcmp(to, "stderr") == 0 ? 2 : 0;
	if (!fd)
		return luaL_error(L, "stream:write: argument #2 must be \"stdout\" or \"stderr\", not \"%s\"", to);
	waiter *w = waiter_new(L, st, "stream:write");
	vk_lua_op *op = w->op; /* w is freed when the answer comes at once */
	int rc = st->ops->write(st, fd, data, len, on_done, w);
	if (rc < 0)
		return refused(L, w, rc, "stream:write");
	return vk_lua_op_yield(L, op);
}

static int l_proxy(lua_State *L)
{
	vk_stream *st = check_stream(L, "stream:proxy");
	const char *url = luaL_checkstring(L, 2);
	waiter *w = waiter_new(L, st, "stream:proxy");
	vk_lua_op *op = w->op; /* w is freed when the answer comes at once */
	int rc = st->ops->proxy(st, url, on_done, w);
	if (rc < 0)
		return refused(L, w, rc, "stream:proxy");
	return vk_lua_op_yield(L, op);
}

/* ---- resize, close ---------------------------------------------------------- */

static int push_size(lua_State *L, void *ud)
{
	waiter *w = ud;
	if (w->status != 0) {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, w->width);
	lua_setfield(L, -2, "width");
	lua_pushinteger(L, w->height);
	lua_setfield(L, -2, "height");
	return 1;
}

static void on_size(vk_stream *st, int status, int width, int height, void *ud)
{
	waiter *w = ud;
	w->status = status;
	w->width = width;
	w->height = height;
	vk_lua_op *op = w->op;
	vk_lua_op_finish(op, push_size, w);
	free(w);
}

static int l_resize(lua_State *L)
{
	vk_stream *st = check_stream(L, "stream:resize");
	waiter *w = waiter_new(L, st, "stream:resize");
	vk_lua_op *op = w->op; /* w is freed when the answer comes at once */
	int rc = st->ops->resize(st, on_size, w);
	if (rc < 0)
		return refused(L, w, rc, "stream:resize");
	return vk_lua_op_yield(L, op);
}

static int l_close(lua_State *L)
{
	vk_stream *st = check_stream(L, "stream:close");
	st->ops->close(st);
	return 0;
}

static int ref_gc(lua_State *L)
{
	stream_ref *r = luaL_checkudata(L, 1, REF_MT);
	if (r->st) {
		vk_stream *st = r->st;
		r->st = NULL;
		st->ops->unref(st);
	}
	return 0;
}

static int l_tostring(lua_State *L)
{
	lua_getfield(L, 1, "tty");
	lua_pushfstring(L, "vk.stream (%s)", lua_toboolean(L, -1) ? "tty" : "no tty");
	return 1;
}

/* Pushes the stream object for st and takes the caller's reference (it is
 * given back when the object is collected). */
void vk_lua__push_stream(lua_State *L, vk_stream *st)
{
	lua_createtable(L, 0, 5);
	lua_pushboolean(L, st->in);
	lua_setfield(L, -2, "stdin");
	lua_pushboolean(L, st->out);
	lua_setfield(L, -2, "stdout");
	lua_pushboolean(L, st->err);
	lua_setfield(L, -2, "stderr");
	lua_pushboolean(L, st->tty);
	lua_setfield(L, -2, "tty");
	stream_ref *r = lua_newuserdatauv(L, sizeof *r, 0);
	r->st = st;
	if (luaL_newmetatable(L, REF_MT)) {
		lua_pushcfunction(L, ref_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, "__ref");
	if (luaL_newmetatable(L, STREAM_MT)) {
		static const luaL_Reg methods[] = {
			{"read", l_read},   {"write", l_write}, {"resize", l_resize},
			{"close", l_close}, {"proxy", l_proxy}, {NULL, NULL},
		};
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_setmetatable(L, -2);
}
