/* Internals shared by the files of src/kube/ (not a public contract). */
#ifndef VK_KUBE_INT_H
#define VK_KUBE_INT_H

#include <stddef.h>

#include "vk/util.h"

/* ---- client internals (client.c, watch.c) ---------------------------- */
#include <curl/curl.h>
#include <stdint.h>
#include <time.h>

#include "vk/json.h"
#include "vk/kube.h"
#include "vk/list.h"

struct vk_kube {
	uv_loop_t *loop;
	vk_http *http;
	char *server;
	char *ca_pem, *cert_pem, *key_pem;
	char *token, *token_file;
	bool insecure;
	uint64_t token_checked_ms; /* last look at token_file */
	struct timespec token_mtime;
	vk_list calls;                     /* vk_kube_call in flight, for vk_kube_free */
	unsigned ncalls;                   /* how many (events among them) */
	vk_list watches;                   /* vk_kube_watch */
	struct vk_events *events;          /* the event recorder's queue (event.c), lazily */
	struct vk_kube_cache *cache;       /* the read-through cache (cache.c), lazily */
	struct vk_kube_link *link;         /* is the server answering (link.c) */
	struct vk_kube_exec_auth *exec;    /* the exec credential plugin (exec_auth.c), or NULL */
	unsigned token_gen;                /* bumped with each credential the plugin gives */
	struct vk_kube_throttle *throttle; /* Retry-After of a 429/503 (throttle.c), lazily */
};

/* ---- exec credential plugin (exec_auth.c) -------------------------------
 * A request or watch that finds no fresh credential parks a waiter; go() is
 * called once, from a loop callback, with err NULL when the credential is
 * there or with the plugin's failure in one line. */
typedef struct vk_kube_waiter {
	vk_list link;
	void (*go)(struct vk_kube_waiter *w, const char *err);
	int gate; /* set by the throttle before go(): the vk_kube_gate_role it went with; -1 otherwise */
} vk_kube_waiter;
void vk_kube__exec_new(vk_kube *k, const vk_kube_exec *x); /* x NULL: no plugin */
void vk_kube__exec_free(vk_kube *k);
bool vk_kube__exec_ready(vk_kube *k); /* no plugin, or a credential not about to expire */
void vk_kube__exec_wait(vk_kube *k, vk_kube_waiter *w);
void vk_kube__exec_unwait(vk_kube_waiter *w); /* safe when not waiting (link self-linked) */
/* A 401 to a request made with credential `gen`: drop it, run the plugin next time. */
void vk_kube__exec_rejected(vk_kube *k, unsigned gen);

/* ---- Retry-After (throttle.c, its release policy in throttle_gate.c) ----
 * A 429 or 503 answer holds every new call of the client until its
 * Retry-After (429 without one: 1 s).  Then one held call goes first (the
 * probe: an urgent one when there is one), and on its answer the others,
 * a few in flight at a time; urgent calls (the Lease) wait only for the
 * Retry-After.  The policy is pure, driven by the caller's clock: */
#define VK_KUBE_GATE_WINDOW 16           /* held calls in flight at once after the probe */
#define VK_KUBE_GATE_PROBE_LOST_MS 5000u /* a probe this late no longer holds the others */
typedef enum {
	VK_KUBE_GATE_HOLD = -1, /* not now: park it */
	VK_KUBE_GATE_FREE,      /* goes, not counted (no episode, or urgent) */
	VK_KUBE_GATE_COUNTED,   /* goes as one of the window */
	VK_KUBE_GATE_PROBE,     /* goes as the probe: the others wait for its answer */
} vk_kube_gate_role;
typedef enum {
	VK_KUBE_GATE_ANSWERED,  /* any HTTP answer but a throttling one */
	VK_KUBE_GATE_THROTTLED, /* 429/503 with a wait: vk_kube__gate_throttled came first */
	VK_KUBE_GATE_FAILED,    /* no answer (transport) */
	VK_KUBE_GATE_CANCELLED, /* cancelled, or could not start */
} vk_kube_gate_outcome;
typedef struct vk_kube_gate {
	uint64_t until_ms;  /* no held call starts before (the Retry-After) */
	uint64_t probe_ms;  /* when the probe out went */
	bool probe_wanted;  /* a 429 came: the next call to go is a probe */
	bool probe_out;     /* the probe went and was not answered */
	bool draining;      /* the probe was answered: held calls go, a window at a time */
	unsigned in_flight; /* COUNTED and PROBE calls not ended */
} vk_kube_gate;
/* A 429/503 at `now` asks for `wait_ms`: a new wait (never shorter). */
void vk_kube__gate_throttled(vk_kube_gate *g, uint64_t now, uint64_t wait_ms);
bool vk_kube__gate_waiting(const vk_kube_gate *g, uint64_t now); /* inside a Retry-After */
/* May a call go at `now`?  Counts it when it goes as PROBE or COUNTED.
 * Held calls are asked urgent first, oldest first; a new call is asked
 * only when none of its kind is held (it queues behind them). */
