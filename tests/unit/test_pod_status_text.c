/* pod: what a pod's status costs while the API server lags (status_text.c).
 * The test plays the writer itself: it offers statuses, takes one into a
 * "write" it holds, and answers it (or not) when it chooses, so no clock
 * or server is involved.  Checks: only the newest status waits per pod,
 * however many arrive while a write is in flight; the waiting status, the
 * copy /pods shows and the write share one block; an unanswered write
 * waits again only if nothing newer does; every block is freed with its
 * last holder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"
#include "tap.h"

static pod_text *status(int pod, int version)
{
	char s[96];
	int n = snprintf(s, sizeof s, "{\"phase\":\"Running\",\"pod\":%d,\"version\":%d}", pod, version);
	return vk_pod__text_new(s, (size_t)n);
}

static void holders_and_text(void)
{
	pod_text *t = vk_pod__text_take(vk_strdup("{\"phase\":\"Pending\"}"));
	is_str(t->s, "{\"phase\":\"Pending\"}", "take keeps the printed text");
	is_int(t->len, strlen(t->s), "and its length");
	ok(t->hash == vk_hash64("{\"phase\":\"Pending\"}"), "and its hash, computed once");
	is_int(t->refs, 1, "one holder");
	ok(vk_pod__text_ref(t) == t && t->refs == 2, "ref: the same block, two holders");
	vk_pod__text_unref(t);
	is_int(t->refs, 1, "unref: one again");
	vk_pod__text_unref(t); /* freed: ASan reports a leak or a double free */
	ok(vk_pod__text_take(NULL) == NULL, "take of nothing is nothing");
	vk_pod__text_unref(NULL);
}

/* 1000 pods, 50 statuses each while the first write of each is in flight
 * (the API server lags): one status waits per pod, and it is the newest. */
#define PODS 1000
#define VERSIONS 50

static void lag_keeps_one_per_pod(void)
{
	static pod_rec recs[PODS];
	static pod_text *inflight[PODS];
	memset(recs, 0, sizeof recs);
	for (int i = 0; i < PODS; i++) {
		vk_pod__slot_offer(&recs[i], status(i, 0), true);
		inflight[i] = vk_pod__slot_take(&recs[i]);
	}
	int bad_take = 0;
	for (int i = 0; i < PODS; i++)
		if (!inflight[i] || recs[i].status_next || inflight[i]->refs != 2)
			bad_take++; /* the writer's holder and /pods' (unwritten) */
	is_int(bad_take, 0, "take hands the waiting status to the writer: none waits, /pods still shows it");

	for (int v = 1; v <= VERSIONS; v++)
		for (int i = 0; i < PODS; i++)
			vk_pod__slot_offer(&recs[i], status(i, v), true);
	int waiting = 0, newest = 0, shared = 0, alone = 0;
	for (int i = 0; i < PODS; i++) {
		pod_text *t = recs[i].status_next;
		char want[96];
		snprintf(want, sizeof want, "\"version\":%d}", VERSIONS);
		waiting += t != NULL;
		newest += t && strstr(t->s, want) != NULL;
		shared += t && recs[i].unwritten == t && t->refs == 2;
		alone += inflight[i]->refs == 1; /* /pods moved on to the newest */
	}
	is_int(waiting, PODS, "after %d statuses per pod during the write, one waits per pod", VERSIONS);
	is_int(newest, PODS, "and it is the newest (a newer one replaced each older in place)");
	is_int(shared, PODS, "the waiting status and the one /pods shows are one block, held twice");
	is_int(alone, PODS, "the write in flight holds its older status alone");

	/* Half the writes are answered, half time out (no answer). */
	int after_written = 0, after_unanswered = 0;
	for (int i = 0; i < PODS; i++) {
		if (i % 2 == 0) {
			vk_pod__slot_written(&recs[i], inflight[i]);
			after_written += recs[i].last_status == inflight[i]->hash && recs[i].unwritten &&
			                 recs[i].unwritten == recs[i].status_next;
			vk_pod__text_unref(inflight[i]);
		} else {
			pod_text *older = inflight[i];
			vk_pod__slot_unanswered(&recs[i], older); /* freed: a newer one waits */
			after_unanswered += recs[i].status_next && recs[i].status_next != older;
		}
		inflight[i] = NULL;
	}
	is_int(after_written, PODS / 2,
	       "an answered older write is remembered as written; the newer still waits and /pods shows it");
	is_int(after_unanswered, PODS / 2, "an unanswered older write does not displace the newer waiting one");

	/* The newest is written everywhere: nothing waits, /pods shows the API's. */
	int clean = 0;
	for (int i = 0; i < PODS; i++) {
		pod_text *t = vk_pod__slot_take(&recs[i]);
		vk_pod__slot_written(&recs[i], t);
		vk_pod__text_unref(t);
		clean += !recs[i].status_next && !recs[i].unwritten && recs[i].last_status != 0;
	}
	is_int(clean, PODS, "once the newest is written nothing is held for any pod");
	for (int i = 0; i < PODS; i++)
		vk_pod__slot_free(&recs[i]);
}

static void unanswered_waits_again(void)
{
	pod_rec r = {0};
	vk_pod__slot_offer(&r, status(1, 1), false);
	ok(r.status_next && !r.unwritten, "without the edge cache /pods keeps no copy");
	pod_text *t = vk_pod__slot_take(&r);
	vk_pod__slot_unanswered(&r, t);
	ok(r.status_next == t && t->refs == 1, "no answer and nothing newer: the same block waits again");
	vk_pod__slot_offer(&r, status(1, 2), true);
	ok(r.status_next && r.status_next != t && r.unwritten == r.status_next,
	   "a newer status replaces it (the old block is freed)");
	vk_pod__slot_clear(&r);
	ok(!r.status_next && r.unwritten && r.unwritten->refs == 1,
	   "clear drops the waiting one; /pods' copy stays until written");
	vk_pod__slot_free(&r);
	ok(!r.status_next && !r.unwritten, "free: nothing held");
}

/* A poll that finds the status last written holds nothing, and drops an
 * older one still waiting: the newest is what the API has. */
static void known_status_holds_nothing(void)
{
	pod_rec r = {0};
	pod_text *t = status(7, 1);
	ok(!vk_pod__slot_drop_if_known(&r, vk_pod__text_ref(t)), "nothing written yet: not known");
	vk_pod__text_unref(t); /* the ref the false answer left */
	uint64_t hash = t->hash;
	vk_pod__slot_offer(&r, t, true);
	pod_text *w = vk_pod__slot_take(&r);
	vk_pod__slot_written(&r, w);
	vk_pod__text_unref(w);
	ok(!r.status_next && !r.unwritten && r.last_status == hash, "written: nothing held");
	vk_pod__slot_offer(&r, status(7, 2), true); /* a change waits (the link is down) */
	pod_text *again = status(7, 1);             /* then it changes back */
	ok(vk_pod__slot_drop_if_known(&r, again), "the status last written again: known");
	ok(!r.status_next && !r.unwritten, "the older change no longer waits, /pods shows the API's");
	for (int i = 0; i < 1000; i++)
		if (!vk_pod__slot_drop_if_known(&r, status(7, 1)))
			break;
	ok(!r.status_next && !r.unwritten, "a thousand polls of it hold nothing");
	vk_pod__slot_free(&r);
}

int main(void)
{
	holders_and_text();
	lag_keeps_one_per_pod();
	unanswered_waits_again();
	known_status_holds_nothing();
	return tap_done();
}
