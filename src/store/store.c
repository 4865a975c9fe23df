/* store.c - the store's front: checks arguments, copies them into a request
 * for the backend, counts, and hands results back to the caller. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store_int.h"
#include "vk/metrics.h"

const char *vk_store_strerror(int status)
{
	switch (status) {
	case 0: return "ok";
	case VK_STORE_ENOENT: return "not found";
	case VK_STORE_ESTALE: return "stale (a fresher version is stored)";
	case VK_STORE_EDOWN: return "store unreachable";
	case VK_STORE_EIO: return "store error";
	case VK_STORE_EINVAL: return "invalid argument";
	case VK_STORE_ENOMEM: return "out of memory";
	default: return "error";
	}
}

uint64_t vk_store_rv(const char *s)
{
	if (!s || !*s)
		return 0;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return v;
}

void vk_store__rv_text(char out[21], uint64_t rv) { snprintf(out, 21, "%020" PRIu64, rv); }

char *vk_store__b64(const void *p, size_t n)
{
	char *out = vk_xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* ---- results ---------------------------------------------------------- */

void vk_store__fail(vk_store_req *r, int status, const char *fmt, ...)
{
	vk_buf b = {0};
	va_list ap;
	vk_buf_printf(&b, "%s: ", r->s->name);
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	vk_buf_printf(&b, "%s", msg);
	free(msg);
	free(r->err);
	r->err = vk_buf_steal(&b);
	r->status = status;
}

void vk_store__add_rec(vk_store_req *r, const char *key, size_t klen, const char *value, size_t len, uint64_t rv)
{
	if (r->nrecs == r->caprecs) {
		r->caprecs = r->caprecs ? 2 * r->caprecs : 8;
		r->recs = vk_xrealloc(r->recs, r->caprecs * sizeof *r->recs);
	}
	r->recs[r->nrecs++] = (vk_store_rec){
		.key = vk_memdupz(key, klen), .value = vk_memdupz(value, len), .len = len, .rv = rv};
}

static void req_free(vk_store_req *r)
{
	free(r->key);
	free(r->err);
	free(r->results);
	for (size_t i = 0; i < r->nrecs; i++) {
		free((char *)r->recs[i].key);
		free((char *)r->recs[i].value);
	}
	free(r->recs);
	vk_store_batch_free(r->batch);
	free(r);
}

void vk_store__drop(vk_store_req *r) { req_free(r); }

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const vk_store_rec *)a)->key, ((const vk_store_rec *)b)->key);
}

/* The store label of vk_store_operations_total. */
static const char *kind(const vk_store *s)
{
	return s->be == &vk_store__sqlite ? "embedded" : s->be == &vk_store__redis ? "redis" : "etcd";
}

void vk_store__done(vk_store_req *r)
{
	vk_store *s = r->s;
	size_t plen = strlen(s->prefix);
	const char *err = r->status ? (r->err ? r->err : vk_store_strerror(r->status)) : NULL;
	if (r->status == VK_STORE_EDOWN || r->status == VK_STORE_EIO)
		s->stats.failures++;
	static const char *const ops[] = {"get", "list", "commit", "ping"};
	if (r->type >= 0 && (size_t)r->type < VK_ARRAY_LEN(ops)) /* a missing key is an answer, not an error */
		vk_metrics_store_op(kind(s), ops[r->type], r->status == 0 || r->status == VK_STORE_ENOENT);
	/* Keys go back without the handle's prefix. */
	for (size_t i = 0; i < r->nrecs; i++)
		if (plen && strncmp(r->recs[i].key, s->prefix, plen) == 0)
			memmove((char *)r->recs[i].key, r->recs[i].key + plen, strlen(r->recs[i].key) - plen + 1);
	switch (r->type) {
	case VK_STORE__GET:
		if (r->cb.get)
			r->cb.get(s, r->status, err, r->status == 0 && r->nrecs ? &r->recs[0] : NULL, r->ud);
		break;
	case VK_STORE__LIST:
		if (r->status == 0 && r->nrecs > 1)
			qsort(r->recs, r->nrecs, sizeof *r->recs, cmp_rec);
		if (r->cb.list)
			r->cb.list(s, r->status, err, r->recs, r->status ? 0 : r->nrecs, r->ud);
		break;
	case VK_STORE__COMMIT: {
		size_t n = r->batch ? r->batch->n : 0;
		if (r->status == 0)
			for (size_t i = 0; i < n; i++)
				if (r->results[i] == VK_STORE_ESTALE)
					s->stats.stale++;
		if (r->single) {
			int st = r->status ? r->status : (n ? r->results[0] : 0);
			if (r->cb.write)
				r->cb.write(s, st, st ? (err ? err : vk_store_strerror(st)) : NULL, r->ud);
			else if (st && st != VK_STORE_ESTALE)
				vk_debug("store", "%s", err ? err : vk_store_strerror(st));
		} else if (r->cb.commit) {
			r->cb.commit(s, r->status, err, r->results, r->status ? 0 : n, r->ud);
		}
		break;
	}
	case VK_STORE__PING: vk_store__opened(s, r->status, r->err); break;
	default: break;
	}
	req_free(r);
}

