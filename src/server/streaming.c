/* /exec, /attach (kubelet's remotecommand over SPDY/3.1) and the `stream`
 * the provider gets (vk/stream.h), shared with port-forward's pairs.
 *
 * The order, as kubelet's: authentication and authorization (routes.c),
 * the request checked (an upgrade to SPDY/3.1, a protocol both speak, the
 * query, the pod and container known on this node), then the provider's
 * exec/attach callback, still before any 101.  The 101 is sent when the
 * provider first uses the stream (read, write, resize, close) or returns an
 * exit code; `return nil, err` before that is an HTTP error with a Status
 * body (404 when err says "not found"), which kubectl prints.  After the
 * upgrade the client opens its streams (error, stdin, stdout, stderr,
 * resize, by their `streamtype` header); the session is open when every
 * stream the query asked for is there (30 s at most), and the callback's
 * result goes on the error stream as a metav1.Status (v4: an exit code as
 * the cause ExitCode, reason NonZeroExitCode; v1-v3: the message as text,
 * failures only).  Then every stream is closed and a GOAWAY sent. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_int.h"

#define STREAM_WAIT_MS 30000
#define IN_HIGH (1024 * 1024) /* unread client bytes before reading pauses */
#define IN_LOW (256 * 1024)

/* Preferred first, as kubelet (remotecommand.SupportedStreamingProtocols). */
static const char *const rc_protocols[] = {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                                           "channel.k8s.io"};

/* ---- responses before the upgrade -------------------------------------------- */

static const char *reason_phrase(int code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static cJSON *status_json(const char *status, const char *reason, const char *msg, int code)
{
	cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddObjectToObject(st, "metadata");
	cJSON_AddStringToObject(st, "status", status);
	if (msg)
		cJSON_AddStringToObject(st, "message", msg);
	if (reason)
		cJSON_AddStringToObject(st, "reason", reason);
	if (code)
		cJSON_AddNumberToObject(st, "code", code);
	return st;
}

/* A refused upgrade: the API server's SPDY client decodes the body as a
 * Status and kubectl prints its message. */
void vk_server__send_status(h2o_req_t *req, int code, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	vk_debug("server", "%.*s -> %d %s", (int)req->path.len, req->path.base, code, msg ? msg : "");
	cJSON *st = status_json("Failure", reason, msg ? msg : "error", code);
	free(msg);
	char *body = cJSON_PrintUnformatted(st);
	cJSON_Delete(st);
	req->res.status = code;
	req->res.reason = reason_phrase(code);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
	h2o_send_inline(req, body ? body : "", body ? strlen(body) : 0);
	free(body);
}

/* ---- the request ---------------------------------------------------------------- */

/* The first of ours the client offers (X-Stream-Protocol-Version, one or
 * more headers, each maybe a list), or NULL; *offered tells whether it
 * offered any. */
const char *vk_server__negotiate(h2o_req_t *req, const char *const *ours, size_t n, bool *offered)
{
	*offered = false;
	for (size_t k = 0; k < n; k++) {
		for (ssize_t i = -1;
		     (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-stream-protocol-version"), i)) != -1;) {
			h2o_iovec_t v = req->headers.entries[i].value;
			*offered = true;
			if (h2o_contains_token(v.base, v.len, ours[k], strlen(ours[k]), ','))
				return ours[k];
		}
	}
	return NULL;
}

/* Checks that this is an HTTP/1.1 upgrade to SPDY/3.1; answers 400 if not. */
bool vk_server__upgrade_ok(h2o_req_t *req, const char *what)
{
	if (req->version >= 0x200) {
		vk_server__send_status(req, 400, "BadRequest",
		                       "%s: an upgrade to SPDY/3.1 needs HTTP/1.1 (this request came over HTTP/2)",
		                       what);
		return false;
	}
	bool spdy = req->upgrade.base && h2o_lcstris(req->upgrade.base, req->upgrade.len, H2O_STRLIT("spdy/3.1"));
	if (!spdy) {
		if (req->upgrade.base)
			vk_server__send_status(
				req, 400, "BadRequest",
				"%s: Upgrade: %.*s is not served; vk's kubelet API upgrades to SPDY/3.1 only", what,
				(int)req->upgrade.len, req->upgrade.base);
		else
			vk_server__send_status(req, 400, "BadRequest",
			                       "%s: Upgrade request required (Connection: Upgrade, Upgrade: SPDY/3.1)",
			                       what);
		return false;
	}
	return true;
}

/* ---- pods and containers this node knows ------------------------------------------ */

/* 0: known (or vk cannot tell: no pod list); else answered with 404. */
int vk_server__check_pod(vk_server *s, h2o_req_t *req, const char *what, const char *ns, const char *pod,
                         const char *container)
{
	if (!s->pod_fn)
		return 0;
	cJSON *found = s->pod_fn(s->pods_ud, ns, pod); /* one pod, not a tree of every pod */
	int rc = 0;
	if (!found) {
		vk_server__send_status(req, 404, "NotFound", "%s: pod %s/%s does not exist on node %s", what, ns, pod,
		                       s->nodename);
		rc = -ENOENT;
	} else if (container) {
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(found, "spec");
		bool ok = false;
		static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
		for (size_t i = 0; i < VK_ARRAY_LEN(lists) && !ok; i++) {
			const cJSON *c;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[i])) {
				const cJSON *cn = cJSON_GetObjectItemCaseSensitive(c, "name");
				if (cJSON_IsString(cn) && strcmp(cn->valuestring, container) == 0)
					ok = true;
			}
		}
		if (!ok) {
			vk_server__send_status(req, 404, "NotFound", "%s: container %s is not valid for pod %s/%s",
			                       what, container, ns, pod);
			rc = -ENOENT;
		}
	}
	cJSON_Delete(found);
	return rc;
}