vk_kube_gate_role vk_kube__gate_take(vk_kube_gate *g, uint64_t now, bool urgent);
/* A call that went as `role` ended with `outcome`. */
void vk_kube__gate_ended(vk_kube_gate *g, vk_kube_gate_role role, vk_kube_gate_outcome outcome);
void vk_kube__gate_drained(vk_kube_gate *g); /* no call is held any more */
/* When to ask again for the held calls (0: on the next end of a call). */
uint64_t vk_kube__gate_wake(const vk_kube_gate *g, uint64_t now);

/* Every answer: true when it was a 429/503 that asks us to wait. */
bool vk_kube__throttle_answer(vk_kube *k, CURL *easy, long status);
/* A new call: its role, or HOLD (then vk_kube__throttle_wait it). */
vk_kube_gate_role vk_kube__throttle_admit(vk_kube *k, bool urgent);
void vk_kube__throttle_wait(vk_kube *k, vk_kube_waiter *w, bool urgent); /* undone by vk_kube__exec_unwait */
/* A call that went as `role` (its waiter `w`) ended so. */
void vk_kube__throttle_ended(vk_kube *k, vk_kube_waiter *w, vk_kube_gate_role role, vk_kube_gate_outcome outcome);
void vk_kube__throttle_free(vk_kube *k);

/* A configured easy handle for `method` `path` (server prefix, TLS, auth,
 * Accept) and its header list; `watch` selects streaming timeouts. */
CURL *vk_kube__easy(vk_kube *k, const char *method, const char *path, const char *content_type, bool watch,
                    struct curl_slist **headers);
/* Fills *message and *reason from a Kubernetes Status object (borrowed). */
void vk_kube__status_of(const cJSON *json, const char **message, const char **reason);
/* informer.c: what follows the end of a watch stream (pure): list again
 * (no resourceVersion to resume from), resume at once (a clean end), or
 * resume after the backoff (a failure). */
typedef enum { VK_KUBE_INFORMER_RELIST, VK_KUBE_INFORMER_RESUME, VK_KUBE_INFORMER_RESUME_LATER } vk_kube_informer_step;
vk_kube_informer_step vk_kube__informer_after_close(bool have_rv, long status, const char *err);
/* What follows one page of a list (pure): the next page or the end
 * (RESUME, on a 200), the list again from the top (RELIST: a continue token
 * expired, 410), or a retry after the backoff (RESUME_LATER). */
vk_kube_informer_step vk_kube__informer_after_page(long status, bool continued);
/* An ERROR event's Status says the resourceVersion is too old (code 410). */
bool vk_kube__watch_expired(const cJSON *status);
void vk_kube__watch_unlink_all(vk_kube *k); /* from vk_kube_free */
void vk_kube__events_free(vk_kube *k);      /* from vk_kube_free */

/* ---- link (link.c) ----------------------------------------------------
 * Every call and watch reports how its transfer went: an answer (any HTTP
 * status, or bytes of a watch) says the server is there; a transport
 * failure says the link is down; a call that ran out of time also ends
 * the connections to the server (a black hole keeps TCP quiet for minutes).
 * `easy` is the transfer's handle, valid during its on_done/on_data. */
void vk_kube__link_new(vk_kube *k);
void vk_kube__link_free(vk_kube *k);
void vk_kube__link_answer(vk_kube *k, CURL *easy);
void vk_kube__link_failed(vk_kube *k, CURL *easy, CURLcode code, const char *error);
/* The link's timer (every 500 ms): probes when due at `now` (vk_now_ms();
 * tests drive it with their own clock). */
void vk_kube__link_tick(vk_kube *k, uint64_t now);
/* Watches: bytes arrived on an open stream (cheap: one clock read). */
void vk_kube__link_heard(vk_kube *k);
/* A call of ours with its own time limit (the probe, vk_kube_request_within). */
int vk_kube__request_limited(vk_kube *k, unsigned timeout_ms, unsigned connect_ms, const char *method, const char *path,
                             const char *content_type, const char *body, vk_kube_cb cb, void *ud, vk_kube_call **out);

/* cache.c */
void vk_kube__cache_free(vk_kube *k); /* from vk_kube_free */
/* A cached GET's answer: remembers a 200, forgets on 404, and for a
 * failure (no answer, 5xx) rewrites *r as a 200 from the cache (*json
 * replaced; true) when it holds the path. */
bool vk_kube__cache_answer(vk_kube *k, const char *path, vk_kube_result *r, cJSON **json);

#define VK_KUBE_MAX_BODY (256u << 20) /* a LIST of thousands of objects fits */
#define VK_KUBE_MAX_EVENT (16u << 20) /* one watch line */

#endif
