/* GET /containerLogs/...?follow=true: the response stays open while the
 * provider's container_logs writes through `out` (vk/provider.h,
 * vk_provider_out), and ends when it returns or the client goes away.
 *
 * h2o's generator is pulled by the client: h2o_send hands it one chunk,
 * and h2o calls proceed once the chunk is on its way.  Only then does the
 * provider's write return (from a zero timer on the loop, never from inside
 * h2o), so a slow client slows the provider down and never grows a buffer
 * in vk.  A client that goes away (h2o stops the generator, or disposes the
 * request before the first byte) makes every later write return false.
 * h2o reads an HTTP/1.1 connection only between requests, so a client that
 * closes it while the provider waits for new lines would go unseen until
 * the next write: a probe looks at the TCP state every PROBE_MS (the peer's
 * FIN, or a reset) and tells the provider as well.
 *
 * Ownership: a follow holds its vk_server_call (the request, its limits,
 * s->calls) and is freed from its timer's close callback once the
 * provider's result came and h2o no longer holds its chunk. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server_int.h"
#include "vk/metrics.h"

#define PROBE_MS 250

typedef struct {
	vk_provider_out out; /* the provider's view; first */
	h2o_generator_t gen;
	vk_server_call *c;
	uv_timer_t defer;      /* tells the provider how its write went */
	uv_timer_t probe;      /* is the client\'s connection still open? */
	int handles;           /* timers not yet closed */
	bool hup;              /* the probe saw the client close its side */
	vk_buf chunk;          /* what h2o holds until proceed */
	vk_provider_out_cb cb; /* the write waiting for proceed or the news */
	void *cb_arg;
	bool cb_ok;     /* what cb will hear, once due */
	bool cb_due;    /* the timer is to call cb */
	bool started;   /* headers sent, the generator registered */
	bool inflight;  /* h2o holds chunk; proceed will come */
	bool gone;      /* the client went away (stop) */
	bool done;      /* the provider returned: the final chunk is sent or due */
	bool final_due; /* send `chunk` as the end once proceed comes */
	long long sent; /* bytes given to h2o, for limitBytes */
	bool closing;   /* the timer is closing: freed in its callback */
} follow;

vk_metric *vk_server__follows_gauge(void)
{
	return vk_metric_new(VK_METRIC_GAUGE, "vk_server_log_follows",
	                     "Log follows (kubectl logs -f) being streamed to a client.", NULL);
}

static h2o_req_t *req_of(follow *f) { return f->gone ? NULL : f->c->req; }

/* Complete: limitBytes reached; nothing more will be sent. */
static bool complete(const follow *f) { return f->c->lim.limit_bytes >= 0 && f->sent >= f->c->lim.limit_bytes; }

static bool out_closed(vk_provider_out *o)
{
	follow *f = (follow *)o;
	return f->done || f->hup || !req_of(f) || complete(f);
}

static void on_defer(uv_timer_t *t)
{
	follow *f = t->data;
	if (!f->cb_due || !f->cb)
		return;
	vk_provider_out_cb cb = f->cb;
	void *arg = f->cb_arg;
	bool ok = f->cb_ok && !out_closed(&f->out);
	f->cb = NULL;
	f->cb_due = false;
	cb(arg, ok); /* may write again, or end the call (and free f): last */
}

static void due(follow *f, bool ok)
{
	if (!f->cb || f->cb_due)
		return;
	f->cb_ok = ok;
	f->cb_due = true;
	uv_timer_start(&f->defer, on_defer, 0, 0);
}

static void on_closed(uv_handle_t *h)
{
	follow *f = h->data;
	if (--f->handles > 0)
		return;
	vk_buf_free(&f->chunk);
	vk_server__call_free(f->c);
	free(f);
}

static void follow_free(follow *f)
{
	if (f->closing)
		return;
	f->closing = true;
	if (f->started)
		vk_metric_add(vk_server__follows_gauge(), -1);
	uv_close((uv_handle_t *)&f->defer, on_closed);
	uv_close((uv_handle_t *)&f->probe, on_closed);
}

/* The peer closed its side (FIN: CLOSE_WAIT) or reset the connection. */
static void on_probe(uv_timer_t *t)
{
	follow *f = t->data;
	h2o_req_t *req = req_of(f);
	h2o_socket_t *sock = req && req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn)
	                                                             : NULL;
	int fd = sock ? h2o_socket_get_fd(sock) : -1;
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || ti.tcpi_state == TCP_ESTABLISHED)
		return;
	vk_debug("server", "%s: the client closed its connection while following", f->c->what);
	f->hup = true;
	uv_timer_stop(t);
	due(f, false);
}

/* The end: the chunk (if any) goes out with the final state.  It is copied
 * to the request's pool, which outlives the generator. */