/* ---- the stream's life ------------------------------------------------------------ */

static void timer_closed(uv_handle_t *h) { free(h); }

static void stop_wait(vk_server_sst *st)
{
	if (st->wait_timer) {
		uv_timer_stop(st->wait_timer);
		uv_close((uv_handle_t *)st->wait_timer, timer_closed);
		st->wait_timer = NULL;
	}
}

static void on_slot_dispose(void *p)
{
	vk_server_sst_slot *sl = p;
	if (sl->st) {
		vk_server_sst *st = sl->st;
		st->req = NULL;
		st->slot = NULL;
		if (st->state == SST_PENDING) { /* the client left before the upgrade */
			st->state = SST_ENDED;
			vk_server__sst_fail_waiters(st);
			vk_server__sst_maybe_free(st);
		}
	}
}

void vk_server__sst_maybe_free(vk_server_sst *st)
{
	if (st->provider_holds || !st->result_in || st->state != SST_ENDED || st->req || st->px)
		return;
	vk_server *s = st->s;
	stop_wait(st);
	if (st->slot)
		st->slot->st = NULL;
	vk_list_remove(&st->link);
	vk_buf_free(&st->in);
	vk_buf_free(&st->rz);
	for (int i = 0; i < 3; i++)
		vk_buf_free(&st->early[i]);
	free(st->error);
	free(st->what);
	free(st);
	s->calls--;
	vk_server__maybe_done(s);
}

/* The transport is gone: every waiting call gets its end. */
void vk_server__sst_fail_waiters(vk_server_sst *st)
{
	st->in_eof = true;
	if (st->rcb && st->in.len == 0) {
		vk_stream_data_cb cb = st->rcb;
		st->rcb = NULL;
		cb(&st->pub, VK_STREAM_EOF, NULL, 0, st->rud);
	}
	if (st->zcb) {
		vk_stream_size_cb cb = st->zcb;
		st->zcb = NULL;
		cb(&st->pub, VK_STREAM_EOF, 0, 0, st->zud);
	}
	if (st->wcb) {
		vk_stream_done_cb cb = st->wcb;
		st->wcb = NULL;
		cb(&st->pub, -EPIPE, "the client went away", st->wud);
	}
}