static void later_cb(uv_timer_t *t)
{
	vk_store *s = t->data;
	vk_store_req *list = s->later_head;
	s->later_head = s->later_tail = NULL;
	while (list) {
		vk_store_req *r = list;
		list = r->next;
		r->next = NULL;
		if (s->closing)
			req_free(r);
		else
			vk_store__done(r);
	}
}

void vk_store__done_later(vk_store_req *r)
{
	vk_store *s = r->s;
	r->next = NULL;
	if (s->later_tail)
		s->later_tail->next = r;
	else
		s->later_head = r;
	s->later_tail = r;
	uv_timer_start(&s->later, later_cb, 0, 0);
}

/* ---- open / close --------------------------------------------------------- */

void vk_store__opened_later(vk_store *s, int status, const char *err)
{
	vk_store_req *r = vk_xcalloc(1, sizeof *r);
	r->s = s;
	r->type = VK_STORE__PING;
	r->status = status;
	r->err = vk_strdup(err);
	vk_store__done_later(r);
}

void vk_store__opened(vk_store *s, int status, const char *err)
{
	if (s->opened || s->closing)
		return;
	s->opened = true;
	if (s->on_open)
		s->on_open(s, status, status ? (err ? err : vk_store_strerror(status)) : NULL, s->open_ud);
}

static void store_free(uv_handle_t *h)
{
	vk_store *s = h->data;
	vk_store_url_free(&s->url);
	free(s->name);
	free(s->prefix);
	free(s->state_dir);
	free(s);
}

void vk_store__closed(vk_store *s) { uv_close((uv_handle_t *)&s->later, store_free); }

int vk_store_open(const vk_store_opts *o, vk_store_open_cb on_open, void *ud, vk_store **out, char **err)
{
	*out = NULL;
	if (err)
		*err = NULL;
	char *e = NULL;
	vk_store_url u;
	if (!o || !o->loop) {
		if (err)
			*err = vk_strdup("store: no loop given");
		return VK_STORE_EINVAL;
	}
	int rc = vk_store_url_parse(o->url, &u, &e);
	if (rc) {
		if (err)
			*err = e;
		else
			free(e);
		return rc;
	}
	const char *why = NULL;
	if (u.kind == VK_STORE_EMBEDDED && (!o->state_dir || !*o->state_dir))
		why = "the embedded store needs a state directory (--state-dir)";
	if (u.kind == VK_STORE_ETCD && !o->http)
		why = "etcd:// needs vk's HTTP engine";
	if (why) {
		vk_store_url_free(&u);
		if (err)
			*err = vk_asprintf("--store '%s': %s", o->url ? o->url : "embedded", why);
		return VK_STORE_EINVAL;
	}
	vk_store *s = vk_xcalloc(1, sizeof *s);
	s->loop = o->loop;
	s->http = o->http;
	s->url = u;
	s->prefix = vk_strdup(o->prefix ? o->prefix : "");
	s->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
	s->on_open = on_open;
	s->open_ud = ud;
	switch (u.kind) {
	case VK_STORE_EMBEDDED:
		s->state_dir = vk_strdup(o->state_dir);
		s->name = vk_asprintf("%s/vk.db", o->state_dir);
		s->be = &vk_store__sqlite;
		break;
	case VK_STORE_REDIS:
		s->name = vk_asprintf("redis://%s:%d/%d", u.host, u.port, u.db);
		s->be = &vk_store__redis;
		break;
	case VK_STORE_ETCD:
		s->name = vk_asprintf("etcd://%s:%d", u.host, u.port);
		s->be = &vk_store__etcd;
		break;
	}
	uv_timer_init(s->loop, &s->later);
	s->later.data = s;
	rc = s->be->start(s, &e);
	if (rc) {
		if (err)
			*err = e;
		else
			free(e);
		uv_close((uv_handle_t *)&s->later, store_free);
		return rc;
	}
	*out = s;
	return 0;
}

