/* Pod status: from the provider (vk.notify pushes, get_pod_status polls)
 * to the API server.  A status is written only when it says something the
 * API does not already hold, and at most one write per pod is in flight: a
 * newer status waits for it and supersedes anything older. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

/* Fields kubelet always reports that a provider may leave out. */
static void fill_defaults(vk_pods *pc, pod_rec *r, cJSON *st)
{
	const char *host_ip = pc->o.node ? vk_node_internal_ip(pc->o.node) : NULL;
	if (host_ip && !cJSON_GetObjectItemCaseSensitive(st, "hostIP")) {
		cJSON_AddStringToObject(st, "hostIP", host_ip);
		cJSON *ips = cJSON_AddArrayToObject(st, "hostIPs");
		cJSON *ip = cJSON_CreateObject();
		cJSON_AddStringToObject(ip, "ip", host_ip);
		cJSON_AddItemToArray(ips, ip);
	}
	const char *pod_ip = vk_json_str(st, "podIP");
	if (pod_ip && *pod_ip && !cJSON_GetObjectItemCaseSensitive(st, "podIPs")) {
		cJSON *ips = cJSON_AddArrayToObject(st, "podIPs");
		cJSON *ip = cJSON_CreateObject();
		cJSON_AddStringToObject(ip, "ip", pod_ip);
		cJSON_AddItemToArray(ips, ip);
	}
	(void)r;
}

/* Status writes run through a queue of their own (pc->sq): one per pod at a
 * time, a newer status superseding a waiting one, and a bounded number in
 * flight, so that a burst of pods does not open a transfer (and its
 * buffers) for each of them at once. */
#define STATUS_WRITES_IN_FLIGHT 64

typedef struct {
	vk_pods *pc;
	char *key;
	char *uid;
	pod_text *text; /* what is being written (a holder of the request's block):
	                   waits again if the link fails, kept in the store once written */
} write_job;

static void write_done(long status, const char *error, void *ud)
{
	write_job *w = ud;
	vk_pods *pc = w->pc;
	pc->inflight--;
	pod_rec *r = pc->closing ? NULL : vk_map_get(pc->recs, w->key);
	bool retry = false;
	if (r && strcmp(r->uid, w->uid) == 0) {
		if (status == 200) {
			r->status_fault = 0;
			vk_pod__slot_written(r, w->text);
			vk_pod__persist_status(pc, w->key, true, w->text->s);
		} else if (status == 0) {
			/* No answer: the status waits (unless a newer one does already)
			 * and goes out when the link is back (vk_pod__on_link), or after
			 * a backoff if the link is up and only this call failed. */
			vk_pod__slot_unanswered(r, w->text);
			w->text = NULL;
			retry = vk_kube_link_up(pc->o.kube);
			vk_debug(SUB, "%s: status update failed, kept for later: %s", w->key, error ? error : "");
		} else if (status != 404) {
			vk_pod__status_fault(pc, w->key, "FailedStatusUpdate",
			                     "the API server refused the status: %ld %s", status, error ? error : "");
		}
	}
	if (!pc->closing)
		vk_queue_done(pc->sq, w->key, retry, 5000);
	free(w->key);
	free(w->uid);
	vk_pod__text_unref(w->text);
	free(w);
}

/* The status queue's worker: writes the pod's newest status, unless the API
 * already says all of it. */
static void status_work(vk_queue *q, const char *key, void *ud)
{
	vk_pods *pc = ud;
	pod_rec *r = vk_map_get(pc->recs, key);
	/* While the API server is unreachable the newest status waits in
	 * status_next (a newer one replaces it) for vk_pod__on_link. */
	if (!r || !r->status_next || !vk_kube_link_up(pc->o.kube)) {
		vk_queue_done(q, key, false, 0);
		return;
	}
	pod_text *text = vk_pod__slot_take(r);
	uint64_t hash = text->hash; /* remembered by hash, not text */
	bool known = hash == r->last_status;
	cJSON *api = known ? NULL : vk_pod__api(pc, r->key);
	bool wanted = true;
	if (!known) {
		vk_pod_status_verdict v = vk_pod__status_verdict(text->s, api);
		known = v == VK_POD_STATUS_KNOWN;
		wanted = v != VK_POD_STATUS_UNWANTED;
	}
	if (known || !wanted) {
		if (known)
			r->last_status = hash;
		cJSON_Delete(api);
		vk_pod__text_unref(text);
		vk_queue_done(q, key, false, 0);
		return;
	}
	/* The uid makes it a precondition: a pod re-created under the same name
	 * does not get the old one's status. */
	write_job *w = vk_xcalloc(1, sizeof *w);
	w->pc = pc;
	w->key = vk_strdup(r->key);
	w->uid = vk_strdup(r->uid);
	w->text = text;
	pc->inflight++;
	if (vk_pod__write_status(pc, r->key, r->uid, api, vk_pod__text_ref(text), write_done, w) < 0) {
		pc->inflight--;
		free(w->key);
		free(w->uid);
		vk_pod__text_unref(w->text);
		free(w);
		vk_queue_done(q, key, true, 5000);
	}
}

