/* stream:proxy(url): the whole exec/attach session goes to a streaming
 * server on 127.0.0.1 (CRI's Exec/Attach URL), as kubelet does with a CRI
 * runtime's streaming server.
 *
 * The client's upgrade request is sent again to url (its method, url's
 * path and query, Connection/Upgrade and every X-Stream-Protocol-Version
 * header); the server's answer decides:
 *   101   relayed to the client with the server's Upgrade and
 *         X-Stream-Protocol-Version headers (and any bytes that came after
 *         it), then bytes are spliced both ways until either side closes;
 *         proxy() then returns true.
 *   other the client gets that status and body; proxy() returns nil, err.
 * A server that cannot be reached leaves the session untouched: nil, err,
 * and the callback may still answer.
 *
 * Backpressure: each direction has one write in flight; reading from the
 * source stops until the destination took the bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_int.h"

#define MAX_HEAD (64 * 1024)
#define READ_CHUNK (64 * 1024)

struct vk_server_proxy {
	vk_server_sst *st; /* st->req: the client's request, until answered */
	uv_tcp_t up;
	uv_connect_t conn;
	uv_write_t wreq;
	bool up_open, up_reading, up_writing;
	h2o_socket_t *client; /* after the 101 */
	bool client_writing;
	vk_buf head;      /* the server's answer until its blank line */
	vk_buf to_up;     /* in flight to the server */
	vk_buf to_cli;    /* in flight to the client */
	char *url, *path; /* path and query of url */
	char hostport[64];
	vk_stream_done_cb cb;
	void *ud;
	int status; /* the server's answer */
	char *err;  /* why it ended, for cb */
	bool done, failed_connect;
};

static void finish(vk_server_proxy *px);

/* The client's request, taken to be answered (NULL: the client left). */
static h2o_req_t *take_req(vk_server_proxy *px)
{
	vk_server_sst *st = px->st;
	h2o_req_t *req = st->req;
	if (st->slot)
		st->slot->st = NULL;
	st->slot = NULL;
	st->req = NULL;
	return req;
}

static void up_closed(uv_handle_t *h)
{
	vk_server_proxy *px = h->data;
	px->up_open = false;
	finish(px);
}

/* Ends the proxy once both sides are closed, then tells the provider. */
static void finish(vk_server_proxy *px)
{
	if (!px->done || px->up_open || px->client || px->up_writing)
		return;
	vk_server_sst *st = px->st;
	st->px = NULL;
	if (px->failed_connect && st->req) {
		st->state = SST_PENDING; /* untouched: the callback may still answer */
	} else {
		st->state = SST_ENDED;
		take_req(px);
	}
	vk_stream_done_cb cb = px->cb;
	void *ud = px->ud;
	char *err = px->err;
	int status = px->status;
	vk_buf_free(&px->head);
	vk_buf_free(&px->to_up);
	vk_buf_free(&px->to_cli);
	free(px->url);
	free(px->path);
	free(px);
	if (cb)
		cb(&st->pub, err ? (status >= 400 ? -ECONNREFUSED : -EIO) : 0, err, ud);
	free(err);
	if (st->state == SST_ENDED)
		vk_server__sst_fail_waiters(st);
	vk_server__sst_maybe_free(st);
}

static void end(vk_server_proxy *px, const char *err)
{
	if (err && !px->err)
		px->err = vk_strdup(err);
	px->done = true;
	if (px->client) {
		h2o_socket_t *c = px->client;
		px->client = NULL;
		c->data = NULL;
		h2o_socket_close(c);
	}
	if (px->up_open && !uv_is_closing((uv_handle_t *)&px->up))
		uv_close((uv_handle_t *)&px->up, up_closed);
	finish(px);
}

/* ---- splicing -------------------------------------------------------------------- */

static void on_up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_client_read(h2o_socket_t *sock, const char *err);

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = vk_xmalloc(READ_CHUNK);
	buf->len = READ_CHUNK;
}

