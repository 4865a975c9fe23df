/* store: one test body run against each backend (argv[1]: embedded, redis
 * or etcd).  redis and etcd are real servers started here with
 * tests/cluster/store-up.sh and stopped by PID with store-down.sh; the
 * embedded run also covers URL parsing, sealing and a corrupt file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vk/store.h"
#include "vk/util.h"

static uv_loop_t *loop;
static vk_http *http;
static const char *kind;
static char tmp[] = "/tmp/vk-store-test.XXXXXX";
static char url[256];
static const char *root;
static bool in_call; /* a callback must never run inside the call */
static bool cb_inside;

typedef struct {
	bool done;
	int status;
	char err[512];
	char value[4096];
	size_t len;
	uint64_t rv;
	size_t n;
	char keys[8192];
	int results[512];
} res;

/* Runs the loop until *flag or 60 s.  A ticking timer keeps uv_run(ONCE)
 * from blocking in poll after a callback ran in its timer phase. */
static uv_timer_t tick;
static void on_tick(uv_timer_t *t) { (void)t; }
static void spin_until(const bool *flag, uint64_t max_ms)
{
	bool mine = !uv_is_active((uv_handle_t *)&tick);
	uv_timer_start(&tick, on_tick, 5, 5);
	uint64_t t0 = vk_now_ms();
	while (!*flag && vk_now_ms() - t0 < max_ms)
		uv_run(loop, UV_RUN_ONCE);
	if (mine)
		uv_timer_stop(&tick);
}

static void wait_done(res *r) { spin_until(&r->done, 60000); }

static void set_err(res *r, int status, const char *err)
{
	if (in_call)
		cb_inside = true;
	r->done = true;
	r->status = status;
	snprintf(r->err, sizeof r->err, "%s", err ? err : "");
}

static void on_get(vk_store *s, int status, const char *err, const vk_store_rec *rec, void *ud)
{
	res *r = ud;
	set_err(r, status, err);
	if (rec) {
		snprintf(r->value, sizeof r->value, "%s", rec->value);
		r->len = rec->len;
		r->rv = rec->rv;
	}
}

static void on_write(vk_store *s, int status, const char *err, void *ud) { set_err(ud, status, err); }

static void on_list(vk_store *s, int status, const char *err, const vk_store_rec *recs, size_t n, void *ud)
{
	res *r = ud;
	set_err(r, status, err);
	r->n = n;
	r->keys[0] = 0;
	for (size_t i = 0; i < n && i < 64; i++) {
		size_t l = strlen(r->keys);
		snprintf(r->keys + l, sizeof r->keys - l, "%s%s=%s@%llu", i ? "," : "", recs[i].key, recs[i].value,
		         (unsigned long long)recs[i].rv);
	}
}

static void on_commit(vk_store *s, int status, const char *err, const int *results, size_t n, void *ud)
{
	res *r = ud;
	set_err(r, status, err);
	r->n = n;
	for (size_t i = 0; i < n && i < 512; i++)
		r->results[i] = results[i];
}

static int put(vk_store *s, const char *k, const char *v, uint64_t rv, unsigned ttl)
{
	res r = {0};
	in_call = true;
	int rc = vk_store_put(s, k, v, strlen(v), rv, ttl, on_write, &r);
	in_call = false;
	if (rc)
		return rc;
	wait_done(&r);
	if (r.status && r.status != VK_STORE_ESTALE)
		printf("# put %s: %s\n", k, r.err);
	return r.status;
}

static int get(vk_store *s, const char *k, res *r)
{
	memset(r, 0, sizeof *r);
	in_call = true;
	int rc = vk_store_get(s, k, on_get, r);
	in_call = false;
	if (rc)
		return rc;
	wait_done(r);
	return r->status;
}

static int del(vk_store *s, const char *k, uint64_t rv)
{
	res r = {0};
	in_call = true;
	int rc = vk_store_delete(s, k, rv, on_write, &r);
	in_call = false;
	if (rc)
		return rc;
	wait_done(&r);
	return r.status;
}

