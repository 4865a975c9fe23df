/* vk/kube.h - Kubernetes client: kubeconfig, REST calls and watches.
 *
 * Knows nothing of pods, nodes or Lua: it moves JSON to and from the API
 * server over the shared vk_http engine.  All calls are asynchronous. */
#ifndef VK_KUBE_H
#define VK_KUBE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <uv.h>

#include "vk/http.h"
#include "vk/util.h"

/* ---- kubeconfig --------------------------------------------------------
 * The credentials of the current (or named) context, with file references
 * already read: every *_pem field holds PEM bytes, never a path. */

/* users[].user.exec: a credential plugin (client.authentication.k8s.io/v1
 * or v1beta1), run by the client without blocking the loop whenever it has
 * no credential, the one it has expired (status.expirationTimestamp), or
 * the API server answered 401 to it (src/kube/exec_auth.c). */
typedef struct {
	char *api_version;
	char *command;   /* a relative path with a '/' is resolved against the kubeconfig's folder */
	char **args;     /* NULL-terminated */
	char **env;      /* "NAME=VALUE", NULL-terminated: added to vk's environment */
	char *exec_info; /* KUBERNETES_EXEC_INFO: an ExecCredential with spec.interactive false and,
	                    with provideClusterInfo, spec.cluster */
	char *install_hint;
} vk_kube_exec;

typedef struct {
	char *server;       /* "https://127.0.0.1:6443" (no trailing slash) */
	char *ca_pem;       /* NULL: system CAs */
	char *cert_pem;     /* client certificate, or NULL */
	char *key_pem;      /* client key, or NULL */
	char *token;        /* bearer token (token or tokenFile), or NULL */
	char *token_file;   /* re-read when it changes (service accounts) */
	bool insecure;      /* insecure-skip-tls-verify */
	vk_kube_exec *exec; /* an exec credential plugin, or NULL */
	char *namespace_;   /* context namespace, or NULL */
	char *origin;       /* "FILE (context NAME)" for messages */
} vk_kubeconfig;

/* Loads credentials:
 *   path != NULL: that file;
 *   else $KUBECONFIG (first file of the list), else the in-cluster service
 *   account (KUBERNETES_SERVICE_HOST/PORT + /var/run/secrets/..., or the
 *   folder $VK_SERVICE_ACCOUNT_DIR), else ~/.kube/config.
 * Relative paths in a file resolve against the file's folder.
 * context == NULL uses current-context.  Returns 0, or a negative errno with
 * *err = one line naming the file and the field, e.g.
 *   "config.yaml: users[0].user.client-key-data: not valid base64". */
int vk_kubeconfig_load(const char *path, const char *context, vk_kubeconfig *out, char **err);
/* Parses kubeconfig text; `origin` names it in messages and relative paths
 * are resolved against `base_dir`.  For tests and for vk_kubeconfig_load. */
int vk_kubeconfig_parse(const char *yaml, size_t len, const char *origin, const char *base_dir, const char *context,
                        vk_kubeconfig *out, char **err);
void vk_kubeconfig_free(vk_kubeconfig *kc);
vk_kube_exec *vk_kube_exec_dup(const vk_kube_exec *x);
void vk_kube_exec_free(vk_kube_exec *x);

/* ---- client ------------------------------------------------------------ */
typedef struct vk_kube vk_kube;
typedef struct vk_kube_call vk_kube_call;

typedef struct {
	long status;        /* HTTP status; 0 on transport failure */
	const char *error;  /* transport error, or the Status message of a
	                       non-2xx answer, or NULL */
	const char *reason; /* Status.reason ("NotFound", "Conflict", "Gone") or NULL */
	cJSON *json;        /* parsed body or NULL; borrowed: valid during the
	                       callback, detach it to keep it */
	const char *body;
	size_t body_len;
	bool cached; /* answered from the read-through cache (the API
	                server could not be reached) */
} vk_kube_result;

typedef void (*vk_kube_cb)(const vk_kube_result *r, void *ud);

vk_kube *vk_kube_new(uv_loop_t *loop, vk_http *http, const vk_kubeconfig *kc, char **err);
void vk_kube_free(vk_kube *k); /* cancels calls in flight (no callbacks) */
const char *vk_kube_server(const vk_kube *k);
/* How many times the kubeconfig's exec credential plugin was started. */
unsigned vk_kube_exec_runs(const vk_kube *k);

/* A REST call.  `path` starts with "/api" or "/apis" and may carry a query.
 * `body` may be NULL; `content_type` NULL means application/json.
 * Returns 0 (cb called once, later) or a negative errno (cb not called). */
int vk_kube_request(vk_kube *k, const char *method, const char *path, const char *content_type, const char *body,
                    vk_kube_cb cb, void *ud, vk_kube_call **out);
void vk_kube_cancel(vk_kube_call *c); /* cb is not called */

/* As vk_kube_request, with a total time limit of its own (0: 60 s), for
 * calls that must not wait long on a dead link: the lease, status writes. */
