/* vk.net: TCP streams, made inside a pod's network namespace when asked
 * (vk/net.h), driven on the loop; every call that waits yields.
 *
 *   vk.net.connect{host=IP, port=N, netns=PATH, timeout_ms=N}
 *       -> stream, or nil, err        (netns nil: vk's own namespace)
 *   stream:read([max])   -> data (1..max bytes, max default 65536),
 *                           or nil, "closed" at the end, or nil, err
 *   stream:write(data)   -> true, or nil, err
 *   stream:shutdown()    -> ends the sending side (the peer reads EOF) once
 *                           what was written is out; reading goes on
 *   stream:close()
 *
 * timeout_ms (default 30000, 0 for none) bounds the connect, each read and
 * each write; a read that times out leaves the stream usable, a connect or
 * write that times out closes it.  One read and one write may wait at once
 * (from two tasks: a pump in each direction), not two of a kind.
 *
 * Ownership: the Lua userdata points at a net_stream; the stream's two uv
 * handles each hold a reference on the host, and the stream is freed when
 * both have closed (userdata or not).  A stream is a vk_lua_handle so
 * that closing the provider closes it; it belongs to no provider version
 * (a reload leaves open streams alone). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host.h"
#include "vk/net.h"
#include "vk/util.h"

#define STREAM_MT "vk.net.stream"
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_READ_MAX 65536
#define READ_CHUNK 16384

typedef enum { OP_NONE, OP_CONNECT, OP_READ } op_kind;

typedef struct net_stream {
	vk_lua_handle hd;
	vk_lua_host *h;
	uv_tcp_t tcp;
	uv_timer_t timer;  /* the connect or the read */
	uv_timer_t wtimer; /* the write */
	uv_connect_t creq;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	vk_net_req *nreq; /* while the socket is being made */
	struct sockaddr_storage addr;
	char peer[64]; /* "host:port" for messages */
	uint64_t timeout_ms;
	vk_lua_op *op; /* the connect or read waiting on this stream */
	op_kind kind;
	vk_lua_op *wop; /* the write waiting on this stream */
	size_t want;    /* read: at most this many bytes */
	char *wdata;    /* write: the bytes in flight */
	vk_buf in;      /* received, not yet read */
	char rbuf[READ_CHUNK];
	int err; /* a read error seen (not EOF) */
	bool eof, timed_out, handles, closed, in_list, shut;
	int open_handles;         /* uv handles not through their close callback */
	struct net_stream **slot; /* the userdata's pointer, cleared on free */
} net_stream;

typedef struct {
	net_stream *s;
} stream_ud;

/* ---- results ------------------------------------------------------------ */

static int push_nil_msg(lua_State *L, void *ud)
{
	lua_pushnil(L);
	lua_pushstring(L, ud);
	return 2;
}

static void finish_msg(vk_lua_op *op, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[256];
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	vk_lua_op_finish(op, push_nil_msg, buf);
}

static int push_true(lua_State *L, void *ud)
{
	(void)ud;
	lua_pushboolean(L, 1);
	return 1;
}

/* Takes up to s->want bytes of s->in. */
static int push_data(lua_State *L, void *ud)
{
	net_stream *s = ud;
	size_t n = s->in.len < s->want ? s->in.len : s->want;
	lua_pushlstring(L, s->in.data, n);
	vk_buf_consume(&s->in, n);
	return 1;
}

/* ---- life and death ----------------------------------------------------- */

static void stream_free(net_stream *s)
{
	vk_lua_host *h = s->h;
	if (s->slot)
		*s->slot = NULL;
	vk_buf_free(&s->in);
	free(s->wdata);
	free(s);
	vk_lua__host_unref(h);
}