typedef struct {
	bool done;
	int status;
	char *err;
} startup;

static void startup_opened(vk_store *s, int status, const char *err, void *ud)
{
	startup *st = ud;
	st->done = true;
	st->status = status;
	st->err = status ? vk_strdup(err) : NULL;
}

static void startup_tick(uv_timer_t *t) { (void)t; }

vk_store *vk_store_open_startup(uv_loop_t *loop, vk_http *http, const char *url, const char *state_dir, char **err)
{
	startup st = {0};
	vk_store_opts o = {.loop = loop, .http = http, .url = url, .state_dir = state_dir};
	vk_store *s = NULL;
	int rc = vk_store_open(&o, startup_opened, &st, &s, err);
	if (rc)
		return NULL;
	/* A ticking timer: uv_run(ONCE) must come back after an answer that
	 * arrived in its timer phase rather than wait in poll. */
	uv_timer_t *tick = vk_xcalloc(1, sizeof *tick);
	uv_timer_init(loop, tick);
	uv_timer_start(tick, startup_tick, 50, 50);
	while (!st.done)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)tick, (uv_close_cb)free);
	if (st.status) {
		*err = st.err;
		vk_store_close(s);
		uv_run(loop, UV_RUN_NOWAIT);
		return NULL;
	}
	return s;
}

void vk_store_close(vk_store *s)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	uv_timer_stop(&s->later);
	while (s->later_head) {
		vk_store_req *r = s->later_head;
		s->later_head = r->next;
		req_free(r);
	}
	s->later_tail = NULL;
	s->be->close(s);
}

const char *vk_store_name(const vk_store *s) { return s->name; }
vk_store_kind vk_store_kind_of(const vk_store *s) { return s->url.kind; }
void vk_store_get_stats(const vk_store *s, vk_store_stats *out) { *out = s->stats; }

/* ---- requests ---------------------------------------------------------- */

static bool key_ok(const char *k) { return k != NULL; }

static vk_store_req *req_new(vk_store *s, int type, const char *key)
{
	vk_store_req *r = vk_xcalloc(1, sizeof *r);
	r->s = s;
	r->type = type;
	if (key)
		r->key = vk_asprintf("%s%s", s->prefix, key);
	return r;
}

int vk_store_get(vk_store *s, const char *key, vk_store_get_cb cb, void *ud)
{
	if (!s || s->closing || !key_ok(key) || !*key)
		return VK_STORE_EINVAL;
	vk_store_req *r = req_new(s, VK_STORE__GET, key);
	r->cb.get = cb;
	r->ud = ud;
	s->be->submit(s, r);
	return 0;
}

int vk_store_list(vk_store *s, const char *prefix, vk_store_list_cb cb, void *ud)
{
	if (!s || s->closing || !key_ok(prefix))
		return VK_STORE_EINVAL;
	vk_store_req *r = req_new(s, VK_STORE__LIST, prefix);
	r->cb.list = cb;
	r->ud = ud;
	s->be->submit(s, r);
	return 0;
}

