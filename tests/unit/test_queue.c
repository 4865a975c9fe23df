/* util/queue: per-key serialisation, dedupe, retry backoff, concurrency cap. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vk/json.h"
#include "vk/queue.h"
#include "vk/util.h"

typedef struct {
	vk_queue *q;
	int runs[8];
	int active, max_active;
	int fail_first; /* key "a" fails this many times */
	char pending[8][16];
	int npending;
	uv_timer_t t;
	uint64_t retry_at;
	uint64_t t0;
} world;

static int idx(const char *k) { return k[0] - 'a'; }

static void finish_all(uv_timer_t *t)
{
	world *w = t->data;
	for (int i = 0; i < w->npending; i++) {
		bool retry = strcmp(w->pending[i], "a") == 0 && w->fail_first-- > 0;
		w->active--;
		vk_queue_done(w->q, w->pending[i], retry, 1000);
	}
	w->npending = 0;
}

static void work(vk_queue *q, const char *key, void *ud)
{
	world *w = ud;
	w->runs[idx(key)]++;
	if (++w->active > w->max_active)
		w->max_active = w->active;
	if (strcmp(key, "a") == 0 && w->runs[0] == 2)
		w->retry_at = vk_now_ms() - w->t0;
	snprintf(w->pending[w->npending++], 16, "%s", key);
	/* finish asynchronously, like a provider call */
	if (!uv_is_active((uv_handle_t *)&w->t))
		uv_timer_start(&w->t, finish_all, 5, 0);
}

/* A queue whose work only records which key started: the test ends runs. */
typedef struct {
	char started[8];
	int n;
} log_world;

static void record(vk_queue *q, const char *key, void *ud)
{
	(void)q;
	log_world *l = ud;
	if (l->n < (int)sizeof l->started - 1)
		l->started[l->n++] = key[0];
}

/* vk_queue_release: a run that waits on something else gives up its slot
 * and stays the key's one run. */
static void test_release(uv_loop_t *loop)
{
	log_world l = {0};
	vk_queue *q = vk_queue_new(loop, 1, record, &l);
	vk_queue_add(q, "a");
	vk_queue_add(q, "b");
	uv_run(loop, UV_RUN_NOWAIT);
	uv_run(loop, UV_RUN_NOWAIT);
	is_str(l.started, "a", "with one slot, b waits while a runs");
	vk_queue_release(q, "a");
	uv_run(loop, UV_RUN_NOWAIT);
	is_str(l.started, "ab", "a released run frees its slot: b starts");
	vk_queue_add(q, "a");
	uv_run(loop, UV_RUN_NOWAIT);
	vk_queue_done(q, "b", false, 0);
	uv_run(loop, UV_RUN_NOWAIT);
	is_str(l.started, "ab", "a released key added again does not run beside its run");
	vk_queue_release(q, "a"); /* twice: still one slot given back */
	vk_queue_done(q, "a", false, 0);
	uv_run(loop, UV_RUN_NOWAIT);
	is_str(l.started, "aba", "its run done, the key runs again");
	vk_queue_add(q, "c");
	uv_run(loop, UV_RUN_NOWAIT);
	uv_run(loop, UV_RUN_NOWAIT);
	is_str(l.started, "aba", "a released run's done frees no second slot: c waits");
	vk_queue_done(q, "a", false, 0);
	uv_run(loop, UV_RUN_NOWAIT);
	is_str(l.started, "abac", "and starts when the slot is free");
	vk_queue_done(q, "c", false, 0);
	is_int(vk_queue_len(q), 0, "the queue is empty at the end");
	vk_queue_close(q);
	uv_run(loop, UV_RUN_DEFAULT);
}

int main(void)
{
	vk_json_init();
	uv_loop_t *loop = uv_default_loop();
	world w = {0};
	uv_timer_init(loop, &w.t);
	w.t.data = &w;
	w.q = vk_queue_new(loop, 2, work, &w);
	w.t0 = vk_now_ms();

	/* duplicates collapse; the cap holds */
	vk_queue_add(w.q, "b");
	vk_queue_add(w.q, "b");
	vk_queue_add(w.q, "c");
	vk_queue_add(w.q, "d");
	vk_queue_add(w.q, "e");
	w.fail_first = 1;
	vk_queue_add(w.q, "a");
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(w.runs[idx("b")], 1, "a key added twice before it runs runs once");
	ok(w.max_active <= 2, "never more than max_active keys at once (%d)", w.max_active);
	is_int(w.runs[idx("a")], 2, "a failed key is retried once it fails");
	ok(w.retry_at >= 100, "the retry waited its backoff (%llu ms)", (unsigned long long)w.retry_at);
	is_int(vk_queue_len(w.q), 0, "the queue is empty at the end");

	/* adding a key while it runs makes it run again after, not concurrently */
	memset(w.runs, 0, sizeof w.runs);
	w.max_active = 0;
	vk_queue_add(w.q, "f");
	uv_run(loop, UV_RUN_NOWAIT); /* f starts */
	vk_queue_add(w.q, "f");      /* while active */
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(w.runs[idx("f")], 2, "a key added while running runs once more afterwards");
	is_int(w.max_active, 1, "and never twice at the same time");

	/* add_after delays */
	memset(w.runs, 0, sizeof w.runs);
	/* the loop's clock, which the timer counts from, is not behind t */
	uint64_t t = vk_now_ms();
	uv_update_time(loop);
	vk_queue_add_after(w.q, "g", 80);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(vk_now_ms() - t >= 75, "add_after waits (%llu ms)", (unsigned long long)(vk_now_ms() - t));
	is_int(w.runs[idx("g")], 1, "and then runs the key");

	test_release(loop);

	vk_queue_close(w.q);
	uv_close((uv_handle_t *)&w.t, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	return tap_done();
}
