/* Watches: a streaming GET whose body is one JSON event per line.
 *
 * Chunks from the network do not respect lines, so bytes collect in `line`
 * until a newline completes an event.  A line longer than VK_KUBE_MAX_EVENT
 * ends the watch (a broken or hostile stream must not grow memory without
 * bound).  The user may stop the watch (or free the client) from inside any
 * callback; `in_cb` keeps the struct alive until we are out of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "vk/metrics.h"
#include "vk/kube.h"
#include "vk/util.h"

#define MAX_ERROR_BODY (1u << 20)

struct vk_kube_watch {
	vk_kube *k;
	vk_http_req *req;
	CURL *easy; /* owned by the engine; valid during its callbacks */
	vk_kube_event_cb on_event;
	vk_kube_close_cb on_close;
	void *ud;
	long status; /* HTTP status, read at the first chunk */
	vk_buf line; /* incomplete event (2xx) or error body (non-2xx) */
	char *fail;  /* why we aborted the stream ourselves */
	int in_cb;
	bool stopped;                /* vk_kube_watch_stop called: no more callbacks */
	bool closed;                 /* on_close running or done */
	vk_list link;                /* k->watches */
	char verb[12], resource[64]; /* for vk_api_requests_total */
	unsigned gen;                /* the credential it went with (exec plugin) */
	vk_kube_waiter wait;         /* parked while the exec credential plugin runs */
	char *p_path;
};

static void watch_unlink(vk_kube_watch *w)
{
	if (!w->k)
		return;
	vk_list_remove(&w->link);
	w->k = NULL;
}

static void watch_free(vk_kube_watch *w)
{
	vk_kube__exec_unwait(&w->wait);
	free(w->p_path);
	vk_buf_free(&w->line);
	free(w->fail);
	free(w);
}

static bool ok_status(long s) { return s >= 200 && s <= 299; }

/* Parses and delivers one event line; false when the watch must end. */
static bool deliver(vk_kube_watch *w, const char *p, size_t n)
{
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (!n)
		return true; /* blank keep-alive line */
	cJSON *ev = cJSON_ParseWithLength(p, n);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
		free(w->fail);
		w->fail = vk_strdup(ev ? "watch: event without type or object" : "watch: event is not valid JSON");
		cJSON_Delete(ev);
		return false;
	}
	w->in_cb++;
	w->on_event(type->valuestring, obj, w->ud);
	w->in_cb--;
	cJSON_Delete(ev);
	return !w->stopped;
}

/* Delivers every complete line in w->line and keeps the rest. */
static bool drain_lines(vk_kube_watch *w)
{
	size_t start = 0;
	bool go = true;
	while (go && start < w->line.len) {
		char *nl = memchr(w->line.data + start, '\n', w->line.len - start);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (w->line.data + start));
		go = deliver(w, w->line.data + start, n);
		start += n + 1;
	}
	if (!w->stopped)
		vk_buf_consume(&w->line, start);
	return go;
}

static int watch_data(vk_http_req *req, const char *data, size_t len, void *ud)
{
	vk_kube_watch *w = ud;
	if (!w->status) {
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->status);
		if (w->k)
			vk_kube__link_answer(w->k, w->easy);
	} else if (w->k) {
		vk_kube__link_heard(w->k);
	}
	if (!ok_status(w->status)) {
		/* An error answer is one Status document, kept for on_close. */
		if (w->line.len + len <= MAX_ERROR_BODY)
			vk_buf_append(&w->line, data, len);
		return 0;
	}
	vk_buf_append(&w->line, data, len);
	w->in_cb++;
	bool go = drain_lines(w);
	w->in_cb--;
	if (w->stopped) {
		if (!w->in_cb)
			watch_free(w);
		return 1; /* the request is cancelled already; nothing reads ud again */
	}
	if (!go)
		return 1;
	if (w->line.len > VK_KUBE_MAX_EVENT) {
		w->fail = vk_asprintf("watch: event larger than %u MiB", VK_KUBE_MAX_EVENT >> 20);
		return 1;
	}
	return 0;
}