int vk_kube_request_within(vk_kube *k, unsigned timeout_ms, const char *method, const char *path,
                           const char *content_type, const char *body, vk_kube_cb cb, void *ud, vk_kube_call **out);

/* As vk_kube_request_within, for the node's heartbeat (the Lease): after
 * the API server's Retry-After (a 429 or 503) it waits for that moment
 * only, never behind the other calls held meanwhile, and goes first. */
int vk_kube_request_urgent(vk_kube *k, unsigned timeout_ms, const char *method, const char *path,
                           const char *content_type, const char *body, vk_kube_cb cb, void *ud, vk_kube_call **out);

/* Convenience wrappers over vk_kube_request with a cJSON body. */
int vk_kube_get(vk_kube *k, const char *path, vk_kube_cb cb, void *ud);
/* As vk_kube_get, but a 2xx body is left as text (r->json NULL, r->body):
 * for a large answer read part by part (vk_json_member_span). */
int vk_kube_get_raw(vk_kube *k, const char *path, vk_kube_cb cb, void *ud);
int vk_kube_send_json(vk_kube *k, const char *method, const char *path, const char *content_type, const cJSON *body,
                      vk_kube_cb cb, void *ud);
int vk_kube_send_json_within(vk_kube *k, unsigned timeout_ms, const char *method, const char *path,
                             const char *content_type, const cJSON *body, vk_kube_cb cb, void *ud);

/* ---- link ----------------------------------------------------------------
 * Whether the API server answers, as a node cut off from it must know.
 * The link goes down when a call or watch fails in transport (refused,
 * reset, no answer in time), and comes up at the next answer of any HTTP
 * status; each change is logged once.
 *
 * A black hole (packets vanish, connections hang, TCP stays quiet for
 * minutes) is found within seconds: a call that runs out of time ends
 * every connection to the server, so the next call opens a fresh one; and
 * while a watch is open and nothing was heard from the server for 20 s, a
 * GET /version gets 10 s to answer.  While the link is down that probe
 * runs every second (one at a time, 2 s to connect), so its return is seen
 * within about a second.
 *
 * Listeners hear of each change on the next turn of the loop (never from
 * inside a call's callback), in the order they were added; they may add or
 * remove listeners and start or cancel calls, but not free the client. */
typedef void (*vk_kube_link_cb)(bool up, void *ud);
bool vk_kube_link_up(const vk_kube *k);
void vk_kube_link_listen(vk_kube *k, vk_kube_link_cb cb, void *ud);
void vk_kube_link_unlisten(vk_kube *k, vk_kube_link_cb cb, void *ud);
/* Ends every connection to the server now, as a call that timed out does. */
void vk_kube_reset(vk_kube *k);

/* ---- watch -------------------------------------------------------------
 * A streaming GET with watch=true: every line of the answer is one event
 * {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": {...}}.
 * on_event gets `object` borrowed (detach to keep).  on_close is called
 * once when the stream ends: status 200 with error NULL for a clean end
 * (server timeout), or the failure.  A 410 arrives as an ERROR event whose
 * object is a Status with code 410 (reason "Expired": test the code).  The
 * server may end a watch cleanly at any time: resume from the last
 * resourceVersion seen.  "watch=true" is added to `path` unless it has a
 * watch= parameter; lines are capped at 16 MiB. */
typedef struct vk_kube_watch vk_kube_watch;
typedef void (*vk_kube_event_cb)(const char *type, cJSON *object, void *ud);
typedef void (*vk_kube_close_cb)(long status, const char *error, void *ud);

int vk_kube_watch_start(vk_kube *k, const char *path, vk_kube_event_cb on_event, vk_kube_close_cb on_close, void *ud,
                        vk_kube_watch **out);
void vk_kube_watch_stop(vk_kube_watch *w); /* no more callbacks */

/* ---- read-through cache ------------------------------------------------
 * vk_kube_get_cached is vk_kube_get whose answer is kept by path: a 200 is
 * remembered, a 404 forgets the path, and when the API server cannot be
 * reached (no answer, or a 5xx) the last 200 is returned instead, with
 * `cached` set.  The hooks tell the owner every change (to persist them);
 * vk_kube_cache_seed loads what a previous run kept, without hooks. */
int vk_kube_get_cached(vk_kube *k, const char *path, vk_kube_cb cb, void *ud, vk_kube_call **out);
typedef struct {
	/* json: compact text without managedFields; rv: its resourceVersion or NULL */
	void (*on_put)(const char *path, const char *json, size_t len, const char *rv, void *ud);
	void (*on_del)(const char *path, void *ud);
	void *ud;
} vk_kube_cache_hooks;
void vk_kube_cache_set_hooks(vk_kube *k, const vk_kube_cache_hooks *h); /* NULL: none */
void vk_kube_cache_seed(vk_kube *k, const char *path, const char *json, size_t len);
/* Remembers `obj` as the answer to GET path (e.g. a list built from an
 * informer), telling the hooks when it differs from what was cached. */
