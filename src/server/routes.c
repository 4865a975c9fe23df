/* The kubelet API's endpoints: authentication, dispatch on the path, and
 * the provider calls behind /pods, /containerLogs and /stats/summary. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_int.h"
#include "vk/metrics.h"

#define MAX_SEGS 6
#define send_text vk_server__send_text

enum { CALL_PODS = VK_SERVER_CALL_AUTHZ + 1, CALL_LOGS, CALL_STATS, CALL_STATS_PODS, CALL_RES, CALL_RES_PODS };

/* ---- responses ------------------------------------------------------------ */

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

#define send_body vk_server__send_body
void vk_server__send_body(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
	vk_debug("server", "%.*s %.*s -> %d (%zu bytes)", (int)req->method.len, req->method.base, (int)req->path.len,
	         req->path.base, status, len);
	req->res.status = status;
	req->res.reason = reason_of(status);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
	h2o_send_inline(req, body, len);
}

void vk_server__send_text(h2o_req_t *req, int status, const char *fmt, ...)
{
	vk_buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	vk_buf_printf(&b, "%s\n", m ? m : "error");
	free(m);
	send_body(req, status, "text/plain; charset=utf-8", b.data, b.len);
	vk_buf_free(&b);
}

/* Takes j. */
static void send_json(h2o_req_t *req, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s) {
		send_text(req, 500, "cannot print the answer as JSON");
		return;
	}
	send_body(req, 200, "application/json", s, strlen(s));
	free(s);
}

/* A provider error: its first line ("file:line: message"), and a status
 * that says whose fault it is.  Providers raise "... not found" for pods
 * and containers they do not know: kubelet answers those with 404. */
static void send_provider_error(h2o_req_t *req, const char *what, int err, const char *errmsg)
{
	const char *m = errmsg ? errmsg : "";
	const char *nl = strchr(m, '\n');
	int len = nl ? (int)(nl - m) : (int)strlen(m);
	int status = 500;
	if (err == -ECANCELED || err == -ESHUTDOWN)
		status = 503;
	else if (err == -ETIMEDOUT)
		status = 504;
	else if (memmem(m, (size_t)len, "previous terminated container", 29))
		status = 400; /* kubelet's answer to logs --previous without one */
	else if (memmem(m, (size_t)len, "not found", 9))
		status = 404;
	send_text(req, status, "%s: %.*s", what, len, m);
}

/* ---- provider calls ------------------------------------------------------- */

static void on_slot_dispose(void *p)
{
	vk_server_call_slot *sl = p;
	if (sl->c) {
		sl->c->req = NULL;
		sl->c->slot = NULL;
	}
}

vk_server_call *vk_server__call_new(vk_server *s, h2o_req_t *req, int kind, char *what)
{
	vk_server_call *c = vk_xcalloc(1, sizeof *c);
	c->s = s;
	c->req = req;
	c->kind = kind;
	c->what = what;
	c->slot = h2o_mem_alloc_shared(&req->pool, sizeof *c->slot, on_slot_dispose);
	c->slot->c = c;
	s->calls++;
	return c;
}

void vk_server__call_free(vk_server_call *c)
{
	vk_server *s = c->s;
	if (c->slot)
		c->slot->c = NULL;
	free(c->what);
	free(c->key);
	free(c);
	s->calls--;
	vk_server__maybe_done(s);
}

/* A call the provider refused at once (its callback never comes). */
static void call_refused(vk_server_call *c, int rc, const char *callback)
{
	h2o_req_t *req = c->req;
	if (rc == -ENOSYS)
		send_text(req, 501, "%s: the provider has no %s callback", c->what, callback);
	else if (rc == -ESHUTDOWN)
		send_text(req, 503, "%s: the provider is closing", c->what);
	else
		send_text(req, 500, "%s: %s", c->what, strerror(-rc));
	vk_server__call_free(c);
}

void vk_server__call_detach(vk_server_call *c)
{
	if (c->slot) {
		c->slot->c = NULL;
		c->slot = NULL;
	}
}

static cJSON *pod_list(cJSON *items)
{
	cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "kind", "PodList");
	cJSON_AddStringToObject(l, "apiVersion", "v1");
	cJSON_AddObjectToObject(l, "metadata");
	cJSON_AddItemToObject(l, "items", items ? items : cJSON_CreateArray());
	return l;
}