/* Hands buffered stdin to a waiting read. */
static void serve_read(vk_server_sst *st)
{
	if (!st->rcb || (st->state != SST_OPEN && st->state != SST_ENDED))
		return;
	if (st->in.len > 0) {
		vk_stream_data_cb cb = st->rcb;
		st->rcb = NULL;
		/* the callback may free nothing of ours: st lives while the provider holds it */
		vk_buf chunk = st->in;
		st->in = (vk_buf){0};
		cb(&st->pub, 0, chunk.data, chunk.len, st->rud);
		vk_buf_free(&chunk);
		vk_spdy_session *ss = st->ss;
		if (st->paused && ss) {
			st->paused = false;
			vk_spdy_pause(ss, false);
		}
	} else if (st->in_eof) {
		vk_stream_data_cb cb = st->rcb;
		st->rcb = NULL;
		cb(&st->pub, VK_STREAM_EOF, NULL, 0, st->rud);
	}
}

static void serve_resize(vk_server_sst *st)
{
	if (!st->zcb)
		return;
	if (st->nsizes > 0) {
		int w = st->sizes[0][0], h = st->sizes[0][1];
		memmove(st->sizes, st->sizes + 1, sizeof st->sizes[0] * (size_t)--st->nsizes);
		vk_stream_size_cb cb = st->zcb;
		st->zcb = NULL;
		cb(&st->pub, 0, w, h, st->zud);
	} else if (st->state == SST_ENDED || (st->state == SST_OPEN && (!st->s_resize || st->s_resize->remote_fin))) {
		vk_stream_size_cb cb = st->zcb;
		st->zcb = NULL;
		cb(&st->pub, VK_STREAM_EOF, 0, 0, st->zud);
	}
}

void vk_server__sst_on_data(vk_server_sst *st, const uint8_t *data, size_t len, bool fin)
{
	vk_buf_append(&st->in, data, len);
	if (fin)
		st->in_eof = true;
	vk_spdy_session *ss = st->ss;
	if (st->in.len > IN_HIGH && !st->paused && ss) {
		st->paused = true;
		vk_spdy_pause(ss, true);
	}
	serve_read(st);
}

/* The resize stream: JSON objects {"Width":W,"Height":H}, one after another. */
static void on_resize_data(vk_server_sst *st, const uint8_t *data, size_t len)
{
	vk_buf_append(&st->rz, data, len);
	for (;;) {
		const char *end = NULL;
		cJSON *j = cJSON_ParseWithLengthOpts(st->rz.data, st->rz.len, &end, false);
		if (!j)
			break;
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "Width");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "Height");
		if (cJSON_IsNumber(w) && cJSON_IsNumber(h)) {
			if (st->nsizes == (int)VK_ARRAY_LEN(st->sizes)) /* nobody reads: keep the newest */
				memmove(st->sizes, st->sizes + 1, sizeof st->sizes[0] * (size_t)--st->nsizes);
			st->sizes[st->nsizes][0] = (int)w->valuedouble;
			st->sizes[st->nsizes][1] = (int)h->valuedouble;
			st->nsizes++;
		}
		cJSON_Delete(j);
		vk_buf_consume(&st->rz, (size_t)(end - st->rz.data));
	}
	if (st->rz.len > 4096)
		vk_buf_reset(&st->rz); /* not JSON: dropped */
	serve_resize(st);
}

/* ---- results on the error stream ------------------------------------------------- */

static void fin(vk_server_sst *st, vk_spdy_stream *ds)
{
	if (ds && st->ss && !ds->local_fin && !ds->reset)
		vk_spdy_send(st->ss, ds, NULL, 0, true);
}

