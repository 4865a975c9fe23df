/* The API server asks us to slow down: 429 Too Many Requests (its
 * priority-and-fairness queue is full) or 503, with Retry-After.  Until that
 * moment no new call leaves this client: calls made meanwhile wait here, so
 * a client whose every caller retries on its own (status writes, deletes,
 * the lease) still sends nothing before the server said it may.  When the
 * wait ends they go as throttle_gate.c says: one probe first (the Lease
 * when it is held), the rest a window at a time once the server answers
 * it.  A 429 without Retry-After waits 1 s, as client-go does; the wait is
 * capped at a minute.  Watches are not held: they start again on their own
 * backoff. */
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "vk/util.h"

#define DEFAULT_WAIT_S 1
#define MAX_WAIT_S 60

struct vk_kube_throttle {
	vk_kube_gate gate;
	vk_list urgent;        /* vk_kube_waiter held, the Lease's */
	vk_list waiting;       /* vk_kube_waiter held, every other call's */
	vk_kube_waiter *probe; /* the probe out, to know its end (not owned) */
	uv_timer_t *timer;     /* freed in its close callback */
	unsigned held;         /* calls held in this episode, for the log */
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

static void release(uv_timer_t *t);

static void arm(struct vk_kube_throttle *th, uint64_t delay_ms) { uv_timer_start(th->timer, release, delay_ms, 0); }

/* Lets the held calls go that the gate lets go now, urgent first, oldest
 * first.  A go() may park new calls or end others (its call could not
 * start): those only re-arm the timer, they never come back here. */
static void release(uv_timer_t *t)
{
	vk_kube *k = t->data;
	struct vk_kube_throttle *th = k->throttle;
	uint64_t now = vk_now_ms();
	unsigned went = 0;
	vk_list *lists[] = {&th->urgent, &th->waiting};
	for (int i = 0; i < 2; i++) {
		vk_list *n;
		while ((n = vk_list_first(lists[i]))) {
			vk_kube_gate_role role = vk_kube__gate_take(&th->gate, now, i == 0);
			if (role == VK_KUBE_GATE_HOLD)
				break;
			vk_kube_waiter *w = VK_LIST_ENTRY(n, vk_kube_waiter, link);
			vk_list_remove(n);
			vk_list_init(n);
			w->gate = (int)role;
			if (role == VK_KUBE_GATE_PROBE)
				th->probe = w;
			went++;
			w->go(w, NULL);
		}
	}
	if (went && th->held)
		vk_debug("kube", "after the API server's wait: %u held call(s) go%s", went,
		         th->gate.probe_out && went == 1 ? " (the probe)" : "");
	if (vk_list_empty(&th->urgent) && vk_list_empty(&th->waiting)) {
		if (th->held && !th->gate.probe_wanted)
			vk_info("kube",
			        "the API server takes calls again: the %u call(s) held since its Retry-After went",
			        th->held);
		if (!th->gate.probe_wanted)
			th->held = 0;
		vk_kube__gate_drained(&th->gate);
		return;
	}
	uint64_t wake = vk_kube__gate_wake(&th->gate, now);
	if (wake)
		arm(th, wake > now ? wake - now : 0);
}

static struct vk_kube_throttle *get(vk_kube *k)
{
	if (!k->throttle) {
		struct vk_kube_throttle *th = vk_xcalloc(1, sizeof *th);
		vk_list_init(&th->urgent);
		vk_list_init(&th->waiting);
		th->timer = vk_xcalloc(1, sizeof *th->timer);
		uv_timer_init(k->loop, th->timer);
		th->timer->data = k;
		k->throttle = th;
	}
	return k->throttle;
}

bool vk_kube__throttle_answer(vk_kube *k, CURL *easy, long status)
{
	if (status != 429 && status != 503)
		return false;
	long s = retry_after_s(easy);
	if (s < 0) {
		if (status != 429)
			return false;
		s = DEFAULT_WAIT_S;
	}
	if (s > MAX_WAIT_S)
		s = MAX_WAIT_S;
	if (s == 0)
		return false;
	struct vk_kube_throttle *th = get(k);
	uint64_t now = vk_now_ms();
	if (!vk_kube__gate_waiting(&th->gate, now) && !th->gate.probe_wanted)
		vk_info("kube", "the API server answered %ld with Retry-After %ld s: new calls wait for it", status, s);
	vk_kube__gate_throttled(&th->gate, now, (uint64_t)s * 1000);
	arm(th, th->gate.until_ms - now);
	return true;
}

vk_kube_gate_role vk_kube__throttle_admit(vk_kube *k, bool urgent)
{
	struct vk_kube_throttle *th = k->throttle;
	if (!th)
		return VK_KUBE_GATE_FREE;
	/* Behind the held calls of its kind: they go first. */
	if (!vk_list_empty(urgent ? &th->urgent : &th->waiting))
		return VK_KUBE_GATE_HOLD;
	vk_kube_gate_role role = vk_kube__gate_take(&th->gate, vk_now_ms(), urgent);
	return role;
}

void vk_kube__throttle_wait(vk_kube *k, vk_kube_waiter *w, bool urgent)
{
	struct vk_kube_throttle *th = get(k);
	th->held++;
	w->gate = -1;
	vk_list_insert_tail(urgent ? &th->urgent : &th->waiting, &w->link);
	uint64_t now = vk_now_ms(), wake = vk_kube__gate_wake(&th->gate, now);
	/* Not inside a wait, and no probe out: the gate may let it go at
	 * once (a window's room) or on the next end of a call. */
	if (wake && !uv_is_active((uv_handle_t *)th->timer))
		arm(th, wake > now ? wake - now : 0);
}

void vk_kube__throttle_ended(vk_kube *k, vk_kube_waiter *w, vk_kube_gate_role role, vk_kube_gate_outcome outcome)
{
	struct vk_kube_throttle *th = k->throttle;
	if (!th || (role != VK_KUBE_GATE_PROBE && role != VK_KUBE_GATE_COUNTED))
		return;
	if (role == VK_KUBE_GATE_PROBE && th->probe != w)
		role = VK_KUBE_GATE_COUNTED; /* a probe given up for lost: another one went */
	if (role == VK_KUBE_GATE_PROBE)
		th->probe = NULL;
	vk_kube__gate_ended(&th->gate, role, outcome);
	/* From the loop, not from inside a call's end. */
	if (!vk_list_empty(&th->urgent) || !vk_list_empty(&th->waiting)) {
		uint64_t now = vk_now_ms(), wake = vk_kube__gate_waiting(&th->gate, now) ? th->gate.until_ms : now;
		arm(th, wake - now);
	}
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