static void finish_msg(vk_lua_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static vk_lua_op *take_op(net_stream *s);

/* A read still waiting when the stream was closed is answered here, on
 * the loop: close() may come from another task, which must not resume
 * this one from inside itself. */
static void handle_closed(uv_handle_t *hd)
{
	net_stream *s = hd->data;
	if (hd == (uv_handle_t *)&s->tcp && s->kind == OP_READ)
		finish_msg(take_op(s), "closed");
	if (--s->open_handles == 0)
		stream_free(s);
}

/* Takes the waiting call off the stream: the caller finishes it. */
static vk_lua_op *take_op(net_stream *s)
{
	vk_lua_op *op = s->op;
	s->op = NULL;
	s->kind = OP_NONE;
	return op;
}

static vk_lua_op *take_wop(net_stream *s)
{
	vk_lua_op *op = s->wop;
	s->wop = NULL;
	return op;
}

/* Idempotent.  A pending read or connect is answered nil, "closed" (or
 * why); a pending write gets its callback with UV_ECANCELED. */
static void stream_close(net_stream *s, const char *why)
{
	if (s->closed)
		return;
	s->closed = true;
	if (s->in_list) {
		vk_lua__handle_remove(&s->hd);
		s->in_list = false;
	}
	if (s->nreq) { /* still making the socket: no handles yet */
		vk_net_socket_cancel(s->nreq);
		s->nreq = NULL;
		vk_lua_op *op = take_op(s);
		if (op)
			finish_msg(op, "vk.net.connect %s: %s", s->peer, why);
		stream_free(s);
		return;
	}
	uv_read_stop((uv_stream_t *)&s->tcp);
	uv_timer_stop(&s->timer);
	uv_timer_stop(&s->wtimer);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->wtimer, handle_closed);
	uv_close((uv_handle_t *)&s->tcp, handle_closed);
	/* a read is answered in handle_closed; a connect or a write by its
	 * uv callback, with UV_ECANCELED */
}

static void host_stop(vk_lua_handle *hd)
{
	net_stream *s = VK_CONTAINER_OF(hd, net_stream, hd);
	s->in_list = false;
	stream_close(s, "closed");
}

/* The cancel hook of a waiting call (the provider closes, the task is
 * killed): the call is finished without results, the stream closed (a call
 * waiting in the other direction is answered as for a close). */
static void on_cancel(void *ud)
{
	net_stream *s = ud;
	vk_lua_op *op = take_op(s);
	stream_close(s, "cancelled");
	if (op)
		vk_lua_op_finish(op, NULL, NULL);
}

static void on_cancel_write(void *ud)
{
	net_stream *s = ud;
	vk_lua_op *op = take_wop(s);
	stream_close(s, "cancelled");
	if (op)
		vk_lua_op_finish(op, NULL, NULL);
}

static void arm_timer(net_stream *s, uv_timer_cb cb)
{
	if (s->timeout_ms)
		uv_timer_start(&s->timer, cb, s->timeout_ms, 0);
}

/* ---- connect ------------------------------------------------------------ */

static int push_stream(lua_State *L, void *ud)
{
	net_stream *s = ud;
	stream_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
	u->s = s;
	s->slot = &u->s;
	luaL_setmetatable(L, STREAM_MT);
	return 1;
}

static void on_connect(uv_connect_t *req, int status)
{
	net_stream *s = req->data;
	uv_timer_stop(&s->timer);
	if (s->kind != OP_CONNECT) /* cancelled: the call is already answered */
		return;
	vk_lua_op *op = take_op(s);
	if (status < 0) {
		const char *why = s->timed_out ? "timed out" : uv_strerror(status);
		stream_close(s, why);
		finish_msg(op, "vk.net.connect %s: %s", s->peer, why);
		return;
	}
	vk_lua_op_finish(op, push_stream, s);
	if (!s->slot) /* the caller went away meanwhile: nobody will close it */
		stream_close(s, "closed");
}

static void connect_timeout(uv_timer_t *t)
{
	net_stream *s = t->data;
	s->timed_out = true;
	uv_close((uv_handle_t *)&s->tcp, handle_closed); /* on_connect: UV_ECANCELED */
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->wtimer, handle_closed);
	s->closed = true;
	if (s->in_list) {
		vk_lua__handle_remove(&s->hd);
		s->in_list = false;
	}
}

static void on_socket(int fd, int err, void *ud)
{
	net_stream *s = ud;
	s->nreq = NULL;
	vk_lua_op *op = s->op;
	if (fd < 0) {
		take_op(s);
		s->closed = true;
		if (s->in_list) {
			vk_lua__handle_remove(&s->hd);
			s->in_list = false;
		}
		finish_msg(op, "vk.net.connect %s: network namespace: %s", s->peer, uv_strerror(err));
		stream_free(s);
		return;
	}
	uv_loop_t *loop = vk_lua_loop(vk_lua__state(s->h));
	uv_tcp_init(loop, &s->tcp);
	uv_timer_init(loop, &s->timer);
	uv_timer_init(loop, &s->wtimer);
	s->tcp.data = s->timer.data = s->wtimer.data = s->creq.data = s->wreq.data = s->sreq.data = s;
	s->open_handles = 3;
	int rc = uv_tcp_open(&s->tcp, fd);
	if (rc < 0)
		close(fd); /* not the handle's */
	else
		rc = uv_tcp_connect(&s->creq, &s->tcp, (struct sockaddr *)&s->addr, on_connect);
	if (rc < 0) {
		take_op(s);
		stream_close(s, uv_strerror(rc));
		finish_msg(op, "vk.net.connect %s: %s", s->peer, uv_strerror(rc));
		return;
	}
	arm_timer(s, connect_timeout);
}