static void send_result(vk_server_sst *st)
{
	vk_spdy_session *ss = st->ss;
	bool v4 = strcmp(st->proto, "v4.channel.k8s.io") == 0;
	char *text = NULL;
	if (v4) {
		cJSON *j;
		if (st->error) {
			j = status_json("Failure", "InternalError", st->error, 500);
		} else if (st->code != 0) {
			char *m = vk_asprintf("command terminated with non-zero exit code: exit status %d", st->code);
			j = status_json("Failure", "NonZeroExitCode", m, 0);
			free(m);
			cJSON *causes = cJSON_AddArrayToObject(cJSON_AddObjectToObject(j, "details"), "causes");
			cJSON *c = cJSON_CreateObject();
			cJSON_AddStringToObject(c, "reason", "ExitCode");
			char n[16];
			snprintf(n, sizeof n, "%d", st->code);
			cJSON_AddStringToObject(c, "message", n);
			cJSON_AddItemToArray(causes, c);
		} else {
			j = status_json("Success", NULL, NULL, 0);
		}
		text = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
	} else if (st->error) {
		text = vk_strdup(st->error);
	} else if (st->code != 0) {
		text = vk_asprintf("command terminated with non-zero exit code: exit status %d", st->code);
	}
	if (text && st->s_error)
		vk_spdy_send(ss, st->s_error, text, strlen(text), false);
	free(text);
	fin(st, st->s_out);
	fin(st, st->s_err);
	fin(st, st->s_error);
	vk_spdy_finish(ss);
}

/* Every expected stream is there: writes made meanwhile go out. */
static void open_session(vk_server_sst *st)
{
	st->state = SST_OPEN;
	stop_wait(st);
	vk_spdy_stream *outs[3] = {NULL, st->s_out, st->s_err};
	for (int fd = 1; fd <= 2; fd++) {
		if (st->early[fd].len && outs[fd])
			vk_spdy_send(st->ss, outs[fd], st->early[fd].data, st->early[fd].len, false);
		vk_buf_free(&st->early[fd]);
	}
	if (st->close_out) {
		fin(st, st->s_out);
		fin(st, st->s_err);
	}
	serve_read(st);
	serve_resize(st);
	if (st->wcb && vk_spdy_queued(st->ss) < VK_SPDY_HIGH_WATER)
		vk_server__sst_drain(st); /* a writer that waited for the streams */
	if (st->result_in)
		send_result(st);
}

static bool all_streams(const vk_server_sst *st)
{
	bool v3 = strcmp(st->proto, "v4.channel.k8s.io") == 0 || strcmp(st->proto, "v3.channel.k8s.io") == 0;
	return st->s_error && (!st->pub.in || st->s_in) && (!st->pub.out || st->s_out) && (!st->pub.err || st->s_err) &&
	       (!(st->pub.tty && v3) || st->s_resize);
}

static void rc_on_stream(vk_spdy_session *ss, vk_spdy_stream *ds, void *ud)
{
	vk_server_sst *st = ud;
	const char *type = vk_spdy_header_get(ds->hs, ds->nh, "streamtype");
	vk_spdy_stream **slot = NULL;
	if (!type)
		slot = NULL;
	else if (strcmp(type, "error") == 0)
		slot = &st->s_error;
	else if (strcmp(type, "stdin") == 0)
		slot = &st->s_in;
	else if (strcmp(type, "stdout") == 0)
		slot = &st->s_out;
	else if (strcmp(type, "stderr") == 0)
		slot = &st->s_err;
	else if (strcmp(type, "resize") == 0)
		slot = &st->s_resize;
	if (!slot || *slot) {
		vk_debug("server", "%s: unexpected stream (streamtype %s): reset", st->what, type ? type : "missing");
		vk_spdy_reset(ss, ds, VK_SPDY_RST_PROTOCOL_ERROR);
		return;
	}
	*slot = ds;
	ds->ud = st;
	if (st->state == SST_WAITING && all_streams(st))
		open_session(st);
}

