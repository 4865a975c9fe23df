/* The release policy of the Retry-After gate (pure: no loop, no clock;
 * the unit test drives the time).  throttle.c holds the calls and asks it.
 *
 * Why not release every held call when the Retry-After ends: against a
 * server that is still overloaded they all get 429 again, all wait again,
 * and the whole herd goes again a Retry-After later.  A server in trouble
 * sees a burst of every call the client has every few seconds, which is
 * the opposite of backing off.  So, as TCP restarts after a timeout with
 * one segment:
 *   - when the wait ends, ONE held call goes: the probe.  An urgent call
 *     (the node's Lease, the heartbeat that keeps the node Ready) is the
 *     probe when one is held, else the oldest call.
 *   - a 429 to the probe starts a new wait; one call per Retry-After is
 *     all an overloaded server gets from us.
 *   - any other answer says the server takes calls again: the held calls
 *     go in order, at most VK_KUBE_GATE_WINDOW of them in flight, each
 *     answer letting the next one go (the API server's priority-and-
 *     fairness limits concurrency, so concurrency is what we bound);
 *     calls made meanwhile queue behind them.
 *   - urgent calls wait for the Retry-After and for nothing else: they
 *     never queue behind the herd.
 *   - a probe that has not answered after VK_KUBE_GATE_PROBE_LOST_MS (a
 *     slow call, a dead connection) no longer holds the others back:
 *     another probe goes.
 * client-go waits per request; a client-wide gate with one probe sends
 * far less to a server that refuses everything. */
#include "kube_int.h"

void vk_kube__gate_throttled(vk_kube_gate *g, uint64_t now, uint64_t wait_ms)
{
	if (now + wait_ms > g->until_ms)
		g->until_ms = now + wait_ms;
	g->probe_wanted = true;
	g->draining = false;
}

bool vk_kube__gate_waiting(const vk_kube_gate *g, uint64_t now) { return now < g->until_ms; }

vk_kube_gate_role vk_kube__gate_take(vk_kube_gate *g, uint64_t now, bool urgent)
{
	if (now < g->until_ms)
		return VK_KUBE_GATE_HOLD;
	if (g->probe_out && now >= g->probe_ms + VK_KUBE_GATE_PROBE_LOST_MS)
		g->probe_out = false; /* lost: the next probe goes */
	if (g->probe_wanted) {
		if (!g->probe_out) {
			g->probe_out = true;
			g->probe_ms = now;
			g->in_flight++;
			return VK_KUBE_GATE_PROBE;
		}
		return urgent ? VK_KUBE_GATE_FREE : VK_KUBE_GATE_HOLD;
	}
	if (urgent || !g->draining)
		return VK_KUBE_GATE_FREE;
	if (g->in_flight >= VK_KUBE_GATE_WINDOW)
		return VK_KUBE_GATE_HOLD;
	g->in_flight++;
	return VK_KUBE_GATE_COUNTED;
}

void vk_kube__gate_ended(vk_kube_gate *g, vk_kube_gate_role role, vk_kube_gate_outcome outcome)
{
	if (role != VK_KUBE_GATE_PROBE && role != VK_KUBE_GATE_COUNTED)
		return;
	if (g->in_flight)
		g->in_flight--;
	if (role != VK_KUBE_GATE_PROBE)
		return;
	g->probe_out = false;
	/* A 429 already started a new wait (vk_kube__gate_throttled); a
	 * cancelled probe proved nothing: the next one goes.  Any other end,
	 * a transport failure included, is not the server asking us to wait
	 * (the link watches for a server that is gone). */
	if (outcome == VK_KUBE_GATE_ANSWERED || outcome == VK_KUBE_GATE_FAILED) {
		g->probe_wanted = false;
		g->draining = true;
	}
}

void vk_kube__gate_drained(vk_kube_gate *g)
{
	if (!g->probe_wanted)
		g->draining = false;
}

uint64_t vk_kube__gate_wake(const vk_kube_gate *g, uint64_t now)
{
	if (now < g->until_ms)
		return g->until_ms;
	if (g->probe_out)
		return g->probe_ms + VK_KUBE_GATE_PROBE_LOST_MS;
	return 0;
}