void vk_pod__on_link(bool up, void *ud)
{
	vk_pods *pc = ud;
	if (!up || pc->closing)
		return;
	pc->relinked_ms = vk_now_ms();
	size_t n = 0;
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(pc->recs, &i, &k, &v);) {
		pod_rec *r = v;
		/* What we wrote last may not be what the API holds any more. */
		r->last_status = 0;
		if (r->status_next) {
			vk_queue_add(pc->sq, r->key);
			n++;
		} else if (r->created) {
			vk_pod__fetch_status(pc, r);
		}
	}
	if (n)
		vk_info(SUB, "the API server is back: writing %zu pod status(es) kept meanwhile", n);
}

void vk_pod__recheck(vk_pods *pc, const char *key)
{
	if (!pc->relinked_ms || vk_now_ms() - pc->relinked_ms > VK_POD_RECHECK_MS)
		return;
	pod_rec *r = vk_map_get(pc->recs, key);
	if (!r || !r->created || r->deleted)
		return;
	/* The writer compares with the API's copy and writes only a difference. */
	r->last_status = 0;
	vk_pod__fetch_status(pc, r);
}

vk_queue *vk_pod__status_queue(vk_pods *pc)
{
	return vk_queue_new(pc->o.loop, STATUS_WRITES_IN_FLIGHT, status_work, pc);
}

/* Takes st: it replaces any status still waiting for this pod, which waits
 * as compact text (a fifth of its tree; while the API server lags every
 * pod may have one waiting), held once (status_text.c). */
static void write_status(vk_pods *pc, pod_rec *r, cJSON *st)
{
	fill_defaults(pc, r, st);
	char *printed = cJSON_PrintUnformatted(st);
	cJSON_Delete(st);
	size_t len = printed ? strlen(printed) : 0;
	if (len > VK_POD_STATUS_MAX) {
		vk_pod__status_fault(pc, r->key, "ProviderStatusTooLarge",
		                     "the provider's status is %zu bytes, over the %d-byte limit: not written", len,
		                     VK_POD_STATUS_MAX);
		free(printed);
		vk_pod__slot_clear(r);
		return;
	}
	pod_text *t = vk_pod__text_take(printed);
	if (!t) {
		vk_pod__slot_clear(r);
		return;
	}
	if (vk_pod__slot_drop_if_known(r, t))
		return; /* what the API was given last: nothing to queue or keep */
	/* The edge cache keeps the provider's latest status when it changes,
	 * and /pods shows it until it is written. */
	bool keep = pc->persist && t->hash != r->kept_status && t->hash != r->last_status;
	if (keep) {
		r->kept_status = t->hash;
		vk_pod__persist_status(pc, r->key, false, t->s);
	}
	vk_pod__slot_offer(r, t, keep);
	vk_queue_add(pc->sq, r->key);
}

void vk_pod__status_from_provider(vk_pods *pc, const char *key, cJSON *st)
{
	pod_rec *r = vk_map_get(pc->recs, key);
	/* Only pods the provider has.  Whether the API still wants a status
	 * (the pod is there and not being deleted) the writer decides, and only
	 * for a status that differs from the last one written: a poll that
	 * finds nothing new reads no pod from the informer. */
	if (!cJSON_IsObject(st)) {
		if (st && r && r->created)
			vk_pod__status_fault(pc, key, "ProviderStatusInvalid",
			                     "the provider's status is %s, not an object",
			                     cJSON_IsNumber(st)   ? "a number"
			                     : cJSON_IsString(st) ? "a string"
			                     : cJSON_IsArray(st)  ? "an array"
			                     : cJSON_IsBool(st)   ? "a boolean"
			                                          : "null");
		cJSON_Delete(st);
		return;
	}
	if ((!r || !r->created) && vk_map_get(pc->creating, key)) {
		/* create_pod has not returned: the newest push waits for it */
		free(vk_map_set(pc->creating, key, cJSON_PrintUnformatted(st)));
		cJSON_Delete(st);
		return;
	}
	if (!r || !r->created) {
		cJSON_Delete(st);
		return;
	}
	write_status(pc, r, st);
}