static void rc_on_data(vk_spdy_session *ss, vk_spdy_stream *ds, const uint8_t *data, size_t len, bool fin, void *ud)
{
	vk_server_sst *st = ud;
	if (ds == st->s_in)
		vk_server__sst_on_data(st, data, len, fin);
	else if (ds == st->s_resize) {
		on_resize_data(st, data, len);
		if (fin)
			serve_resize(st);
	}
}

static void rc_on_reset(vk_spdy_session *ss, vk_spdy_stream *ds, void *ud)
{
	vk_server_sst *st = ud;
	if (ds == st->s_in)
		vk_server__sst_on_data(st, NULL, 0, true);
}

void vk_server__sst_drain(vk_server_sst *st)
{
	if (st->wcb) {
		vk_stream_done_cb cb = st->wcb;
		st->wcb = NULL;
		cb(&st->pub, 0, NULL, st->wud);
	}
}

static void rc_on_drain(vk_spdy_session *ss, void *ud) { vk_server__sst_drain(ud); }

static void rc_on_close(vk_spdy_session *ss, const char *err, void *ud)
{
	vk_server_sst *st = ud;
	if (err)
		vk_debug("server", "%s: connection ended: %s", st->what, err);
	st->ss = NULL;
	st->s_in = st->s_out = st->s_err = st->s_error = st->s_resize = NULL;
	st->state = SST_ENDED;
	stop_wait(st);
	vk_server__sst_fail_waiters(st);
	vk_server__sst_maybe_free(st);
}

static const vk_spdy_callbacks rc_callbacks = {
	.on_stream = rc_on_stream,
	.on_data = rc_on_data,
	.on_reset = rc_on_reset,
	.on_drain = rc_on_drain,
	.on_close = rc_on_close,
};

static void on_wait_timeout(uv_timer_t *t)
{
	vk_server_sst *st = t->data;
	vk_warn("server", "%s: the client did not open its streams within %d s; closing", st->what,
	        STREAM_WAIT_MS / 1000);
	stop_wait(st);
	if (st->ss)
		vk_spdy_abort(st->ss);
}

static void on_upgraded(void *ud, h2o_socket_t *sock, size_t reqsize)
{
	vk_server_sst *st = ud;
	if (!sock) {
		st->state = SST_ENDED;
		vk_server__sst_fail_waiters(st);
		vk_server__sst_maybe_free(st);
		return;
	}
	h2o_buffer_consume(&sock->input, reqsize);
	st->state = SST_WAITING;
	st->ss = vk_spdy_session_new(sock, &rc_callbacks, st, st->what);
	st->wait_timer = vk_xcalloc(1, sizeof *st->wait_timer);
	uv_timer_init(st->s->loop, st->wait_timer);
	st->wait_timer->data = st;
	uv_timer_start(st->wait_timer, on_wait_timeout, STREAM_WAIT_MS, 0);
	vk_spdy_kick(st->ss);
}

/* Sends the 101 (once; the provider used the stream or returned a code). */
static void upgrade(vk_server_sst *st)
{
	if (st->state != SST_PENDING)
		return;
	h2o_req_t *req = st->req;
	if (st->slot) {
		st->slot->st = NULL; /* h2o disposes the request during the upgrade */
		st->slot = NULL;
	}
	st->req = NULL;
	st->state = SST_UPGRADING;
	req->res.status = 101;
	req->res.reason = "Switching Protocols";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("SPDY/3.1"));
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-stream-protocol-version"), 0, NULL,
	                      st->proto, strlen(st->proto));
	vk_debug("server", "%s: upgraded to SPDY/3.1, protocol %s", st->what, st->proto);
	h2o_http1_upgrade(req, NULL, 0, on_upgraded, st);
}

/* ---- vk_stream_ops ----------------------------------------------------------------- */

static vk_server_sst *sst_of(vk_stream *p) { return VK_CONTAINER_OF(p, vk_server_sst, pub); }

