/* writeback.c - the write-behind the controllers call.
 *
 * Writes are coalesced per key in `pending` and flushed as one batch (one
 * transaction) every flush_ms, or at once when max_pending keys wait.  One
 * batch is in flight at a time, so writes reach the store in the order they
 * were queued.  A batch that fails puts its writes back (unless a newer one
 * for the same key came meanwhile), marks the store down, logs once, and
 * retries with backoff; the first batch that succeeds after that logs once
 * that the store is back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define MAX_BATCH 1024

typedef struct {
	char *key;
	bool del;
	char *value;
	size_t len;
	uint64_t rv;
	unsigned ttl_s;
	uint64_t seq; /* when it was queued */
} wb_entry;

typedef struct wb_waiter {
	vk_store_wb_flush_cb cb;
	void *ud;
	uint64_t upto; /* satisfied when every write with seq <= upto is in */
	struct wb_waiter *next;
} wb_waiter;

typedef struct {
	vk_store_wb *w; /* NULL once the write-behind is closed */
} wb_ticket;

struct vk_store_wb {
	vk_store *s;
	vk_store_wb_opts o;
	vk_map *pending; /* key -> wb_entry */
	wb_entry **fly;  /* the batch in flight */
	size_t nfly;
	wb_ticket *ticket; /* of the batch in flight */
	uint64_t seq;
	uv_timer_t timer;
	bool timer_on, down, closing;
	vk_backoff bo;
	wb_waiter *waiters;
};

static void entry_free(wb_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->value);
	free(e);
}

static void flush_now(vk_store_wb *w);
static void wake(vk_store_wb *w, int status);

static void on_timer(uv_timer_t *t)
{
	vk_store_wb *w = t->data;
	w->timer_on = false;
	flush_now(w);
	if (!w->fly)
		wake(w, 0); /* flush() calls with nothing left to wait for */
}

static void arm(vk_store_wb *w, uint64_t ms)
{
	if (w->timer_on)
		return;
	w->timer_on = true;
	uv_timer_start(&w->timer, on_timer, ms, 0);
}

vk_store_wb *vk_store_wb_new(vk_store *s, const vk_store_wb_opts *opts)
{
	vk_store_wb *w = vk_xcalloc(1, sizeof *w);
	w->s = s;
	if (opts)
		w->o = *opts;
	if (!w->o.flush_ms)
		w->o.flush_ms = 50;
	if (!w->o.max_pending)
		w->o.max_pending = 256;
	if (!w->o.retry_base_ms)
		w->o.retry_base_ms = 200;
	if (!w->o.retry_max_ms)
		w->o.retry_max_ms = 5000;
	w->bo = (vk_backoff){.base_ms = w->o.retry_base_ms, .max_ms = w->o.retry_max_ms};
	w->pending = vk_map_new();
	uv_timer_init(s->loop, &w->timer);
	w->timer.data = w;
	return w;
}

static void queue(vk_store_wb *w, wb_entry *e)
{
	wb_entry *old = vk_map_get(w->pending, e->key);
	/* Fresher wins here too: an older write never replaces a newer one. */
	if (old && e->rv && old->rv > e->rv) {
		entry_free(e);
		return;
	}
	e->seq = ++w->seq;
	entry_free(vk_map_set(w->pending, e->key, e));
	if (w->down)
		return; /* the retry timer flushes */
	if (vk_map_len(w->pending) >= w->o.max_pending && !w->fly)
		flush_now(w);
	else
		arm(w, w->o.flush_ms);
}

void vk_store_wb_put(vk_store_wb *w, const char *key, const void *value, size_t len, uint64_t rv, unsigned ttl_s)
{
	if (w->closing || !key || !*key)
		return;
	wb_entry *e = vk_xcalloc(1, sizeof *e);
	e->key = vk_strdup(key);
	e->value = vk_memdupz(value, len);
	e->len = len;
	e->rv = rv;
	e->ttl_s = ttl_s;
	queue(w, e);
}

void vk_store_wb_delete(vk_store_wb *w, const char *key, uint64_t rv)
{
	if (w->closing || !key || !*key)
		return;
	wb_entry *e = vk_xcalloc(1, sizeof *e);
	e->key = vk_strdup(key);
	e->del = true;
	e->rv = rv;
	queue(w, e);
}

bool vk_store_wb_pending(const vk_store_wb *w, const char *key, const char **value, size_t *len, uint64_t *rv)
{
	const wb_entry *e = vk_map_get(w->pending, key);
	for (size_t i = w->nfly; !e && i > 0; i--)
		if (strcmp(w->fly[i - 1]->key, key) == 0)
			e = w->fly[i - 1];
	if (!e)
		return false;
	if (value)
		*value = e->del ? NULL : e->value;
	if (len)
		*len = e->del ? 0 : e->len;
	if (rv)
		*rv = e->rv;
	return true;
}

size_t vk_store_wb_len(const vk_store_wb *w) { return vk_map_len(w->pending) + w->nfly; }

bool vk_store_wb_is_down(const vk_store_wb *w) { return w->down; }

/* The oldest write not yet in the store. */
static uint64_t oldest(const vk_store_wb *w)
{
	uint64_t min = UINT64_MAX;
	const char *k;
	void *v;
	for (vk_map_iter it = {0}; vk_map_next(w->pending, &it, &k, &v);)
		if (((wb_entry *)v)->seq < min)
			min = ((wb_entry *)v)->seq;
	for (size_t i = 0; i < w->nfly; i++)
		if (w->fly[i]->seq < min)
			min = w->fly[i]->seq;
	return min;
}

