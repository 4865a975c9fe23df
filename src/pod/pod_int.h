/* Private to src/pod: the controller's state, shared by its files. */
#ifndef VK_POD_INT_H
#define VK_POD_INT_H

#include "vk/json.h"
#include "vk/list.h"
#include "vk/node.h"
#include "vk/pod.h"
#include "vk/queue.h"
#include "vk/util.h"

#define SUB "pod"

/* A status as compact JSON text, held once by all that refer to it
 * (status_text.c). */
typedef struct pod_text {
	unsigned refs;
	uint64_t hash; /* vk_hash64 of s */
	size_t len;
	char s[];
} pod_text;

/* What the core knows of one pod the provider has (or is creating). */
typedef struct pod_rec {
	char *key; /* "ns/name" */
	char *uid;
	cJSON *pod;            /* only while the API lacks it: the last copy seen
	                          (or get_pods'), for delete_pod */
	uint64_t spec_sig;     /* hash of what update_pod compares: labels,
	                          annotations, spec (0: not known yet) */
	uint64_t last_status;  /* hash of the status JSON last written (0: none) */
	bool created;          /* the provider has it */
	bool deleted;          /* terminal status and DELETE done: a tombstone
	                          until the watch reports the pod gone */
	pod_text *status_next; /* the newest status, waiting in the status queue */
	uint64_t kept_status;  /* hash of the provider status last written to the store */
	pod_text *unwritten;   /* the provider's latest status while the API lacks it
	                          (NULL once written): for /pods (list.c); with the
	                          edge cache only; the same block as status_next */
	uint64_t status_fault; /* hash of the status fault last reported (0: none) */
} pod_rec;

typedef struct vk_pod_persist vk_pod_persist;

/* status_text.c: one block per text, counted holders; pure. */
pod_text *vk_pod__text_new(const char *s, size_t len); /* one holder */
pod_text *vk_pod__text_take(char *printed);            /* frees printed; NULL for NULL */
pod_text *vk_pod__text_ref(pod_text *t);               /* one more holder; t */
void vk_pod__text_unref(pod_text *t);                  /* freed with its last holder */
/* A pod's waiting status: only the newest waits.  offer takes t, which
 * replaces what waited (and, if unwritten, becomes r->unwritten too); take
 * hands the waiting one to the writer; written: the API holds t (it is
 * r->last_status, and no longer unwritten); unanswered takes t back, to
 * wait again unless a newer one waits already. */
void vk_pod__slot_offer(pod_rec *r, pod_text *t, bool unwritten);
/* t is the status last written (r->last_status): nothing waits, and /pods
 * shows the API's; takes t and is true.  Else false (t untouched).  A poll
 * that finds nothing new then holds nothing, link down or not (a reconnect
 * forgets last_status and reads every status again: vk_pod__on_link). */
bool vk_pod__slot_drop_if_known(pod_rec *r, pod_text *t);
void vk_pod__slot_clear(pod_rec *r);
pod_text *vk_pod__slot_take(pod_rec *r);
void vk_pod__slot_written(pod_rec *r, const pod_text *t);
void vk_pod__slot_unanswered(pod_rec *r, pod_text *t);
void vk_pod__slot_free(pod_rec *r);

/* status_faults.c: a status fault of the pod at `key` as one Warning
 * Event (reason) and one log line, the same one again only after
 * vk_pod__status_fault_clear (a good status written). */
