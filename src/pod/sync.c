/* sync: brings the provider in line with the API for one pod key.
 *
 *   not in the API, provider has it    -> delete_pod
 *   same name, new uid                 -> delete the old one, then go on
 *   deletionTimestamp set              -> delete_pod, terminal status,
 *                                         DELETE grace 0 + uid precondition
 *   not yet in the provider            -> resolve env, create_pod
 *   labels/annotations/spec changed    -> update_pod (env resolved first
 *                                         when it has ephemeral containers)
 * The queue runs one sync per key at a time, so these never overlap for a
 * pod; a failure is retried with the key's backoff.  Every delete_pod waits
 * until the store holds the state it was decided from (delete_barrier.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

#define PROVIDER_RETRY_MAX_MS 30000
#define ENV_RETRY_MAX_MS 10000

typedef enum { JOB_CREATE, JOB_UPDATE, JOB_DELETE_GONE, JOB_DELETE_STALE, JOB_DELETE_GRACEFUL } job_kind;

typedef struct {
	vk_pods *pc;
	char *key;
	job_kind kind;
	cJSON *pod;         /* the pod handed to the provider (owned) */
	uint64_t sig;       /* update: the signature of the API's pod it is for */
	vk_kube_call *call; /* its DELETE in flight */
	bool released;      /* gave its queue slot back (finish_deletion) */
	vk_list link;       /* in pc->deletes while it is */
} sync_job;

/* What update_pod is called for: the parts of a pod a user may change. */
uint64_t vk_pod__spec_sig(const cJSON *pod)
{
	cJSON *sig = cJSON_CreateObject();
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	static const char *const keys[] = {"labels", "annotations"};
	for (size_t i = 0; i < VK_ARRAY_LEN(keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, keys[i]);
		if (v)
			cJSON_AddItemToObject(sig, keys[i], cJSON_Duplicate(v, 1));
	}
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	if (spec)
		cJSON_AddItemToObject(sig, "spec", cJSON_Duplicate(spec, 1));
	char *s = cJSON_PrintUnformatted(sig);
	cJSON_Delete(sig);
	uint64_t h = vk_hash64(s);
	free(s);
	return h;
}

pod_rec *vk_pod__rec(vk_pods *pc, const char *key, const char *uid)
{
	pod_rec *r = vk_map_get(pc->recs, key);
	if (r)
		return r;
	r = vk_xcalloc(1, sizeof *r);
	r->key = vk_strdup(key);
	r->uid = vk_strdup(uid ? uid : "");
	vk_map_set(pc->recs, key, r);
	return r;
}

/* The pod is let go: its uid never comes back, so the Events about it can
 * have no repeats and the correlator forgets them. */
void vk_pod__rec_free(vk_pods *pc, pod_rec *r)
{
	if (vk_map_get(pc->recs, r->key) == r)
		vk_map_del(pc->recs, r->key);
	if (pc->o.kube)
		vk_kube_events_forget(pc->o.kube, r->uid);
	free(r->key);
	free(r->uid);
	cJSON_Delete(r->pod);
	vk_pod__slot_free(r);
	free(r);
}

static void finish(vk_pods *pc, const char *key, bool retry, uint64_t max_ms)
{
	vk_queue_done(pc->q, key, retry, max_ms);
}

static sync_job *job_new(vk_pods *pc, const char *key, job_kind kind, cJSON *pod)
{
	sync_job *job = vk_xcalloc(1, sizeof *job);
	job->pc = pc;
	job->key = vk_strdup(key);
	job->kind = kind;
	job->pod = pod;
	pc->inflight++;
	if (kind == JOB_CREATE) { /* vk.notify may speak before create_pod returns */
		free(vk_map_set(pc->creating, key, vk_strdup("")));
		vk_pod__create_began(pc, key, pod);
	}
	return job;
}

static void job_free(sync_job *job)
{
	job->pc->inflight--;
	if (job->released)
		job->pc->tails--;
	if (job->kind == JOB_CREATE) {
		free(vk_map_del(job->pc->creating, job->key));
		vk_pod__create_ended(job->pc, job->key);
	}
	free(job->key);
	cJSON_Delete(job->pod);
	free(job);
}

/* ---- the last steps of a graceful deletion --------------------------------- */

