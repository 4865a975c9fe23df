/* The Kubernetes client against a REAL kube-apiserver (tests/cluster/up.sh).
 *
 *   VK_TEST_KUBECONFIG=DIR/admin.kubeconfig [VK_TEST_NODE_KUBECONFIG=DIR/n1.kubeconfig] \
 *   [VK_TEST_ETCD=$ETCD from DIR/env] \
 *       build/tests/e2e/kube_client_test
 *
 * Without VK_TEST_KUBECONFIG it prints a TAP skip and exits 77.  The steps
 * run one after another on the loop (each callback starts the next), while
 * a watch on the test ConfigMap runs alongside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/kube/kube_int.h" /* vk_kube__easy, to check the HTTP version */
#include "../unit/tap.h"
#include "vk/json.h"
#include "vk/kube.h"
#include "vk/util.h"

#define NS "/api/v1/namespaces/default/configmaps"
#define CM "vk-e2e-cm"

static uv_loop_t *loop;
static vk_http *http;
static vk_kube *kube, *node_kube;
static uv_timer_t watchdog;
static int step;
static char rv[64];
static bool finished;
static char *sa_token;
static vk_kube *sa_kube, *bad_kube;

static void next_step(void);
static vk_kube *client_from(const char *path, vk_http *engine);

static const char *jget(const cJSON *j, const char *path)
{
	/* "a.b.c" -> string value or NULL */
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	const cJSON *cur = j;
	for (char *save = NULL, *p = strtok_r(buf, ".", &save); p && cur; p = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, p);
	return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

/* ---- the main watch on the test ConfigMap ------------------------------ */
static vk_kube_watch *cm_watch;
static vk_buf cm_events;
static bool saw_deleted, waiting_for_deleted;
static char last_rv[64];

static void cm_event(const char *type, cJSON *obj, void *ud)
{
	vk_buf_printf(&cm_events, "%s%s", cm_events.len ? "," : "", type);
	const char *v = jget(obj, "metadata.resourceVersion");
	if (v)
		snprintf(last_rv, sizeof last_rv, "%s", v);
	if (strcmp(type, "DELETED") == 0) {
		saw_deleted = true;
		if (waiting_for_deleted) {
			waiting_for_deleted = false;
			next_step();
		}
	}
}

static void cm_close(long status, const char *error, void *ud)
{
	ok(false, "configmap watch ended early (%ld %s)", status, error ? error : "");
	cm_watch = NULL;
}

/* ---- the 410 watch -------------------------------------------------------- */
static bool gone_seen;
static char gone_how[256];

static void old_event(const char *type, cJSON *obj, void *ud)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
	if (strcmp(type, "ERROR") == 0 && cJSON_IsNumber(code) && code->valueint == 410 && !gone_seen) {
		gone_seen = true;
		snprintf(gone_how, sizeof gone_how, "ERROR event, reason %s: %s",
		         jget(obj, "reason") ? jget(obj, "reason") : "-",
		         jget(obj, "message") ? jget(obj, "message") : "");
	}
}

static void old_close(long status, const char *error, void *ud)
{
	if (!gone_seen && status == 410) {
		gone_seen = true;
		snprintf(gone_how, sizeof gone_how, "HTTP 410: %s", error ? error : "");
	}
	ok(gone_seen, "watch from a compacted resourceVersion=1 gets 410 (%s)", gone_seen ? gone_how : "no 410 seen");
	next_step();
}

/* ---- a watch that the server ends (timeoutSeconds) ------------------------ */
static void quiet_event(const char *type, cJSON *obj, void *ud) {}

static void quiet_close(long status, const char *error, void *ud)
{
	ok(status == 200 && error == NULL, "watch ended by timeoutSeconds closes cleanly (%ld %s)", status,
	   error ? error : "no error");
	next_step();
}

/* ---- REST steps --------------------------------------------------------- */
static int parallel_left, parallel_ok;

static void on_parallel(const vk_kube_result *r, void *ud)
{
	parallel_ok += r->status == 200 && jget(r->json, "gitVersion");
	if (--parallel_left == 0) {
		is_int(parallel_ok, 50, "50 parallel GET /version all succeed");
		next_step();
	}
}

/* 50 GETs from a fresh engine, on raw easy handles to count connections:
 * with HTTP/2 multiplexing and PIPEWAIT they all share ONE connection. */