static uint64_t opt_timeout(lua_State *L, int idx, const char *fn)
{
	lua_getfield(L, idx, "timeout_ms");
	lua_Integer ms = luaL_optinteger(L, -1, DEFAULT_TIMEOUT_MS);
	lua_pop(L, 1);
	if (ms < 0 || ms > 24 * 3600 * 1000)
		luaL_error(L, "%s: timeout_ms must be between 0 and a day, got %d", fn, (int)ms);
	return (uint64_t)ms;
}

static int l_connect(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "host");
	const char *host = luaL_optstring(L, -1, "127.0.0.1");
	lua_getfield(L, 1, "port");
	lua_Integer port = luaL_checkinteger(L, -1);
	lua_getfield(L, 1, "netns");
	const char *netns = luaL_optstring(L, -1, NULL);
	lua_pop(L, 3); /* the strings stay alive in the argument table */
	if (port < 1 || port > 65535)
		return luaL_error(L, "vk.net.connect: port must be 1..65535, got %d", (int)port);
	if (netns && !*netns)
		return luaL_error(L, "vk.net.connect: netns must be a path, not empty");
	uint64_t timeout = opt_timeout(L, 1, "vk.net.connect");
	struct sockaddr_storage addr;
	int family = AF_INET;
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr) != 0) {
		family = AF_INET6;
		if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&addr) != 0)
			return luaL_error(L, "vk.net.connect: host must be an IP address, got %s", host);
	}
	vk_lua_host *h = vk_lua__host_of(L);
	vk_lua_op *op = vk_lua_op_new(L, "vk.net.connect");
	net_stream *s = vk_xcalloc(1, sizeof *s);
	s->h = h;
	s->addr = addr;
	s->timeout_ms = timeout;
	snprintf(s->peer, sizeof s->peer, family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, (int)port);
	s->op = op;
	s->kind = OP_CONNECT;
	s->hd.stop = host_stop;
	vk_lua__host_ref(h); /* dropped by stream_free */
	int rc = vk_net_socket(vk_lua_loop(L), netns, family, on_socket, s, &s->nreq);
	if (rc < 0) {
		free(s);
		vk_lua__host_unref(h);
		vk_lua_op_finish(op, NULL, NULL);
		return luaL_error(L, "vk.net.connect: %s", uv_strerror(rc));
	}
	vk_lua__handle_add(h, &s->hd);
	s->hd.gen = UINT_MAX; /* no version's: a reload does not close it */
	s->in_list = true;
	vk_lua_op_on_cancel(op, on_cancel, s);
	return vk_lua_op_yield(L, op);
}

/* ---- read --------------------------------------------------------------- */

static void read_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
	net_stream *s = hd->data;
	(void)suggested;
	*buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	net_stream *s = st->data;
	if (n == 0)
		return;
	if (n > 0)
		vk_buf_append(&s->in, buf->base, (size_t)n);
	else if (n == UV_EOF)
		s->eof = true;
	else
		s->err = (int)n;
	uv_read_stop(st);
	uv_timer_stop(&s->timer);
	if (s->kind != OP_READ)
		return;
	vk_lua_op *op = take_op(s);
	if (s->in.len)
		vk_lua_op_finish(op, push_data, s);
	else if (s->eof)
		finish_msg(op, "closed");
	else
		finish_msg(op, "read %s: %s", s->peer, uv_strerror(s->err));
}

static void read_timeout(uv_timer_t *t)
{
	net_stream *s = t->data;
	uv_read_stop((uv_stream_t *)&s->tcp);
	if (s->kind == OP_READ)
		finish_msg(take_op(s), "read %s: timed out", s->peer);
}

static net_stream *check_stream(lua_State *L, const char *fn, bool write)
{
	stream_ud *u = luaL_checkudata(L, 1, STREAM_MT);
	if (!u->s || u->s->closed)
		luaL_error(L, "%s: the stream is closed", fn);
	if (write ? u->s->wop != NULL : u->s->op != NULL)
		luaL_error(L, "%s: another %s is waiting on this stream", fn, write ? "write" : "read");
	return u->s;
}