static int list(vk_store *s, const char *prefix, res *r)
{
	memset(r, 0, sizeof *r);
	in_call = true;
	int rc = vk_store_list(s, prefix, on_list, r);
	in_call = false;
	if (rc)
		return rc;
	wait_done(r);
	return r->status;
}

typedef struct {
	bool done;
	int status;
	char err[512];
} open_res;

static void on_open(vk_store *s, int status, const char *err, void *ud)
{
	open_res *o = ud;
	if (in_call)
		cb_inside = true;
	o->done = true;
	o->status = status;
	snprintf(o->err, sizeof o->err, "%s", err ? err : "");
}

static vk_store *open_store(const char *u, const char *prefix, open_res *o)
{
	memset(o, 0, sizeof *o);
	vk_store_opts opts = {
		.loop = loop, .http = http, .url = u, .state_dir = tmp, .prefix = prefix, .timeout_ms = 3000};
	vk_store *s = NULL;
	char *err = NULL;
	in_call = true;
	int rc = vk_store_open(&opts, on_open, o, &s, &err);
	in_call = false;
	if (rc) {
		o->done = true;
		o->status = rc;
		snprintf(o->err, sizeof o->err, "%s", err);
		free(err);
		return NULL;
	}
	spin_until(&o->done, 60000);
	return s;
}

static void close_store(vk_store *s)
{
	vk_store_close(s);
	uv_run(loop, UV_RUN_NOWAIT);
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, fmt, root, tmp, arg);
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void servers_down(void)
{
	if (root && strcmp(kind, "embedded") != 0)
		sh("%s/tests/cluster/store-down.sh %s %s >/dev/null 2>&1", kind);
}

/* At exit, whatever path ended the test: stores stopped, folder removed. */
static void cleanup(void)
{
	servers_down();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}

/* ---- pure parts ------------------------------------------------------------ */

static void test_urls(void)
{
	vk_store_url u;
	char *err = NULL;
	is_int(vk_store_url_parse("embedded", &u, &err), 0, "embedded parses");
	is_int(u.kind, VK_STORE_EMBEDDED, "embedded kind");
	vk_store_url_free(&u);
	is_int(vk_store_url_parse(NULL, &u, &err), 0, "no URL is embedded");
	vk_store_url_free(&u);
	is_int(vk_store_url_parse("redis://:s3cret@127.0.0.1:6380/2", &u, &err), 0, "redis with password and db");
	ok(u.kind == VK_STORE_REDIS && tap_streq(u.host, "127.0.0.1") && u.port == 6380 && u.db == 2 &&
	           tap_streq(u.password, "s3cret"),
	   "redis fields: %s %d %d %s", u.host, u.port, u.db, u.password);
	vk_store_url_free(&u);
	is_int(vk_store_url_parse("etcd://[::1]:2379", &u, &err), 0, "etcd with IPv6");
	ok(u.kind == VK_STORE_ETCD && tap_streq(u.host, "::1") && u.port == 2379, "etcd fields");
	vk_store_url_free(&u);
	struct {
		const char *url, *says;
	} bad[] = {
		{"mysql://h:1", "unknown scheme"},
		{"redis://127.0.0.1", "no port"},
		{"redis://127.0.0.1:", "no port"},
		{"redis://:6379", "no host"},
		{"redis://h:99999", "port is not a number"},
		{"redis://h:12ab", "port is not a number"},
		{"redis://h:1/x", "database is not a number"},
		{"etcd://h:1/v3", "path is not supported"},
		{"etcd://user:pw@h:1", "credentials"},
		{"redis://:pw@h:1/0 x", "blank"},
		{"/var/lib/vk", "not a URL"},
		{"etcd://[::1:2379", "closing ']'"},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(bad); i++) {
		err = NULL;
		int rc = vk_store_url_parse(bad[i].url, &u, &err);
		ok(rc == VK_STORE_EINVAL && err && strstr(err, bad[i].says) && !strchr(err, '\n') &&
		           strstr(err, "--store '"),
		   "bad URL %s -> %s", bad[i].url, err ? err : "(none)");
		free(err);
	}
	err = NULL;
	vk_store_url_parse("redis://:hunter2@h", &u, &err);
	ok(err && !strstr(err, "hunter2") && strstr(err, "***"), "the password is masked: %s", err);
	free(err);
}

