/* kube: the release policy of the Retry-After gate (throttle_gate.c), as
 * pure logic on a clock the test drives: single steps, then a simulated
 * 429 storm of 200 held calls and a Lease, against a model server that
 * answers every request 429 "Retry-After: 2" until the storm ends. */
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "tap.h"

static void steps(void)
{
	vk_kube_gate g = {0};
	is_int(vk_kube__gate_take(&g, 1000, false), VK_KUBE_GATE_FREE, "no 429 seen: a call goes, not counted");
	is_int(vk_kube__gate_wake(&g, 1000), 0, "no 429 seen: nothing to wake for");

	vk_kube__gate_throttled(&g, 1000, 2000);
	ok(vk_kube__gate_waiting(&g, 1000) && vk_kube__gate_waiting(&g, 2999) && !vk_kube__gate_waiting(&g, 3000),
	   "a 429 with Retry-After 2 s at t=1000: waiting until t=3000");
	is_int(vk_kube__gate_take(&g, 2999, false), VK_KUBE_GATE_HOLD, "a call 1 ms before the end waits");
	is_int(vk_kube__gate_take(&g, 2999, true), VK_KUBE_GATE_HOLD, "an urgent call waits for the Retry-After too");
	is_int(vk_kube__gate_wake(&g, 2000), 3000, "the holder wakes when the wait ends");
	vk_kube__gate_throttled(&g, 1500, 1000);
	is_int(g.until_ms, 3000, "a shorter Retry-After does not cut the wait short");

	is_int(vk_kube__gate_take(&g, 3000, false), VK_KUBE_GATE_PROBE, "at the end ONE call goes: the probe");
	is_int(vk_kube__gate_take(&g, 3000, false), VK_KUBE_GATE_HOLD, "the next waits for the probe's answer");
	is_int(vk_kube__gate_take(&g, 3000, true), VK_KUBE_GATE_FREE,
	       "an urgent call (the Lease) does not wait behind the probe");
	is_int(vk_kube__gate_wake(&g, 3100), 3000 + VK_KUBE_GATE_PROBE_LOST_MS,
	       "the holder wakes when the probe would count as lost");
	vk_kube__gate_throttled(&g, 3050, 2000);
	vk_kube__gate_ended(&g, VK_KUBE_GATE_PROBE, VK_KUBE_GATE_THROTTLED);
	is_int(g.in_flight, 0, "the probe's end is counted");
	is_int(vk_kube__gate_take(&g, 4000, false), VK_KUBE_GATE_HOLD, "a 429 to the probe: a new wait");
	is_int(vk_kube__gate_take(&g, 5050, false), VK_KUBE_GATE_PROBE, "... and a new probe after it");

	vk_kube__gate_ended(&g, VK_KUBE_GATE_PROBE, VK_KUBE_GATE_ANSWERED);
	unsigned went = 0;
	while (vk_kube__gate_take(&g, 5100, false) == VK_KUBE_GATE_COUNTED)
		went++;
	is_int(went, VK_KUBE_GATE_WINDOW, "the probe answered: the held calls go, a window of them in flight");
	is_int(vk_kube__gate_take(&g, 5100, true), VK_KUBE_GATE_FREE, "urgent calls are not part of the window");
	is_int(vk_kube__gate_wake(&g, 5100), 0, "a full window waits for an end, not for the clock");
	vk_kube__gate_ended(&g, VK_KUBE_GATE_COUNTED, VK_KUBE_GATE_ANSWERED);
	is_int(vk_kube__gate_take(&g, 5100, false), VK_KUBE_GATE_COUNTED, "each end lets one more go");
	is_int(vk_kube__gate_take(&g, 5100, false), VK_KUBE_GATE_HOLD, "... one");
	while (g.in_flight)
		vk_kube__gate_ended(&g, VK_KUBE_GATE_COUNTED, VK_KUBE_GATE_ANSWERED);
	vk_kube__gate_drained(&g);
	is_int(vk_kube__gate_take(&g, 5200, false), VK_KUBE_GATE_FREE, "nothing held any more: calls go freely again");

	/* A probe lost, cancelled, failed. */
	vk_kube__gate_throttled(&g, 6000, 1000);
	is_int(vk_kube__gate_take(&g, 7000, false), VK_KUBE_GATE_PROBE, "probe");
	is_int(vk_kube__gate_take(&g, 7000 + VK_KUBE_GATE_PROBE_LOST_MS - 1, false), VK_KUBE_GATE_HOLD,
	       "a slow probe holds the others until it counts as lost");
	is_int(vk_kube__gate_take(&g, 7000 + VK_KUBE_GATE_PROBE_LOST_MS, false), VK_KUBE_GATE_PROBE,
	       "a probe without an answer for 5 s is lost: another goes");
	vk_kube__gate_ended(&g, VK_KUBE_GATE_PROBE, VK_KUBE_GATE_CANCELLED);
	is_int(vk_kube__gate_take(&g, 12001, false), VK_KUBE_GATE_PROBE,
	       "a cancelled probe proved nothing: the next call probes at once");
	vk_kube__gate_ended(&g, VK_KUBE_GATE_PROBE, VK_KUBE_GATE_FAILED);
	is_int(vk_kube__gate_take(&g, 12002, false), VK_KUBE_GATE_COUNTED,
	       "a probe that failed in transport is no 429: the held calls go (the link watches for a dead server)");
}

