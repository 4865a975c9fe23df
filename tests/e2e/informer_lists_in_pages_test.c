/* The informer lists in pages (limit=, continue=) against a REAL
 * kube-apiserver: every object arrives once, the watch resumes from the
 * list's resourceVersion, and an expired continue token (etcd compacted
 * between two pages) starts the list again from the top.
 *
 *   VK_TEST_KUBECONFIG=DIR/admin.kubeconfig [VK_TEST_ETCD=$ETCD from DIR/env] \
 *       build/tests/e2e/informer_lists_in_pages_test
 *
 * Without VK_TEST_KUBECONFIG it prints a TAP skip and exits 77. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/tap.h"
#include "vk/json.h"
#include "vk/kube.h"
#include "vk/util.h"

#define OBJECTS 23 /* 5 pages of 5, the last short */
#define PAGE 5
#define SEL "metadata.name!=kube-root-ca.crt" /* the controller-manager's own */

static uv_loop_t *loop;
static vk_http *http;
static vk_kube *kube;
static uv_timer_t watchdog;
static char ns[64], cms[128];
static int step, answered, created, after_pending;
static bool finished;
static const char *etcd;

static void next_step(void);

/* ---- what an informer told us ------------------------------------------- */
typedef struct {
	vk_informer *inf;
	vk_map *upserts; /* key -> count (as a pointer-sized integer) */
	int deletes, synced;
	bool compact_at_first; /* compact etcd during the first page's callbacks */
	bool compacted;
} seen;

static seen one, two;

static long count_of(const seen *s, const char *key) { return (long)(intptr_t)vk_map_get(s->upserts, key); }

static size_t to_buf(char *p, size_t sz, size_t n, void *ud)
{
	vk_buf_append(ud, p, sz * n);
	return sz * n;
}

static long long etcd_call(const char *what, const char *body)
{
	/* Blocking on purpose: it must happen between two pages, inside the
	 * first page's callbacks.  Returns the revision etcd answers with. */
	CURL *e = curl_easy_init();
	char *url = vk_asprintf("%s/v3/%s", etcd, what);
	vk_buf out = {0};
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &out);
	CURLcode rc = curl_easy_perform(e);
	long long rev = -1;
	cJSON *j = rc == CURLE_OK && out.len ? cJSON_ParseWithLength(out.data, out.len) : NULL;
	const char *r = vk_json_str(j, "header.revision");
	if (r)
		rev = atoll(r);
	cJSON_Delete(j);
	vk_buf_free(&out);
	free(url);
	curl_easy_cleanup(e);
	return rev;
}

static void on_upsert(const char *key, const cJSON *obj, void *ud)
{
	seen *s = ud;
	vk_map_set(s->upserts, key, (void *)(intptr_t)(count_of(s, key) + 1));
	size_t kl = strlen(key);
	if (s == &one && step == 6 && kl > 9 && strcmp(key + kl - 9, "/cm-after") == 0 && --after_pending == 0)
		next_step();
	if (s->compact_at_first && !s->compacted) {
		s->compacted = true;
		/* A write makes a revision newer than the list's snapshot; compacting
		 * up to it makes the snapshot (and the continue token) too old. */
		long long rev = etcd_call("kv/put", "{\"key\":\"dmstLWUyZS1wYWdlcw==\",\"value\":\"MQ==\"}");
		char body[96];
		snprintf(body, sizeof body, "{\"revision\":\"%lld\",\"physical\":true}", rev);
		ok(rev > 0 && etcd_call("kv/compaction", body) > 0, "etcd compacted to revision %lld between two pages",
		   rev);
	}
}

static void on_delete(const char *key, const cJSON *old, void *ud) { ((seen *)ud)->deletes++; }

static void on_synced(void *ud)
{
	seen *s = ud;
	if (s->synced++ == 0)
		next_step();
}

static void start_informer(seen *s, bool compact)
{
	s->upserts = vk_map_new();
	s->compact_at_first = compact;
	vk_informer_opts o = {.what = "configmaps",
	                      .path = cms,
	                      .selector = SEL,
	                      .on_upsert = on_upsert,
	                      .on_delete = on_delete,
	                      .on_synced = on_synced,
	                      .ud = s,
	                      .page_size = PAGE};
	s->inf = vk_informer_new(loop, kube, &o);
	vk_informer_start(s->inf);
}

/* Every object of the namespace came exactly `times` times (the marker
 * cm-after, when given, once more than nothing). */