/* vk.notify(pod) or vk.notify{namespace=, name=, status=}. */
void vk_pod__notify(cJSON *v, void *ud)
{
	vk_pods *pc = ud;
	const char *ns = vk_json_str(v, "metadata.namespace");
	const char *name = vk_json_str(v, "metadata.name");
	if (!ns || !name) {
		ns = vk_json_str(v, "namespace");
		name = vk_json_str(v, "name");
	}
	cJSON *st = cJSON_DetachItemFromObjectCaseSensitive(v, "status");
	if (!ns || !name || !st) {
		vk_warn(SUB, "vk.notify: expected a pod or {namespace=, name=, status=}");
		cJSON_Delete(st);
		cJSON_Delete(v);
		return;
	}
	char *key = vk_asprintf("%s/%s", ns, name);
	cJSON_Delete(v);
	if (!pc->closing)
		vk_pod__status_from_provider(pc, key, st);
	else
		cJSON_Delete(st);
	free(key);
}

/* ---- polling --------------------------------------------------------------- */

typedef struct {
	vk_pods *pc;
	char *key, *uid;
} poll_job;

static void poll_done(const vk_provider_result *res, void *ud)
{
	poll_job *p = ud;
	vk_pods *pc = p->pc;
	pc->inflight--;
	pod_rec *r = pc->closing ? NULL : vk_map_get(pc->recs, p->key);
	/* The pod may have been replaced by one of the same name meanwhile:
	 * this answer was about the old one. */
	if (r && strcmp(r->uid, p->uid) != 0)
		r = NULL;
	if (res->err && res->err != -ECANCELED && r) {
		const char *m = res->errmsg ? res->errmsg : "error";
		vk_pod__status_fault(pc, p->key, "ProviderStatusFailed", "get_pod_status failed: %.*s",
		                     (int)strcspn(m, "\n"), m);
	}
	if (r && !res->err && res->value)
		vk_pod__status_from_provider(pc, p->key, res->value);
	else
		cJSON_Delete(res->value);
	/* A read asked for meanwhile (a hot reload's resync) runs after this. */
	if (!pc->closing)
		vk_queue_done(pc->pq, p->key, false, 0);
	free(p->key);
	free(p->uid);
	free(p);
}

/* The poll queue's worker: one get_pod_status, a few pods at a time. */
static void poll_work(vk_queue *q, const char *key, void *ud)
{
	vk_pods *pc = ud;
	pod_rec *r = vk_map_get(pc->recs, key);
	if (!r || !r->created) {
		vk_queue_done(q, key, false, 0);
		return;
	}
	const char *slash = strchr(r->key, '/');
	char *ns = vk_asprintf("%.*s", (int)(slash - r->key), r->key);
	poll_job *p = vk_xcalloc(1, sizeof *p);
	p->pc = pc;
	p->key = vk_strdup(r->key);
	p->uid = vk_strdup(r->uid);
	pc->inflight++;
	if (vk_provider_get_pod_status(pc->o.provider, ns, slash + 1, poll_done, p) < 0) {
		pc->inflight--;
		free(p->key);
		free(p->uid);
		free(p);
		vk_queue_done(q, key, false, 0);
	}
	free(ns);
}

/* Reads go through a queue of their own with a few in flight: a poll of a
 * thousand pods then neither floods the provider nor holds a thousand
 * callbacks (and their coroutines) at once. */
#define STATUS_READS_IN_FLIGHT 8

vk_queue *vk_pod__poll_queue(vk_pods *pc) { return vk_queue_new(pc->o.loop, STATUS_READS_IN_FLIGHT, poll_work, pc); }

void vk_pod__fetch_status(vk_pods *pc, pod_rec *r)
{
	if (!pc->closing)
		vk_queue_add(pc->pq, r->key);
}

/* The safety net under vk.notify: every pod's status, every interval.  Not
 * vk_pods_resync: a slow provider's reads in flight are not asked again. */
static void poll_tick(uv_timer_t *t)
{
	vk_pods *pc = t->data;
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(pc->recs, &i, &k, &v);) {
		pod_rec *r = v;
		if (r->created)
			vk_pod__fetch_status(pc, r);
	}
	vk_pod__create_check(pc, vk_now_ms());
}

void vk_pod__poll_start(vk_pods *pc)
{
	uv_timer_start(&pc->poll_timer, poll_tick, pc->o.status_poll_ms, pc->o.status_poll_ms);
}