/* ---- a 429 storm, simulated ------------------------------------------------ */
#define NCALLS 200
#define RTT_MS 40
#define RETRY_AFTER_MS 2000
#define LEASE_RETRY_MS 1000 /* the node's VK_NODE_LEASE_RETRY_MS */
#define LEASE_ID NCALLS

enum { IDLE, HELD, OUT, DONE };
struct sim_call {
	int state;
	bool urgent;
	vk_kube_gate_role role;
	uint64_t answer_at, started, seq; /* seq: queue order */
};
struct sim {
	vk_kube_gate g;
	struct sim_call c[NCALLS + 1];
	uint64_t seq, storm_end;
	unsigned sent_in_storm, sent_total, max_out, out, held_urgent, held_normal;
	unsigned per_s[64];
	uint64_t lease_next, lease_renewed_start, last_done;
};

static void sim_start(struct sim *s, int i, uint64_t now, vk_kube_gate_role role)
{
	s->c[i].state = OUT;
	s->c[i].role = role;
	s->c[i].started = now;
	s->c[i].answer_at = now + RTT_MS;
	s->sent_total++;
	if (now < s->storm_end)
		s->sent_in_storm++;
	if (now / 1000 < 64)
		s->per_s[now / 1000]++;
	if (role == VK_KUBE_GATE_COUNTED || role == VK_KUBE_GATE_PROBE) {
		s->out++;
		if (s->out > s->max_out)
			s->max_out = s->out;
	}
}

/* A new call, as throttle.c admits it: behind the held ones of its kind. */
static void sim_call(struct sim *s, int i, uint64_t now)
{
	struct sim_call *c = &s->c[i];
	unsigned *held = c->urgent ? &s->held_urgent : &s->held_normal;
	vk_kube_gate_role role = *held ? VK_KUBE_GATE_HOLD : vk_kube__gate_take(&s->g, now, c->urgent);
	if (role == VK_KUBE_GATE_HOLD) {
		c->state = HELD;
		c->seq = ++s->seq;
		(*held)++;
	} else {
		sim_start(s, i, now, role);
	}
}

/* The oldest held call of a kind, or -1. */
static int sim_first(struct sim *s, bool urgent)
{
	int best = -1;
	for (int i = 0; i <= NCALLS; i++)
		if (s->c[i].state == HELD && s->c[i].urgent == urgent && (best < 0 || s->c[i].seq < s->c[best].seq))
			best = i;
	return best;
}