static int raw_left, raw_connects;
static vk_http *fresh_http;
static vk_kube *fresh_kube;

static void on_raw(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	long n = 0;
	curl_easy_getinfo(resp->easy, CURLINFO_NUM_CONNECTS, &n);
	raw_connects += (int)n;
	if (--raw_left == 0) {
		is_int(raw_connects, 1, "50 parallel requests from a cold start share 1 connection (%d)", raw_connects);
		vk_kube_free(fresh_kube);
		vk_http_close(fresh_http);
		next_step();
	}
}

static void on_h2(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	long v = 0;
	curl_easy_getinfo(resp->easy, CURLINFO_HTTP_VERSION, &v);
	ok(resp->status == 200 && v == CURL_HTTP_VERSION_2_0, "the API server is spoken to over HTTP/2 (%ld)", v);
	next_step();
}

/* ---- bulk: 100 creates and a delete-collection under one watch ----------- */
#define BULK 100
#define BULK_SEL "labelSelector=vk-e2e%3Dbulk"
static vk_kube_watch *bulk_watch;
static int bulk_added, bulk_deleted, bulk_created, bulk_posted;
static bool bulk_deleting;
static int bulk_resumes;
static bool bulk_delete_answered, bulk_done;
static char bulk_rv[64];

static void bulk_check(void)
{
	if (bulk_done)
		return;
	if (!bulk_deleting && bulk_posted == BULK && bulk_added == BULK) {
		ok(bulk_created == BULK, "%d parallel creates succeeded", bulk_created);
		ok(true, "the watch saw all %d ADDED events", BULK);
		bulk_deleting = true;
		next_step();
	} else if (bulk_deleting && bulk_delete_answered && bulk_deleted == BULK) {
		ok(true, "the watch saw all %d DELETED events of the delete-collection", BULK);
		if (bulk_resumes)
			printf("# the API server ended the bulk watch %d time(s); resumed from the last "
			       "resourceVersion without losing an event\n",
			       bulk_resumes);
		vk_kube_watch_stop(bulk_watch);
		bulk_watch = NULL;
		bulk_done = true;
		next_step();
	}
}

static void bulk_event(const char *type, cJSON *obj, void *ud)
{
	bulk_added += strcmp(type, "ADDED") == 0;
	bulk_deleted += strcmp(type, "DELETED") == 0;
	const char *v = jget(obj, "metadata.resourceVersion");
	if (v)
		snprintf(bulk_rv, sizeof bulk_rv, "%s", v);
	if (strcmp(type, "ERROR") == 0) {
		char *txt = cJSON_PrintUnformatted(obj);
		printf("# bulk watch ERROR event: %s\n", txt);
		free(txt);
	}
	bulk_check();
}

/* The API server may end a watch cleanly at any time, e.g. when its watch
 * cache finds the watcher "unresponsive" on this loaded 2-core machine.
 * As an informer does, resume from the last resourceVersion seen. */
static void bulk_close(long status, const char *error, void *ud)
{
	bulk_watch = NULL;
	if (status != 200 || error || ++bulk_resumes > 20) {
		ok(false, "bulk watch failed (%ld %s) after %d ADDED, %d resumes", status, error ? error : "",
		   bulk_added, bulk_resumes);
		return;
	}
	char *path = vk_asprintf("%s?%s&resourceVersion=%s", NS, BULK_SEL, bulk_rv);
	if (vk_kube_watch_start(kube, path, bulk_event, bulk_close, NULL, &bulk_watch) < 0)
		ok(false, "bulk watch could not resume");
	free(path);
}

static void on_bulk_post(const vk_kube_result *r, void *ud)
{
	bulk_posted++;
	bulk_created += r->status == 201;
	bulk_check();
}

/* etcd compaction through its HTTP gateway, so that old resourceVersions
 * really are gone (a fresh cluster has compacted nothing yet). */
static void on_compacted(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	ok(resp->status == 200, "etcd compacted up to revision %s (%ld %s)", last_rv, resp->status,
	   resp->error ? resp->error : "");
	next_step();
}