static int op_read(vk_stream *p, vk_stream_data_cb cb, void *ud)
{
	vk_server_sst *st = sst_of(p);
	if (st->rcb)
		return -EBUSY;
	if (st->state == SST_PROXY)
		return -EINVAL;
	st->rcb = cb;
	st->rud = ud;
	if (st->state == SST_PENDING)
		upgrade(st);
	serve_read(st);
	return 0;
}

static int op_write(vk_stream *p, int fd, const char *data, size_t len, vk_stream_done_cb cb, void *ud)
{
	vk_server_sst *st = sst_of(p);
	if (st->wcb)
		return -EBUSY;
	if (st->state == SST_ENDED || st->state == SST_PROXY || st->close_out)
		return -EPIPE;
	if (st->state == SST_PENDING)
		upgrade(st);
	if (st->state != SST_OPEN) { /* sent when the streams are there */
		vk_buf_append(&st->early[fd], data, len);
		if (st->early[1].len + st->early[2].len < VK_SPDY_HIGH_WATER) {
			cb(p, 0, NULL, ud);
		} else { /* the rest waits for open_session */
			st->wcb = cb;
			st->wud = ud;
		}
		return 0;
	}
	vk_spdy_stream *ds = fd == 2 ? st->s_err : st->s_out;
	if (ds && vk_spdy_send(st->ss, ds, data, len, false) < 0)
		return -EPIPE;
	if (vk_spdy_queued(st->ss) < VK_SPDY_HIGH_WATER) {
		cb(p, 0, NULL, ud);
	} else {
		st->wcb = cb;
		st->wud = ud;
	}
	return 0;
}

static int op_resize(vk_stream *p, vk_stream_size_cb cb, void *ud)
{
	vk_server_sst *st = sst_of(p);
	if (st->zcb)
		return -EBUSY;
	if (st->state == SST_PROXY)
		return -EINVAL;
	st->zcb = cb;
	st->zud = ud;
	if (st->state == SST_PENDING)
		upgrade(st);
	serve_resize(st);
	return 0;
}

static int op_proxy(vk_stream *p, const char *url, vk_stream_done_cb cb, void *ud)
{
	vk_server_sst *st = sst_of(p);
	if (st->state != SST_PENDING || !st->req || st->kind == SST_PF || st->rcb || st->zcb)
		return -EINVAL;
	return vk_server__proxy_start(st, url, cb, ud);
}

static void op_cancel(vk_stream *p, void *ud)
{
	vk_server_sst *st = sst_of(p);
	if (st->rcb && st->rud == ud)
		st->rcb = NULL;
	if (st->zcb && st->zud == ud)
		st->zcb = NULL;
	if (st->wcb && st->wud == ud)
		st->wcb = NULL;
}

static void op_close(vk_stream *p)
{
	vk_server_sst *st = sst_of(p);
	if (st->close_out)
		return;
	st->close_out = true;
	if (st->state == SST_PENDING)
		upgrade(st);
	if (st->state == SST_OPEN) {
		fin(st, st->s_out);
		fin(st, st->s_err);
	}
}

static void op_unref(vk_stream *p)
{
	vk_server_sst *st = sst_of(p);
	st->provider_holds = false;
	vk_server__sst_maybe_free(st);
}

const vk_stream_ops vk_server__sst_ops = {
	.read = op_read,
	.write = op_write,
	.resize = op_resize,
	.proxy = op_proxy,
	.cancel = op_cancel,
	.close = op_close,
	.unref = op_unref,
};

/* ---- the provider's answer ------------------------------------------------------------ */