static int objects_seen(const seen *s, long times)
{
	int n = 0;
	for (int i = 0; i < OBJECTS; i++) {
		char key[128];
		snprintf(key, sizeof key, "%s/cm-%d", ns, i);
		n += count_of(s, key) == times;
	}
	return n;
}

/* ---- REST ----------------------------------------------------------------- */
static void on_answer(const vk_kube_result *r, void *ud)
{
	answered++;
	created += r->status == 201 || r->status == 200;
	if (r->status >= 300)
		printf("# %s: %ld %s\n", (const char *)ud, r->status, r->error ? r->error : "");
	if (step == 2 && answered < OBJECTS)
		return;
	if (step == 6 && --after_pending > 0)
		return; /* and the watch's ADDED of cm-after */
	next_step();
}

static char raw_cont[4096]; /* a raw first page's continue token */

static void on_raw_page(const vk_kube_result *r, void *ud)
{
	const char *c = vk_json_str(r->json, "metadata.continue");
	snprintf(raw_cont, sizeof raw_cont, "%s", c ? c : "");
	ok(r->status == 200 && *raw_cont && cJSON_GetArraySize(cJSON_GetObjectItem(r->json, "items")) == PAGE,
	   "the API server pages this list: %d items and a continue token", PAGE);
	next_step();
}

static long raw_expired_status;
static void on_raw_expired(const vk_kube_result *r, void *ud)
{
	raw_expired_status = r->status;
	printf("# a continue token older than the compaction: %ld %s %s\n", r->status, r->reason ? r->reason : "",
	       r->error ? r->error : "");
	next_step();
}

static void post(const char *path, const char *body, const char *what)
{
	if (vk_kube_request(kube, "POST", path, NULL, body, on_answer, (void *)what, NULL) < 0)
		ok(false, "could not start %s", what);
}

static void on_deleted(const vk_kube_result *r, void *ud)
{
	ok(r->status == 200 || r->status == 202, "the test's namespace deleted (%ld)", r->status);
	finished = true;
	vk_informer_close(one.inf);
	vk_informer_close(two.inf);
	vk_kube_free(kube);
	vk_http_close(http);
	uv_close((uv_handle_t *)&watchdog, NULL);
	vk_map_free(one.upserts);
	vk_map_free(two.upserts);
}