/* The status a pod ends with, before the object goes.  A provider's
 * delete_pod may return it (kubelet's: each container terminated with its
 * exit code, phase Succeeded or Failed); without one every container is
 * marked terminated (ProviderDeleted), and the pod Succeeded.  Either way
 * the pod is not ready any more. */
static void not_ready(cJSON *st, const char *now)
{
	/* Conditions merge by type, so the others stay. */
	cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	static const char *const not_ready[] = {"Ready", "ContainersReady"};
	for (size_t i = 0; i < VK_ARRAY_LEN(not_ready); i++) {
		cJSON *cond = cJSON_CreateObject();
		cJSON_AddStringToObject(cond, "type", not_ready[i]);
		cJSON_AddStringToObject(cond, "status", "False");
		cJSON_AddStringToObject(cond, "reason", "PodCompleted");
		cJSON_AddStringToObject(cond, "lastTransitionTime", now);
		cJSON_AddItemToArray(conds, cond);
	}
}

static cJSON *terminal_status(const cJSON *pod, const cJSON *final)
{
	char now[40];
	vk_rfc3339(now, vk_wall_ms(), false);
	if (cJSON_IsObject(final) && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(final, "containerStatuses"))) {
		cJSON *st = cJSON_Duplicate(final, 1);
		const char *phase = vk_json_str(st, "phase");
		if (!phase || (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0)) {
			/* kubelet's terminal phase: Succeeded only if every container exited 0 */
			bool ok = true;
			const cJSON *c;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "containerStatuses")) {
				const cJSON *code = vk_json_at(c, "state.terminated.exitCode");
				ok = ok && cJSON_IsNumber(code) && code->valuedouble == 0;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(st, "phase");
			cJSON_AddStringToObject(st, "phase", ok ? "Succeeded" : "Failed");
		}
		not_ready(st, now);
		return st;
	}
	cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "phase", "Succeeded");
	not_ready(st, now);
	cJSON *cs = cJSON_AddArrayToObject(st, "containerStatuses");
	const cJSON *c;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers")) {
		const char *name = vk_json_str(c, "name");
		const char *image = vk_json_str(c, "image");
		cJSON *s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "name", name ? name : "");
		cJSON_AddStringToObject(s, "image", image ? image : "");
		cJSON_AddStringToObject(s, "imageID", "");
		cJSON_AddBoolToObject(s, "ready", 0);
		cJSON_AddNumberToObject(s, "restartCount", 0);
		cJSON *t = cJSON_AddObjectToObject(cJSON_AddObjectToObject(s, "state"), "terminated");
		cJSON_AddNumberToObject(t, "exitCode", 0);
		cJSON_AddStringToObject(t, "reason", "ProviderDeleted");
		cJSON_AddStringToObject(t, "finishedAt", now);
		cJSON_AddItemToArray(cs, s);
	}
	return st;
}

/* The deletion of this uid is done: until the watch says the pod is gone,
 * the events its last writes cause find a tombstone and do nothing (instead
 * of writing the terminal status and deleting once more). */
static void mark_deleted(vk_pods *pc, const char *key, const char *uid)
{
	if (!uid)
		return;
	pod_rec *r = vk_pod__rec(pc, key, uid);
	if (strcmp(r->uid, uid) == 0 && !r->created)
		r->deleted = true;
}

/* A 404 is about the pod only when the Status says so of this pod
 * (details.name): an API server that is starting answers 404 for routes it
 * has not installed yet, and taking that for "gone" left the pod
 * Terminating in the API for good.  Even then it may come from an admission
 * cache that is still filling (vk_pod__delete_verdict). */
static bool pod_not_found(const vk_kube_result *r, const cJSON *pod)
{
	const char *name = vk_json_str(pod, "metadata.name");
	const char *said = vk_json_str(r->json, "details.name");
	return r->status == 404 && name && said && strcmp(name, said) == 0;
}