static void on_client_written(h2o_socket_t *sock, const char *err)
{
	vk_server_proxy *px = sock->data;
	if (!px)
		return;
	px->client_writing = false;
	vk_buf_reset(&px->to_cli);
	if (err) {
		end(px, NULL);
		return;
	}
	if (px->up_open && !px->done && uv_read_start((uv_stream_t *)&px->up, alloc_cb, on_up_read) < 0)
		end(px, NULL);
}

static void on_up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	vk_server_proxy *px = s->data;
	if (n > 0 && px->client) {
		vk_buf_append(&px->to_cli, buf->base, (size_t)n);
		uv_read_stop(s); /* until the client took it */
		px->client_writing = true;
		h2o_iovec_t iov = h2o_iovec_init(px->to_cli.data, px->to_cli.len);
		h2o_socket_write(px->client, &iov, 1, on_client_written);
	} else if (n < 0) {
		end(px, NULL);
	}
	free(buf->base);
}

static void on_up_written(uv_write_t *w, int status)
{
	vk_server_proxy *px = w->data;
	px->up_writing = false;
	vk_buf_reset(&px->to_up);
	if (status < 0 || px->done) {
		end(px, NULL);
		return;
	}
	if (px->client)
		h2o_socket_read_start(px->client, on_client_read);
}

static void on_client_read(h2o_socket_t *sock, const char *err)
{
	vk_server_proxy *px = sock->data;
	if (!px)
		return;
	if (err) {
		end(px, NULL);
		return;
	}
	if (sock->input->size == 0)
		return;
	vk_buf_append(&px->to_up, sock->input->bytes, sock->input->size);
	h2o_buffer_consume(&sock->input, sock->input->size);
	h2o_socket_read_stop(sock); /* until the server took it */
	uv_buf_t b = uv_buf_init(px->to_up.data, (unsigned)px->to_up.len);
	px->wreq.data = px;
	if (uv_write(&px->wreq, (uv_stream_t *)&px->up, &b, 1, on_up_written) < 0) {
		end(px, NULL);
		return;
	}
	px->up_writing = true;
}

static void on_client_upgraded(void *ud, h2o_socket_t *sock, size_t reqsize)
{
	vk_server_proxy *px = ud;
	if (!sock) {
		end(px, NULL);
		return;
	}
	h2o_buffer_consume(&sock->input, reqsize);
	px->client = sock;
	sock->data = px;
	h2o_socket_read_start(sock, on_client_read);
	if (sock->input->size > 0)
		on_client_read(sock, NULL);
	if (px->client && uv_read_start((uv_stream_t *)&px->up, alloc_cb, on_up_read) < 0)
		end(px, NULL);
}

/* ---- the server's answer ------------------------------------------------------------ */

static const char *find_blank(const vk_buf *b)
{
	for (size_t i = 0; i + 3 < b->len; i++)
		if (memcmp(b->data + i, "\r\n\r\n", 4) == 0)
			return b->data + i + 4;
	return NULL;
}

/* The value of a header in the answer's head (case-insensitive name), malloc'd. */
static char *head_get(const char *head, size_t len, const char *name, const char **after)
{
	size_t nl = strlen(name);
	const char *p = *after ? *after : head, *end = head + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			*after = eol + 1;
			return vk_asprintf("%.*s", (int)(ve - v), v);
		}
		p = eol + 1;
	}
	*after = end;
	return NULL;
}

