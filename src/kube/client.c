/* Kubernetes REST client over the shared vk_http engine.
 *
 * Every call is one easy handle carrying the kubeconfig's TLS material as
 * in-memory PEM blobs and the bearer token.  The engine's multi handle keeps
 * connections alive, and CURL_HTTP_VERSION_2TLS + CURLOPT_PIPEWAIT make all
 * calls and watches share one HTTP/2 connection to the API server. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube_int.h"
#include "vk/kube.h"
#include "vk/metrics.h"
#include "vk/util.h"

#define TOKEN_RECHECK_MS 60000 /* client-go re-reads token files once a minute */

struct vk_kube_call {
	vk_kube *k;
	vk_http_req *req;
	vk_kube_cb cb;
	void *ud;
	bool in_cb;
	char *cache_path;            /* vk_kube_get_cached: the path (cache.c) */
	bool raw;                    /* vk_kube_get_raw: a 2xx body is not parsed */
	vk_list link;                /* k->calls */
	char verb[12], resource[64]; /* for vk_api_requests_total */
	unsigned gen;                /* the credential it went with (exec plugin) */
	bool urgent;                 /* the Lease: waits for Retry-After only (throttle.c) */
	/* Parked while the exec credential plugin runs (exec_auth.c) or the
	 * API server's Retry-After (throttle.c); wait.gate: the role the
	 * throttle let it go with, -1 before it went. */
	vk_kube_waiter wait;
	char *p_method, *p_path, *p_ctype, *p_body;
	unsigned p_timeout_ms, p_connect_ms;
};

static void parked_free(vk_kube_call *c)
{
	vk_kube__exec_unwait(&c->wait);
	free(c->p_method);
	free(c->p_path);
	free(c->p_ctype);
	free(c->p_body);
	c->p_method = c->p_path = c->p_ctype = c->p_body = NULL;
}

static void call_unlink(vk_kube_call *c)
{
	if (!c->k)
		return;
	c->k->ncalls--;
	vk_list_remove(&c->link);
	c->k = NULL;
}

vk_kube *vk_kube_new(uv_loop_t *loop, vk_http *http, const vk_kubeconfig *kc, char **err)
{
	if (err)
		*err = NULL;
	if (!kc || !kc->server || !*kc->server) {
		if (err)
			*err = vk_strdup("kubeconfig: no server");
		return NULL;
	}
	if (!http) {
		if (err)
			*err = vk_strdup("kube: no http engine");
		return NULL;
	}
	vk_kube *k = vk_xcalloc(1, sizeof *k);
	vk_list_init(&k->calls);
	vk_list_init(&k->watches);
	k->loop = loop;
	k->http = http;
	k->server = vk_strdup(kc->server);
	size_t n = strlen(k->server);
	while (n && k->server[n - 1] == '/')
		k->server[--n] = '\0';
	k->ca_pem = vk_strdup(kc->ca_pem);
	k->cert_pem = vk_strdup(kc->cert_pem);
	k->key_pem = vk_strdup(kc->key_pem);
	k->token = vk_strdup(kc->token);
	k->token_file = vk_strdup(kc->token_file);
	k->insecure = kc->insecure;
	if (k->token_file) {
		struct stat st;
		if (stat(k->token_file, &st) == 0)
			k->token_mtime = st.st_mtim;
		k->token_checked_ms = vk_now_ms();
	}
	vk_kube__link_new(k);
	vk_kube__exec_new(k, kc->exec);
	return k;
}

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void vk_kube_free(vk_kube *k)
{
	if (!k)
		return;
	for (vk_list *n; (n = vk_list_first(&k->calls));) {
		vk_kube_call *c = VK_LIST_ENTRY(n, vk_kube_call, link);
		call_unlink(c);
		vk_http_cancel(c->req);
		parked_free(c);
		free(c->cache_path);
		free(c);
	}
	vk_kube__watch_unlink_all(k);
	vk_kube__exec_free(k);
	vk_kube__throttle_free(k);
	vk_kube__events_free(k);
	vk_kube__cache_free(k);
	vk_kube__link_free(k);
	free(k->server);
	free(k->ca_pem);
	free(k->cert_pem);
	wipe_free(k->key_pem);
	wipe_free(k->token);
	free(k->token_file);
	free(k);
}

const char *vk_kube_server(const vk_kube *k) { return k ? k->server : NULL; }