static void deleted_done(const vk_kube_result *r, void *ud)
{
	sync_job *job = ud;
	vk_pods *pc = job->pc;
	vk_list_remove(&job->link);
	job->call = NULL;
	if (!pc->closing) {
		const char *uid = vk_json_str(job->pod, "metadata.uid");
		cJSON *listed = vk_pod__api(pc, job->key);
		const char *luid = vk_json_str(listed, "metadata.uid");
		bool still_listed = uid && luid && strcmp(uid, luid) == 0;
		cJSON_Delete(listed);
		switch (vk_pod__delete_verdict(r->status, pod_not_found(r, job->pod), still_listed)) {
		case VK_POD_DELETE_DONE:
			vk_info(SUB, "%s: deleted from the API (%ld)", job->key, r->status);
			mark_deleted(pc, job->key, uid);
			finish(pc, job->key, false, 0);
			break;
		case VK_POD_DELETE_NEW_UID: /* the uid precondition failed: not ours to delete */
			vk_info(SUB, "%s: deleted from the API (%ld)", job->key, r->status);
			finish(pc, job->key, false, 0);
			break;
		case VK_POD_DELETE_RETRY:
			if (pod_not_found(r, job->pod))
				vk_info(SUB,
				        "%s: the API server says not found (404) but its watch still lists the pod: "
				        "trying again (an API server that has just started answers so)",
				        job->key);
			else
				vk_warn(SUB, "%s: delete failed: %ld %s", job->key, r->status,
				        r->error ? r->error : "");
			finish(pc, job->key, true, PROVIDER_RETRY_MAX_MS);
			break;
		}
	}
	job_free(job);
}

static void delete_object(sync_job *job)
{
	const char *ns = vk_json_str(job->pod, "metadata.namespace");
	const char *name = vk_json_str(job->pod, "metadata.name");
	const char *uid = vk_json_str(job->pod, "metadata.uid");
	cJSON *opts = cJSON_CreateObject();
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	cJSON_AddNumberToObject(opts, "gracePeriodSeconds", 0);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid", uid ? uid : "");
	char *path = vk_asprintf("/api/v1/namespaces/%s/pods/%s", ns, name);
	char *body = cJSON_PrintUnformatted(opts);
	if (vk_kube_request(job->pc->o.kube, "DELETE", path, NULL, body, deleted_done, job, &job->call) < 0) {
		finish(job->pc, job->key, true, PROVIDER_RETRY_MAX_MS);
		job_free(job);
	} else {
		vk_list_insert_tail(&job->pc->deletes, &job->link);
	}
	free(body);
	free(path);
	cJSON_Delete(opts);
}

void vk_pod__deletes_cancel(vk_pods *pc)
{
	for (vk_list *n; (n = vk_list_first(&pc->deletes));) {
		sync_job *job = VK_LIST_ENTRY(n, sync_job, link);
		vk_list_remove(n);
		vk_kube_cancel(job->call);
		job_free(job);
	}
}

static void terminal_done(long status, const char *error, void *ud)
{
	sync_job *job = ud;
	if (job->pc->closing) {
		job_free(job);
		return;
	}
	if (status != 200 && status != 404)
		vk_warn(SUB, "%s: could not write the terminal status: %ld %s", job->key, status, error ? error : "");
	delete_object(job);
}

/* What is left of a deletion is two API calls, no provider callback: the
 * slot of the queue, which bounds callbacks in flight, goes to the next
 * pod while they run, and the key stays this job's until it ends (a sync
 * of it meanwhile waits, as before).  The tails that gave their slot back
 * are bounded by the same number: beyond it a tail keeps its slot.  Held
 * through both calls, the slots paced a mass deletion by the API's round
 * trips on top of the store's barrier and the provider. */
static void release_slot(sync_job *job)
{
	vk_pods *pc = job->pc;
	if (job->released || pc->tails >= pc->o.workers)
		return;
	vk_queue_release(pc->q, job->key);
	job->released = true;
	pc->tails++;
}

static void finish_deletion(sync_job *job, const cJSON *final)
{
	release_slot(job);
	const char *uid = vk_json_str(job->pod, "metadata.uid");
	cJSON *st = terminal_status(job->pod, final);
	pod_text *text = vk_pod__text_take(cJSON_PrintUnformatted(st));
	cJSON_Delete(st);
	if (!text || vk_pod__write_status(job->pc, job->key, uid ? uid : "", cJSON_Duplicate(job->pod, 1), text,
	                                  terminal_done, job) < 0)
		delete_object(job);
}

/* ---- provider calls -------------------------------------------------------- */

/* Events carry the first line of a provider error ("file:line: message");
 * the log keeps the traceback. */
