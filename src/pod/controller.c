/* The pod controller's life cycle: start-up reconcile with the provider,
 * then the informer, the work queue and the status poll. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

vk_pods *vk_pods_new(const vk_pod_opts *o)
{
	vk_pods *pc = vk_xcalloc(1, sizeof *pc);
	pc->o = *o;
	if (!pc->o.status_poll_ms)
		pc->o.status_poll_ms = 5000;
	if (!pc->o.workers)
		pc->o.workers = 64;
	pc->recs = vk_map_new();
	vk_list_init(&pc->writes);
	vk_list_init(&pc->deletes);
	vk_list_init(&pc->barriers);
	pc->creating = vk_map_new();
	pc->create_since = vk_map_new();
	pc->q = vk_queue_new(o->loop, pc->o.workers, vk_pod__sync, pc);
	pc->sq = vk_pod__status_queue(pc);
	pc->pq = vk_pod__poll_queue(pc);
	uv_timer_init(o->loop, &pc->poll_timer);
	pc->poll_timer.data = pc;
	uv_timer_init(o->loop, &pc->list_timer);
	pc->list_timer.data = pc;
	pc->open_handles = 2;
	pc->persist = vk_pod__persist_new(pc);
	vk_provider_set_notify(o->provider, vk_pod__notify, pc);
	return pc;
}

#define LIST_RETRY_FIRST_MS 1000
#define LIST_RETRY_MAX_MS 30000

/* One pod of the provider's list.  At start-up every one is taken (the
 * informer has not started: it syncs them all).  An answer that comes late,
 * after a get_pods that failed, only adds what the core does not know yet
 * and syncs it at once when the API's word on it is in: a pod the API no
 * longer has is deleted from the provider, one it has is adopted.  Other
 * pods of that name (another uid) are left to their syncs. */
static void take_listed(vk_pods *pc, const cJSON *p, bool late)
{
	/* A pod without a namespace cannot be one of the API's. */
	const char *ns = vk_json_str(p, "metadata.namespace");
	const char *uid = vk_json_str(p, "metadata.uid");
	char *key = ns ? vk_kube_key(p) : NULL;
	if (!key)
		return;
	if (pc->o.namespace_ && strcmp(ns, pc->o.namespace_) != 0) {
		free(key); /* another namespace's: not this vk's to keep or delete */
		return;
	}
	pod_rec *r = vk_map_get(pc->recs, key);
	if (late && r && (r->created || strcmp(r->uid, uid ? uid : "") != 0)) {
		free(key);
		return;
	}
	r = vk_pod__rec(pc, key, uid);
	r->created = true;
	/* A restart: the status the API last got from us is known again. */
	if (!r->last_status)
		r->last_status = vk_pod__persist_written(pc, key);
	cJSON_Delete(r->pod);
	r->pod = cJSON_Duplicate(p, 1);
	r->spec_sig = 0; /* taken from the API pod at its first sync */
	if (late && (vk_informer_synced(pc->inf) || vk_informer_has(pc->inf, key)))
		vk_queue_add(pc->q, key);
	free(key);
}

static void get_pods(vk_pods *pc);

static void list_again(uv_timer_t *t)
{
	vk_pods *pc = t->data;
	if (!pc->closing)
		get_pods(pc);
}

static void start_syncing(vk_pods *pc)
{
	if (pc->inf)
		return;
	vk_pod__informer_start(pc);
	vk_pod__poll_start(pc);
}

/* Until the provider has answered get_pods, the core cannot tell a pod the
 * provider lacks from one it runs unknown to the core (created by a vk
 * killed before it knew): the call is made again (1 s doubling to 30 s),
 * and meanwhile no pod is created (a second create_pod could make a second
 * cloud instance) and a pod deleted in the API goes through delete_pod
 * even when the core never created it (decide.c). */
static void list_failed(vk_pods *pc, const char *why)
{
	pc->list_retry_ms = pc->list_retry_ms ? pc->list_retry_ms * 2 : LIST_RETRY_FIRST_MS;
	if (pc->list_retry_ms > LIST_RETRY_MAX_MS)
		pc->list_retry_ms = LIST_RETRY_MAX_MS;
	vk_warn(SUB, "provider get_pods failed (pods are created once it answers); asking again in %llu s: %s",
	        (unsigned long long)(pc->list_retry_ms / 1000), why);
	uv_timer_start(&pc->list_timer, list_again, pc->list_retry_ms, 0);
	start_syncing(pc);
}