static void wake(vk_store_wb *w, int status)
{
	uint64_t min = oldest(w);
	wb_waiter **pp = &w->waiters;
	while (*pp && !w->closing) {
		wb_waiter *x = *pp;
		if (status == 0 && x->upto >= min) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		if (x->cb)
			x->cb(w, status, x->ud);
		free(x);
		pp = &w->waiters; /* the callback may have changed the list */
	}
}

static void committed(vk_store *s, int status, const char *err, const int *results, size_t n, void *ud)
{
	wb_ticket *t = ud;
	vk_store_wb *w = t->w;
	free(t);
	if (!w)
		return;
	w->ticket = NULL;
	wb_entry **fly = w->fly;
	size_t nfly = w->nfly;
	w->fly = NULL;
	w->nfly = 0;
	if (status == 0) {
		for (size_t i = 0; i < nfly; i++) {
			if (results[i] == VK_STORE_ESTALE)
				vk_debug("store", "%s: %s not written: the store holds a fresher version",
				         vk_store_name(s), fly[i]->key);
			entry_free(fly[i]);
		}
		free(fly);
		if (w->down) {
			w->down = false;
			vk_info("store", "%s is back; %zu pending writes caught up, %zu more queued", vk_store_name(s),
			        nfly, vk_map_len(w->pending));
		}
		vk_backoff_reset(&w->bo);
		wake(w, 0);
		if (!w->closing && vk_map_len(w->pending)) {
			if (vk_map_len(w->pending) >= w->o.max_pending)
				flush_now(w);
			else
				arm(w, w->o.flush_ms);
		}
		return;
	}
	/* Put the writes back, unless a newer one for the key came meanwhile. */
	for (size_t i = 0; i < nfly; i++) {
		if (vk_map_get(w->pending, fly[i]->key))
			entry_free(fly[i]);
		else
			vk_map_set(w->pending, fly[i]->key, fly[i]);
	}
	free(fly);
	if (!w->down) {
		w->down = true;
		vk_warn("store", "%s; keeping %zu writes in memory and retrying until it answers again",
		        err ? err : vk_store_strerror(status), vk_map_len(w->pending));
	}
	wake(w, status);
	if (!w->closing)
		arm(w, vk_backoff_next(&w->bo));
}

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = (*(wb_entry *const *)a)->seq, y = (*(wb_entry *const *)b)->seq;
	return x < y ? -1 : x > y;
}

static void flush_now(vk_store_wb *w)
{
	if (w->fly || w->closing || vk_map_len(w->pending) == 0)
		return;
	if (w->timer_on) {
		uv_timer_stop(&w->timer);
		w->timer_on = false;
	}
	size_t n = vk_map_len(w->pending);
	wb_entry **all = vk_xcalloc(n, sizeof *all);
	size_t i = 0;
	const char *k;
	void *v;
	for (vk_map_iter it = {0}; vk_map_next(w->pending, &it, &k, &v);)
		all[i++] = v;
	/* Oldest first, so that a capped batch takes the writes queued first. */
	qsort(all, n, sizeof *all, cmp_seq);
	size_t take = n < MAX_BATCH ? n : MAX_BATCH;
	vk_store_batch *b = vk_store_batch_new();
	for (i = 0; i < take; i++) {
		wb_entry *e = all[i];
		vk_map_del(w->pending, e->key);
		if (e->del)
			vk_store_batch_delete(b, e->key, e->rv);
		else
			vk_store_batch_put(b, e->key, e->value, e->len, e->rv, e->ttl_s);
	}
	w->fly = all;
	w->nfly = take;
	w->ticket = vk_xcalloc(1, sizeof *w->ticket);
	w->ticket->w = w;
	int rc = vk_store_commit(w->s, b, committed, w->ticket);
	if (rc) {
		/* The store refused the call itself (closed): keep the writes. */
		free(w->ticket);
		w->ticket = NULL;
		for (i = 0; i < take; i++)
			vk_map_set(w->pending, all[i]->key, all[i]);
		free(all);
		w->fly = NULL;
		w->nfly = 0;
	}
}

int vk_store_wb_flush(vk_store_wb *w, vk_store_wb_flush_cb cb, void *ud)
{
	wb_waiter *x = vk_xcalloc(1, sizeof *x);
	x->cb = cb;
	x->ud = ud;
	x->upto = w->seq;
	x->next = NULL;
	wb_waiter **pp = &w->waiters;
	while (*pp)
		pp = &(*pp)->next;
	*pp = x;
	if (vk_store_wb_len(w) == 0 || oldest(w) > x->upto) {
		/* Nothing to wait for: answer on the next loop turn, not inside. */
		arm(w, 0);
		return 0;
	}
	if (w->down) {
		/* Try now rather than at the end of the backoff. */
		uv_timer_stop(&w->timer);
		w->timer_on = false;
	}
	if (w->fly)
		return 0; /* the next flush starts when this one ends */
	flush_now(w);
	return 0;
}

static void wb_free(uv_handle_t *h) { free(h->data); }

void vk_store_wb_close(vk_store_wb *w)
{
	if (!w || w->closing)
		return;
	w->closing = true;
	if (w->ticket)
		w->ticket->w = NULL; /* its callback frees the ticket */
	/* Every flush waiter hears of the close once, so that it can free
	 * what it gave as ud (as libuv cancels a request with UV_ECANCELED). */
	while (w->waiters) {
		wb_waiter *x = w->waiters;
		w->waiters = x->next;
		if (x->cb)
			x->cb(w, -ECANCELED, x->ud);
		free(x);
	}
	const char *k;
	void *v;
	for (vk_map_iter it = {0}; vk_map_next(w->pending, &it, &k, &v);)
		entry_free(v);
	vk_map_free(w->pending);
	for (size_t i = 0; i < w->nfly; i++)
		entry_free(w->fly[i]);
	free(w->fly);
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, wb_free);
}