static void event(vk_pods *pc, const cJSON *pod, const char *type, const char *reason, const char *msg)
{
	int n = (int)strcspn(msg, "\n");
	vk_kube_event(pc->o.kube, "Pod", pod, type, reason, pc->o.nodename, "%.*s", n, msg);
}

static void provider_done(const vk_provider_result *res, void *ud)
{
	sync_job *job = ud;
	vk_pods *pc = job->pc;
	/* delete_pod may return the pod's final status; nothing else is kept */
	cJSON *final = job->kind == JOB_DELETE_GRACEFUL && !res->err ? res->value : NULL;
	if (!final)
		cJSON_Delete(res->value);
	if (pc->closing || res->err == -ECANCELED) {
		cJSON_Delete(final);
		job_free(job);
		return;
	}
	pod_rec *r = vk_map_get(pc->recs, job->key);
	const char *what = job->kind == JOB_CREATE ? "Create" : job->kind == JOB_UPDATE ? "Update" : "Delete";
	if (res->err) {
		char reason[64];
		snprintf(reason, sizeof reason, "Provider%sFailed", what);
		vk_warn(SUB, "%s: %s_pod failed: %s", job->key,
		        job->kind == JOB_CREATE   ? "create"
		        : job->kind == JOB_UPDATE ? "update"
		                                  : "delete",
		        res->errmsg ? res->errmsg : "error");
		cJSON *about = vk_pod__api(pc, job->key);
		event(pc, about ? about : job->pod, "Warning", reason, res->errmsg ? res->errmsg : "provider error");
		cJSON_Delete(about);
		/* A failed delete keeps the pod it was for, so the retry can try again. */
		if ((job->kind == JOB_DELETE_GONE || job->kind == JOB_DELETE_STALE) && r && !r->pod) {
			r->pod = job->pod;
			job->pod = NULL;
		}
		finish(pc, job->key, true, PROVIDER_RETRY_MAX_MS);
		job_free(job);
		return;
	}
	switch (job->kind) {
	case JOB_CREATE:
		r = vk_pod__rec(pc, job->key, vk_json_str(job->pod, "metadata.uid"));
		r->created = true;
		cJSON *api = vk_pod__api(pc, job->key);
		r->spec_sig = vk_pod__spec_sig(api ? api : job->pod);
		cJSON_Delete(api);
		vk_info(SUB, "%s: created in the provider", job->key);
		event(pc, job->pod, "Normal", "ProviderCreateSuccess", "Create pod in provider successfully");
		/* A status pushed during the create is written now; the read
		 * that follows catches what changed since. */
		char *early = vk_map_del(pc->creating, job->key);
		if (early && *early)
			vk_pod__status_from_provider(pc, job->key, cJSON_Parse(early));
		free(early);
		vk_pod__fetch_status(pc, r);
		finish(pc, job->key, false, 0);
		break;
	case JOB_UPDATE:
		if (r)
			r->spec_sig = job->sig ? job->sig : vk_pod__spec_sig(job->pod);
		event(pc, job->pod, "Normal", "ProviderUpdateSuccess", "Update pod in provider successfully");
		finish(pc, job->key, false, 0);
		break;
	case JOB_DELETE_GONE:
	case JOB_DELETE_STALE:
		vk_info(SUB, "%s: deleted from the provider (%s)", job->key,
		        job->kind == JOB_DELETE_GONE ? "gone from the API" : "replaced by a new uid");
		if (r && strcmp(r->uid, vk_json_str(job->pod, "metadata.uid") ? vk_json_str(job->pod, "metadata.uid")
		                                                              : "") == 0)
			vk_pod__rec_free(pc, r);
		/* A stale pod out of the way, look at the new one at once. */
		if (job->kind == JOB_DELETE_STALE)
			vk_queue_add(pc->q, job->key);
		finish(pc, job->key, false, 0);
		break;
	case JOB_DELETE_GRACEFUL:
		vk_info(SUB, "%s: deleted from the provider", job->key);
		event(pc, job->pod, "Normal", "ProviderDeleteSuccess", "Delete pod in provider successfully");
		if (r)
			vk_pod__rec_free(pc, r);
		finish_deletion(job, final); /* terminal status, then DELETE; job lives on */
		cJSON_Delete(final);
		return;
	}
	job_free(job);
}