static void on_result(const vk_provider_result *r, void *ud)
{
	vk_server_sst *st = ud;
	const cJSON *v = r->value;
	st->result_in = true;
	if (r->err) {
		const char *m = r->errmsg ? r->errmsg : "error";
		const char *nl = strchr(m, '\n');
		st->error = vk_asprintf("%s: %.*s", st->what, nl ? (int)(nl - m) : (int)strlen(m), m);
	} else if (cJSON_IsObject(v)) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "error");
		st->error = vk_asprintf("%s: %s", st->what, cJSON_IsString(e) ? e->valuestring : "error");
	} else if (cJSON_IsNumber(v)) {
		st->code = (int)v->valuedouble;
	}
	cJSON_Delete(r->value);
	if (st->error)
		vk_debug("server", "%s", st->error);
	switch (st->state) {
	case SST_PENDING:
		if (st->error) { /* never upgraded: an HTTP answer */
			h2o_req_t *req = st->req;
			if (st->slot) {
				st->slot->st = NULL;
				st->slot = NULL;
			}
			st->req = NULL;
			st->state = SST_ENDED;
			bool nf = strstr(st->error, "not found") != NULL;
			vk_server__send_status(req, nf ? 404 : 500, nf ? "NotFound" : "InternalError", "%s", st->error);
		} else {
			upgrade(st); /* the exit code goes on the error stream */
		}
		break;
	case SST_OPEN: send_result(st); break;
	default: break; /* UPGRADING/WAITING: at open; PROXY/ENDED: nothing to say */
	}
	vk_server__sst_maybe_free(st);
}

static void call_refused(vk_server_sst *st, h2o_req_t *req, int rc, const char *callback)
{
	if (rc == -ENOSYS)
		vk_server__send_status(req, 501, "NotImplemented",
		                       "%s: the provider has no %s callback, so vk cannot stream to it", st->what,
		                       callback);
	else if (rc == -ESHUTDOWN)
		vk_server__send_status(req, 503, "ServiceUnavailable", "%s: the provider is closing", st->what);
	else
		vk_server__send_status(req, 500, "InternalError", "%s: %s", st->what, strerror(-rc));
}

/* ---- routes ---------------------------------------------------------------------------- */

static bool query_bool(const char *q, size_t qlen, const char *key)
{
	bool bad = false;
	char *v = vk_server__query_get(q, qlen, key, &bad);
	bool on = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
	free(v);
	return on;
}

/* Every command=... of the query, in order. */
static cJSON *query_commands(const char *q, size_t qlen)
{
	cJSON *cmd = cJSON_CreateArray();
	const char *p = q, *end = q + qlen;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) >= 8 && memcmp(p, "command=", 8) == 0) {
			char *v = vk_server__unescape(p + 8, (size_t)(e - p - 8), true);
			if (v)
				cJSON_AddItemToArray(cmd, cJSON_CreateString(v));
			free(v);
		}
		p = e + 1;
	}
	return cmd;
}

vk_server_sst *vk_server__sst_new(vk_server *s, vk_sst_kind kind, char *what)
{
	vk_server_sst *st = vk_xcalloc(1, sizeof *st);
	st->pub.ops = &vk_server__sst_ops;
	st->s = s;
	st->kind = kind;
	st->what = what;
	vk_list_insert_tail(&s->streams, &st->link);
	s->calls++;
	return st;
}