/* Service account tokens are rotated by the kubelet: pick up a new file
 * content at most once a minute.  The file is a small local (tmpfs) file, so
 * the stat+read cost on the loop is negligible. */
static void refresh_token(vk_kube *k)
{
	if (!k->token_file || vk_now_ms() - k->token_checked_ms < TOKEN_RECHECK_MS)
		return;
	k->token_checked_ms = vk_now_ms();
	struct stat st;
	if (stat(k->token_file, &st) < 0)
		return;
	if (st.st_mtim.tv_sec == k->token_mtime.tv_sec && st.st_mtim.tv_nsec == k->token_mtime.tv_nsec)
		return;
	vk_buf b = {0};
	char *err = NULL;
	if (vk_read_file(k->token_file, &b, &err) == 0 && b.data) {
		size_t n = b.len;
		while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' '))
			b.data[--n] = '\0';
		if (n) {
			wipe_free(k->token);
			k->token = vk_buf_steal(&b);
			k->token_mtime = st.st_mtim;
			vk_debug("kube", "re-read token from %s", k->token_file);
		}
	} else {
		vk_warn("kube", "token file: %s", err ? err : "unreadable");
	}
	free(err);
	vk_buf_free(&b);
}

static void set_blob(CURL *e, CURLoption opt, const char *pem)
{
	struct curl_blob blob = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
	curl_easy_setopt(e, opt, &blob);
}