static int compact_etcd(const char *etcd)
{
	CURL *e = curl_easy_init();
	char *url = vk_asprintf("%s/v3/kv/compaction", etcd);
	char *body = vk_asprintf("{\"revision\":\"%s\",\"physical\":true}", last_rv);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	free(url);
	free(body);
	vk_http_opts o = {.on_done = on_compacted};
	return vk_http_start(http, e, curl_slist_append(NULL, "Content-Type: application/json"), &o, NULL);
}

static void on_result(const vk_kube_result *r, void *ud)
{
	switch (step) {
	case 1:
		ok(r->status == 200 && jget(r->json, "gitVersion"), "GET /version: %s",
		   jget(r->json, "gitVersion") ? jget(r->json, "gitVersion")
		   : r->error                  ? r->error
		                               : "?");
		break;
	case 3: {
		const char *v = jget(r->json, "metadata.resourceVersion");
		ok(r->status == 200 && v, "LIST configmaps gives a resourceVersion (%s)", v ? v : "none");
		snprintf(rv, sizeof rv, "%s", v ? v : "0");
		break;
	}
	case 4: is_int(r->status, 201, "POST creates the ConfigMap (%s)", r->error ? r->error : "ok"); break;
	case 5:
		ok(r->status == 409 && tap_streq(r->reason, "AlreadyExists"), "second POST: 409 AlreadyExists (%s)",
		   r->error ? r->error : "");
		break;
	case 6: ok(r->status == 200 && tap_streq(jget(r->json, "data.k"), "v1"), "GET returns it with its data"); break;
	case 7:
		ok(r->status == 200 && tap_streq(jget(r->json, "data.k"), "v2"), "merge PATCH updates it (%s)",
		   r->error ? r->error : "ok");
		break;
	case 8: is_int(r->status, 200, "DELETE removes it"); break;
	case 9:
		ok(r->status == 404 && tap_streq(r->reason, "NotFound") && r->error && strstr(r->error, CM),
		   "GET after delete: 404, reason NotFound, message \"%s\"", r->error ? r->error : "");
		break;
	case 15:
		ok(r->status == 403 && tap_streq(r->reason, "Forbidden"),
		   "node identity (client certificate) may not list all secrets: %ld %s", r->status,
		   r->error ? r->error : "");
		break;
	case 16: {
		const char *t = jget(r->json, "status.token");
		ok(r->status == 201 && t, "TokenRequest for the default service account (%s)",
		   r->error ? r->error : "ok");
		sa_token = vk_strdup(t);
		break;
	}
	case 17:
		ok(r->status == 403 && r->error && strstr(r->error, "system:serviceaccount:default:default"),
		   "in-cluster config (service account dir) authenticates with its token: %ld %s", r->status,
		   r->error ? r->error : "");
		break;
	case 18:
		ok(r->status == 401 && tap_streq(r->reason, "Unauthorized"),
		   "a bad token gets 401 Unauthorized (%ld %s)", r->status, r->reason ? r->reason : "");
		break;
	case 20: {
		const char *v = jget(r->json, "metadata.resourceVersion");
		snprintf(rv, sizeof rv, "%s", v ? v : "0");
		break;
	}
	case 22:
		ok(r->status == 200, "DELETE collection by label selector (%ld %s)", r->status,
		   r->error ? r->error : "");
		bulk_delete_answered = true;
		bulk_check(); /* moves on once the DELETED events are in too */
		return;
	}
	next_step();
}

/* Writes a service account folder (token, ca.crt, namespace) and loads it
 * the way vk does inside a pod. */
static vk_kube *in_cluster_client(const char *token)
{
	char dir[] = "/tmp/vk-e2e-sa-XXXXXX";
	if (!mkdtemp(dir))
		return NULL;
	vk_kubeconfig admin, kc;
	char *err = NULL;
	vk_kubeconfig_load(getenv("VK_TEST_KUBECONFIG"), NULL, &admin, &err);
	const char *files[][2] = {{"token", token}, {"ca.crt", admin.ca_pem}, {"namespace", "default"}};
	for (size_t i = 0; i < VK_ARRAY_LEN(files); i++) {
		char *p = vk_asprintf("%s/%s", dir, files[i][0]);
		FILE *f = fopen(p, "w");
		fputs(files[i][1] ? files[i][1] : "", f);
		fclose(f);
		free(p);
	}
	/* server is https://127.0.0.1:PORT */
	const char *port = strrchr(admin.server, ':') + 1;
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	setenv("VK_SERVICE_ACCOUNT_DIR", dir, 1);
	vk_kube *k = NULL;
	if (vk_kubeconfig_load(NULL, NULL, &kc, &err) == 0) {
		k = vk_kube_new(loop, http, &kc, &err);
		vk_kubeconfig_free(&kc);
	} else {
		ok(false, "in-cluster load: %s", err);
	}
	free(err);
	vk_kubeconfig_free(&admin);
	char *cmd = vk_asprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(cmd);
	return k;
}