static void test_seal(void)
{
	uint8_t key[32], other[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i, other[i] = (uint8_t)(i + 1);
	const char *secret = "{\"data\":{\"password\":\"aHVudGVyMg==\"}}";
	char *a = vk_store_seal(key, secret, strlen(secret));
	char *b = vk_store_seal(key, secret, strlen(secret));
	ok(a && strncmp(a, "vk1:", 4) == 0 && !strstr(a, "aHVudGVy"), "sealed blob hides the text");
	ok(a && b && strcmp(a, b) != 0, "a fresh nonce each time");
	size_t n = 0;
	char *p = vk_store_unseal(key, a, strlen(a), &n);
	ok(p && n == strlen(secret) && strcmp(p, secret) == 0, "unseal gives it back");
	free(p);
	ok(vk_store_unseal(other, a, strlen(a), &n) == NULL, "another key cannot open it");
	a[10] = a[10] == 'A' ? 'B' : 'A';
	ok(vk_store_unseal(key, a, strlen(a), &n) == NULL, "a tampered blob is refused");
	ok(vk_store_unseal(key, "plain", 5, &n) == NULL, "a non-blob is refused");
	free(a);
	free(b);

	char path[512], *err = NULL;
	uint8_t k2[32];
	int rc;
	snprintf(path, sizeof path, "%s/key.hex", tmp);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 32; i++)
		fprintf(f, "%02x", i);
	fprintf(f, "\n");
	fclose(f);
	ok(vk_store_key_load(path, k2, &err) == 0 && memcmp(k2, key, 32) == 0, "hex key file");
	snprintf(path, sizeof path, "%s/key.raw", tmp);
	f = fopen(path, "w");
	fwrite(key, 1, 32, f);
	fclose(f);
	ok(vk_store_key_load(path, k2, &err) == 0 && memcmp(k2, key, 32) == 0, "raw key file");
	snprintf(path, sizeof path, "%s/key.short", tmp);
	f = fopen(path, "w");
	fprintf(f, "too short\n");
	fclose(f);
	rc = vk_store_key_load(path, k2, &err);
	ok(rc != 0 && err && strstr(err, path) && strstr(err, "256-bit"), "a bad key file says which and why: %s", err);
	free(err);
	err = NULL;
	rc = vk_store_key_load("/nonexistent/key", k2, &err);
	ok(rc != 0 && err && strstr(err, "/nonexistent/key"), "a missing key file says which: %s", err);
	free(err);
	is_int(vk_store_rv("12345"), 12345, "resourceVersion parses");
	is_int(vk_store_rv("12a"), 0, "a non-number is unversioned");
	is_int(vk_store_rv(NULL), 0, "none is unversioned");
}