CURL *vk_kube__easy(vk_kube *k, const char *method, const char *path, const char *content_type, bool watch,
                    struct curl_slist **headers)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	refresh_token(k);
	char *url = vk_asprintf("%s%s", k->server, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
#endif
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L); /* wait to multiplex rather than open more connections */
	curl_easy_setopt(e, CURLOPT_USERAGENT, "vk/" VK_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	/* A watch lives as long as the server keeps it (timeoutSeconds is the
	 * caller's); a REST call that takes a minute is a dead connection. */
	if (!watch)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	if (k->ca_pem)
		set_blob(e, CURLOPT_CAINFO_BLOB, k->ca_pem);
	if (k->cert_pem && k->key_pem) {
		set_blob(e, CURLOPT_SSLCERT_BLOB, k->cert_pem);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		set_blob(e, CURLOPT_SSLKEY_BLOB, k->key_pem);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (k->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip on big bodies */
	if (k->token) {
		char *auth = vk_asprintf("Authorization: Bearer %s", k->token);
		h = curl_slist_append(h, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (content_type) {
		char *ct = vk_asprintf("Content-Type: %s", content_type);
		h = curl_slist_append(h, ct);
		free(ct);
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	*headers = h;
	return e;
}

void vk_kube__status_of(const cJSON *json, const char **message, const char **reason)
{
	*message = *reason = NULL;
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(json, "kind");
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "Status") != 0)
		return;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(json, "reason");
	if (cJSON_IsString(m) && *m->valuestring)
		*message = m->valuestring;
	if (cJSON_IsString(r) && *r->valuestring)
		*reason = r->valuestring;
}

static void call_done(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	vk_kube_call *c = ud;
	vk_kube *k = c->k;
	vk_kube_gate_outcome outcome = VK_KUBE_GATE_FAILED;
	call_unlink(c); /* the callback may free the client */
	vk_metrics_api_request(c->verb, c->resource, resp->code == CURLE_OK ? resp->status : 0);
	vk_kube_result r = {0};
	char *msg = NULL;
	cJSON *json = NULL;
	if (resp->code != CURLE_OK) {
		r.error = resp->error;
		if (k)
			vk_kube__link_failed(k, resp->easy, resp->code, resp->error);
	} else {
		if (k)
			vk_kube__link_answer(k, resp->easy);
		if (k && resp->status == 401)
			vk_kube__exec_rejected(k, c->gen);
		outcome = k && vk_kube__throttle_answer(k, resp->easy, resp->status) ? VK_KUBE_GATE_THROTTLED
		                                                                     : VK_KUBE_GATE_ANSWERED;
		r.status = resp->status;
		r.body = resp->body;
		r.body_len = resp->body_len;
		bool ok = resp->status >= 200 && resp->status <= 299;
		if (resp->body_len && !(c->raw && ok))
			json = cJSON_ParseWithLength(resp->body, resp->body_len);
		r.json = json;
		if (resp->status < 200 || resp->status > 299) {
			vk_kube__status_of(json, &r.error, &r.reason);
			if (!r.error) {
				/* Not a Status (a proxy, an old server): show the start of the body. */
				int n = (int)(resp->body_len > 200 ? 200 : resp->body_len);
				msg = n ? vk_asprintf("HTTP %ld: %.*s", resp->status, n, resp->body)
				        : vk_asprintf("HTTP %ld", resp->status);
				r.error = msg;
			}
		} else if (resp->body_len && !json && !c->raw) {
			r.error = "response is not valid JSON";
		}
	}
	if (k)
		vk_kube__throttle_ended(k, &c->wait, (vk_kube_gate_role)c->wait.gate, outcome);
	if (c->cache_path && k)
		vk_kube__cache_answer(k, c->cache_path, &r, &json);
	c->in_cb = true;
	c->cb(&r, c->ud);
	cJSON_Delete(json);
	free(msg);
	free(c->cache_path);
	free(c);
}

/* The transfer of a call, now that a credential is there. */
static int start_transfer(vk_kube *k, vk_kube_call *c, unsigned timeout_ms, unsigned connect_ms, const char *method,
                          const char *path, const char *content_type, const char *body)
{
	struct curl_slist *headers = NULL;
	CURL *e = vk_kube__easy(k, method, path, body ? content_type : NULL, false, &headers);
	if (!e)
		return -ENOMEM;
	if (timeout_ms)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (connect_ms)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
		if (strcmp(method, "POST") != 0) /* COPYPOSTFIELDS implies POST */
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	c->gen = k->token_gen;
	vk_http_opts o = {.on_done = call_done, .ud = c, .max_body = VK_KUBE_MAX_BODY};
	int rc = vk_http_start(k->http, e, headers, &o, &c->req);
	if (rc < 0) {
		curl_easy_cleanup(e);
		curl_slist_free_all(headers);
	}
	return rc;
}

/* The exec credential plugin ran: go on, or end the call with its failure. */
static void parked_go(vk_kube_waiter *w, const char *err)
{
	vk_kube_call *c = VK_CONTAINER_OF(w, vk_kube_call, wait);
	vk_kube *k = c->k;
	if (!err && w->gate < 0) { /* from the credential plugin: now the Retry-After gate */
		vk_kube_gate_role role = vk_kube__throttle_admit(k, c->urgent);
		if (role == VK_KUBE_GATE_HOLD) {
			vk_kube__throttle_wait(k, w, c->urgent);
			return;
		}
		w->gate = (int)role;
	}
	char *why = NULL;
	int rc = err ? -EACCES
	             : start_transfer(k, c, c->p_timeout_ms, c->p_connect_ms, c->p_method, c->p_path, c->p_ctype,
	                              c->p_body);
	parked_free(c);
	if (rc == 0)
		return;
	vk_kube__throttle_ended(k, w, (vk_kube_gate_role)w->gate, VK_KUBE_GATE_CANCELLED);
	if (!err)
		err = why = vk_asprintf("cannot start the request: %s", strerror(-rc));
	call_unlink(c);
	vk_metrics_api_request(c->verb, c->resource, 0);
	vk_kube_result r = {.error = err};
	c->in_cb = true;
	c->cb(&r, c->ud);
	free(why);
	free(c->cache_path);
	free(c);
}

static int request(vk_kube *k, bool urgent, unsigned timeout_ms, unsigned connect_ms, const char *method,
                   const char *path, const char *content_type, const char *body, vk_kube_cb cb, void *ud,
                   vk_kube_call **out)
{
	if (!k || !method || !path || path[0] != '/' || !cb)
		return -EINVAL;
	if (body && !content_type)
		content_type = "application/json";
	vk_kube_call *c = vk_xcalloc(1, sizeof *c);
	c->cb = cb;
	c->ud = ud;
	c->urgent = urgent;
	vk_list_init(&c->wait.link);
	c->wait.gate = -1;
	vk_metrics_api_labels(method, path, c->verb, sizeof c->verb, c->resource, sizeof c->resource);
	bool ready = vk_kube__exec_ready(k);
	vk_kube_gate_role role = ready ? vk_kube__throttle_admit(k, urgent) : VK_KUBE_GATE_HOLD;
	if (role != VK_KUBE_GATE_HOLD) {
		c->wait.gate = (int)role;
		int rc = start_transfer(k, c, timeout_ms, connect_ms, method, path, content_type, body);
		if (rc < 0) {
			vk_kube__throttle_ended(k, &c->wait, role, VK_KUBE_GATE_CANCELLED);
			free(c);
			return rc;
		}
	} else {
		c->p_method = vk_strdup(method);
		c->p_path = vk_strdup(path);
		c->p_ctype = vk_strdup(body ? content_type : NULL);
		c->p_body = vk_strdup(body);
		c->p_timeout_ms = timeout_ms;
		c->p_connect_ms = connect_ms;
		c->wait.go = parked_go;
	}
	c->k = k;
	k->ncalls++;
	vk_list_insert_head(&k->calls, &c->link);
	if (c->wait.go && ready)
		vk_kube__throttle_wait(k, &c->wait, urgent);
	else if (c->wait.go)
		vk_kube__exec_wait(k, &c->wait);
	if (out)
		*out = c;
	return 0;
}

int vk_kube__request_limited(vk_kube *k, unsigned timeout_ms, unsigned connect_ms, const char *method, const char *path,
                             const char *content_type, const char *body, vk_kube_cb cb, void *ud, vk_kube_call **out)
{
	return request(k, false, timeout_ms, connect_ms, method, path, content_type, body, cb, ud, out);
}

int vk_kube_request_urgent(vk_kube *k, unsigned timeout_ms, const char *method, const char *path,
                           const char *content_type, const char *body, vk_kube_cb cb, void *ud, vk_kube_call **out)
{
	return request(k, true, timeout_ms, 0, method, path, content_type, body, cb, ud, out);
}

int vk_kube_request(vk_kube *k, const char *method, const char *path, const char *content_type, const char *body,
                    vk_kube_cb cb, void *ud, vk_kube_call **out)
{
	return vk_kube__request_limited(k, 0, 0, method, path, content_type, body, cb, ud, out);
}

int vk_kube_request_within(vk_kube *k, unsigned timeout_ms, const char *method, const char *path,
                           const char *content_type, const char *body, vk_kube_cb cb, void *ud, vk_kube_call **out)
{
	return vk_kube__request_limited(k, timeout_ms, 0, method, path, content_type, body, cb, ud, out);
}

void vk_kube_cancel(vk_kube_call *c)
{
	if (!c || c->in_cb) /* inside its own callback: freed right after */
		return;
	if (c->k && c->req)
		vk_kube__throttle_ended(c->k, &c->wait, (vk_kube_gate_role)c->wait.gate, VK_KUBE_GATE_CANCELLED);
	call_unlink(c);
	vk_http_cancel(c->req);
	parked_free(c);
	free(c->cache_path);
	free(c);
}

int vk_kube_get_cached(vk_kube *k, const char *path, vk_kube_cb cb, void *ud, vk_kube_call **out)
{
	vk_kube_call *c = NULL;
	int rc = vk_kube_request(k, "GET", path, NULL, NULL, cb, ud, &c);
	if (rc == 0) {
		c->cache_path = vk_strdup(path);
		if (out)
			*out = c;
	}
	return rc;
}

int vk_kube_get(vk_kube *k, const char *path, vk_kube_cb cb, void *ud)
{
	return vk_kube_request(k, "GET", path, NULL, NULL, cb, ud, NULL);
}

int vk_kube_get_raw(vk_kube *k, const char *path, vk_kube_cb cb, void *ud)
{
	vk_kube_call *c = NULL;
	int rc = vk_kube_request(k, "GET", path, NULL, NULL, cb, ud, &c);
	if (rc == 0)
		c->raw = true;
	return rc;
}

int vk_kube_send_json_within(vk_kube *k, unsigned timeout_ms, const char *method, const char *path,
                             const char *content_type, const cJSON *body, vk_kube_cb cb, void *ud)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	if (body && !text) /* not a printable tree (cJSON aborts on out of memory) */
		return -EINVAL;
	int rc = vk_kube__request_limited(k, timeout_ms, 0, method, path, content_type, text, cb, ud, NULL);
	free(text);
	return rc;
}

int vk_kube_send_json(vk_kube *k, const char *method, const char *path, const char *content_type, const cJSON *body,
                      vk_kube_cb cb, void *ud)
{
	return vk_kube_send_json_within(k, 0, method, path, content_type, body, cb, ud);
}

/* RFC 3986 unreserved characters stay; everything else is %XX, so a value
 * like "spec.nodeName=n1,status.phase!=Failed" is safe in a query. */
char *vk_kube_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *out = vk_xmalloc(3 * n + 1), *p = out;
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		unsigned char ch = *q;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '.' || ch == '_' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}