/* throttle.c's release: urgent first, oldest first, while the gate says go. */
static void sim_release(struct sim *s, uint64_t now)
{
	for (int u = 1; u >= 0; u--) {
		int i;
		while ((i = sim_first(s, u)) >= 0) {
			vk_kube_gate_role role = vk_kube__gate_take(&s->g, now, u);
			if (role == VK_KUBE_GATE_HOLD)
				break;
			if (u)
				s->held_urgent--;
			else
				s->held_normal--;
			sim_start(s, i, now, role);
		}
	}
	if (!s->held_urgent && !s->held_normal)
		vk_kube__gate_drained(&s->g);
}

static void sim_answers(struct sim *s, uint64_t now)
{
	for (int i = 0; i <= NCALLS; i++) {
		struct sim_call *c = &s->c[i];
		if (c->state != OUT || c->answer_at > now)
			continue;
		bool throttled = now < s->storm_end;
		if (throttled)
			vk_kube__gate_throttled(&s->g, now, RETRY_AFTER_MS);
		if (c->role == VK_KUBE_GATE_COUNTED || c->role == VK_KUBE_GATE_PROBE)
			s->out--;
		vk_kube__gate_ended(&s->g, c->role, throttled ? VK_KUBE_GATE_THROTTLED : VK_KUBE_GATE_ANSWERED);
		c->state = IDLE;
		if (i == LEASE_ID) {
			if (throttled) {
				s->lease_next = now + LEASE_RETRY_MS;
			} else {
				if (!s->lease_renewed_start)
					s->lease_renewed_start = c->started;
				s->lease_next = 0;
				c->state = DONE;
			}
		} else if (throttled) {
			sim_call(s, i, now); /* its caller retries: a new call */
		} else {
			c->state = DONE;
			s->last_done = now;
		}
	}
}

static void storm(void)
{
	struct sim *s = calloc(1, sizeof *s);
	s->storm_end = 12000;
	s->c[LEASE_ID].urgent = true;
	/* A 429 at t=0; then 200 calls are made, and the Lease at t=500. */
	vk_kube__gate_throttled(&s->g, 0, RETRY_AFTER_MS);
	for (int i = 0; i < NCALLS; i++)
		sim_call(s, i, 10);
	s->lease_next = 500;
	for (uint64_t now = 0; now < 40000; now += 5) {
		sim_answers(s, now);
		if (s->lease_next && now >= s->lease_next && s->c[LEASE_ID].state == IDLE) {
			s->lease_next = 0;
			sim_call(s, LEASE_ID, now);
		}
		sim_release(s, now);
	}
	unsigned done = 0, max_s = 0;
	for (int i = 0; i < NCALLS; i++)
		done += s->c[i].state == DONE;
	for (int i = 1; i < 12; i++)
		if (s->per_s[i] > max_s)
			max_s = s->per_s[i];
	tap_diag("storm: %u requests in 12 s of 429s (at most %u in one second), %u in all; the Lease renewed by a "
	         "call started %.2f s after the storm; the last of %u calls done %.2f s after it, at most %u in flight",
	         s->sent_in_storm, max_s, s->sent_total, (double)((long long)s->lease_renewed_start - 12000) / 1000,
	         done, (double)((long long)s->last_done - 12000) / 1000, s->max_out);
	/* One probe, plus the Lease, per Retry-After: 6 waits of 2 s. */
	ok(s->sent_in_storm <= 2 * (12000 / RETRY_AFTER_MS + 1),
	   "a storm of 429s costs a probe and a Lease renewal per Retry-After, not the herd (%u requests in 12 s, "
	   "%u held calls)",
	   s->sent_in_storm, NCALLS);
	ok(max_s <= 3, "never more than 3 requests in one second of the storm (%u)", max_s);
	ok(s->lease_renewed_start >= 12000 && s->lease_renewed_start <= 12000 + RETRY_AFTER_MS + RTT_MS,
	   "the Lease is renewed within one Retry-After of the storm's end, ahead of the herd");
	is_int(done, NCALLS, "every held call went and was answered once the storm was over");
	ok(s->max_out <= VK_KUBE_GATE_WINDOW, "at most a window of held calls in flight at once (%u)", s->max_out);
	ok(s->last_done > s->lease_renewed_start, "the herd went after the Lease");
	free(s);
}

int main(void)
{
	steps();
	storm();
	return tap_done();
}