static void finish(void)
{
	finished = true;
	if (cm_watch)
		vk_kube_watch_stop(cm_watch);
	if (bulk_watch)
		vk_kube_watch_stop(bulk_watch);
	vk_kube_free(kube);
	vk_kube_free(node_kube);
	vk_kube_free(sa_kube);
	vk_kube_free(bad_kube);
	free(sa_token);
	vk_http_close(http);
	uv_close((uv_handle_t *)&watchdog, NULL);
}

static void next_step(void)
{
	step++;
	int rc = 0;
	switch (step) {
	case 1: rc = vk_kube_get(kube, "/version", on_result, NULL); break;
	case 2: {
		struct curl_slist *h = NULL;
		CURL *e = vk_kube__easy(kube, "GET", "/version", NULL, false, &h);
		vk_http_opts o = {.on_done = on_h2};
		rc = vk_http_start(http, e, h, &o, NULL);
		break;
	}
	case 3: rc = vk_kube_get(kube, NS "?limit=1", on_result, NULL); break;
	case 4: {
		char *path = vk_asprintf(NS "?resourceVersion=%s&fieldSelector=metadata.name%%3D" CM, rv);
		rc = vk_kube_watch_start(kube, path, cm_event, cm_close, NULL, &cm_watch);
		free(path);
		ok(rc == 0, "watch on the ConfigMap started");
		cJSON *cm = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		                        "\"metadata\":{\"name\":\"" CM "\"},\"data\":{\"k\":\"v1\"}}");
		rc = vk_kube_send_json(kube, "POST", NS, NULL, cm, on_result, NULL);
		cJSON_Delete(cm);
		break;
	}
	case 5:
		rc = vk_kube_request(kube, "POST", NS, NULL,
		                     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" CM
		                     "\"}}",
		                     on_result, NULL, NULL);
		break;
	case 6: rc = vk_kube_get(kube, NS "/" CM, on_result, NULL); break;
	case 7:
		rc = vk_kube_request(kube, "PATCH", NS "/" CM, "application/merge-patch+json",
		                     "{\"data\":{\"k\":\"v2\"}}", on_result, NULL, NULL);
		break;
	case 8: rc = vk_kube_request(kube, "DELETE", NS "/" CM, NULL, NULL, on_result, NULL, NULL); break;
	case 9: rc = vk_kube_get(kube, NS "/" CM, on_result, NULL); break;
	case 10:
		if (!saw_deleted) {
			waiting_for_deleted = true; /* cm_event calls next_step again */
			step--;
			return;
		}
		is_str(cm_events.data, "ADDED,MODIFIED,DELETED", "the watch saw ADDED, MODIFIED, DELETED in order");
		vk_kube_watch_stop(cm_watch);
		cm_watch = NULL;
		if (getenv("VK_TEST_ETCD") && *getenv("VK_TEST_ETCD")) {
			rc = compact_etcd(getenv("VK_TEST_ETCD"));
			break;
		}
		tap_skip("VK_TEST_ETCD not set: no compaction, resourceVersion=1 may still be valid");
		next_step();
		return;
	case 11:
		/* Events bypass the API server's watch cache, so after the compaction
		 * resourceVersion=1 really is gone in etcd.  (ConfigMaps are served
		 * from the watch cache, whose window on a fresh cluster still
		 * covers resourceVersion=1: no 410 there.) */
		rc = vk_kube_watch_start(kube, "/api/v1/namespaces/default/events?resourceVersion=1&timeoutSeconds=5",
		                         old_event, old_close, NULL, NULL);
		break;
	case 12:
		rc = vk_kube_watch_start(kube, NS "?fieldSelector=metadata.name%3Dnothing-here&timeoutSeconds=1",
		                         quiet_event, quiet_close, NULL, NULL);
		break;
	case 13:
		parallel_left = 50;
		for (int i = 0; i < 50 && rc == 0; i++)
			rc = vk_kube_get(kube, "/version", on_parallel, NULL);
		break;
	case 14:
		raw_left = 50;
		fresh_http = vk_http_new(loop);
		fresh_kube = client_from(getenv("VK_TEST_KUBECONFIG"), fresh_http);
		for (int i = 0; i < 50 && rc == 0; i++) {
			struct curl_slist *h = NULL;
			CURL *e = vk_kube__easy(fresh_kube, "GET", "/version", NULL, false, &h);
			vk_http_opts o = {.on_done = on_raw};
			rc = vk_http_start(fresh_http, e, h, &o, NULL);
		}
		break;
	case 15:
		if (node_kube) {
			rc = vk_kube_get(node_kube, "/api/v1/secrets", on_result, NULL);
			break;
		}
		tap_skip("VK_TEST_NODE_KUBECONFIG not set: node identity not checked");
		next_step();
		return;
	case 16:
		rc = vk_kube_request(kube, "POST", "/api/v1/namespaces/default/serviceaccounts/default/token", NULL,
		                     "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
		                     "\"spec\":{\"expirationSeconds\":600}}",
		                     on_result, NULL, NULL);
		break;
	case 17:
		sa_kube = sa_token ? in_cluster_client(sa_token) : NULL;
		rc = sa_kube ? vk_kube_get(sa_kube, NS, on_result, NULL) : -1;
		break;
	case 18:
		bad_kube = in_cluster_client("not-a-valid-token");
		rc = bad_kube ? vk_kube_get(bad_kube, NS, on_result, NULL) : -1;
		break;
	case 19: /* leftovers of an interrupted run */
		rc = vk_kube_request(kube, "DELETE", NS "?" BULK_SEL, NULL, NULL, on_result, NULL, NULL);
		break;
	case 20: rc = vk_kube_get(kube, NS "?" BULK_SEL, on_result, NULL); break;
	case 21: {
		snprintf(bulk_rv, sizeof bulk_rv, "%s", rv);
		char *path = vk_asprintf("%s?%s&resourceVersion=%s", NS, BULK_SEL, rv);
		rc = vk_kube_watch_start(kube, path, bulk_event, bulk_close, NULL, &bulk_watch);
		free(path);
		for (int i = 0; i < BULK && rc == 0; i++) {
			char *body = vk_asprintf(
				"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
				"\"vk-bulk-%d\",\"labels\":{\"vk-e2e\":\"bulk\"}},\"data\":{\"i\":\"%d\"}}",
				i, i);
			rc = vk_kube_request(kube, "POST", NS, NULL, body, on_bulk_post, NULL, NULL);
			free(body);
		}
		break;
	}
	case 22: rc = vk_kube_request(kube, "DELETE", NS "?" BULK_SEL, NULL, NULL, on_result, NULL, NULL); break;
	default: finish(); return;
	}
	if (rc < 0) {
		ok(false, "step %d could not start: %d", step, rc);
		finish();
	}
}

