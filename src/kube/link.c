/* Is the API server answering?  The link state of one client (see kube.h).
 *
 * Every call and watch reports its outcome here.  An edge node's link
 * fails in two ways: refused or reset connections, which TCP reports at
 * once, and a black hole, where packets vanish and TCP stays quiet for many
 * minutes (a silent peer still looks connected).  For the second there are
 * two guards, as client-go's HTTP/2 health check and kubelet's "close all
 * connections after a failed heartbeat" do:
 *   - a call that runs out of time ends every connection to the server,
 *     so the calls after it open a fresh one instead of queueing behind the
 *     dead one; unless the server answered something else since that call
 *     began (a response, a watch's bytes): then the server is slow, not
 *     gone, and ending its connections would only throw away the work in
 *     flight on them (a busy API server at 10,000 pods answers some calls
 *     late while it streams the watch);
 *   - while watches are open and nothing was heard for IDLE_MS (watches
 *     of quiet objects send nothing), a GET /version must answer within
 *     PROBE_MS.
 * While the link is down the same probe runs every DOWN_PROBE_MS, one at a
 * time and with a short connect limit, so the return of the link is seen
 * within about a second without hammering anyone. */
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "vk/kube.h"
#include "vk/util.h"

#define TICK_MS 500
#define IDLE_MS 20000
#define PROBE_MS 10000
#define DOWN_PROBE_MS 1000
#define DOWN_CONNECT_MS 2000
#define DOWN_TOTAL_MS 5000

typedef struct {
	vk_kube_link_cb cb;
	void *ud;
} listener;

struct vk_kube_link {
	vk_kube *k;
	bool down;
	uint64_t down_since_ms, last_rx_ms, last_probe_ms;
	char peer_ip[64];
	long peer_port;
	listener *ls;
	size_t nls, capls;
	unsigned notifying; /* depth of listener calls: removals wait */
	bool removed;       /* a listener was removed while notifying */
	bool probing;
	bool told_down;    /* what the listeners last heard */
	uv_timer_t *timer; /* freed in its close callback */
	uv_timer_t *soon;  /* tells the listeners on the next loop turn */
	/* the progress line while down: "waiting for the API server ..." */
	unsigned down_probes;
	uint64_t next_progress_ms, progress_every_ms;
	uint64_t slow_said_ms; /* the last "slow, not gone" line */
};

#define SLOW_SAY_MS 60000

#define PROGRESS_FIRST_MS 5000
#define PROGRESS_MAX_MS 60000

/* While the link is down, a line now and then instead of silence: after
 * 5 s, then every 10, 20, 40 s, then every minute. */
static void progress(vk_kube *k, uint64_t now)
{
	struct vk_kube_link *l = k->link;
	if (now < l->next_progress_ms)
		return;
	vk_info("kube", "waiting for the API server %s: %u tries in %.0f s, next in %u s", k->server, l->down_probes,
	        (double)(now - l->down_since_ms) / 1000.0, DOWN_PROBE_MS / 1000);
	l->progress_every_ms = l->progress_every_ms ? l->progress_every_ms * 2 : 2 * PROGRESS_FIRST_MS;
	if (l->progress_every_ms > PROGRESS_MAX_MS)
		l->progress_every_ms = PROGRESS_MAX_MS;
	l->next_progress_ms = now + l->progress_every_ms;
}

static void probe_done(const vk_kube_result *r, void *ud)
{
	vk_kube *k = ud;
	if (k->link)
		k->link->probing = false;
	(void)r; /* the outcome was recorded by the call itself */
}

static void probe(vk_kube *k, bool down, uint64_t now)
{
	struct vk_kube_link *l = k->link;
	l->probing = true;
	l->last_probe_ms = now;
	int rc = down ? vk_kube__request_limited(k, DOWN_TOTAL_MS, DOWN_CONNECT_MS, "GET", "/version", NULL, NULL,
	                                         probe_done, k, NULL)
	              : vk_kube__request_limited(k, PROBE_MS, PROBE_MS, "GET", "/version", NULL, NULL, probe_done, k,
	                                         NULL);
	if (rc < 0)
		l->probing = false;
	else if (!down)
		vk_debug("kube", "nothing heard from the API server for %u s with watches open: probing",
		         IDLE_MS / 1000);
}