static void watch_done(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	vk_kube_watch *w = ud;
	long status = resp->status;
	if (!w->status)
		w->status = status;
	vk_metrics_api_request(w->verb, w->resource, resp->code == CURLE_OK ? w->status : 0);
	if (w->k && resp->code == CURLE_OK && w->status == 401)
		vk_kube__exec_rejected(w->k, w->gen);
	if (w->k && !w->fail) {
		if (resp->code != CURLE_OK)
			vk_kube__link_failed(w->k, resp->easy, resp->code, resp->error);
		else
			vk_kube__link_answer(w->k, resp->easy);
	}
	/* A last event without its newline still counts on a clean end. */
	if (resp->code == CURLE_OK && ok_status(status) && w->line.len && !w->fail) {
		w->in_cb++;
		if (deliver(w, w->line.data, w->line.len))
			vk_buf_reset(&w->line);
		w->in_cb--;
		if (w->stopped) {
			watch_free(w);
			return;
		}
	}
	watch_unlink(w);
	w->closed = true;
	char *msg = NULL;
	const char *error = NULL;
	if (w->fail) {
		error = w->fail;
	} else if (resp->code != CURLE_OK) {
		error = resp->error;
	} else if (!ok_status(status)) {
		cJSON *json = cJSON_ParseWithLength(w->line.data ? w->line.data : "", w->line.len);
		const char *m, *r;
		vk_kube__status_of(json, &m, &r);
		msg = m ? vk_strdup(m) : vk_asprintf("HTTP %ld", status);
		cJSON_Delete(json);
		error = msg;
	}
	w->on_close(status, error, w->ud);
	free(msg);
	watch_free(w);
}

static int start_transfer(vk_kube *k, vk_kube_watch *w, const char *full)
{
	struct curl_slist *headers = NULL;
	CURL *e = vk_kube__easy(k, "GET", full, NULL, true, &headers);
	if (!e)
		return -ENOMEM;
	w->easy = e;
	w->gen = k->token_gen;
	vk_http_opts o = {.on_data = watch_data, .on_done = watch_done, .ud = w};
	int rc = vk_http_start(k->http, e, headers, &o, &w->req);
	if (rc < 0) {
		curl_easy_cleanup(e);
		curl_slist_free_all(headers);
	}
	return rc;
}

/* The exec credential plugin ran: start, or end the watch with its failure. */
static void parked_go(vk_kube_waiter *wt, const char *err)
{
	vk_kube_watch *w = VK_CONTAINER_OF(wt, vk_kube_watch, wait);
	int rc = err ? -EACCES : start_transfer(w->k, w, w->p_path);
	free(w->p_path);
	w->p_path = NULL;
	if (rc == 0)
		return;
	char *why = err ? NULL : vk_asprintf("cannot start the watch: %s", strerror(-rc));
	watch_unlink(w);
	w->closed = true;
	vk_metrics_api_request(w->verb, w->resource, 0);
	w->on_close(0, err ? err : why, w->ud);
	free(why);
	watch_free(w);
}

int vk_kube_watch_start(vk_kube *k, const char *path, vk_kube_event_cb on_event, vk_kube_close_cb on_close, void *ud,
                        vk_kube_watch **out)
{
	if (!k || !path || path[0] != '/' || !on_event || !on_close)
		return -EINVAL;
	char *full = strstr(path, "watch=") ? vk_strdup(path)
	                                    : vk_asprintf("%s%swatch=true", path, strchr(path, '?') ? "&" : "?");
	vk_kube_watch *w = vk_xcalloc(1, sizeof *w);
	vk_list_init(&w->wait.link);
	vk_metrics_api_labels("GET", full, w->verb, sizeof w->verb, w->resource, sizeof w->resource);
	w->on_event = on_event;
	w->on_close = on_close;
	w->ud = ud;
	if (vk_kube__exec_ready(k)) {
		int rc = start_transfer(k, w, full);
		free(full);
		if (rc < 0) {
			free(w);
			return rc;
		}
	} else {
		w->p_path = full;
		w->wait.go = parked_go;
	}
	w->k = k;
	vk_list_insert_head(&k->watches, &w->link);
	if (w->wait.go)
		vk_kube__exec_wait(k, &w->wait);
	if (out)
		*out = w;
	return 0;
}

void vk_kube_watch_stop(vk_kube_watch *w)
{
	if (!w || w->stopped || w->closed)
		return;
	w->stopped = true;
	watch_unlink(w);
	vk_http_cancel(w->req);
	if (!w->in_cb)
		watch_free(w);
}

void vk_kube__watch_unlink_all(vk_kube *k)
{
	for (vk_list *n; (n = vk_list_first(&k->watches));)
		vk_kube_watch_stop(VK_LIST_ENTRY(n, vk_kube_watch, link));
}
