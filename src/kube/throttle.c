/* The API server asks us to slow down: 429 Too Many Requests (its
 * priority-and-fairness queue is full) or 503, with Retry-After.  Until that
 * moment no new call leaves this client: calls made meanwhile wait here and
 * start together when it comes, so a client whose every caller retries on
 * its own (status writes, deletes, the lease) still sends nothing before
 * the server said it may.  A 429 without Retry-After waits 1 s, as
 * client-go does; the wait is capped at a minute.  Watches are not held:
 * they start again on their own backoff. */
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "vk/util.h"

#define DEFAULT_WAIT_S 1
#define MAX_WAIT_S 60

struct vk_kube_throttle {
	uint64_t until_ms; /* no call starts before this (vk_now_ms) */
	vk_list waiting;   /* vk_kube_waiter */
	uv_timer_t *timer; /* freed in its close callback */
	unsigned held;     /* calls held in this episode, for the log */
};

/* Retry-After in whole seconds (the HTTP-date form is not used by the API
 * server); -1 when absent or not a number. */
static long retry_after_s(CURL *easy)
{
	struct curl_header *h = NULL;
	if (!easy || curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value)
		return -1;
	char *end = NULL;
	long s = strtol(h->value, &end, 10);
	if (end == h->value || s < 0)
		return -1;
	return s;
}

static void release(uv_timer_t *t)
{
	vk_kube *k = t->data;
	struct vk_kube_throttle *th = k->throttle;
	uint64_t now = vk_now_ms();
	if (now < th->until_ms) { /* extended meanwhile */
		uv_timer_start(t, release, th->until_ms - now, 0);
		return;
	}
	if (th->held)
		vk_info("kube", "the API server's wait is over: %u held call(s) go", th->held);
	th->held = 0;
	/* Each go() may park again (a new 429 came back at once): take the
	 * list as it is now. */
	vk_list todo;
	vk_list_init(&todo);
	while (!vk_list_empty(&th->waiting)) {
		vk_list *n = vk_list_first(&th->waiting);
		vk_list_remove(n);
		vk_list_insert_tail(&todo, n);
	}
	while (!vk_list_empty(&todo)) {
		vk_kube_waiter *w = VK_LIST_ENTRY(vk_list_first(&todo), vk_kube_waiter, link);
		vk_list_remove(&w->link);
		vk_list_init(&w->link);
		w->go(w, NULL);
	}
}

static struct vk_kube_throttle *get(vk_kube *k)
{
	if (!k->throttle) {
		struct vk_kube_throttle *th = vk_xcalloc(1, sizeof *th);
		vk_list_init(&th->waiting);
		th->timer = vk_xcalloc(1, sizeof *th->timer);
		uv_timer_init(k->loop, th->timer);
		th->timer->data = k;
		k->throttle = th;
	}
	return k->throttle;
}

void vk_kube__throttle_answer(vk_kube *k, CURL *easy, long status)
{
	if (status != 429 && status != 503)
		return;
	long s = retry_after_s(easy);
	if (s < 0) {
		if (status != 429)
			return;
		s = DEFAULT_WAIT_S;
	}
	if (s > MAX_WAIT_S)
		s = MAX_WAIT_S;
	if (s == 0)
		return;
	struct vk_kube_throttle *th = get(k);
	uint64_t now = vk_now_ms(), until = now + (uint64_t)s * 1000;
	if (until <= th->until_ms)
		return;
	if (th->until_ms <= now)
		vk_info("kube", "the API server answered %ld with Retry-After %ld s: new calls wait for it", status, s);
	th->until_ms = until;
	uv_timer_start(th->timer, release, until - now, 0);
}

bool vk_kube__throttled(vk_kube *k) { return k->throttle && vk_now_ms() < k->throttle->until_ms; }

void vk_kube__throttle_wait(vk_kube *k, vk_kube_waiter *w)
{
	struct vk_kube_throttle *th = get(k);
	th->held++;
	vk_list_insert_tail(&th->waiting, &w->link);
}

static void timer_closed(uv_handle_t *h) { free(h); }

void vk_kube__throttle_free(vk_kube *k)
{
	struct vk_kube_throttle *th = k->throttle;
	if (!th)
		return;
	/* The calls are freed by vk_kube_free, which unlinks their waiters. */
	uv_close((uv_handle_t *)th->timer, timer_closed);
	free(th);
	k->throttle = NULL;
}
