/* The pod informer: list + watch of the pods bound to this node.
 *
 * It keeps the API's view of each pod in pc->api and queues the key of
 * every pod that changes.  The watch resumes from the last resourceVersion
 * it saw (events and bookmarks); a 410 Gone, or a failed list, makes it list
 * again; failures reconnect with jittered backoff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

static void relist(vk_pods *pc);
static void watch(vk_pods *pc);

static char *selector(vk_pods *pc)
{
	char *sel = vk_asprintf("spec.nodeName=%s", pc->o.nodename);
	char *esc = vk_kube_escape(sel);
	free(sel);
	return esc;
}

static void set_rv(vk_pods *pc, const cJSON *obj)
{
	const char *rv = vk_json_str(obj, "metadata.resourceVersion");
	if (rv && *rv) {
		free(pc->rv);
		pc->rv = vk_strdup(rv);
	}
}

static void retry_tick(uv_timer_t *t)
{
	vk_pods *pc = t->data;
	if (pc->rv)
		watch(pc);
	else
		relist(pc);
}

static void reconnect_later(vk_pods *pc, const char *why)
{
	uint64_t d = vk_backoff_next(&pc->watch_backoff);
	pc->resuming = pc->rv != NULL;
	vk_warn(SUB, "pod watch: %s; reconnecting in %llu ms", why, (unsigned long long)d);
	uv_timer_start(&pc->watch_timer, retry_tick, d, 0);
}

/* ---- list ---------------------------------------------------------------- */

static void list_done(const vk_kube_result *r, void *ud)
{
	vk_pods *pc = ud;
	pc->inflight--;
	if (pc->closing)
		return;
	if (r->status != 200 || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r->json, "items"))) {
		reconnect_later(pc, r->error ? r->error : "list failed");
		return;
	}
	/* Replace the cache; queue what appeared, changed or disappeared. */
	vk_map *fresh = vk_map_new();
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r->json, "items"))
	{
		char *key = vk_pod_key(p);
		if (!key)
			continue;
		vk_map_set(fresh, key, cJSON_Duplicate(p, 1));
		vk_queue_add(pc->q, key);
		free(key);
	}
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(pc->api, &i, &k, &v);) {
		if (!vk_map_get(fresh, k))
			vk_queue_add(pc->q, k);
		cJSON_Delete(v);
	}
	vk_map_free(pc->api);
	pc->api = fresh;
	/* Pods the provider has that the API does not: sync deletes them. */
	for (vk_map_iter i = {0}; vk_map_next(pc->recs, &i, &k, &v);)
		if (!vk_map_get(pc->api, k))
			vk_queue_add(pc->q, k);
	set_rv(pc, r->json);
	vk_info(SUB, "listed %zu pods bound to %s (resourceVersion %s)", vk_map_len(pc->api), pc->o.nodename,
	        pc->rv ? pc->rv : "?");
	pc->synced = true;
	watch(pc);
}

static void relist(vk_pods *pc)
{
	free(pc->rv);
	pc->rv = NULL;
	char *sel = selector(pc);
	char *path = vk_asprintf("/api/v1/pods?fieldSelector=%s", sel);
	free(sel);
	pc->inflight++;
	if (vk_kube_get(pc->o.kube, path, list_done, pc) < 0) {
		pc->inflight--;
		reconnect_later(pc, "could not start the list");
	}
	free(path);
}

/* ---- watch --------------------------------------------------------------- */

static void on_event(const char *type, cJSON *obj, void *ud)
{
	vk_pods *pc = ud;
	if (pc->closing)
		return;
	if (strcmp(type, "BOOKMARK") == 0) {
		set_rv(pc, obj);
		return;
	}
	if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		if (cJSON_IsNumber(code) && code->valueint == 410) {
			vk_info(SUB, "pod watch: resourceVersion %s is too old (410 Gone); listing again",
			        pc->rv ? pc->rv : "?");
			free(pc->rv);
			pc->rv = NULL;
		} else {
			const char *msg = vk_json_str(obj, "message");
			vk_warn(SUB, "pod watch error: %s", msg ? msg : "unknown");
		}
		return;
	}
	char *key = vk_pod_key(obj);
	if (!key)
		return;
	set_rv(pc, obj);
	if (strcmp(type, "DELETED") == 0) {
		cJSON_Delete(vk_map_del(pc->api, key));
	} else {
		cJSON_Delete(vk_map_set(pc->api, key, cJSON_Duplicate(obj, 1)));
	}
	vk_queue_add(pc->q, key);
	free(key);
	vk_backoff_reset(&pc->watch_backoff);
}

static void on_close(long status, const char *err, void *ud)
{
	vk_pods *pc = ud;
	pc->watch = NULL;
	if (pc->closing)
		return;
	if (!pc->rv) {
		relist(pc);
		return;
	}
	if (status == 200 && !err) {
		watch(pc); /* the server's timeout: resume at once */
		return;
	}
	char why[256];
	snprintf(why, sizeof why, "stream ended (%ld %s)", status, err ? err : "");
	reconnect_later(pc, why);
}

static void watch(vk_pods *pc)
{
	if (pc->closing || pc->watch)
		return;
	if (!pc->rv) {
		relist(pc);
		return;
	}
	char *sel = selector(pc);
	/* A server-side timeout with jitter, so many nodes do not reconnect in step. */
	unsigned timeout = 300 + (unsigned)(random() % 300);
	char *path = vk_asprintf("/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=%u"
	                         "&resourceVersion=%s&fieldSelector=%s",
	                         timeout, pc->rv, sel);
	free(sel);
	if (pc->resuming)
		vk_info(SUB, "pod watch: resuming from resourceVersion %s", pc->rv);
	pc->resuming = false;
	if (vk_kube_watch_start(pc->o.kube, path, on_event, on_close, pc, &pc->watch) < 0)
		reconnect_later(pc, "could not start the watch");
	free(path);
}

void vk_pods_informer_start(vk_pods *pc) { relist(pc); }

void vk_pods_informer_stop(vk_pods *pc)
{
	if (pc->watch)
		vk_kube_watch_stop(pc->watch);
	pc->watch = NULL;
}