static void start_call(sync_job *job)
{
	vk_pods *pc = job->pc;
	int rc;
	switch (job->kind) {
	case JOB_CREATE: rc = vk_provider_create_pod(pc->o.provider, job->pod, provider_done, job); break;
	case JOB_UPDATE: rc = vk_provider_update_pod(pc->o.provider, job->pod, provider_done, job); break;
	default: rc = vk_provider_delete_pod(pc->o.provider, job->pod, provider_done, job); break;
	}
	if (rc < 0) {
		vk_warn(SUB, "%s: could not call the provider: %s", job->key, strerror(-rc));
		finish(pc, job->key, rc != -ENOSYS && rc != -ESHUTDOWN, PROVIDER_RETRY_MAX_MS);
		job_free(job);
	}
}

/* The store holds what the deletion was decided from (delete_barrier.c):
 * true when the deletion goes on (a store that failed does not hold it). */
static bool barrier_went(sync_job *job, int status)
{
	if (job->pc->closing || status == -ECANCELED) {
		job_free(job);
		return false;
	}
	if (status < 0)
		vk_warn(SUB, "%s: the store did not take the state before the deletion (%s); deleting anyway", job->key,
		        vk_store_strerror(status));
	return true;
}

static void barrier_passed(int status, void *ud)
{
	if (barrier_went(ud, status))
		start_call(ud);
}

/* The same, for a deletion the provider has no part in. */
static void finish_after_barrier(int status, void *ud)
{
	if (barrier_went(ud, status))
		finish_deletion(ud, NULL);
}

static void call_provider(vk_pods *pc, const char *key, job_kind kind, cJSON *pod, uint64_t sig)
{
	sync_job *job = job_new(pc, key, kind, pod);
	job->sig = sig;
	if (kind == JOB_CREATE || kind == JOB_UPDATE || vk_pod__barrier(pc, barrier_passed, job) < 0)
		start_call(job);
}

/* ---- create ---------------------------------------------------------------- */

static void env_done(cJSON *pod, int err, const char *errmsg, void *ud)
{
	sync_job *job = ud;
	vk_pods *pc = job->pc;
	if (pc->closing) {
		cJSON_Delete(pod);
		job_free(job);
		return;
	}
	if (err) {
		cJSON *api = vk_pod__api(pc, job->key);
		unsigned n = vk_queue_attempts(pc->q, job->key);
		/* A read that failed (not a missing object) is usually the Node
		 * authorizer catching up with a new pod: retry quietly at first. */
		bool transient = err == -EAGAIN;
		if (!transient || n >= 3) {
			if (n == 0 || n % 10 == 0 || transient)
				vk_warn(SUB, "%s: cannot start yet: %s", job->key, errmsg);
			event(pc, api ? api : job->pod, "Warning", "CreateContainerConfigError", errmsg);
		}
		cJSON_Delete(api);
		finish(pc, job->key, true, ENV_RETRY_MAX_MS);
		job_free(job);
		return;
	}
	char *key = vk_strdup(job->key);
	job_kind kind = job->kind;
	uint64_t sig = job->sig;
	job_free(job);
	call_provider(pc, key, kind, pod, sig);
	free(key);
}

/* Resolves the env of every container of `api`, then calls the provider
 * (env_done). */
static void with_env(vk_pods *pc, const char *key, job_kind kind, const cJSON *api, uint64_t sig)
{
	sync_job *job = job_new(pc, key, kind, cJSON_Duplicate(api, 1));
	job->sig = sig;
	const char *host_ip = pc->o.node ? vk_node_internal_ip(pc->o.node) : NULL;
	/* A failed read is recorded when env_done would warn of it too. */
	bool read_events = vk_queue_attempts(pc->q, key) >= 3;
	const cJSON *node = pc->o.node ? vk_node_object(pc->o.node) : NULL;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(node, "status");
	const cJSON *alloc = cJSON_GetObjectItemCaseSensitive(st, "allocatable"); /* resourceFieldRef's unset limits */
	if (vk_pod_resolve_env(pc->o.kube, api, host_ip, alloc, pc->services, read_events, env_done, job) < 0) {
		finish(pc, key, true, ENV_RETRY_MAX_MS);
		job_free(job);
	}
}

static void create(vk_pods *pc, const char *key, const cJSON *api) { with_env(pc, key, JOB_CREATE, api, 0); }

