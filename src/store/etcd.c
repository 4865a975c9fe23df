/* etcd.c - the etcd:// backend: etcd v3 through its JSON gateway
 * (POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant; keys and values base64),
 * over vk's shared curl multi handle.
 *
 * A value is stored as the 20-digit version followed by the bytes, so that
 * etcd's byte-wise VALUE comparison is a comparison of versions: a write
 * with version rv is applied inside one txn when the key is missing
 * (VERSION == 0) or its value is LESS than the 20 digits of rv+1 (stored
 * rv <= rv).  A batch is one txn of nested txns, one per operation, so each
 * op is decided on its own while the whole commits at once.  etcd allows at
 * most 128 operations per txn (--max-txn-ops), and a nested txn gets what
 * its parent left (128 - n), and a request over 1.5 MiB, so a batch is
 * sent as txns of at most 100 ops and about 1 MiB, in order, each atomic
 * on its own.  A TTL is an etcd lease granted first. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store_int.h"

#define CHUNK 100              /* ops per txn, see the file comment */
#define CHUNK_BYTES (1u << 20) /* etcd refuses requests over 1.5 MiB by default */

typedef struct et_call et_call;

typedef struct {
	vk_store *s;
	char *base;     /* "http://HOST:PORT" */
	et_call *calls; /* in flight, for close */
} et;

struct et_call {
	et *b;
	vk_store_req *r;
	vk_http_req *h;
	size_t done_ops;  /* COMMIT: ops sent in earlier txns */
	size_t chunk_end; /* COMMIT: end of the txn in flight */
	unsigned *ttls;   /* COMMIT: distinct TTLs needing a lease */
	char **leases;    /* their lease IDs */
	size_t nttl, granted;
	et_call *prev, *next;
};

static void call_unlink(et_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->b->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static void call_free(et_call *c)
{
	for (size_t i = 0; i < c->nttl; i++)
		free(c->leases ? c->leases[i] : NULL);
	free(c->leases);
	free(c->ttls);
	free(c);
}

static void finish(et_call *c)
{
	call_unlink(c);
	vk_store_req *r = c->r;
	call_free(c);
	vk_store__done(r);
}

static void http_done(vk_http_req *h, const vk_http_resp *resp, void *ud);

/* Sends `body` (taken) to PATH; on failure finishes the call later. */
static void post(et_call *c, const char *path, char *body)
{
	et *b = c->b;
	CURL *e = curl_easy_init();
	char *url = vk_asprintf("%s%s", b->base, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)b->s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)b->s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
	free(url);
	free(body);
	struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
	vk_http_opts o = {.on_done = http_done, .ud = c, .max_body = 256u << 20};
	int rc = vk_http_start(b->s->http, e, hl, &o, &c->h);
	if (rc) {
		curl_easy_cleanup(e);
		curl_slist_free_all(hl);
		c->h = NULL;
		vk_store__fail(c->r, VK_STORE_EDOWN, "cannot start a request: %s", strerror(-rc));
		call_unlink(c);
		vk_store_req *r = c->r;
		call_free(c);
		vk_store__done_later(r);
	}
}

static char *b64s(const char *s, size_t n) { return vk_store__b64(s, n); }

/* The first key after every key starting with p ("\0" = no end). */
static char *prefix_end(const char *p, size_t *n)
{
	size_t len = strlen(p);
	char *e = vk_xmalloc(len + 1);
	memcpy(e, p, len);
	while (len && (unsigned char)e[len - 1] == 0xff)
		len--;
	if (!len) {
		e[0] = 0;
		*n = 1;
		return e;
	}
	e[len - 1]++;
	*n = len;
	return e;
}

static cJSON *op_request(const vk_store__op *op, const char *lease)
{
	char *k = b64s(op->key, strlen(op->key));
	cJSON *req = cJSON_CreateObject();
	if (op->kind == VK_STORE__PUT) {
		char rv[21];
		vk_store__rv_text(rv, op->rv);
		char *raw = vk_xmalloc(20 + op->len + 1);
		memcpy(raw, rv, 20);
		memcpy(raw + 20, op->value, op->len);
		char *v = b64s(raw, 20 + op->len);
		free(raw);
		cJSON *put = cJSON_AddObjectToObject(req, "request_put");
		cJSON_AddStringToObject(put, "key", k);
		cJSON_AddStringToObject(put, "value", v);
		if (lease)
			cJSON_AddStringToObject(put, "lease", lease);
		free(v);
	} else {
		cJSON *del = cJSON_AddObjectToObject(req, "request_delete_range");
		cJSON_AddStringToObject(del, "key", k);
	}
	free(k);
	return req;
}