static int commit(vk_store *s, vk_store_batch *b, bool single, void *cb, void *ud)
{
	if (!s || s->closing) {
		vk_store_batch_free(b);
		return VK_STORE_EINVAL;
	}
	/* One op per key: etcd refuses a txn that writes a key twice, and the
	 * order inside one transaction would be backend-specific. */
	if (b->n > 1) {
		vk_map *seen = vk_map_new();
		bool dup = false;
		for (size_t i = 0; i < b->n && !dup; i++)
			dup = vk_map_set(seen, b->ops[i].key, &b->ops[i]) != NULL;
		vk_map_free(seen);
		if (dup) {
			vk_store_batch_free(b);
			return VK_STORE_EINVAL;
		}
	}
	vk_store_req *r = req_new(s, VK_STORE__COMMIT, NULL);
	for (size_t i = 0; i < b->n; i++) {
		char *full = vk_asprintf("%s%s", s->prefix, b->ops[i].key);
		free(b->ops[i].key);
		b->ops[i].key = full;
	}
	r->batch = b;
	r->results = vk_xcalloc(b->n ? b->n : 1, sizeof *r->results);
	r->single = single;
	if (single)
		r->cb.write = (vk_store_write_cb)cb;
	else
		r->cb.commit = (vk_store_commit_cb)cb;
	r->ud = ud;
	s->stats.commits++;
	s->stats.ops += b->n;
	s->be->submit(s, r);
	return 0;
}

int vk_store_put(vk_store *s, const char *key, const void *value, size_t len, uint64_t rv, unsigned ttl_s,
                 vk_store_write_cb cb, void *ud)
{
	if (!s || !key_ok(key) || !*key || (!value && len))
		return VK_STORE_EINVAL;
	vk_store_batch *b = vk_store_batch_new();
	vk_store_batch_put(b, key, value, len, rv, ttl_s);
	return commit(s, b, true, (void *)cb, ud);
}

int vk_store_delete(vk_store *s, const char *key, uint64_t rv, vk_store_write_cb cb, void *ud)
{
	if (!s || !key_ok(key) || !*key)
		return VK_STORE_EINVAL;
	vk_store_batch *b = vk_store_batch_new();
	vk_store_batch_delete(b, key, rv);
	return commit(s, b, true, (void *)cb, ud);
}

int vk_store_commit(vk_store *s, vk_store_batch *b, vk_store_commit_cb cb, void *ud)
{
	if (!b)
		return VK_STORE_EINVAL;
	for (size_t i = 0; i < b->n; i++)
		if (!*b->ops[i].key) {
			vk_store_batch_free(b);
			return VK_STORE_EINVAL;
		}
	return commit(s, b, false, (void *)cb, ud);
}

/* ---- batches ------------------------------------------------------------- */

vk_store_batch *vk_store_batch_new(void) { return vk_xcalloc(1, sizeof(vk_store_batch)); }

static vk_store__op *batch_add(vk_store_batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 8;
		b->ops = vk_xrealloc(b->ops, b->cap * sizeof *b->ops);
	}
	vk_store__op *op = &b->ops[b->n++];
	memset(op, 0, sizeof *op);
	return op;
}

void vk_store_batch_put(vk_store_batch *b, const char *key, const void *value, size_t len, uint64_t rv, unsigned ttl_s)
{
	vk_store__op *op = batch_add(b);
	op->kind = VK_STORE__PUT;
	op->key = vk_strdup(key ? key : "");
	op->value = vk_memdupz(value, len);
	op->len = len;
	op->rv = rv;
	op->ttl_s = ttl_s;
}

void vk_store_batch_delete(vk_store_batch *b, const char *key, uint64_t rv)
{
	vk_store__op *op = batch_add(b);
	op->kind = VK_STORE__DEL;
	op->key = vk_strdup(key ? key : "");
	op->rv = rv;
}

size_t vk_store_batch_len(const vk_store_batch *b) { return b ? b->n : 0; }

void vk_store_batch_free(vk_store_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->ops[i].key);
		free(b->ops[i].value);
	}
	free(b->ops);
	free(b);
}