/* A refusal: the client gets the server's status and body once it is all here. */
static void refuse(vk_server_proxy *px, const char *body_start)
{
	size_t head_len = (size_t)(body_start - px->head.data);
	const char *after = NULL;
	char *cl = head_get(px->head.data, head_len, "content-length", &after);
	size_t want = cl ? (size_t)strtoul(cl, NULL, 10) : SIZE_MAX;
	free(cl);
	size_t have = px->head.len - head_len;
	if (have < want && want != SIZE_MAX && px->up_reading)
		return; /* more to come */
	if (want == SIZE_MAX && px->up_reading)
		return; /* until the server closes */
	size_t blen = have < want ? have : want;
	after = NULL;
	char *ctype = head_get(px->head.data, head_len, "content-type", &after);
	char *msg = vk_asprintf("the streaming server at %s answered %d: %.*s", px->url, px->status,
	                        (int)(blen > 300 ? 300 : blen), body_start);
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	h2o_req_t *req = take_req(px);
	if (req) {
		req->res.status = px->status;
		req->res.reason = "Upstream";
		const char *ct = ctype ? ctype : "text/plain";
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		               h2o_strdup(&req->pool, ct, SIZE_MAX).base, strlen(ct));
		h2o_send_inline(req, body_start, blen);
	}
	free(ctype);
	end(px, msg);
	free(msg);
}

static void relay_101(vk_server_proxy *px, const char *body_start)
{
	h2o_req_t *req = take_req(px);
	if (!req) {
		end(px, "the client went away");
		return;
	}
	size_t head_len = (size_t)(body_start - px->head.data);
	req->res.status = 101;
	req->res.reason = "Switching Protocols";
	static const char *const keep[] = {"upgrade", "x-stream-protocol-version"};
	for (size_t k = 0; k < VK_ARRAY_LEN(keep); k++) {
		const char *after = NULL;
		char *v;
		while ((v = head_get(px->head.data, head_len, keep[k], &after))) {
			h2o_iovec_t hv = h2o_strdup(&req->pool, v, SIZE_MAX);
			h2o_add_header_by_str(&req->pool, &req->res.headers, keep[k], strlen(keep[k]), 1, NULL, hv.base,
			                      hv.len);
			free(v);
		}
	}
	/* bytes the server sent after its 101: to the client right after it */
	size_t extra = px->head.len - head_len;
	h2o_iovec_t iov = h2o_iovec_init(h2o_mem_alloc_pool(&req->pool, extra ? extra : 1), extra);
	memcpy(iov.base, body_start, extra);
	uv_read_stop((uv_stream_t *)&px->up);
	px->up_reading = false;
	vk_debug("server", "%s: proxied to %s", px->st->what, px->url);
	h2o_http1_upgrade(req, &iov, extra ? 1 : 0, on_client_upgraded, px);
}

static void on_head_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	vk_server_proxy *px = s->data;
	if (n > 0)
		vk_buf_append(&px->head, buf->base, (size_t)n);
	free(buf->base);
	if (n < 0) {
		px->up_reading = false;
		uv_read_stop(s);
	}
	const char *body = find_blank(&px->head);
	if (!body) {
		if (n < 0 || px->head.len > MAX_HEAD) {
			char *m = vk_asprintf("the streaming server at %s %s", px->url,
			                      n < 0 ? "closed the connection without an answer"
			                            : "sent a head over 64 KiB");
			h2o_req_t *req = take_req(px);
			if (req) {
				vk_server__send_status(req, 502, "BadGateway", "%s: %s", px->st->what, m);
			}
			px->status = 502;
			end(px, m);
			free(m);
		}
		return;
	}
	if (px->status == 0) {
		int code = 0;
		if (sscanf(px->head.data, "HTTP/1.%*d %d", &code) != 1)
			code = 502;
		px->status = code;
	}
	if (px->status == 101)
		relay_101(px, body);
	else
		refuse(px, body);
}