/* The guarded form: applied when the key is missing or its version <= rv. */
static cJSON *guarded(const vk_store__op *op, const char *lease)
{
	char *k = b64s(op->key, strlen(op->key));
	char next[21];
	vk_store__rv_text(next, op->rv == UINT64_MAX ? op->rv : op->rv + 1);
	char *nv = b64s(next, 20);

	cJSON *outer = cJSON_CreateObject();
	cJSON *ot = cJSON_AddObjectToObject(outer, "request_txn");
	cJSON *oc = cJSON_AddArrayToObject(ot, "compare");
	cJSON *c1 = cJSON_CreateObject();
	cJSON_AddStringToObject(c1, "key", k);
	cJSON_AddStringToObject(c1, "target", "VERSION");
	cJSON_AddStringToObject(c1, "result", "EQUAL");
	cJSON_AddStringToObject(c1, "version", "0");
	cJSON_AddItemToArray(oc, c1);
	cJSON *os = cJSON_AddArrayToObject(ot, "success");
	if (op->kind == VK_STORE__PUT)
		cJSON_AddItemToArray(os, op_request(op, lease));
	cJSON *of = cJSON_AddArrayToObject(ot, "failure");
	cJSON *inner = cJSON_CreateObject();
	cJSON *it = cJSON_AddObjectToObject(inner, "request_txn");
	cJSON *ic = cJSON_AddArrayToObject(it, "compare");
	cJSON *c2 = cJSON_CreateObject();
	cJSON_AddStringToObject(c2, "key", k);
	cJSON_AddStringToObject(c2, "target", "VALUE");
	cJSON_AddStringToObject(c2, "result", "LESS");
	cJSON_AddStringToObject(c2, "value", nv);
	cJSON_AddItemToArray(ic, c2);
	cJSON *is = cJSON_AddArrayToObject(it, "success");
	cJSON_AddItemToArray(is, op_request(op, lease));
	cJSON_AddItemToArray(of, inner);
	free(k);
	free(nv);
	return outer;
}

static const char *lease_for(et_call *c, unsigned ttl)
{
	for (size_t i = 0; ttl && i < c->nttl; i++)
		if (c->ttls[i] == ttl)
			return c->leases[i];
	return NULL;
}

static void send_txn(et_call *c)
{
	vk_store_batch *bt = c->r->batch;
	cJSON *root = cJSON_CreateObject();
	cJSON *succ = cJSON_AddArrayToObject(root, "success");
	/* Up to CHUNK ops and about CHUNK_BYTES of values (base64 grows them
	 * by a third), at least one op. */
	size_t end = c->done_ops, bytes = 0;
	while (end < bt->n && end - c->done_ops < CHUNK &&
	       (end == c->done_ops || bytes + bt->ops[end].len * 4 / 3 < CHUNK_BYTES)) {
		bytes += bt->ops[end].len * 4 / 3 + strlen(bt->ops[end].key);
		end++;
	}
	c->chunk_end = end;
	for (size_t i = c->done_ops; i < end; i++) {
		vk_store__op *op = &bt->ops[i];
		const char *lease = op->kind == VK_STORE__PUT ? lease_for(c, op->ttl_s) : NULL;
		cJSON_AddItemToArray(succ, op->rv ? guarded(op, lease) : op_request(op, lease));
	}
	char *body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	post(c, "/v3/kv/txn", body);
}

static void send_next(et_call *c)
{
	vk_store_req *r = c->r;
	if (r->type == VK_STORE__PING) {
		post(c, "/v3/kv/range", vk_asprintf("{\"key\":\"AA==\",\"limit\":1,\"count_only\":true}"));
	} else if (r->type == VK_STORE__GET || r->type == VK_STORE__LIST) {
		char *k = b64s(r->key, strlen(r->key));
		char *body;
		if (r->type == VK_STORE__GET) {
			body = vk_asprintf("{\"key\":\"%s\"}", k);
		} else {
			size_t n;
			char *e = prefix_end(r->key, &n);
			char *eb = b64s(e, n);
			body = vk_asprintf("{\"key\":\"%s\",\"range_end\":\"%s\"}", *r->key ? k : "AA==", eb);
			free(e);
			free(eb);
		}
		free(k);
		post(c, "/v3/kv/range", body);
	} else if (c->granted < c->nttl) {
		post(c, "/v3/lease/grant", vk_asprintf("{\"TTL\":%u}", c->ttls[c->granted]));
	} else {
		send_txn(c);
	}
}

static bool truthy(const cJSON *o, const char *name) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name)); }

/* The decoded stored value: rv and payload (see the file comment). */
static void add_kv(vk_store_req *r, const cJSON *kv)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(kv, "key");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(kv, "value");
	if (!cJSON_IsString(k))
		return;
	vk_buf kb = {0}, vb = {0};
	vk_base64_decode(k->valuestring, strlen(k->valuestring), &kb);
	if (cJSON_IsString(v))
		vk_base64_decode(v->valuestring, strlen(v->valuestring), &vb);
	uint64_t rv = 0;
	size_t skip = 0;
	if (vb.len >= 20) {
		char d[21];
		memcpy(d, vb.data, 20);
		d[20] = 0;
		if (strspn(d, "0123456789") == 20) {
			rv = vk_store_rv(d);
			skip = 20;
		}
	}
	vk_store__add_rec(r, kb.data ? kb.data : "", kb.len, vb.data ? vb.data + skip : "", vb.len - skip, rv);
	vk_buf_free(&kb);
	vk_buf_free(&vb);
}

