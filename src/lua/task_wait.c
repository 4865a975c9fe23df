/* Tasks waiting on something a provider's other tasks do (a semaphore's
 * permit, a spawned task's end): the op machinery of op.c with a FIFO queue.
 *
 * Waking is deferred to a zero timer: release() and a task's end never
 * resume another task from inside themselves.  Every waiter owns such a
 * timer from the start; the timer's close callback frees it and drops its
 * reference on what it waited for.  Used by bind_sem.c and bind_task.c. */
#include <stdlib.h>

#include "host.h"
#include "vk/util.h"

static void waiter_closed(uv_handle_t *hd)
{
	vk_lua_waiter *w = hd->data;
	vk_lua_host *h = w->h;
	w->unref(w->obj);
	free(w);
	vk_lua__host_unref(h);
}

static void queue_remove(vk_lua_waiter *w)
{
	vk_lua_waiter *prev = NULL;
	for (vk_lua_waiter *x = *w->queue_head; x; prev = x, x = x->next) {
		if (x != w)
			continue;
		if (prev)
			prev->next = w->next;
		else
			*w->queue_head = w->next;
		if (*w->queue_tail == w)
			*w->queue_tail = prev;
		w->next = NULL;
		return;
	}
}

static void waiter_fired(uv_timer_t *tm)
{
	vk_lua_waiter *w = tm->data;
	uv_close((uv_handle_t *)tm, waiter_closed); /* frees w on a later turn */
	vk_lua_op_finish(w->op, w->push, w);
}

/* Host closing: the op is abandoned; finishing it only frees it. */
static void waiter_cancel(void *ud)
{
	vk_lua_waiter *w = ud;
	if (w->woken)
		uv_timer_stop(&w->timer);
	else
		queue_remove(w);
	uv_close((uv_handle_t *)&w->timer, waiter_closed);
	vk_lua_op_finish(w->op, NULL, NULL);
}

void vk_lua__wake(vk_lua_waiter *w)
{
	queue_remove(w);
	w->woken = true;
	uv_timer_start(&w->timer, waiter_fired, 0, 0);
}

/* Queues the current task on obj and yields (the caller returns this).
 * The waiter takes a reference on obj (*refs) once nothing can raise. */
int vk_lua__wait(lua_State *L, const char *what, void *obj, unsigned *refs, vk_lua_unref_fn unref, vk_lua_push_fn push,
                 vk_lua_waiter **head, vk_lua_waiter **tail)
{
	vk_lua_op *op = vk_lua_op_new(L, what); /* raises outside a task */
	vk_lua_host *h = vk_lua__host_of(L);
	(*refs)++;
	vk_lua_waiter *w = vk_xcalloc(1, sizeof *w);
	vk_lua__where(L, 1, w->where, sizeof w->where);
	w->h = h;
	w->op = op;
	w->task = h->current;
	w->obj = obj;
	w->unref = unref;
	w->push = push;
	w->queue_head = head;
	w->queue_tail = tail;
	uv_timer_init(h->loop, &w->timer);
	w->timer.data = w;
	vk_lua__host_ref(h); /* until the timer's close callback */
	if (*tail)
		(*tail)->next = w;
	else
		*head = w;
	*tail = w;
	vk_lua_op_on_cancel(op, waiter_cancel, w);
	return vk_lua_op_yield(L, op);
}

/* The task whose permits these are, or a Lua error: permits need a task
 * that ends (a module's top level runs on a pseudo-task that does not). */
vk_lua_task *vk_lua__owner_task(lua_State *L, const char *what)
{
	vk_lua_host *h = vk_lua__host_of(L);
	vk_lua_task *t = h ? h->current : NULL;
	if (!t || t->co == h->L)
		luaL_error(L, "%s: only a callback or a task can hold a permit (not a module's top level)", what);
	return t;
}