static void exec_or_attach(vk_server *s, h2o_req_t *req, char **seg, int n, bool exec)
{
	const char *top = exec ? "exec" : "attach";
	if (n != 4 && n != 5) {
		vk_server__send_status(req, 404, "NotFound", "%s: the path is /%s/NAMESPACE/POD[/UID]/CONTAINER", top,
		                       top);
		return;
	}
	const char *ns = seg[1], *pod = seg[2], *container = seg[n - 1];
	char *what = vk_asprintf("%s %s/%s/%s", top, ns, pod, container);
	const char *q = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
	size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
	bool in = query_bool(q, qlen, "input") || query_bool(q, qlen, "stdin");
	bool out = query_bool(q, qlen, "output") || query_bool(q, qlen, "stdout");
	bool err = query_bool(q, qlen, "error") || query_bool(q, qlen, "stderr");
	bool tty = query_bool(q, qlen, "tty");
	cJSON *cmd = query_commands(q, qlen);
	bool offered;
	const char *proto = vk_server__negotiate(req, rc_protocols, VK_ARRAY_LEN(rc_protocols), &offered);
	if (!vk_server__upgrade_ok(req, what))
		goto out;
	if (!proto) {
		vk_server__send_status(req, 403, "Forbidden",
		                       "%s: unable to upgrade: unable to negotiate protocol: %s; vk speaks "
		                       "v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io",
		                       what,
		                       offered ? "none of the client's X-Stream-Protocol-Version is known"
		                               : "the "
		                                 "client "
		                                 "offered "
		                                 "none");
		goto out;
	}
	if (exec && cJSON_GetArraySize(cmd) == 0) {
		vk_server__send_status(req, 400, "BadRequest", "%s: you must specify at least 1 command", what);
		goto out;
	}
	if (!in && !out && !err) {
		vk_server__send_status(req, 400, "BadRequest",
		                       "%s: you must specify at least one of stdin, stdout, stderr", what);
		goto out;
	}
	if (tty && err) /* kubectl asks no stderr with a tty: a terminal has one output */
		err = false;
	if (s->closing) {
		vk_server__send_status(req, 503, "ServiceUnavailable", "%s: vk is shutting down", what);
		goto out;
	}
	if (vk_server__check_pod(s, req, what, ns, pod, container) < 0)
		goto out;

	vk_server_sst *st = vk_server__sst_new(s, exec ? SST_EXEC : SST_ATTACH, what);
	what = NULL;
	st->pub.in = in;
	st->pub.out = out;
	st->pub.err = err;
	st->pub.tty = tty;
	st->proto = proto;
	st->req = req;
	st->slot = h2o_mem_alloc_shared(&req->pool, sizeof *st->slot, on_slot_dispose);
	st->slot->st = st;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "container", container);
	if (exec) {
		cJSON_AddItemToObject(args, "command", cmd);
		cmd = NULL;
	}
	st->provider_holds = true;
	int rc = vk_provider_stream(s->provider, exec ? VK_CALL_EXEC : VK_CALL_ATTACH, args, ns, pod, &st->pub,
	                            on_result, st);
	cJSON_Delete(args);
	if (rc < 0) {
		st->provider_holds = false;
		call_refused(st, req, rc, top);
		st->slot->st = NULL;
		st->slot = NULL;
		st->req = NULL;
		st->state = SST_ENDED;
		st->result_in = true;
		vk_server__sst_maybe_free(st);
	}
out:
	cJSON_Delete(cmd);
	free(what);
}

void vk_server__stream_route(vk_server *s, h2o_req_t *req, char **seg, int n)
{
	const char *top = seg[0];
	if (strcmp(top, "exec") == 0 || strcmp(top, "attach") == 0) {
		exec_or_attach(s, req, seg, n, strcmp(top, "exec") == 0);
	} else if (strcmp(top, "portForward") == 0) {
		if (n != 3 && n != 4) {
			vk_server__send_status(req, 404, "NotFound",
			                       "portForward: the path is /portForward/NAMESPACE/POD[/UID]");
			return;
		}
		vk_server__pf_start(s, req, seg[1], seg[2]);
	} else { /* /run: kubelet's non-streaming exec, deprecated; kubectl never uses it */
		vk_server__send_status(req, 501, "NotImplemented", "run is not served by vk: use exec");
	}
}

void vk_server__streams_close(vk_server *s)
{
	vk_list *pos, *tmp;
	VK_LIST_FOREACH_SAFE(pos, tmp, &s->streams)
	{
		vk_server_sst *st = VK_LIST_ENTRY(pos, vk_server_sst, link);
		if (st->kind == SST_PF)
			continue; /* its connection is its pf's: vk_server__pfs_close */
		if (st->px)
			vk_server__proxy_abort(st->px);
		else if (st->ss)
			vk_spdy_abort(st->ss);
	}
}