/* 1: applied, 0: refused as stale, -1: not understood. */
static int op_result(const vk_store__op *op, const cJSON *resp)
{
	if (!op->rv)
		return resp ? 1 : -1;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "response_txn");
	if (!cJSON_IsObject(t))
		return -1;
	if (truthy(t, "succeeded"))
		return 1;
	const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "responses"), 0);
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(in, "response_txn");
	if (!cJSON_IsObject(it))
		return -1;
	return truthy(it, "succeeded") ? 1 : 0;
}

static void http_done(vk_http_req *h, const vk_http_resp *resp, void *ud)
{
	et_call *c = ud;
	vk_store_req *r = c->r;
	c->h = NULL;
	if (resp->code != CURLE_OK) {
		vk_store__fail(r, VK_STORE_EDOWN, "%s", resp->error ? resp->error : curl_easy_strerror(resp->code));
		finish(c);
		return;
	}
	cJSON *j = cJSON_ParseWithLength(resp->body, resp->body_len);
	if (resp->status != 200) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		vk_store__fail(r, resp->status >= 500 ? VK_STORE_EDOWN : VK_STORE_EIO, "HTTP %ld: %s", resp->status,
		               cJSON_IsString(m) ? m->valuestring : "error");
		cJSON_Delete(j);
		finish(c);
		return;
	}
	if (!j) {
		vk_store__fail(r, VK_STORE_EIO, "the answer is not JSON");
		finish(c);
		return;
	}
	if (r->type == VK_STORE__PING) {
		/* reachable */
	} else if (r->type == VK_STORE__GET || r->type == VK_STORE__LIST) {
		const cJSON *kv;
		cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(j, "kvs"))
			add_kv(r, kv);
		if (r->type == VK_STORE__GET && r->nrecs == 0)
			r->status = VK_STORE_ENOENT;
	} else if (c->granted < c->nttl) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "ID");
		if (!cJSON_IsString(id) && !cJSON_IsNumber(id)) {
			vk_store__fail(r, VK_STORE_EIO, "lease grant: no ID in the answer");
			cJSON_Delete(j);
			finish(c);
			return;
		}
		c->leases[c->granted++] = cJSON_IsString(id) ? vk_strdup(id->valuestring)
		                                             : vk_asprintf("%.0f", id->valuedouble);
		cJSON_Delete(j);
		send_next(c);
		return;
	} else {
		const cJSON *resps = cJSON_GetObjectItemCaseSensitive(j, "responses");
		size_t end = c->chunk_end;
		for (size_t i = c->done_ops; i < end; i++) {
			int ok = op_result(&r->batch->ops[i], cJSON_GetArrayItem(resps, (int)(i - c->done_ops)));
			if (ok < 0) {
				vk_store__fail(r, VK_STORE_EIO, "txn: unexpected answer");
				break;
			}
			r->results[i] = ok ? 0 : VK_STORE_ESTALE;
		}
		c->done_ops = end;
		if (r->status == 0 && c->done_ops < r->batch->n) {
			cJSON_Delete(j);
			send_next(c);
			return;
		}
	}
	cJSON_Delete(j);
	finish(c);
}

static void et_submit(vk_store *s, vk_store_req *r)
{
	et *b = s->bd;
	et_call *c = vk_xcalloc(1, sizeof *c);
	c->b = b;
	c->r = r;
	c->next = b->calls;
	if (b->calls)
		b->calls->prev = c;
	b->calls = c;
	if (r->type == VK_STORE__COMMIT) {
		if (r->batch->n == 0) { /* nothing to send; answer after the call returns */
			call_unlink(c);
			call_free(c);
			vk_store__done_later(r);
			return;
		}
		c->ttls = vk_xcalloc(r->batch->n, sizeof *c->ttls);
		c->leases = vk_xcalloc(r->batch->n, sizeof *c->leases);
		for (size_t i = 0; i < r->batch->n; i++) {
			vk_store__op *op = &r->batch->ops[i];
			if (op->kind == VK_STORE__PUT && op->ttl_s && !lease_for(c, op->ttl_s))
				c->ttls[c->nttl++] = op->ttl_s;
		}
	}
	send_next(c);
}

static int et_start(vk_store *s, char **err)
{
	et *b = vk_xcalloc(1, sizeof *b);
	b->s = s;
	b->base = strchr(s->url.host, ':') ? vk_asprintf("http://[%s]:%d", s->url.host, s->url.port)
	                                   : vk_asprintf("http://%s:%d", s->url.host, s->url.port);
	s->bd = b;
	/* The open's answer is a first round trip. */
	vk_store_req *r = vk_xcalloc(1, sizeof *r);
	r->s = s;
	r->type = VK_STORE__PING;
	et_submit(s, r);
	return 0;
}

static void et_close(vk_store *s)
{
	et *b = s->bd;
	while (b->calls) {
		et_call *c = b->calls;
		b->calls = c->next;
		if (c->h)
			vk_http_cancel(c->h);
		vk_store__drop(c->r);
		call_free(c);
	}
	free(b->base);
	free(b);
	vk_store__closed(s);
}

const vk_store__backend vk_store__etcd = {et_start, et_submit, et_close};
