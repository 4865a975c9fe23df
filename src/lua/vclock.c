/* The virtual clock of `vk test` (lua/vk/test.lua): while it is on,
 * vk.timer.sleep and vk.timer.every wait on virtual timers of the host
 * instead of libuv's, vk.timer.now_ms reads virtual time, and time moves
 * only when a spec advances it.  A five-minute backoff then costs nothing.
 *
 * Advancing fires the due timers one at a time, in order of due time
 * (ties: the order they were started), and before each one lets the host
 * settle: no task queued to start, no task waiting on real I/O (vk.http,
 * vk.cri, vk.kube, vk.fs passed through to a real endpoint), and nothing
 * resumed for two loop turns.  So a task woken at t=1000 that sleeps again
 * for 500 ms registers its timer before the timer at t=1200 fires. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

struct vk_lua_vclock {
	uint64_t now;   /* virtual ms */
	uint64_t seq;   /* start order, for ties */
	vk_list timers; /* vk_lua_vtimer, by (due, seq) */
	/* An advance takes one step per loop turn (idle), or per ms while real
	 * I/O is pending (wait): a 0 ms timer re-armed from its own callback
	 * would run again in the same turn, before any task could. */
	uv_idle_t idle;
	uv_timer_t wait;
	int open_handles;
	vk_lua_host *h;
	vk_lua_op *op; /* the spec's advance, until it is done */
	uint64_t target;
	uint64_t seen_resumes;
	int quiet; /* turns in a row with nothing resumed */
};

static bool internal_wait(const char *what)
{
	/* Waits that only another task or a virtual timer can end. */
	static const char *const prefixes[] = {"vk.timer.", "vk.task:", "vk.semaphore:", "vk.mutex:", "vk.test.", NULL};
	for (const char *const *p = prefixes; *p; p++)
		if (strncmp(what, *p, strlen(*p)) == 0)
			return true;
	return false;
}

/* True while a task waits on real I/O. */
static bool io_pending(vk_lua_host *h)
{
	vk_list *n, *tmp;
	VK_LIST_FOREACH_SAFE(n, tmp, &h->tasks)
	{
		vk_lua_task *t = VK_LIST_ENTRY(n, vk_lua_task, link);
		if (t->state == VK_TASK_WAITING && t->op && !internal_wait(t->op->what))
			return true;
	}
	return false;
}

bool vk_lua__vclock_on(const vk_lua_host *h) { return h->vclock != NULL; }

uint64_t vk_lua__now_ms(const vk_lua_host *h) { return h->vclock ? h->vclock->now : vk_now_ms(); }

void vk_lua__vtimer_start(vk_lua_host *h, vk_lua_vtimer *vt, uint64_t ms, uint64_t period,
                          void (*fire)(vk_lua_vtimer *))
{
	vk_lua_vclock *c = h->vclock;
	vt->due = c->now + ms;
	vt->period = period;
	vt->fire = fire;
	vt->seq = ++c->seq;
	vk_list *n, *tmp;
	VK_LIST_FOREACH_SAFE(n, tmp, &c->timers)
	{
		vk_lua_vtimer *o = VK_LIST_ENTRY(n, vk_lua_vtimer, link);
		if (o->due > vt->due) {
			vk_list_insert_tail(n, &vt->link); /* just before o */
			return;
		}
	}
	vk_list_insert_tail(&c->timers, &vt->link);
}

void vk_lua__vtimer_stop(vk_lua_vtimer *vt) { vk_list_remove(&vt->link); }

/* ---- advancing ---------------------------------------------------------- */

static void drive_step(vk_lua_vclock *c);
static void on_idle(uv_idle_t *i) { drive_step(i->data); }
static void on_wait(uv_timer_t *t) { drive_step(t->data); }

static void rearm(vk_lua_vclock *c, uint64_t ms)
{
	if (ms == 0) {
		uv_timer_stop(&c->wait);
		uv_idle_start(&c->idle, on_idle);
	} else {
		uv_idle_stop(&c->idle);
		uv_timer_start(&c->wait, on_wait, ms, 0);
	}
}

static void drive_stop(vk_lua_vclock *c)
{
	uv_idle_stop(&c->idle);
	uv_timer_stop(&c->wait);
}