void vk_pod__status_fault(vk_pods *pc, const char *key, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void vk_pod__status_fault_clear(vk_pods *pc, const char *key);

/* slow_create.c: a create_pod still running after VK_POD_CREATE_SLOW_MS
 * is one Warning Event and one log line (checked at each status poll). */
#define VK_POD_CREATE_SLOW_MS 30000
void vk_pod__create_began(vk_pods *pc, const char *key, const cJSON *pod); /* pod: borrowed until ended */
void vk_pod__create_ended(vk_pods *pc, const char *key);
void vk_pod__create_check(vk_pods *pc, uint64_t now_ms);
void vk_pod__create_since_free(vk_pods *pc);

#define VK_POD_STATUS_MAX (1024 * 1024) /* the API server takes 3 MiB, etcd 1.5 */

struct vk_pods {
	vk_pod_opts o;
	vk_queue *q;           /* pod keys to sync */
	vk_queue *sq;          /* pod keys whose status is to be written */
	vk_queue *pq;          /* pod keys whose status is to be read (get_pod_status) */
	vk_informer *inf;      /* the API's pods bound to this node */
	vk_informer *services; /* every Service, for the service links of env */
	vk_map *recs;          /* key -> pod_rec */
	vk_list writes;        /* status writes in flight (status_write.c) */
	vk_list deletes;       /* DELETEs of pods in flight (sync.c) */
	vk_list barriers;      /* deletions waiting for the store (delete_barrier.c) */
	vk_map *create_since;  /* key -> when create_pod began (slow_create.c) */
	vk_map *creating;      /* key -> char *: the status the provider pushed
	                          (vk.notify) while create_pod ran ("": none) */
	bool closing;
	bool provider_listed; /* get_pods answered (or the provider has none): a
	                         pod it did not list is not the provider's */
	uv_timer_t poll_timer;
	uv_timer_t list_timer; /* asks get_pods again after it failed */
	uint64_t list_retry_ms;
	int open_handles;
	unsigned inflight;       /* provider/kube calls holding a pointer to us */
	unsigned tails;          /* deletions past the provider, slot given back (sync.c) */
	vk_pod_persist *persist; /* the edge cache, or NULL (persist.c) */
	uint64_t relinked_ms;    /* when the API server last came back (0: never gone) */
};

/* env_events.c: virtual-kubelet's Event for one reference env resolution
 * met (see there for the reasons and messages).  env_name: the env[] entry,
 * NULL for envFrom; key: for KEY_NOT_FOUND. */
typedef enum { VK_POD_ENV_NOT_FOUND, VK_POD_ENV_KEY_NOT_FOUND, VK_POD_ENV_UNREADABLE } vk_pod_env_outcome;
void vk_pod__env_event(vk_kube *k, const cJSON *pod, vk_pod_env_outcome what, bool secret, bool optional,
                       const char *env_name, const char *obj, const char *key);

/* For this long after the API server came back, a pod that changes in the
 * API has its status compared again: the node lifecycle controller may
 * have marked it not Ready while we were away, and what we last wrote is
 * no longer what the API says. */
#define VK_POD_RECHECK_MS 60000

/* informer.c */
void vk_pod__informer_start(vk_pods *pc);
void vk_pod__informer_stop(vk_pods *pc);
/* sync.c */
void vk_pod__sync(vk_queue *q, const char *key, void *ud);
pod_rec *vk_pod__rec(vk_pods *pc, const char *key, const char *uid);
void vk_pod__rec_free(vk_pods *pc, pod_rec *r);
uint64_t vk_pod__spec_sig(const cJSON *pod);
/* The informer dropped `key`: keep its last copy for delete_pod. */
void vk_pod__forget(vk_pods *pc, const char *key, const cJSON *old);
/* status.c */
void vk_pod__status_from_provider(vk_pods *pc, const char *key, cJSON *status);
void vk_pod__notify(cJSON *pod_or_status, void *ud);
void vk_pod__poll_start(vk_pods *pc);
void vk_pod__on_link(bool up, void *ud);            /* statuses kept while offline go out */
void vk_pod__recheck(vk_pods *pc, const char *key); /* the API's copy changed after a reconnect */
void vk_pod__fetch_status(vk_pods *pc, pod_rec *r);
vk_queue *vk_pod__status_queue(vk_pods *pc);
vk_queue *vk_pod__poll_queue(vk_pods *pc);
/* status_write.c: writes `text` (a status) for the pod `key` of `uid`: a
 * PUT of `api` (the informer's copy, taken; may be NULL) with that status
 * laid over its own, or a strategic merge PATCH when there is no copy or it
 * was stale.  The write takes the caller's holder of text (on failure too).
 * cb gets the HTTP status of the last request.  0, or a negative errno (cb
 * not called). */
typedef void (*vk_pod_status_write_cb)(long status, const char *error, void *ud);
/* A status write that waits longer than this is on a dead link. */
#define VK_POD_STATUS_CALL_MS 15000
int vk_pod__write_status(vk_pods *pc, const char *key, const char *uid, cJSON *api, pod_text *text,
                         vk_pod_status_write_cb cb, void *ud);
/* At close: the kube client frees its calls without callbacks, so the
 * controller cancels its own and tells their owners (cb with status 0 and
 * "vk is stopping"; pc->closing is set), which free what they gave as ud. */
void vk_pod__writes_cancel(vk_pods *pc);
void vk_pod__deletes_cancel(vk_pods *pc);
/* decide.c: what a sync of one key does, from what the core knows (r, may
 * be NULL), what the API says (api, NULL: gone), what the provider can do
 * and whether its own list (get_pods) is in: until it is, a pod the core
 * never created may still run in the provider.  Pure. */
typedef enum {
	VK_POD_SYNC_DONE,            /* nothing to call: the key is done */
	VK_POD_SYNC_CREATE,          /* resolve env, then create_pod */
	VK_POD_SYNC_HOLD,            /* create once the provider's list is in */
	VK_POD_SYNC_UPDATE,          /* update_pod: labels, annotations or spec changed */
	VK_POD_SYNC_DELETE_GONE,     /* delete_pod: the API lost the pod */
	VK_POD_SYNC_DELETE_STALE,    /* delete_pod: another pod (uid) took the name */
	VK_POD_SYNC_DELETE_GRACEFUL, /* delete_pod, terminal status, DELETE */
	VK_POD_SYNC_FINISH_DELETION, /* terminal status, DELETE (after the store): the provider never had it */
} vk_pod_sync_action;
typedef struct {
	vk_pod_sync_action action;
	bool drop_rec;          /* forget the pod_rec first (it was never created) */
	bool drop_adopted_copy; /* r->pod (from get_pods) is no longer needed */
	uint64_t spec_sig;      /* the API pod's signature when computed, else 0 */
} vk_pod_sync_plan;
vk_pod_sync_plan vk_pod__decide_sync(const pod_rec *r, const cJSON *api, vk_provider *p, bool listed);
/* What the answer to a pod's final DELETE (grace 0, uid precondition)
 * means.  `this_pod_404`: a 404 whose Status names this pod; `still_listed`:
 * the informer still holds the pod with this uid.  A 404 alone proves
 * nothing: a kube-apiserver that has just started answers one from the
 * NodeRestriction admission plugin, whose pod cache is still filling, for
 * a pod that exists; trusting it left the pod Terminating for good.  Pure. */
typedef enum {
	VK_POD_DELETE_DONE,    /* gone: a tombstone until the watch says so */
	VK_POD_DELETE_NEW_UID, /* 409: another pod has the name now; not ours */
	VK_POD_DELETE_RETRY,   /* not known to be gone: the key is synced again */
} vk_pod_delete_verdict;
vk_pod_delete_verdict vk_pod__delete_verdict(long status, bool this_pod_404, bool still_listed);
/* Whether a status (JSON text) is to be written, given the API's pod (NULL:
 * gone).  Pure. */
typedef enum { VK_POD_STATUS_WRITE, VK_POD_STATUS_KNOWN, VK_POD_STATUS_UNWANTED } vk_pod_status_verdict;
vk_pod_status_verdict vk_pod__status_verdict(const char *text, const cJSON *api);
/* The API's view of a pod: a parsed copy the caller frees, or NULL. */
static inline cJSON *vk_pod__api(const vk_pods *pc, const char *key)
{
	return pc->inf ? vk_informer_get(pc->inf, key) : NULL;
}
/* delete_barrier.c: calls cb once the store's write-behind has committed
 * everything queued before this call (the state a deletion was decided
 * from).  0: cb is called later (status < 0 when the store failed
 * meanwhile; -ECANCELED when the controller closes).  -ENOTSUP (no store)
 * or -ENOTCONN (the store is down): nothing to wait for, cb not called. */
typedef void (*vk_pod_barrier_cb)(int status, void *ud);
int vk_pod__barrier(vk_pods *pc, vk_pod_barrier_cb cb, void *ud);
void vk_pod__barriers_cancel(vk_pods *pc); /* at close: each cb with -ECANCELED */
/* persist.c: the edge cache (see there); every call is a no-op without a store. */
typedef void (*vk_pod_persist_cb)(vk_pods *pc);
vk_pod_persist *vk_pod__persist_new(vk_pods *pc); /* NULL without a store */
void vk_pod__persist_close(vk_pod_persist *ps);
/* Queues the informer's resourceVersion and the Node now, as the once-a-second
 * tick would (before a stop's flush). */
void vk_pod__persist_checkpoint(vk_pod_persist *ps);
int vk_pod__persist_load(vk_pods *pc, vk_pod_persist_cb cb); /* 0: cb called later */
bool vk_pod__persist_seed(vk_pods *pc, vk_informer *inf);    /* true: seeded */
void vk_pod__persist_pod(vk_pods *pc, const char *key, const cJSON *pod);
void vk_pod__persist_pod_gone(vk_pods *pc, const char *key, const cJSON *old);
/* written: the status the API got; else the provider's latest. */
void vk_pod__persist_status(vk_pods *pc, const char *key, bool written, const char *text);
uint64_t vk_pod__persist_written(vk_pods *pc, const char *key); /* hash, 0: none */

#endif