static void test_corrupt(void)
{
	char dir[512], path[600];
	snprintf(dir, sizeof dir, "%s/corrupt", tmp);
	mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/vk.db", dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 400; i++)
		fputs("this is not an SQLite database at all; ", f);
	fclose(f);
	open_res o = {0};
	vk_store_opts opts = {.loop = loop, .url = "embedded", .state_dir = dir};
	vk_store *s = NULL;
	char *err = NULL;
	int rc = vk_store_open(&opts, on_open, &o, &s, &err);
	ok(rc == 0, "open of a corrupt file starts");
	if (rc == 0)
		spin_until(&o.done, 60000);
	ok(o.status == VK_STORE_EIO && strstr(o.err, path) && strstr(o.err, "corrupt") &&
	           strstr(o.err, "move it aside") && strstr(o.err, "rebuilds it from the API") && !strchr(o.err, '\n'),
	   "a corrupt file: one line naming it and the recovery: %s", o.err);
	res r;
	int st = get(s, "k", &r);
	ok(st == VK_STORE_EIO, "requests on it fail (%d) rather than hang", st);
	close_store(s);
	err = NULL;
	/* Moving it aside, as the message says, gives a working store. */
	char aside[700];
	snprintf(aside, sizeof aside, "%s.corrupt", path);
	rename(path, aside);
	vk_store *s2 = NULL;
	open_res oo = {0};
	vk_store_open(&opts, on_open, &oo, &s2, &err);
	spin_until(&oo.done, 60000);
	is_int(oo.status, 0, "after moving it aside the store opens: %s", oo.err);
	is_int(put(s2, "k", "v", 1, 0), 0, "and works");
	close_store(s2);
}

/* ---- the body every backend runs ------------------------------------------- */

static void test_basic(vk_store *s)
{
	res r;
	is_int(put(s, "pods/ns/a", "{\"a\":1}", 10, 0), 0, "put");
	ok(!cb_inside, "no callback ran inside its call");
	is_int(get(s, "pods/ns/a", &r), 0, "get");
	ok(tap_streq(r.value, "{\"a\":1}") && r.len == 7 && r.rv == 10, "get returns value and rv: %s %llu", r.value,
	   (unsigned long long)r.rv);
	is_int(get(s, "pods/ns/missing", &r), VK_STORE_ENOENT, "a missing key is ENOENT");
	ok(vk_store_get(s, "", on_get, &r) == VK_STORE_EINVAL, "an empty key is refused at once");

	/* Fresher wins: YurtHub's race. */
	is_int(put(s, "pods/ns/a", "{\"a\":\"old\"}", 9, 0), VK_STORE_ESTALE, "an older rv is refused");
	get(s, "pods/ns/a", &r);
	ok(tap_streq(r.value, "{\"a\":1}") && r.rv == 10, "and the fresher object stays: %s", r.value);
	is_int(put(s, "pods/ns/a", "{\"a\":2}", 10, 0), 0, "the same rv is accepted");
	is_int(put(s, "pods/ns/a", "{\"a\":3}", 11, 0), 0, "a newer rv is accepted");
	get(s, "pods/ns/a", &r);
	ok(tap_streq(r.value, "{\"a\":3}") && r.rv == 11, "newer value stored");
	is_int(put(s, "pods/ns/a", "{\"a\":4}", 1000000000000ull, 0), 0, "a 13-digit rv");
	is_int(put(s, "pods/ns/a", "{\"a\":5}", 999999999999ull, 0), VK_STORE_ESTALE, "compared as numbers, not text");
	is_int(put(s, "plain", "x", 0, 0), 0, "an unversioned put");
	is_int(put(s, "plain", "y", 0, 0), 0, "is always applied");
	is_int(put(s, "plain", "z", 5, 0), 0, "a versioned put replaces an unversioned record");
	is_int(put(s, "plain", "w", 0, 0), 0, "an unversioned put always applies");

	/* Deletes obey fresher-wins too. */
	is_int(put(s, "cm/ns/c", "{}", 20, 0), 0, "put for delete");
	is_int(del(s, "cm/ns/c", 15), VK_STORE_ESTALE, "a delete older than the record is refused");
	is_int(get(s, "cm/ns/c", &r), 0, "the record stays");
	is_int(del(s, "cm/ns/c", 20), 0, "a delete at the record's rv");
	is_int(get(s, "cm/ns/c", &r), VK_STORE_ENOENT, "is gone");
	is_int(del(s, "cm/ns/c", 0), 0, "deleting a missing key is fine");

	/* list by prefix */
	put(s, "l/a/2", "2", 2, 0);
	put(s, "l/a/1", "1", 1, 0);
	put(s, "l/b/1", "3", 3, 0);
	put(s, "l/a", "0", 0, 0);
	is_int(list(s, "l/a/", &r), 0, "list");
	ok(r.n == 2 && tap_streq(r.keys, "l/a/1=1@1,l/a/2=2@2"), "list by prefix, sorted: %s", r.keys);
	list(s, "l/", &r);
	is_int(r.n, 4, "a wider prefix");
	list(s, "nothing/", &r);
	is_int(r.n, 0, "an empty list");
}