/* An update that brings ephemeral containers (kubectl debug) hands them over
 * with their env resolved, as a create does; other updates (labels,
 * annotations) go as they are. */
static void update(vk_pods *pc, const char *key, const cJSON *api, uint64_t sig)
{
	const cJSON *eph = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(api, "spec"),
	                                                    "ephemeralContainers");
	if (cJSON_GetArraySize(eph) > 0)
		with_env(pc, key, JOB_UPDATE, api, sig);
	else
		call_provider(pc, key, JOB_UPDATE, cJSON_Duplicate(api, 1), sig);
}

/* ---- the sync ----------------------------------------------------------------- */

/* The pod to hand delete_pod when the API no longer has it: the last copy
 * the informer held (kept by vk_pod__forget), the provider's own from
 * get_pods, or at least its namespace, name and uid.  Caller owns it. */
static cJSON *last_known(pod_rec *r)
{
	if (r->pod) {
		cJSON *p = r->pod;
		r->pod = NULL;
		return p;
	}
	const char *slash = strchr(r->key, '/');
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "apiVersion", "v1");
	cJSON_AddStringToObject(p, "kind", "Pod");
	cJSON *md = cJSON_AddObjectToObject(p, "metadata");
	char *ns = vk_asprintf("%.*s", (int)(slash - r->key), r->key);
	cJSON_AddStringToObject(md, "namespace", ns);
	free(ns);
	cJSON_AddStringToObject(md, "name", slash + 1);
	cJSON_AddStringToObject(md, "uid", r->uid);
	return p;
}

void vk_pod__forget(vk_pods *pc, const char *key, const cJSON *old)
{
	pod_rec *r = vk_map_get(pc->recs, key);
	if (r && r->created && !r->pod) {
		const char *uid = vk_json_str(old, "metadata.uid");
		if (uid && strcmp(uid, r->uid) == 0)
			r->pod = cJSON_Duplicate(old, 1);
	}
}

static void sync_with(vk_pods *pc, const char *key, const cJSON *api);

void vk_pod__sync(vk_queue *q, const char *key, void *ud)
{
	vk_pods *pc = ud;
	cJSON *api = vk_pod__api(pc, key);
	sync_with(pc, key, api);
	cJSON_Delete(api);
}

/* `api` is the API's pod (NULL: gone), valid for this call only. */
static void sync_with(vk_pods *pc, const char *key, const cJSON *api)
{
	pod_rec *r = vk_map_get(pc->recs, key);
	vk_pod_sync_plan d = vk_pod__decide_sync(r, api, pc->o.provider, pc->provider_listed);
	if (d.drop_rec) {
		vk_pod__rec_free(pc, r);
		r = NULL;
	}
	if (d.drop_adopted_copy) {
		cJSON_Delete(r->pod);
		r->pod = NULL;
	}
	switch (d.action) {
	case VK_POD_SYNC_DELETE_GONE: call_provider(pc, key, JOB_DELETE_GONE, last_known(r), 0); return;
	case VK_POD_SYNC_DELETE_STALE: call_provider(pc, key, JOB_DELETE_STALE, last_known(r), 0); return;
	case VK_POD_SYNC_DELETE_GRACEFUL:
		call_provider(pc, key, JOB_DELETE_GRACEFUL, cJSON_Duplicate(api, 1), 0);
		return;
	case VK_POD_SYNC_FINISH_DELETION: {
		/* The store first holds the deletionTimestamp, as before a
		 * delete_pod: a vk killed after the DELETE would otherwise find
		 * its older copy at restart and create a pod the API has gone. */
		sync_job *job = job_new(pc, key, JOB_DELETE_GRACEFUL, cJSON_Duplicate(api, 1));
		if (vk_pod__barrier(pc, finish_after_barrier, job) < 0)
			finish_deletion(job, NULL);
		return;
	}
	case VK_POD_SYNC_CREATE: create(pc, key, api); return;
	case VK_POD_SYNC_HOLD: finish(pc, key, false, 0); return; /* synced again after get_pods */
	case VK_POD_SYNC_UPDATE: update(pc, key, api, d.spec_sig); return;
	case VK_POD_SYNC_DONE:
		if (r && r->created && d.spec_sig)
			r->spec_sig = d.spec_sig;
		finish(pc, key, false, 0);
		return;
	}
}