/* kubelet's Summary with what vk knows without a provider's help. */
static cJSON *minimal_summary(vk_server *s, const cJSON *pods)
{
	char t[40];
	vk_rfc3339(t, s->start_wall_ms, false);
	cJSON *sum = cJSON_CreateObject();
	cJSON *node = cJSON_AddObjectToObject(sum, "node");
	cJSON_AddStringToObject(node, "nodeName", s->nodename);
	cJSON_AddArrayToObject(node, "systemContainers");
	cJSON_AddStringToObject(node, "startTime", t);
	cJSON *arr = cJSON_AddArrayToObject(sum, "pods");
	const cJSON *p;
	cJSON_ArrayForEach(p, pods) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(p, "metadata");
		cJSON *ps = cJSON_CreateObject();
		cJSON *ref = cJSON_AddObjectToObject(ps, "podRef");
		static const char *const keys[] = {"name", "namespace", "uid"};
		for (size_t i = 0; i < VK_ARRAY_LEN(keys); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, keys[i]);
			cJSON_AddStringToObject(ref, keys[i], cJSON_IsString(v) ? v->valuestring : "");
		}
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "status"),
		                                                   "startTime");
		cJSON_AddStringToObject(ps, "startTime", cJSON_IsString(st) ? st->valuestring : t);
		cJSON_AddArrayToObject(ps, "containers");
		cJSON_AddItemToArray(arr, ps);
	}
	return sum;
}

static void answer_logs(vk_server_call *c, h2o_req_t *req, cJSON *v)
{
	if (v && !cJSON_IsString(v)) {
		send_text(req, 500, "%s: the provider's container_logs returned a %s, not a string", c->what,
		          cJSON_IsObject(v) ? "table" : "non-string");
		return;
	}
	const char *text = v ? v->valuestring : "";
	size_t off, n = vk_server__log_trim(text, strlen(text), &c->lim, &off);
	send_body(req, 200, "text/plain; charset=utf-8", text + off, n);
}

void vk_server__answer_logs(vk_server_call *c, h2o_req_t *req, const vk_provider_result *r)
{
	if (r->err)
		send_provider_error(req, c->what, r->err, r->errmsg);
	else
		answer_logs(c, req, r->value);
}

static void on_result(const vk_provider_result *r, void *ud)
{
	vk_server_call *c = ud;
	h2o_req_t *req = c->req;
	cJSON *v = r->value;
	vk_server__call_detach(c); /* answering may dispose the request */
	if (!req) {
		vk_debug("server", "%s: the client left before the provider answered", c->what);
	} else if (r->err && (c->kind == CALL_RES || c->kind == CALL_RES_PODS)) {
		/* kubelet still serves the node's figures, with scrape_error 1. */
		vk_warn("server", "%s: %s", c->what, r->errmsg ? r->errmsg : "the provider failed");
		vk_server__stats_answer(c->s, req, minimal_summary(c->s, NULL), VK_SERVER_STATS_PROM_ERROR);
	} else if (r->err) {
		send_provider_error(req, c->what, r->err, r->errmsg);
	} else {
		switch (c->kind) {
		case CALL_LOGS: answer_logs(c, req, v); break;
		case CALL_PODS:
			if (v && !cJSON_IsArray(v)) {
				send_text(req, 500, "%s: the provider's get_pods did not return an array", c->what);
				break;
			}
			send_json(req, pod_list(v));
			v = NULL;
			break;
		case CALL_STATS:
		case CALL_RES:
			if (!cJSON_IsObject(v)) {
				send_text(req, 500, "%s: the provider's stats_summary did not return a table", c->what);
				break;
			}
			vk_server__stats_answer(c->s, req, v,
			                        c->kind == CALL_RES ? VK_SERVER_STATS_PROM : VK_SERVER_STATS_JSON);
			v = NULL;
			break;
		case CALL_STATS_PODS:
		case CALL_RES_PODS:
			vk_server__stats_answer(c->s, req, minimal_summary(c->s, cJSON_IsArray(v) ? v : NULL),
			                        c->kind == CALL_RES_PODS ? VK_SERVER_STATS_PROM : VK_SERVER_STATS_JSON);
			break;
		}
	}
	cJSON_Delete(v);
	vk_server__call_free(c);
}

/* ---- endpoints ------------------------------------------------------------ */

static void get_pods(vk_server *s, h2o_req_t *req)
{
	vk_server_call *c = vk_server__call_new(s, req, CALL_PODS, vk_strdup("pods"));
	int rc = vk_provider_get_pods(s->provider, on_result, c);
	if (rc == -ENOSYS) { /* no get_pods: the provider runs nothing we can list */
		send_json(req, pod_list(NULL));
		vk_server__call_free(c);
	} else if (rc < 0) {
		call_refused(c, rc, "get_pods");
	}
}

/* /stats/summary, and /metrics/resource (prom) from the same Summary. */
static void get_stats(vk_server *s, h2o_req_t *req, bool prom)
{
	vk_server_call *c = vk_server__call_new(s, req, prom ? CALL_RES : CALL_STATS,
	                                        vk_strdup(prom ? "metrics/resource" : "stats/summary"));
	int rc = vk_provider_stats_summary(s->provider, on_result, c);
	if (rc == -ENOSYS) {
		c->kind = prom ? CALL_RES_PODS : CALL_STATS_PODS;
		rc = vk_provider_get_pods(s->provider, on_result, c);
		if (rc == -ENOSYS) {
			vk_server__stats_answer(s, req, minimal_summary(s, NULL),
			                        prom ? VK_SERVER_STATS_PROM : VK_SERVER_STATS_JSON);
			vk_server__call_free(c);
			return;
		}
	}
	if (rc < 0)
		call_refused(c, rc, "stats_summary");
}