static void test_batch(vk_store *s)
{
	res r = {0};
	put(s, "b/x", "x10", 10, 0);
	put(s, "b/z", "z", 1, 0);
	vk_store_stats before, after;
	vk_store_get_stats(s, &before);
	vk_store_batch *b = vk_store_batch_new();
	vk_store_batch_put(b, "b/x", "x5", 2, 5, 0); /* stale */
	vk_store_batch_put(b, "b/y", "y", 1, 7, 0);
	vk_store_batch_delete(b, "b/z", 0);
	vk_store_batch_put(b, "b/w", "w", 1, 0, 0);
	is_int(vk_store_batch_len(b), 4, "batch length");
	in_call = true;
	is_int(vk_store_commit(s, b, on_commit, &r), 0, "commit");
	in_call = false;
	wait_done(&r);
	ok(!cb_inside, "no callback ran inside its call");
	is_int(r.status, 0, "batch committed: %s", r.err);
	ok(r.n == 4 && r.results[0] == VK_STORE_ESTALE && r.results[1] == 0 && r.results[2] == 0 && r.results[3] == 0,
	   "per-op results: the stale op skipped, the rest applied");
	vk_store_get_stats(s, &after);
	ok(after.commits == before.commits + 1 && after.ops == before.ops + 4 && after.stale == before.stale + 1,
	   "one transaction of 4 ops, 1 stale");
	res g;
	get(s, "b/x", &g);
	is_str(g.value, "x10", "the stale op changed nothing");
	is_int(get(s, "b/y", &g), 0, "y written");
	is_int(get(s, "b/z", &g), VK_STORE_ENOENT, "z deleted");

	b = vk_store_batch_new();
	vk_store_batch_put(b, "b/d", "1", 1, 0, 0);
	vk_store_batch_put(b, "b/d", "2", 1, 0, 0);
	memset(&r, 0, sizeof r);
	is_int(vk_store_commit(s, b, on_commit, &r), VK_STORE_EINVAL, "a key twice in one batch is refused");
	uv_run(loop, UV_RUN_NOWAIT);
	ok(!r.done, "and its callback is never called");

	/* A large batch (etcd's txn limit is 128 ops per txn). */
	b = vk_store_batch_new();
	for (int i = 0; i < 300; i++) {
		char k[32], v[32];
		snprintf(k, sizeof k, "big/%03d", i);
		snprintf(v, sizeof v, "v%d", i);
		vk_store_batch_put(b, k, v, strlen(v), (uint64_t)i + 1, 0);
	}
	memset(&r, 0, sizeof r);
	vk_store_commit(s, b, on_commit, &r);
	wait_done(&r);
	is_int(r.status, 0, "a 300-op batch commits: %s", r.err);
	list(s, "big/", &r);
	is_int(r.n, 300, "all 300 are there");
	/* 3 MB in one batch (etcd takes requests up to 1.5 MiB). */
	b = vk_store_batch_new();
	char *blob = vk_xmalloc(100001);
	memset(blob, 'x', 100000);
	blob[100000] = 0;
	for (int i = 0; i < 30; i++) {
		char k[32];
		snprintf(k, sizeof k, "fat/%02d", i);
		vk_store_batch_put(b, k, blob, 100000, 1, 0);
	}
	free(blob);
	memset(&r, 0, sizeof r);
	vk_store_commit(s, b, on_commit, &r);
	wait_done(&r);
	is_int(r.status, 0, "a 3 MB batch commits: %s", r.err);
	list(s, "fat/", &r);
	is_int(r.n, 30, "all 30 large values are there");
	memset(&r, 0, sizeof r);
	vk_store_commit(s, vk_store_batch_new(), on_commit, &r);
	wait_done(&r);
	ok(r.done && r.status == 0 && r.n == 0, "an empty batch is fine");
}

