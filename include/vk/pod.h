/* vk/pod.h - the Pod controller: watches the pods bound to this node, keeps
 * the provider in step with them through a keyed work queue, and writes
 * their status back.
 *
 *   informer (list + watch, spec.nodeName=NODE) -> queue (ns/name keys,
 *   per-key serialisation, retry backoff) -> sync (create/update/delete in
 *   the provider, graceful deletion) -> status (notify or poll, deduped). */
#ifndef VK_POD_H
#define VK_POD_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <uv.h>

#include "vk/kube.h"
#include "vk/provider.h"
#include "vk/store.h"

/* ---- environment ------------------------------------------------------------
 * Resolves env[].valueFrom, envFrom and service links of every container
 * (and init container) of `pod` the way kubelet does, fetching ConfigMaps,
 * Secrets and Services.  The callback gets a copy of the pod whose env lists
 * hold plain {name, value} entries (envFrom removed), or pod NULL, an error
 * code and a message (errmsg) saying why:
 *   -EAGAIN  a read failed (not a missing object: e.g. the Node authorizer
 *            has not yet seen the pod that references it); try again;
 *   -ENOENT  a mandatory reference is missing, or a reference is invalid.
 * status.podIP/podIPs references stay as valueFrom entries when the IP is
 * not known yet: the provider resolves them once it has an IP
 * (lua/vk/podspec.lua). */
typedef void (*vk_env_cb)(cJSON *pod, int err, const char *errmsg, void *ud);
/* `services`: an informer on all Services for the service links; NULL or
 * not yet synced, and they are read from the API instead.
 * Every reference that is missing, or skipped because it is optional, is
 * also recorded as an Event with virtual-kubelet's reason
 * (MandatoryConfigMapNotFound, OptionalSecretKeyNotFound, ...); a failed
 * read is recorded (FailedToRead*) only when `read_events` is set, so that
 * the caller can stay quiet while the Node authorizer catches up.
 * `allocatable`: the node's status.allocatable (NULL: unknown), which a
 * resourceFieldRef to an unset limit gives, as kubelet does. */
int vk_pod_resolve_env(vk_kube *k, const cJSON *pod, const char *host_ip, const cJSON *allocatable,
                       vk_informer *services, bool read_events, vk_env_cb cb, void *ud);
/* Whether `name` is a valid environment variable name under kubelet 1.34+'s
 * relaxed rule: printable ASCII except '=', not empty ("data-1", "a.b",
 * "1x" are fine). */
bool vk_pod_env_name_valid(const char *name);
/* $(VAR) expansion as kubelet does it; pure, for the unit tests.  Caller frees. */
char *vk_pod_env_expand(const char *s, const cJSON *defined_env);

/* ---- the controller ------------------------------------------------------ */
typedef struct {
	uv_loop_t *loop;
	vk_kube *kube;
	vk_provider *provider;
	struct vk_node *node; /* for status.hostIP (vk/node.h); may be NULL */
	const char *nodename;
	const char *namespace_;  /* only this namespace's pods (--namespace); NULL: all */
	unsigned status_poll_ms; /* 0: 5000 */
	unsigned workers;        /* callbacks in flight at most; 0: 64 */
	/* The edge cache (NULL: none): pods, statuses, the objects they
	 * reference and the Node are written through `wb`, and read back at
	 * start so that vk can start, and keep its pods, while the API server
	 * is unreachable.  Both borrowed; they must outlive vk_pods_close. */
	vk_store *store;
	vk_store_wb *wb;
	const uint8_t *secret_key; /* VK_STORE_KEY_LEN bytes: Secrets are sealed
	                              with it; NULL: Secrets are not stored */
} vk_pod_opts;

typedef struct vk_pods vk_pods;

vk_pods *vk_pods_new(const vk_pod_opts *o);
/* Loads the store (when there is one), reconciles with the provider's
 * get_pods, then lists and watches, or resumes the watch from the stored
 * resourceVersion.  With a store, nothing here needs the API server: pods
 * the store says are wanted are kept, none is deleted until the API's
 * state is known. */
int vk_pods_start(vk_pods *pc);
/* Re-reads every pod's status from the provider (after a hot reload). */
void vk_pods_resync(vk_pods *pc);
/* Queues to the store's write-behind what the edge cache saves once a
 * second (the pod watch's resourceVersion, the Node), so that a flush
 * right after it holds the latest: on a stop that is seconds after start. */
void vk_pods_checkpoint(vk_pods *pc);
void vk_pods_close(vk_pods *pc);
/* The pods bound to this node as the controller knows them (the API's
 * objects, from the store while offline), each with the provider's latest
 * status laid over: what kubelet's /pods answers.  Each is handed to fn
 * and freed before the next is built (a count or a sum without a tree of
 * every pod at once).  fn must not change the pods.  Returns how many were
 * handed. */
size_t vk_pods_each(vk_pods *pc, void (*fn)(const cJSON *pod, void *ud), void *ud);
/* Their namespaces and names only (a pod's tree is not built): for /pods,
 * which then builds one pod after another with vk_pods_get. */
size_t vk_pods_names(vk_pods *pc, void (*fn)(const char *ns, const char *name, void *ud), void *ud);
/* One of those pods, by namespace and name (caller frees), or NULL. */
cJSON *vk_pods_get(vk_pods *pc, const char *ns, const char *name);

#endif