static void on_watchdog(uv_timer_t *t)
{
	ok(false, "test timed out at step %d", step);
	finish();
}

static vk_kube *client_from(const char *path, vk_http *engine)
{
	vk_kubeconfig kc;
	char *err = NULL;
	if (vk_kubeconfig_load(path, NULL, &kc, &err) < 0) {
		ok(false, "load %s: %s", path, err);
		free(err);
		return NULL;
	}
	vk_kube *k = vk_kube_new(loop, engine, &kc, &err);
	if (!k) {
		ok(false, "client for %s: %s", path, err);
		free(err);
	}
	vk_kubeconfig_free(&kc);
	return k;
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
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = uv_default_loop();
	http = vk_http_new(loop);
	kube = client_from(kc, http);
	const char *nkc = getenv("VK_TEST_NODE_KUBECONFIG");
	if (nkc && *nkc)
		node_kube = client_from(nkc, http);
	if (!kube)
		return tap_done(), 1;
	uv_timer_init(loop, &watchdog);
	uv_timer_start(&watchdog, on_watchdog, 60000, 0);
	next_step();
	uv_run(loop, UV_RUN_DEFAULT);
	ok(finished, "all steps ran");
	vk_buf_free(&cm_events);
	uv_loop_close(loop);
	curl_global_cleanup();
	return tap_done();
}
