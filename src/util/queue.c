/* A keyed work queue with per-key serialisation and retry backoff, in the
 * manner of client-go's rate-limited workqueue, on the libuv loop.
 *
 * A key is in one of these states:
 *   queued   - waiting in the FIFO for a free worker slot;
 *   active   - handed to `work`, not yet done (dirty: added again meanwhile;
 *              released: its slot given back, it no longer counts);
 *   delayed  - waiting on its timer (a retry or an add_after);
 *   idle     - remembered only for its backoff count.
 * Work is started from a uv_idle callback, never from inside add(), so a
 * handler may add keys (even its own) without re-entering itself. */
#include <stdlib.h>
#include <string.h>

#include "vk/list.h"
#include "vk/queue.h"
#include "vk/util.h"

typedef enum { ST_IDLE, ST_QUEUED, ST_ACTIVE, ST_DELAYED } state;

typedef struct item {
	vk_list link; /* q->fifo while queued */
	vk_queue *q;
	char *key;
	state st;
	bool dirty;
	bool released; /* active without a slot (vk_queue_release) */
	bool dead;     /* removed from the map, freed when the timer closes */
	unsigned attempts;
	/* Only once it is delayed (a retry, an add_after): most keys pass
	 * through without.  A uv_timer_t is 152 bytes, the rest of an item
	 * about 50: a backlog of every pod in each of the pod controller's
	 * three queues no longer carries three timers per pod. */
	uv_timer_t *timer;
} item;

struct vk_queue {
	uv_loop_t *loop;
	vk_map *items;
	vk_list fifo; /* queued items, oldest first */
	unsigned max_active, active;
	vk_queue_work_fn work;
	void *ud;
	uv_idle_t idle;
	bool idle_on, closing;
};

static void kick(vk_queue *q);

static void fifo_push(vk_queue *q, item *it)
{
	it->st = ST_QUEUED;
	vk_list_insert_tail(&q->fifo, &it->link);
	kick(q);
}

static item *fifo_pop(vk_queue *q)
{
	vk_list *n = vk_list_first(&q->fifo);
	if (!n)
		return NULL;
	vk_list_remove(n);
	return VK_LIST_ENTRY(n, item, link);
}

static void item_release(item *it)
{
	free(it->key);
	free(it);
}

static void item_closed(uv_handle_t *h)
{
	item_release(h->data);
	free(h);
}

static void item_free(item *it)
{
	it->dead = true;
	if (it->timer)
		uv_close((uv_handle_t *)it->timer, item_closed);
	else
		item_release(it);
}

static item *get_item(vk_queue *q, const char *key)
{
	item *it = vk_map_get(q->items, key);
	if (!it) {
		it = vk_xcalloc(1, sizeof *it);
		it->q = q;
		it->key = vk_strdup(key);
		vk_map_set(q->items, key, it);
	}
	return it;
}

static void on_idle(uv_idle_t *h)
{
	vk_queue *q = h->data;
	while (!q->closing && q->active < q->max_active) {
		item *it = fifo_pop(q);
		if (!it)
			break;
		it->st = ST_ACTIVE;
		it->dirty = false;
		q->active++;
		q->work(q, it->key, q->ud);
	}
	if (vk_list_empty(&q->fifo) || q->active >= q->max_active || q->closing) {
		uv_idle_stop(&q->idle);
		q->idle_on = false;
	}
}

static void kick(vk_queue *q)
{
	if (!q->idle_on && !q->closing && q->active < q->max_active) {
		uv_idle_start(&q->idle, on_idle);
		q->idle_on = true;
	}
}

vk_queue *vk_queue_new(uv_loop_t *loop, unsigned max_active, vk_queue_work_fn work, void *ud)
{
	vk_queue *q = vk_xcalloc(1, sizeof *q);
	q->loop = loop;
	vk_list_init(&q->fifo);
	q->items = vk_map_new();
	q->max_active = max_active ? max_active : 1;
	q->work = work;
	q->ud = ud;
	uv_idle_init(loop, &q->idle);
	q->idle.data = q;
	return q;
}

void vk_queue_add(vk_queue *q, const char *key)
{
	if (q->closing)
		return;
	item *it = get_item(q, key);
	switch (it->st) {
	case ST_QUEUED: return;
	case ST_ACTIVE: it->dirty = true; return;
	case ST_DELAYED: uv_timer_stop(it->timer); /* fall through */
	case ST_IDLE: fifo_push(q, it); return;
	}
}

static void on_timer(uv_timer_t *t)
{
	item *it = t->data;
	if (it->st == ST_DELAYED && !it->q->closing)
		fifo_push(it->q, it);
}

void vk_queue_add_after(vk_queue *q, const char *key, uint64_t ms)
{
	if (q->closing)
		return;
	if (ms == 0) {
		vk_queue_add(q, key);
		return;
	}
	item *it = get_item(q, key);
	if (it->st == ST_ACTIVE) {
		/* It runs again when done, and that run may decide anew. */
		it->dirty = true;
		return;
	}
	if (it->st == ST_QUEUED)
		return;
	if (!it->timer) {
		it->timer = vk_xmalloc(sizeof *it->timer);
		uv_timer_init(q->loop, it->timer);
		it->timer->data = it;
	}
	/* An earlier deadline wins over a later one. */
	if (it->st == ST_DELAYED && uv_timer_get_due_in(it->timer) <= ms)
		return;
	it->st = ST_DELAYED;
	uv_timer_start(it->timer, on_timer, ms, 0);
}

void vk_queue_done(vk_queue *q, const char *key, bool retry, uint64_t retry_max_ms)
{
	item *it = vk_map_get(q->items, key);
	if (!it || it->st != ST_ACTIVE)
		return;
	if (!it->released) {
		q->active--;
		kick(q);
	}
	it->released = false;
	it->st = ST_IDLE;
	if (q->closing)
		return;
	if (retry) {
		vk_backoff b = {.base_ms = 200, .max_ms = retry_max_ms ? retry_max_ms : 60000, .attempt = it->attempts};
		uint64_t d = vk_backoff_next(&b);
		it->attempts++;
		if (it->dirty)
			fifo_push(q, it); /* something changed: look again now */
		else
			vk_queue_add_after(q, key, d);
		return;
	}
	it->attempts = 0;
	if (it->dirty) {
		fifo_push(q, it);
		return;
	}
	vk_map_del(q->items, key);
	item_free(it);
}

void vk_queue_release(vk_queue *q, const char *key)
{
	item *it = vk_map_get(q->items, key);
	if (!it || it->st != ST_ACTIVE || it->released)
		return;
	it->released = true;
	q->active--;
	kick(q);
}

size_t vk_queue_len(const vk_queue *q)
{
	size_t n = 0;
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(q->items, &i, &k, &v);)
		if (((item *)v)->st != ST_IDLE)
			n++;
	return n;
}

unsigned vk_queue_attempts(const vk_queue *q, const char *key)
{
	item *it = vk_map_get(q->items, key);
	return it ? it->attempts : 0;
}

static void queue_closed(uv_handle_t *h)
{
	vk_queue *q = h->data;
	vk_map_free(q->items);
	free(q);
}

void vk_queue_close(vk_queue *q)
{
	if (!q)
		return;
	q->closing = true;
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(q->items, &i, &k, &v);)
		item_free(v);
	vk_list_init(&q->fifo); /* its items are freed */
	/* Late vk_queue_done calls then find nothing. */
	vk_map_free(q->items);
	q->items = vk_map_new();
	uv_close((uv_handle_t *)&q->idle, queue_closed);
}