static void get_logs(vk_server *s, h2o_req_t *req, char **seg)
{
	const char *q = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
	size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
	vk_server_log_limits lim;
	char *err = NULL;
	cJSON *opts = vk_server__log_opts(q, qlen, &lim, &err);
	if (!opts) {
		send_text(req, 400, "containerLogs: %s", err);
		free(err);
		return;
	}
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "container", seg[3]);
	cJSON_AddItemToObject(args, "opts", opts);
	vk_server_call *c = vk_server__call_new(s, req, CALL_LOGS,
	                                        vk_asprintf("containerLogs %s/%s/%s", seg[1], seg[2], seg[3]));
	c->lim = lim;
	int rc = lim.follow ? vk_server__follow_logs(s, c, seg[1], seg[2], args) : -ENOSYS;
	if (rc == -ENOSYS) /* not asked, or the provider cannot stream: what exists */
		rc = vk_provider_container_logs(s->provider, seg[1], seg[2], args, on_result, c);
	cJSON_Delete(args);
	if (rc < 0)
		call_refused(c, rc, "container_logs");
}

/* Prometheus text (vk/metrics.h). */
static void send_metrics(h2o_req_t *req)
{
	size_t len;
	char *text = vk_metrics_render(&len);
	send_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

static bool is_get(h2o_req_t *req)
{
	return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
	       h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

static void dispatch(vk_server *s, h2o_req_t *req, char **seg, int n)
{
	const char *top = n > 0 ? seg[0] : "";
	if (strcmp(top, "exec") == 0 || strcmp(top, "attach") == 0 || strcmp(top, "portForward") == 0 ||
	    strcmp(top, "run") == 0) {
		vk_server__stream_route(s, req, seg, n); /* streaming.c */
		return;
	}
	if (!is_get(req)) {
		send_text(req, 405, "%.*s is not allowed here", (int)req->method.len, req->method.base);
		return;
	}
	if (s->closing) {
		send_text(req, 503, "vk is shutting down");
		return;
	}
	if (n == 1 && strcmp(top, "pods") == 0 && s->pod_names_fn)
		vk_server__pod_list(s, req); /* pod_list.c */
	else if ((n == 1 && strcmp(top, "pods") == 0) || (n == 1 && strcmp(top, "runningpods") == 0))
		get_pods(s, req);
	else if (n == 4 && strcmp(top, "containerLogs") == 0)
		get_logs(s, req, seg);
	else if (n == 2 && strcmp(top, "stats") == 0 && strcmp(seg[1], "summary") == 0)
		get_stats(s, req, false);
	else if (n == 2 && strcmp(top, "metrics") == 0 && strcmp(seg[1], "resource") == 0)
		get_stats(s, req, true);
	else if (n == 1 && strcmp(top, "metrics") == 0)
		send_metrics(req);
	else
		send_text(req, 404, "404 page not found");
}

/* Splits the path again (after an asynchronous authorization too). */
void vk_server__dispatch(vk_server *s, h2o_req_t *req)
{
	size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	char *seg[MAX_SEGS];
	int n = vk_server__split_path(req->path.base, plen, seg, MAX_SEGS);
	if (n < 0) {
		send_text(req, 400, "bad path");
		return;
	}
	dispatch(s, req, seg, n);
	for (int i = 0; i < n; i++)
		free(seg[i]);
}

int vk_server__on_req(h2o_handler_t *self, h2o_req_t *req)
{
	vk_server *s = ((vk_server_handler *)self)->s;
	size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	char *seg[MAX_SEGS];
	int n = vk_server__split_path(req->path.base, plen, seg, MAX_SEGS);
	if (n < 0) {
		send_text(req, 400, "bad path");
		return 0;
	}
	if (n == 1 && strcmp(seg[0], "healthz") == 0) {
		send_body(req, 200, "text/plain; charset=utf-8", "ok", 2);
	} else if (s->metrics_only) { /* --metrics-addr: plain HTTP, /metrics only */
		if (n == 1 && strcmp(seg[0], "metrics") == 0 && is_get(req))
			send_metrics(req);
		else
			send_text(req, 404, "404 page not found: only /metrics and /healthz are served here");
	} else {
		vk_server__authenticate(s, req); /* authn.c, then authz.c, then dispatch */
	}
	for (int i = 0; i < n; i++)
		free(seg[i]);
	return 0;
}