static void drive_step(vk_lua_vclock *c)
{
	vk_lua_host *h = c->h;
	if (!c->op) {
		drive_stop(c);
		return;
	}
	if (!vk_list_empty(&h->ready) || h->resumes != c->seen_resumes || io_pending(h)) {
		c->seen_resumes = h->resumes;
		c->quiet = 0;
		rearm(c, io_pending(h) ? 1 : 0); /* real I/O: look again in a ms, without spinning */
		return;
	}
	if (++c->quiet < 2) {
		rearm(c, 0);
		return;
	}
	c->quiet = 0;
	vk_list *first = vk_list_first(&c->timers);
	vk_lua_vtimer *vt = first ? VK_LIST_ENTRY(first, vk_lua_vtimer, link) : NULL;
	if (vt && vt->due <= c->target) {
		if (vt->due > c->now)
			c->now = vt->due;
		vk_list_remove(&vt->link);
		if (vt->period) /* every: the next tick, before this one runs (it may stop it) */
			vk_lua__vtimer_start(h, vt, vt->period, vt->period, vt->fire);
		vt->fire(vt); /* may resume a task right here */
		rearm(c, 0);
		return;
	}
	c->now = c->target;
	vk_lua_op *op = c->op;
	c->op = NULL;
	drive_stop(c);
	vk_lua_op_finish(op, NULL, NULL);
}

static void advance_cancel(void *ud)
{
	vk_lua_host *h = ud;
	vk_lua_op *op = h->vclock->op;
	h->vclock->op = NULL;
	drive_stop(h->vclock);
	vk_lua_op_finish(op, NULL, NULL);
}

static vk_lua_vclock *check_virtual(lua_State *L, const char *what)
{
	vk_lua_vclock *c = vk_lua__host_of(L)->vclock;
	if (!c)
		luaL_error(L, "%s: the clock is real (clock.real() was called)", what);
	return c;
}

/* advance(ms): fires every timer due within ms, letting the host settle
 * before each; yields until then.  advance(0) only settles. */
static int l_advance(lua_State *L)
{
	lua_Number ms = luaL_checknumber(L, 1);
	vk_lua_vclock *c = check_virtual(L, "clock.advance");
	if (!(ms >= 0 && ms <= 366.0 * 24 * 3600 * 1000))
		return luaL_error(L, "clock.advance: ms must be between 0 and a year, got %f", ms);
	vk_lua_host *h = vk_lua__host_of(L);
	if (c->op)
		return luaL_error(L, "clock.advance: another task is advancing the clock");
	vk_lua_op *op = vk_lua_op_new(L, "vk.test.clock.advance");
	c->op = op;
	c->target = c->now + (uint64_t)ms;
	c->seen_resumes = h->resumes;
	c->quiet = 0;
	vk_lua_op_on_cancel(op, advance_cancel, h);
	rearm(c, 0);
	return vk_lua_op_yield(L, op);
}

static int l_now(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)vk_lua__now_ms(vk_lua__host_of(L)));
	return 1;
}

/* next_due() -> ms of virtual time when the next timer fires, or nil. */
static int l_next_due(lua_State *L)
{
	vk_lua_vclock *c = check_virtual(L, "clock.next_due");
	vk_list *first = vk_list_first(&c->timers);
	if (!first)
		return 0;
	lua_pushinteger(L, (lua_Integer)VK_LIST_ENTRY(first, vk_lua_vtimer, link)->due);
	return 1;
}

static int l_is_virtual(lua_State *L)
{
	lua_pushboolean(L, vk_lua__host_of(L)->vclock != NULL);
	return 1;
}

static void drive_closed(uv_handle_t *hd)
{
	vk_lua_vclock *c = hd->data;
	if (--c->open_handles > 0)
		return;
	vk_lua_host *h = c->h;
	free(c);
	vk_lua__host_unref(h);
}

static void vclock_free(vk_lua_host *h)
{
	vk_lua_vclock *c = h->vclock;
	h->vclock = NULL;
	drive_stop(c);
	uv_close((uv_handle_t *)&c->idle, drive_closed);
	uv_close((uv_handle_t *)&c->wait, drive_closed);
}

/* real(): back to libuv's timers, e.g. to wait for a real container.
 * Only while no virtual timer is pending. */
static int l_real(lua_State *L)
{
	vk_lua_host *h = vk_lua__host_of(L);
	if (!h->vclock)
		return 0;
	if (!vk_list_empty(&h->vclock->timers) || h->vclock->op)
		return luaL_error(L, "clock.real: virtual timers are pending; call it before the provider starts any");
	vclock_free(h);
	return 0;
}

int vk_lua__vclock_enable(vk_lua_host *h)
{
	if (h->vclock)
		return 0;
	vk_lua_vclock *c = vk_xcalloc(1, sizeof *c);
	vk_list_init(&c->timers);
	c->now = 0;
	c->h = h;
	uv_idle_init(h->loop, &c->idle);
	uv_timer_init(h->loop, &c->wait);
	c->idle.data = c->wait.data = c;
	c->open_handles = 2;
	vk_lua__host_ref(h); /* until both handles' close callbacks */
	h->vclock = c;
	return 0;
}

/* At close every sleeper and every() has been cancelled and unlinked. */
void vk_lua__vclock_close(vk_lua_host *h)
{
	if (h->vclock)
		vclock_free(h);
}

int vk_lua__open_vclock(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"advance", l_advance},    {"now", l_now},   {"next_due", l_next_due},
		{"virtual", l_is_virtual}, {"real", l_real}, {NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