/* The provider's own list: what it runs already is not created again, and
 * what the API no longer has is deleted once the first list is in. */
static void get_pods_done(const vk_provider_result *res, void *ud)
{
	vk_pods *pc = ud;
	pc->inflight--;
	if (pc->closing) {
		cJSON_Delete(res->value);
		return;
	}
	const cJSON *p, *list = cJSON_IsArray(res->value) ? res->value : NULL;
	if (res->err || !list) {
		list_failed(pc, res->err ? (res->errmsg ? res->errmsg : "error") : "it returned no list");
		cJSON_Delete(res->value);
		return;
	}
	bool late = pc->inf != NULL;
	size_t n = 0;
	cJSON_ArrayForEach(p, list) {
		take_listed(pc, p, late);
		n++;
	}
	cJSON_Delete(res->value);
	pc->provider_listed = true;
	pc->list_retry_ms = 0;
	vk_info(SUB, "the provider reports %zu pods", n);
	if (late) { /* the creates held back go now */
		const char *k;
		for (vk_map_iter i = {0}; vk_informer_next(pc->inf, &i, &k);)
			vk_queue_add(pc->q, k);
	}
	start_syncing(pc);
}

static void get_pods(vk_pods *pc)
{
	pc->inflight++;
	int rc = vk_provider_get_pods(pc->o.provider, get_pods_done, pc);
	if (rc == 0)
		return;
	pc->inflight--;
	if (rc != -ENOSYS) {
		list_failed(pc, strerror(-rc));
		return;
	}
	/* A provider without get_pods: what the core created is all there is. */
	pc->provider_listed = true;
	start_syncing(pc);
}

static void store_loaded(vk_pods *pc)
{
	pc->inflight--;
	if (!pc->closing)
		get_pods(pc);
}

int vk_pods_start(vk_pods *pc)
{
	vk_kube_link_listen(pc->o.kube, vk_pod__on_link, pc);
	if (pc->persist) {
		pc->inflight++;
		if (vk_pod__persist_load(pc, store_loaded) == 0)
			return 0;
		pc->inflight--;
		vk_warn(SUB, "the store could not be read: starting from the API only");
	}
	get_pods(pc);
	return 0;
}

void vk_pods_checkpoint(vk_pods *pc)
{
	if (pc)
		vk_pod__persist_checkpoint(pc->persist);
}

void vk_pods_resync(vk_pods *pc)
{
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(pc->recs, &i, &k, &v);) {
		pod_rec *r = v;
		if (!r->created)
			continue;
		/* A read in flight may run on the version a hot reload has just
		 * replaced: the poll queue asks once more when it is back. */
		vk_pod__fetch_status(pc, r);
	}
}

static void closed(uv_handle_t *h)
{
	vk_pods *pc = h->data;
	if (--pc->open_handles > 0)
		return;
	const char *k;
	void *v;
	/* vk is stopping, not letting its pods go: the Event correlator goes
	 * with the kube client, which may be freed already. */
	pc->o.kube = NULL;
	for (vk_map_iter i = {0}; vk_map_next(pc->recs, &i, &k, &v);)
		vk_pod__rec_free(pc, v);
	vk_map_free(pc->recs);
	for (vk_map_iter i = {0}; vk_map_next(pc->creating, &i, &k, &v);)
		free(v);
	vk_map_free(pc->creating);
	vk_pod__create_since_free(pc);
	free(pc);
}

/* Stops watching and syncing.  No pod is deleted: on restart the provider's
 * get_pods and the API's list meet again.  Callbacks still in flight see
 * `closing` and only free what they hold; the owner closes the provider and
 * the kube client (which cancel them) before running the loop again. */
void vk_pods_close(vk_pods *pc)
{
	if (!pc || pc->closing)
		return;
	pc->closing = true;
	vk_pod__writes_cancel(pc);
	vk_pod__deletes_cancel(pc);
	vk_pod__barriers_cancel(pc);
	vk_pod__persist_close(pc->persist);
	pc->persist = NULL;
	vk_kube_link_unlisten(pc->o.kube, vk_pod__on_link, pc);
	vk_provider_set_notify(pc->o.provider, NULL, NULL);
	vk_pod__informer_stop(pc);
	vk_queue_close(pc->q);
	vk_queue_close(pc->sq);
	vk_queue_close(pc->pq);
	uv_close((uv_handle_t *)&pc->poll_timer, closed);
	uv_close((uv_handle_t *)&pc->list_timer, closed);
}