static void next_step(void)
{
	char *path, *body;
	step++;
	switch (step) {
	case 1:
		body = vk_asprintf("{\"metadata\":{\"name\":\"%s\"}}", ns);
		post("/api/v1/namespaces", body, "the namespace");
		free(body);
		break;
	case 2:
		answered = created = 0;
		for (int i = 0; i < OBJECTS; i++) {
			body = vk_asprintf("{\"metadata\":{\"name\":\"cm-%d\"},\"data\":{\"k\":\"v\"}}", i);
			post(cms, body, "a ConfigMap");
			free(body);
		}
		break;
	case 3:
		is_int(created, OBJECTS, "%d ConfigMaps created", OBJECTS);
		path = vk_asprintf("%s?limit=%d&fieldSelector=%s", cms, PAGE, "metadata.name%21%3Dkube-root-ca.crt");
		vk_kube_get(kube, path, on_raw_page, NULL);
		free(path);
		break;
	case 4: start_informer(&one, false); break;
	case 5: {
		is_int(vk_informer_len(one.inf), OBJECTS, "the paged list holds all %d objects", OBJECTS);
		is_int(objects_seen(&one, 1), OBJECTS, "each object was reported once");
		is_int(one.deletes, 0, "nothing reported gone");
		const char *rv = vk_informer_rv(one.inf);
		long long max = 0;
		for (int i = 0; i < OBJECTS; i++) {
			char key[128];
			snprintf(key, sizeof key, "%s/cm-%d", ns, i);
			cJSON *o = vk_informer_get(one.inf, key);
			const char *orv = vk_json_str(o, "metadata.resourceVersion");
			if (orv && atoll(orv) > max)
				max = atoll(orv);
			cJSON_Delete(o);
		}
		ok(rv && atoll(rv) >= max,
		   "the store's resourceVersion (%s) is the list's, not older than its objects (%lld)",
		   rv ? rv : "none", max);
		/* The watch runs from there: a change and a new object come once each. */
		path = vk_asprintf("%s/cm-3", cms);
		if (vk_kube_request(kube, "PATCH", path, "application/merge-patch+json", "{\"data\":{\"k\":\"v2\"}}",
		                    on_answer, (void *)"the PATCH", NULL) < 0)
			ok(false, "could not start the PATCH");
		free(path);
		break;
	}
	case 6:                    /* after the PATCH: its MODIFIED comes before this ADDED */
		after_pending = 2; /* the POST's answer and the ADDED */
		post(cms, "{\"metadata\":{\"name\":\"cm-after\"}}", "cm-after");
		break;
	case 7: {
		char key[128];
		snprintf(key, sizeof key, "%s/cm-3", ns);
		is_int(count_of(&one, key), 2,
		       "the watch from the list's resourceVersion brings the change of cm-3 once");
		is_int(objects_seen(&one, 1), OBJECTS - 1, "and replays none of the listed objects");
		is_int(vk_informer_len(one.inf), OBJECTS + 1, "the new object joined the store");
		if (!etcd || !*etcd) {
			tap_skip("VK_TEST_ETCD not set: no compaction between pages");
			step = 10;
			next_step();
			break;
		}
		/* Does the API server refuse a continue token of a compacted snapshot? */
		long long rev = etcd_call("kv/put", "{\"key\":\"dmstLWUyZS1wYWdlcw==\",\"value\":\"MA==\"}");
		char cbody[96];
		snprintf(cbody, sizeof cbody, "{\"revision\":\"%lld\",\"physical\":true}", rev);
		ok(rev > 0 && etcd_call("kv/compaction", cbody) > 0, "etcd compacted to revision %lld", rev);
		char *esc = vk_kube_escape(raw_cont);
		path = vk_asprintf("%s?limit=%d&fieldSelector=%s&continue=%s", cms, PAGE,
		                   "metadata.name%21%3Dkube-root-ca.crt", esc);
		free(esc);
		vk_kube_get(kube, path, on_raw_expired, NULL);
		free(path);
		break;
	}
	case 8:
		if (raw_expired_status != 410) {
			tap_skip(
				"this API server answers an old continue token (from its watch cache): no 410 to test");
			step = 10;
			next_step();
			break;
		}
		ok(true, "the API server answers a compacted continue token with 410");
		start_informer(&two, true);
		break;
	case 9:
		ok(two.compacted, "the second informer's list was compacted under it");
		is_int(vk_informer_len(two.inf), OBJECTS + 1, "after the expired token it listed again: all %d objects",
		       OBJECTS + 1);
		is_int(objects_seen(&two, 2), PAGE, "the first page's objects twice (before and after the restart)");
		is_int(objects_seen(&two, 1), OBJECTS - PAGE, "every other object once");
		is_int(two.deletes, 0, "nothing reported gone");
		/* fall through */
	case 10:
	case 11:
		path = vk_asprintf("/api/v1/namespaces/%s", ns);
		vk_kube_request(kube, "DELETE", path, NULL, NULL, on_deleted, NULL, NULL);
		free(path);
		break;
	}
}

static void on_watchdog(uv_timer_t *t)
{
	ok(false, "test timed out at step %d", step);
	step = 10;
	next_step();
}

int main(void)
{
	vk_json_init();
	const char *kc = getenv("VK_TEST_KUBECONFIG");
	if (!kc || !*kc) {
		printf("1..0 # SKIP VK_TEST_KUBECONFIG not set (start tests/cluster/up.sh DIR and point it at "
		       "DIR/admin.kubeconfig)\n");
		return 77;
	}
	etcd = getenv("VK_TEST_ETCD");
	snprintf(ns, sizeof ns, "vk-e2e-pages-%d", (int)getpid());
	snprintf(cms, sizeof cms, "/api/v1/namespaces/%s/configmaps", ns);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = uv_default_loop();
	http = vk_http_new(loop);
	vk_kubeconfig kconf;
	char *err = NULL;
	if (vk_kubeconfig_load(kc, NULL, &kconf, &err) < 0 || !(kube = vk_kube_new(loop, http, &kconf, &err))) {
		ok(false, "client for %s: %s", kc, err);
		return tap_done(), 1;
	}
	vk_kubeconfig_free(&kconf);
	uv_timer_init(loop, &watchdog);
	uv_timer_start(&watchdog, on_watchdog, 90000, 0);
	next_step();
	uv_run(loop, UV_RUN_DEFAULT);
	ok(finished, "all steps ran");
	uv_loop_close(loop);
	curl_global_cleanup();
	return tap_done();
}
