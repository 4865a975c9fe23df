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
	pc->open_handles = 1;
	pc->persist = vk_pod__persist_new(pc);
	vk_provider_set_notify(o->provider, vk_pod__notify, pc);
	return pc;
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
	if (res->err) {
		vk_warn(SUB, "provider get_pods failed, starting without its list: %s",
		        res->errmsg ? res->errmsg : "error");
	}
	size_t n = 0;
	const cJSON *p, *list = cJSON_IsArray(res->value) ? res->value : NULL;
	cJSON_ArrayForEach(p, list) {
		/* A pod without a namespace cannot be one of the API's. */
		const char *ns = vk_json_str(p, "metadata.namespace");
		char *key = ns ? vk_kube_key(p) : NULL;
		if (!key)
			continue;
		if (pc->o.namespace_ && strcmp(ns, pc->o.namespace_) != 0) {
			free(key); /* another namespace's: not this vk's to keep or delete */
			continue;
		}
		pod_rec *r = vk_pod__rec(pc, key, vk_json_str(p, "metadata.uid"));
		r->created = true;
		/* A restart: the status the API last got from us is known again. */
		if (!r->last_status)
			r->last_status = vk_pod__persist_written(pc, key);
		cJSON_Delete(r->pod);
		r->pod = cJSON_Duplicate(p, 1);
		r->spec_sig = 0; /* taken from the API pod at its first sync */
		free(key);
		n++;
	}
	cJSON_Delete(res->value);
	vk_info(SUB, "the provider reports %zu pods", n);
	vk_pod__informer_start(pc);
	vk_pod__poll_start(pc);
}

static void get_pods(vk_pods *pc)
{
	pc->inflight++;
	int rc = vk_provider_get_pods(pc->o.provider, get_pods_done, pc);
	if (rc == 0)
		return;
	pc->inflight--;
	if (rc != -ENOSYS)
		vk_warn(SUB, "provider get_pods could not start: %s", strerror(-rc));
	vk_pod__informer_start(pc);
	vk_pod__poll_start(pc);
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
}