static void send_final(follow *f)
{
	h2o_req_t *req = req_of(f);
	if (req) {
		h2o_iovec_t b = {.base = NULL, .len = 0};
		if (f->chunk.len) {
			b.base = h2o_mem_alloc_pool(&req->pool, f->chunk.len);
			memcpy(b.base, f->chunk.data, f->chunk.len);
			b.len = f->chunk.len;
		}
		vk_debug("server", "%s: follow ends (%lld bytes)", f->c->what, f->sent);
		h2o_send(req, &b, b.len ? 1 : 0, H2O_SEND_STATE_FINAL);
	}
	f->final_due = false;
	f->chunk.len = 0;
	follow_free(f);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
	follow *f = VK_CONTAINER_OF(g, follow, gen);
	(void)req;
	f->inflight = false;
	f->chunk.len = 0;
	if (f->final_due) {
		send_final(f);
		return;
	}
	due(f, true);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
	follow *f = VK_CONTAINER_OF(g, follow, gen);
	(void)req;
	vk_debug("server", "%s: the client went away while following", f->c->what);
	f->gone = true;
	f->inflight = false;
	f->chunk.len = 0;
	if (f->done) { /* the end was waiting for proceed */
		f->final_due = false;
		follow_free(f);
		return;
	}
	due(f, false);
}

static void start_response(follow *f, h2o_req_t *req)
{
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
	               H2O_STRLIT("text/plain; charset=utf-8"));
	f->gen.proceed = on_proceed;
	f->gen.stop = on_stop;
	h2o_start_response(req, &f->gen);
	f->started = true;
	vk_metric_add(vk_server__follows_gauge(), 1);
}

/* Appends what limitBytes still allows of data to the chunk. */
static void take(follow *f, const char *data, size_t len)
{
	long long lim = f->c->lim.limit_bytes;
	if (lim >= 0 && (long long)len > lim - f->sent)
		len = (size_t)(lim - f->sent);
	vk_buf_append(&f->chunk, data, len);
	f->sent += (long long)len;
}

static int out_write(vk_provider_out *o, const char *data, size_t len, vk_provider_out_cb cb, void *arg)
{
	follow *f = (follow *)o;
	h2o_req_t *req = req_of(f);
	if (!req || f->done || complete(f) || f->cb)
		return -EPIPE;
	if (!f->started)
		start_response(f, req);
	f->cb = cb;
	f->cb_arg = arg;
	take(f, data, len);
	if (f->chunk.len == 0) { /* an empty write: nothing for h2o */
		due(f, true);
		return 0;
	}
	f->inflight = true;
	h2o_iovec_t b = h2o_iovec_init(f->chunk.data, f->chunk.len);
	h2o_send(req, &b, 1, H2O_SEND_STATE_IN_PROGRESS);
	return 0;
}

static void out_cancel(vk_provider_out *o)
{
	follow *f = (follow *)o;
	f->cb = NULL;
	f->cb_due = false;
}

static void on_result(const vk_provider_result *r, void *ud)
{
	follow *f = ud;
	h2o_req_t *req = req_of(f);
	f->done = true;
	f->cb = NULL;
	if (!f->started) {
		/* Nothing sent yet: an answer like any other (an error's status). */
		vk_server__call_detach(f->c); /* answering may dispose the request */
		if (req)
			vk_server__answer_logs(f->c, req, r);
		else
			vk_debug("server", "%s: the client left before the provider answered", f->c->what);
		cJSON_Delete(r->value);
		follow_free(f);
		return;
	}
	if (r->err) {
		const char *m = r->errmsg ? r->errmsg : "";
		const char *nl = strchr(m, '\n');
		vk_warn("server", "%s: the provider ended the follow with an error: %.*s", f->c->what,
		        nl ? (int)(nl - m) : (int)strlen(m), m);
	} else if (cJSON_IsString(r->value) && req && !f->inflight && !complete(f)) {
		/* What it returned comes last, trimmed as a whole answer would be. */
		const char *text = r->value->valuestring;
		vk_server_log_limits lim = f->c->lim;
		lim.limit_bytes = -1;
		size_t off, n = vk_server__log_trim(text, strlen(text), &lim, &off);
		take(f, text + off, n);
	}
	cJSON_Delete(r->value);
	if (!req)
		follow_free(f);
	else if (f->inflight)
		f->final_due = true; /* proceed sends the end */
	else
		send_final(f);
}

int vk_server__follow_logs(vk_server *s, vk_server_call *c, const char *ns, const char *pod, const cJSON *args)
{
	follow *f = vk_xcalloc(1, sizeof *f);
	f->out.write = out_write;
	f->out.closed = out_closed;
	f->out.cancel = out_cancel;
	f->c = c;
	int rc = vk_provider_follow_logs(s->provider, ns, pod, args, &f->out, on_result, f);
	if (rc < 0) { /* never called back: the caller answers and frees c */
		free(f);
		return rc;
	}
	uv_timer_init(s->loop, &f->defer);
	uv_timer_init(s->loop, &f->probe);
	f->defer.data = f->probe.data = f;
	f->handles = 2;
	uv_timer_start(&f->probe, on_probe, PROBE_MS, PROBE_MS);
	return 0;
}