static int l_read(lua_State *L)
{
	stream_ud *u = luaL_checkudata(L, 1, STREAM_MT);
	lua_Integer max = luaL_optinteger(L, 2, DEFAULT_READ_MAX);
	if (max < 1)
		return luaL_error(L, "stream:read: max must be at least 1");
	if (u->s && !u->s->closed && u->s->in.len == 0 && (u->s->eof || u->s->err)) {
		lua_pushnil(L);
		if (u->s->eof)
			lua_pushstring(L, "closed");
		else
			lua_pushfstring(L, "read %s: %s", u->s->peer, uv_strerror(u->s->err));
		return 2;
	}
	net_stream *s = check_stream(L, "stream:read", false);
	s->want = (size_t)max;
	if (s->in.len)
		return push_data(L, s);
	vk_lua_op *op = vk_lua_op_new(L, "stream:read");
	int rc = uv_read_start((uv_stream_t *)&s->tcp, read_alloc, on_read);
	if (rc < 0) {
		vk_lua_op_finish(op, NULL, NULL);
		return luaL_error(L, "stream:read: %s", uv_strerror(rc));
	}
	s->op = op;
	s->kind = OP_READ;
	arm_timer(s, read_timeout);
	vk_lua_op_on_cancel(op, on_cancel, s);
	return vk_lua_op_yield(L, op);
}

/* ---- write -------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
	net_stream *s = req->data;
	free(s->wdata);
	s->wdata = NULL;
	if (!s->closed)
		uv_timer_stop(&s->wtimer);
	if (!s->wop) /* cancelled: the call is already answered */
		return;
	vk_lua_op *op = take_wop(s);
	if (status == 0)
		vk_lua_op_finish(op, push_true, NULL);
	else
		finish_msg(op, "write %s: %s", s->peer, s->timed_out ? "timed out" : uv_strerror(status));
}

static void write_timeout(uv_timer_t *t)
{
	net_stream *s = t->data;
	s->timed_out = true;
	stream_close(s, "timed out"); /* on_write: UV_ECANCELED */
}

static int l_write(lua_State *L)
{
	net_stream *s = check_stream(L, "stream:write", true);
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	if (len == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	vk_lua_op *op = vk_lua_op_new(L, "stream:write");
	s->wdata = vk_memdupz(data, len);
	uv_buf_t b = uv_buf_init(s->wdata, (unsigned)len);
	int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, on_write);
	if (rc < 0) {
		free(s->wdata);
		s->wdata = NULL;
		vk_lua_op_finish(op, NULL, NULL);
		lua_pushnil(L);
		lua_pushfstring(L, "write %s: %s", s->peer, uv_strerror(rc));
		return 2;
	}
	s->wop = op;
	if (s->timeout_ms)
		uv_timer_start(&s->wtimer, write_timeout, s->timeout_ms, 0);
	vk_lua_op_on_cancel(op, on_cancel_write, s);
	return vk_lua_op_yield(L, op);
}

/* ---- shutdown ------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)req; /* the stream lives until its handles close, after this */
	(void)status;
}

/* Half-close: what was written still goes out, then the peer reads EOF.
 * Idempotent; does not wait. */
static int l_shutdown(lua_State *L)
{
	stream_ud *u = luaL_checkudata(L, 1, STREAM_MT);
	net_stream *s = u->s;
	if (!s || s->closed || s->shut)
		return 0;
	int rc = uv_shutdown(&s->sreq, (uv_stream_t *)&s->tcp, on_shutdown);
	if (rc < 0)
		return luaL_error(L, "stream:shutdown: %s", uv_strerror(rc));
	s->shut = true;
	return 0;
}

/* ---- close, gc, tostring -------------------------------------------------- */

static int l_close(lua_State *L)
{
	stream_ud *u = luaL_checkudata(L, 1, STREAM_MT);
	if (u->s)
		stream_close(u->s, "closed");
	return 0;
}

static int l_gc(lua_State *L)
{
	stream_ud *u = luaL_checkudata(L, 1, STREAM_MT);
	if (u->s) {
		net_stream *s = u->s;
		s->slot = NULL;
		u->s = NULL;
		stream_close(s, "closed");
	}
	return 0;
}

static int l_tostring(lua_State *L)
{
	stream_ud *u = luaL_checkudata(L, 1, STREAM_MT);
	lua_pushfstring(L, "vk.net.stream (%s%s)", u->s ? u->s->peer : "?", !u->s || u->s->closed ? ", closed" : "");
	return 1;
}

int vk_lua__open_net(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"read", l_read}, {"write", l_write}, {"shutdown", l_shutdown}, {"close", l_close}, {NULL, NULL}};
	if (luaL_newmetatable(L, STREAM_MT)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_gc);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_gc);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {{"connect", l_connect}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