static void test_ttl(vk_store *s)
{
	res r;
	is_int(put(s, "ttl/a", "short", 0, 1), 0, "put with ttl 1 s");
	is_int(put(s, "ttl/b", "long", 0, 0), 0, "put without ttl");
	is_int(get(s, "ttl/a", &r), 0, "readable at first");
	/* Expiry is the backend's clock: wait for it with a generous bound. */
	uint64_t t0 = vk_now_ms();
	int st = 0;
	while ((st = get(s, "ttl/a", &r)) == 0 && vk_now_ms() - t0 < 20000)
		usleep(200000);
	is_int(st, VK_STORE_ENOENT, "gone after its ttl");
	list(s, "ttl/", &r);
	ok(r.n == 1 && strstr(r.keys, "ttl/b="), "list sees only the live one: %s", r.keys);
}

static void test_prefix(vk_store *root_s)
{
	open_res o;
	vk_store *p = open_store(url, "prov/mock/", &o);
	is_int(o.status, 0, "a prefixed handle opens");
	if (!p)
		return;
	is_int(put(p, "k1", "v1", 0, 0), 0, "put through the namespace");
	res r;
	is_int(get(root_s, "prov/mock/k1", &r), 0, "it lands under the prefix");
	list(p, "", &r);
	ok(r.n == 1 && tap_streq(r.keys, "k1=v1@0"), "list returns keys without the prefix: %s", r.keys);
	close_store(p);
}

typedef struct {
	bool done;
	int status;
} flush_res;

static void on_flush(vk_store_wb *w, int status, void *ud)
{
	flush_res *f = ud;
	f->done = true;
	f->status = status;
}

static int wb_flush(vk_store_wb *w)
{
	flush_res f = {0};
	vk_store_wb_flush(w, on_flush, &f);
	spin_until(&f.done, 60000);
	return f.done ? f.status : -ETIMEDOUT;
}