void vk_kube_cache_put(vk_kube *k, const char *path, const cJSON *obj);
bool vk_kube_cache_has(vk_kube *k, const char *path);
size_t vk_kube_cache_len(const vk_kube *k);
/* Calls fn for every cached answer (path and compact JSON text, borrowed),
 * e.g. to write them all again to a store that lost them. */
typedef void (*vk_kube_cache_each_cb)(const char *path, const char *json, size_t len, void *ud);
void vk_kube_cache_each(vk_kube *k, vk_kube_cache_each_cb fn, void *ud);

/* Percent-encodes a query value (fieldSelector etc.); caller frees. */
char *vk_kube_escape(const char *s);

/* ---- events ------------------------------------------------------------
 * Records a core/v1 Event about `obj`, an object of kind `kind` ("Pod",
 * "Node"; the caller knows it: objects from a list often carry no kind)
 * whose metadata.name, namespace and uid are read.  Fire and forget: a
 * failure is logged, never retried, never fatal.  `type` is "Normal" or
 * "Warning"; the source is component "vk" on `host` (may be NULL). */
void vk_kube_event(vk_kube *k, const char *kind, const cJSON *obj, const char *type, const char *reason,
                   const char *host, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* The object with this uid is gone for good: the Event correlator forgets
 * what it remembers about it (an Event being written is forgotten once
 * written).  Keeps its memory to the objects that exist. */
void vk_kube_events_forget(vk_kube *k, const char *uid);
/* Keys the correlator remembers (repeats and similar events). */
size_t vk_kube_events_remembered(const vk_kube *k);
/* ---- informer ----------------------------------------------------------
 * A list + watch cache of one kind of object, as client-go's informers:
 * it lists, then watches from the list's resourceVersion (with bookmarks),
 * resumes from the last resourceVersion after a dropped stream, lists
 * again after a 410 Gone, and reconnects with jittered backoff.  The store
 * maps "namespace/name" (or "name") to the object, kept as compact JSON
 * text (packed) without managedFields.  Callbacks see the store already updated:
 *   on_upsert(key, obj)   obj added or changed (borrowed, for the call)
 *   on_delete(key, old)   obj gone (its last state, borrowed)
 *   on_synced()           after each complete list
 * A list comes in pages (limit=page_size, continue=), each folded into the
 * store as it arrives, with on_upsert for each of its objects; after the
 * last page, on_delete reports what vanished meanwhile. */
typedef struct vk_informer vk_informer;

typedef struct {
	const char *what;     /* "pods", for logs */
	const char *path;     /* collection path, e.g. "/api/v1/pods" */
	const char *selector; /* fieldSelector value (not escaped) or NULL */
	void (*on_upsert)(const char *key, const cJSON *obj, void *ud);
	void (*on_delete)(const char *key, const cJSON *old, void *ud);
	void (*on_synced)(void *ud);
	void *ud;
	unsigned page_size; /* objects per page of a list (limit=); 0: 500 */
} vk_informer_opts;

vk_informer *vk_informer_new(uv_loop_t *loop, vk_kube *k, const vk_informer_opts *o);
void vk_informer_start(vk_informer *inf);
void vk_informer_close(vk_informer *inf); /* no callbacks after this */
bool vk_informer_synced(const vk_informer *inf);
/* A parsed copy of the object (caller frees), or NULL. */
cJSON *vk_informer_get(const vk_informer *inf, const char *key);
bool vk_informer_has(const vk_informer *inf, const char *key);
size_t vk_informer_len(const vk_informer *inf);
/* Iterates the store's keys (borrowed; vk_informer_get reads an object):
 * for (vk_map_iter it = {0}; vk_informer_next(inf, &it, &key);) */
bool vk_informer_next(const vk_informer *inf, vk_map_iter *it, const char **key);
/* Before vk_informer_start: the objects and resourceVersion a previous run
 * kept (the edge cache).  They are served until the server confirms the
 * state with a list (the informer lists first, as it always does: a watch
 * resumed from the stored resourceVersion would replay superseded states
 * one by one).  on_upsert is not called for seeded objects (the owner
 * knows them); on_synced first fires after that list, whose diff against
 * the seeded objects reports what vanished meanwhile through on_delete.
 * vk_informer_seed: one object as JSON text; -EINVAL when it has no name. */
int vk_informer_seed(vk_informer *inf, const char *json, size_t len);
void vk_informer_seed_rv(vk_informer *inf, const char *rv);
/* true from vk_informer_seed_rv until the state is confirmed. */
bool vk_informer_seeded(const vk_informer *inf);
/* The resourceVersion the store is at (borrowed; NULL while listing, the
 * stored one while seeded). */
const char *vk_informer_rv(const vk_informer *inf);
/* "namespace/name" or "name" of an object; caller frees, NULL without a name. */
char *vk_kube_key(const cJSON *obj);

#endif