void vk_kube__link_tick(vk_kube *k, uint64_t now)
{
	struct vk_kube_link *l = k->link;
	if (!l)
		return;
	if (l->down)
		progress(k, now);
	if (l->probing)
		return;
	if (l->down) {
		if (now - l->last_probe_ms >= DOWN_PROBE_MS) {
			l->down_probes++;
			probe(k, true, now);
		}
	} else if (!vk_list_empty(&k->watches) && now - l->last_rx_ms >= IDLE_MS && now - l->last_probe_ms >= IDLE_MS) {
		probe(k, false, now);
	}
}

static void tick(uv_timer_t *t) { vk_kube__link_tick(t->data, vk_now_ms()); }

static void tell(uv_timer_t *t);

void vk_kube__link_new(vk_kube *k)
{
	struct vk_kube_link *l = vk_xcalloc(1, sizeof *l);
	l->k = k;
	l->last_rx_ms = vk_now_ms();
	l->timer = vk_xcalloc(1, sizeof *l->timer);
	uv_timer_init(k->loop, l->timer);
	l->timer->data = k;
	uv_timer_start(l->timer, tick, TICK_MS, TICK_MS);
	uv_unref((uv_handle_t *)l->timer); /* never keeps the loop alive by itself */
	l->soon = vk_xcalloc(1, sizeof *l->soon);
	uv_timer_init(k->loop, l->soon);
	l->soon->data = k;
	k->link = l;
}

static void timer_closed(uv_handle_t *h) { free(h); }

void vk_kube__link_free(vk_kube *k)
{
	struct vk_kube_link *l = k->link;
	if (!l)
		return;
	uv_close((uv_handle_t *)l->timer, timer_closed);
	uv_close((uv_handle_t *)l->soon, timer_closed);
	free(l->ls);
	free(l);
	k->link = NULL;
}

/* Listeners hear of a change on the next turn of the loop, not from inside
 * the call whose outcome changed it: by then that call's own callback has
 * run, so a listener may cancel or start calls freely.  A change undone in
 * the meantime is not told at all. */
static void tell(uv_timer_t *t)
{
	vk_kube *k = t->data;
	struct vk_kube_link *l = k->link;
	if (l->down == l->told_down)
		return;
	l->told_down = l->down;
	bool up = !l->down;
	l->notifying++;
	/* By index: a listener may add or remove listeners (removal only
	 * marks); it must not free the client. */
	for (size_t i = 0; i < l->nls; i++) {
		if (l->ls[i].cb)
			l->ls[i].cb(up, l->ls[i].ud);
	}
	if (--l->notifying == 0 && l->removed) {
		size_t j = 0;
		for (size_t i = 0; i < l->nls; i++)
			if (l->ls[i].cb)
				l->ls[j++] = l->ls[i];
		l->nls = j;
		l->removed = false;
	}
}

static void remember_peer(struct vk_kube_link *l, CURL *easy)
{
	char *ip = NULL;
	long port = 0;
	if (!easy || curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip || !*ip)
		return;
	curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &port);
	snprintf(l->peer_ip, sizeof l->peer_ip, "%s", ip);
	l->peer_port = port;
}

void vk_kube__link_answer(vk_kube *k, CURL *easy)
{
	struct vk_kube_link *l = k->link;
	if (!l)
		return;
	l->last_rx_ms = vk_now_ms();
	remember_peer(l, easy);
	if (!l->down)
		return;
	l->down = false;
	vk_info("kube", "API server %s answers again (unreachable for %.1f s)", k->server,
	        (double)(l->last_rx_ms - l->down_since_ms) / 1000.0);
	uv_timer_start(l->soon, tell, 0, 0);
}

void vk_kube__link_heard(vk_kube *k)
{
	if (k->link)
		k->link->last_rx_ms = vk_now_ms();
}