static void test_writeback(vk_store *s)
{
	/* A long flush interval: this test drives the flush itself. */
	vk_store_wb_opts wo = {.flush_ms = 600000, .max_pending = 1000};
	vk_store_wb *w = vk_store_wb_new(s, &wo);
	vk_store_stats before, after;
	vk_store_get_stats(s, &before);
	/* An event storm: 1000 updates of 50 pods. */
	for (int i = 0; i < 1000; i++) {
		char k[32], v[32];
		snprintf(k, sizeof k, "wb/pod%02d", i % 50);
		snprintf(v, sizeof v, "{\"gen\":%d}", i);
		vk_store_wb_put(w, k, v, strlen(v), (uint64_t)i + 1, 0);
	}
	vk_store_wb_put(w, "wb/pod00", "older", 5, 3, 0); /* older than what is pending */
	is_int(vk_store_wb_len(w), 50, "1000 writes coalesce to 50 keys");
	const char *v;
	size_t n;
	uint64_t rv;
	ok(vk_store_wb_pending(w, "wb/pod07", &v, &n, &rv) && strcmp(v, "{\"gen\":957}") == 0 && rv == 958,
	   "read-your-writes before the flush");
	ok(vk_store_wb_pending(w, "wb/pod00", &v, &n, &rv) && strcmp(v, "{\"gen\":950}") == 0,
	   "an older write does not replace a pending newer one");
	is_int(wb_flush(w), 0, "flush");
	vk_store_get_stats(s, &after);
	ok(after.commits - before.commits == 1 && after.ops - before.ops == 50,
	   "the storm is ONE transaction of 50 writes (%llu commits, %llu ops)",
	   (unsigned long long)(after.commits - before.commits), (unsigned long long)(after.ops - before.ops));
	res r;
	get(s, "wb/pod07", &r);
	ok(tap_streq(r.value, "{\"gen\":957}") && r.rv == 958, "the last write is stored");
	vk_store_wb_delete(w, "wb/pod07", 0);
	ok(vk_store_wb_pending(w, "wb/pod07", &v, &n, &rv) && v == NULL, "a pending delete reads as deleted");
	is_int(wb_flush(w), 0, "flush the delete");
	is_int(get(s, "wb/pod07", &r), VK_STORE_ENOENT, "deleted");
	/* Stale through the write-behind: the store refuses, nothing breaks. */
	vk_store_wb_put(w, "wb/pod08", "stale", 5, 2, 0);
	is_int(wb_flush(w), 0, "a stale write flushes without error");
	get(s, "wb/pod08", &r);
	ok(tap_streq(r.value, "{\"gen\":958}"), "and the fresher record stays: %s", r.value);
	is_int(wb_flush(w), 0, "flush with nothing pending answers");
	/* The timer flushes by itself. */
	vk_store_wb_close(w);
	vk_store_wb_opts fast = {.flush_ms = 20};
	w = vk_store_wb_new(s, &fast);
	vk_store_wb_put(w, "wb/timer", "t", 1, 0, 0);
	uv_timer_start(&tick, on_tick, 5, 5);
	uint64_t t0 = vk_now_ms();
	while (vk_store_wb_len(w) && vk_now_ms() - t0 < 30000)
		uv_run(loop, UV_RUN_ONCE);
	uv_timer_stop(&tick);
	is_int(get(s, "wb/timer", &r), 0, "flushed by its timer");
	/* A flush still waiting when the write-behind closes is told so (the
	 * pod controller frees the deletion that waited for it). */
	vk_store_wb_put(w, "wb/closing", "c", 1, 0, 0);
	flush_res fc = {0};
	is_int(vk_store_wb_flush(w, on_flush, &fc), 0, "a flush is started");
	ok(!fc.done, "and not answered from inside the call");
	vk_store_wb_close(w);
	ok(fc.done && fc.status == -ECANCELED, "a flush waiting at close is called back with ECANCELED (%d)",
	   fc.status);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* Counts lines of FILE holding `needle`. */
static int count_lines(const char *file, const char *needle)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return -1;
	char line[2048];
	int c = 0;
	while (fgets(line, sizeof line, f))
		c += strstr(line, needle) != NULL;
	fclose(f);
	return c;
}

/* Scenario 3 at the store layer: the server goes away mid-run and comes
 * back; the write-behind keeps the writes, logs once each way, catches up. */