static void on_connected(uv_connect_t *c, int status)
{
	vk_server_proxy *px = c->data;
	if (status < 0 || !px->st->req) {
		char *m = vk_asprintf("cannot reach the streaming server at %s: %s", px->url,
		                      status < 0 ? uv_strerror(status) : "the client went away");
		px->failed_connect = status < 0;
		end(px, m);
		free(m);
		return;
	}
	h2o_req_t *req = px->st->req;
	vk_buf r = {0};
	vk_buf_printf(&r, "%.*s %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n",
	              (int)req->method.len, req->method.base, px->path, px->hostport);
	for (ssize_t i = -1;
	     (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-stream-protocol-version"), i)) != -1;)
		vk_buf_printf(&r, "X-Stream-Protocol-Version: %.*s\r\n", (int)req->headers.entries[i].value.len,
		              req->headers.entries[i].value.base);
	vk_buf_printf(&r, "Content-Length: 0\r\n\r\n");
	px->to_up = r;
	uv_buf_t b = uv_buf_init(px->to_up.data, (unsigned)px->to_up.len);
	px->wreq.data = px;
	px->up_writing = true;
	if (uv_write(&px->wreq, (uv_stream_t *)&px->up, &b, 1, on_up_written) < 0) {
		px->up_writing = false;
		end(px, "cannot write to the streaming server");
		return;
	}
	px->up_reading = true;
	uv_read_start((uv_stream_t *)&px->up, alloc_cb, on_head_read);
}

/* http://127.0.0.1:PORT/path?query (or localhost, [::1]). */
static int parse_url(const char *url, struct sockaddr_storage *ss, char *hostport, size_t hplen, char **path)
{
	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);
	if (hl == 0 || hl >= hplen)
		return -EINVAL;
	memcpy(hostport, h, hl);
	hostport[hl] = 0;
	char *colon = strrchr(hostport, ':');
	if (!colon || colon[1] == 0)
		return -EINVAL;
	char *end = NULL;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	size_t host_len = (size_t)(colon - hostport);
	if ((host_len == 9 && memcmp(hostport, "127.0.0.1", 9) == 0) ||
	    (host_len == 9 && memcmp(hostport, "localhost", 9) == 0)) {
		uv_ip4_addr("127.0.0.1", (int)port, (struct sockaddr_in *)ss);
	} else if (host_len == 5 && memcmp(hostport, "[::1]", 5) == 0) {
		uv_ip6_addr("::1", (int)port, (struct sockaddr_in6 *)ss);
	} else {
		return -EINVAL; /* only the node's own loopback: CRI streaming servers listen there */
	}
	*path = vk_strdup(slash ? slash : "/");
	return 0;
}

int vk_server__proxy_start(vk_server_sst *st, const char *url, vk_stream_done_cb cb, void *ud)
{
	struct sockaddr_storage ss;
	char hostport[64], *path = NULL;
	if (parse_url(url, &ss, hostport, sizeof hostport, &path) < 0)
		return -EINVAL;
	vk_server_proxy *px = vk_xcalloc(1, sizeof *px);
	px->st = st;
	px->url = vk_strdup(url);
	px->path = path;
	snprintf(px->hostport, sizeof px->hostport, "%s", hostport);
	px->cb = cb;
	px->ud = ud;
	st->px = px; /* the request is now the proxy's to answer */
	st->state = SST_PROXY;
	uv_tcp_init(st->s->loop, &px->up);
	px->up.data = px;
	px->up_open = true;
	px->conn.data = px;
	int rc = uv_tcp_connect(&px->conn, &px->up, (struct sockaddr *)&ss, on_connected);
	if (rc < 0) { /* reported from the loop like any other failure */
		char *m = vk_asprintf("cannot reach the streaming server at %s: %s", url, uv_strerror(rc));
		px->failed_connect = true;
		px->cb = NULL; /* a call that fails never calls back */
		end(px, m);
		free(m);
		return rc;
	}
	return 0;
}

void vk_server__proxy_abort(vk_server_proxy *px)
{
	h2o_req_t *req = take_req(px);
	if (req) {
		vk_server__send_status(req, 503, "ServiceUnavailable", "%s: vk is shutting down", px->st->what);
	}
	end(px, "vk is shutting down");
}