/* Transport failures that say "the server cannot be reached", as opposed
 * to ours (a body over its cap, an aborted stream, a bad certificate). */
static bool link_failure(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR: return true;
	default: return false;
	}
}

/* Did the server say anything (vk_kube__link_answer, _heard) after this
 * call began?  A black hole says nothing from its start on, so every call
 * begun after it still ends the connections. */
static bool heard_during(const struct vk_kube_link *l, CURL *easy)
{
	curl_off_t took_us = 0;
	if (!easy || curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &took_us) != CURLE_OK || took_us <= 0)
		return false;
	uint64_t now = vk_now_ms(), took_ms = (uint64_t)took_us / 1000;
	uint64_t began = now > took_ms ? now - took_ms : 0;
	return l->last_rx_ms > began;
}

void vk_kube__link_failed(vk_kube *k, CURL *easy, CURLcode code, const char *error)
{
	struct vk_kube_link *l = k->link;
	if (!l || !link_failure(code))
		return;
	if (code == CURLE_OPERATION_TIMEDOUT && !l->down && heard_during(l, easy)) {
		uint64_t now = vk_now_ms();
		if (!l->slow_said_ms || now - l->slow_said_ms >= SLOW_SAY_MS) {
			l->slow_said_ms = now;
			vk_info("kube",
			        "the API server is slow: a call ran out of time (%s) while others were answered; "
			        "its connections stay",
			        error ? error : "timeout");
		}
		return;
	}
	if (code == CURLE_OPERATION_TIMEDOUT) {
		remember_peer(l, easy);
		int n = l->peer_ip[0] ? vk_http_drop_peer(k->http, l->peer_ip, l->peer_port) : 0;
		/* Said once per outage: while it lasts, every probe times out. */
		if (n && !l->down)
			vk_warn("kube", "no answer from the API server in time (%s): ended %d connection(s) to %s:%ld",
			        error ? error : "timeout", n, l->peer_ip, l->peer_port);
	}
	if (l->down)
		return;
	l->down = true;
	l->down_since_ms = vk_now_ms();
	l->last_probe_ms = l->down_since_ms;
	l->down_probes = 0;
	l->progress_every_ms = 0;
	l->next_progress_ms = l->down_since_ms + PROGRESS_FIRST_MS;
	vk_warn("kube", "API server %s unreachable (%s); pods keep running, statuses and events wait for it", k->server,
	        error ? error : curl_easy_strerror(code));
	uv_timer_start(l->soon, tell, 0, 0);
}

bool vk_kube_link_up(const vk_kube *k) { return k && k->link && !k->link->down; }

void vk_kube_link_listen(vk_kube *k, vk_kube_link_cb cb, void *ud)
{
	struct vk_kube_link *l = k ? k->link : NULL;
	if (!l || !cb)
		return;
	if (l->nls == l->capls) {
		size_t cap = l->capls ? 2 * l->capls : 4;
		listener *n = vk_xcalloc(cap, sizeof *n);
		if (l->nls)
			memcpy(n, l->ls, l->nls * sizeof *n);
		free(l->ls);
		l->ls = n;
		l->capls = cap;
	}
	l->ls[l->nls++] = (listener){cb, ud};
}

void vk_kube_link_unlisten(vk_kube *k, vk_kube_link_cb cb, void *ud)
{
	struct vk_kube_link *l = k ? k->link : NULL;
	if (!l)
		return;
	for (size_t i = 0; i < l->nls; i++) {
		if (l->ls[i].cb != cb || l->ls[i].ud != ud)
			continue;
		if (l->notifying) {
			l->ls[i].cb = NULL;
			l->removed = true;
		} else {
			memmove(&l->ls[i], &l->ls[i + 1], (l->nls - i - 1) * sizeof *l->ls);
			l->nls--;
		}
		return;
	}
}

void vk_kube_reset(vk_kube *k)
{
	struct vk_kube_link *l = k ? k->link : NULL;
	if (l && l->peer_ip[0])
		vk_http_drop_peer(k->http, l->peer_ip, l->peer_port);
}