static void test_store_goes_away(vk_store *s)
{
	vk_store_wb_opts wo = {.flush_ms = 10, .retry_base_ms = 50, .retry_max_ms = 200};
	vk_store_wb *w = vk_store_wb_new(s, &wo);
	vk_store_wb_put(w, "away/before", "1", 1, 1, 0);
	is_int(wb_flush(w), 0, "written while the store is up");

	char logf[600];
	snprintf(logf, sizeof logf, "%s/stderr.log", tmp);
	fflush(stderr);
	int saved = dup(2), fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);

	is_int(sh("%s/tests/cluster/store-down.sh %s %s >/dev/null 2>&1", kind), 0, "%s stopped", kind);
	for (int i = 0; i < 20; i++) {
		char k[32];
		snprintf(k, sizeof k, "away/during%02d", i);
		vk_store_wb_put(w, k, "2", 1, (uint64_t)i + 2, 0);
	}
	int st = wb_flush(w);
	ok(st == VK_STORE_EDOWN, "a flush while it is down fails with EDOWN (%d)", st);
	ok(vk_store_wb_is_down(w) && vk_store_wb_len(w) == 20, "the writes stay pending (%zu)", vk_store_wb_len(w));
	/* Let it retry a few times while down: still one log line. */
	uv_timer_start(&tick, on_tick, 5, 5);
	uint64_t t0 = vk_now_ms();
	while (vk_now_ms() - t0 < 1500)
		uv_run(loop, UV_RUN_ONCE);
	res r;
	ok(get(s, "away/before", &r) == VK_STORE_EDOWN, "a direct get fails with EDOWN meanwhile");

	is_int(sh("%s/tests/cluster/store-up.sh %s %s >/dev/null 2>&1", kind), 0, "%s started again", kind);
	t0 = vk_now_ms();
	while ((vk_store_wb_len(w) || vk_store_wb_is_down(w)) && vk_now_ms() - t0 < 60000)
		uv_run(loop, UV_RUN_ONCE);
	uv_timer_stop(&tick);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ok(!vk_store_wb_is_down(w) && vk_store_wb_len(w) == 0, "caught up after the restart");
	list(s, "away/", &r);
	is_int(r.n, 21, "every write made while it was away is in the store");
	int down = count_lines(logf, "keeping"), back = count_lines(logf, "is back");
	ok(down == 1 && back == 1, "one line when it went (%d), one when it came back (%d)", down, back);
	FILE *f = fopen(logf, "r");
	char line[2048];
	while (f && fgets(line, sizeof line, f))
		printf("#   log: %s", line);
	if (f)
		fclose(f);
	vk_store_wb_close(w);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void test_unreachable(void)
{
	open_res o;
	const char *u = strcmp(kind, "redis") == 0 ? "redis://127.0.0.1:1" : "etcd://127.0.0.1:1";
	vk_store *s = open_store(u, NULL, &o);
	ok(o.status == VK_STORE_EDOWN && strstr(o.err, "127.0.0.1:1") && !strchr(o.err, '\n'),
	   "an unreachable server: one line naming it: %s", o.err);
	if (s)
		close_store(s);
}

int main(int argc, char **argv)
{
	kind = argc > 1 ? argv[1] : "embedded";
	root = getenv("VK_SOURCE_ROOT");
	loop = uv_default_loop();
	uv_timer_init(loop, &tick);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	if (strcmp(kind, "embedded") == 0) {
		snprintf(url, sizeof url, "embedded");
		test_urls();
		test_seal();
		test_corrupt();
	} else {
		if (!root) {
			printf("1..0 # SKIP VK_SOURCE_ROOT not set\n");
			return 77;
		}
		if (strcmp(kind, "redis") == 0 && system("command -v redis-server >/dev/null") != 0) {
			printf("1..0 # SKIP redis-server is not installed (scripts/install-deps.sh)\n");
			return 77;
		}
		if (sh("%s/tests/cluster/store-up.sh %s %s >&2", kind) != 0) {
			ok(false, "store-up.sh %s", kind);
			return tap_done();
		}
		char envf[600], line[256];
		snprintf(envf, sizeof envf, "%s/store.env", tmp);
		FILE *f = fopen(envf, "r");
		const char *var = strcmp(kind, "redis") == 0 ? "REDIS_URL=" : "STORE_ETCD_URL=";
		while (f && fgets(line, sizeof line, f))
			if (strncmp(line, var, strlen(var)) == 0) {
				line[strcspn(line, "\n")] = 0;
				snprintf(url, sizeof url, "%s", line + strlen(var));
			}
		if (f)
			fclose(f);
		http = vk_http_new(loop);
		test_unreachable();
	}
	open_res o;
	vk_store *s = open_store(url, NULL, &o);
	ok(s && o.status == 0, "%s opens: %s", url, o.err);
	ok(!cb_inside, "the open callback did not run inside vk_store_open");
	if (!s || o.status)
		return tap_done();
	test_basic(s);
	test_batch(s);
	test_prefix(s);
	test_writeback(s);
	test_ttl(s);
	if (strcmp(kind, "embedded") != 0)
		test_store_goes_away(s);
	close_store(s);
	if (http)
		vk_http_close(http);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	return tap_done();
}
