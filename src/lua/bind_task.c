/* vk.task: tasks of the provider's own and locks between tasks.
 *
 *   spawn(fn, ...)     runs fn(...) as a task of its own, from the next loop
 *                      turn, under the same budgets as a callback; an error
 *                      is logged with the task's name and goes no further.
 *                      Returns a handle: :join() -> true, results... or
 *                      false, err (yields until the task ends); :done().
 *   semaphore(n)       n permits; mutex() is semaphore(1) that refuses a
 *                      second acquire by its holder.  :acquire() yields
 *                      until a permit is free (FIFO: release hands the
 *                      permit to the longest waiter), :try_acquire() -> bool,
 *                      :release(), :available(), :waiting().
 *
 * Permits belong to the task that acquired them: release() gives back one
 * of the current task's, and a task that ends still holding some (it
 * returned, raised, or was killed by its budget) gives them back then, with
 * a warning naming where they were acquired.  So a dead holder never blocks
 * the others.  vk.spawn, vk.semaphore and vk.mutex are this module's
 * functions (modules.c).
 *
 * Waking is deferred to a zero timer: release() and a task's end never
 * resume another task from inside themselves.  Every waiter owns such a
 * timer from the start; the timer's close callback frees it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

#define SEM_MT "vk.semaphore"
#define SPAWN_MT "vk.task"

typedef struct waiter waiter;
typedef void (*waiter_unref_fn)(void *obj);

struct waiter {
	uv_timer_t timer;
	vk_lua_host *h;
	vk_lua_op *op;
	vk_lua_task *task;
	void *obj;              /* the semaphore or the spawned task waited on */
	waiter_unref_fn unref;  /* drops the waiter's reference on obj */
	vk_lua_push_fn push;    /* the waiting call's results */
	bool woken;             /* the timer is started: no longer in obj's queue */
	char where[LUA_IDSIZE + 32]; /* "file:line: " of the waiting call */
	waiter **queue_head, **queue_tail;
	waiter *next;
};

/* ---- waiters -------------------------------------------------------------- */

static void waiter_closed(uv_handle_t *hd)
{
	waiter *w = hd->data;
	vk_lua_host *h = w->h;
	w->unref(w->obj);
	free(w);
	vk_lua__host_unref(h);
}

static void queue_remove(waiter *w)
{
	waiter *prev = NULL;
	for (waiter *x = *w->queue_head; x; prev = x, x = x->next) {
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
	waiter *w = tm->data;
	uv_close((uv_handle_t *)tm, waiter_closed); /* frees w on a later turn */
	vk_lua_op_finish(w->op, w->push, w);
}

/* Host closing: the op is abandoned; finishing it only frees it. */
static void waiter_cancel(void *ud)
{
	waiter *w = ud;
	if (w->woken)
		uv_timer_stop(&w->timer);
	else
		queue_remove(w);
	uv_close((uv_handle_t *)&w->timer, waiter_closed);
	vk_lua_op_finish(w->op, NULL, NULL);
}

static void waiter_wake(waiter *w)
{
	queue_remove(w);
	w->woken = true;
	uv_timer_start(&w->timer, waiter_fired, 0, 0);
}

/* Queues the current task on obj and yields (the caller returns this).
 * The waiter takes a reference on obj (*refs) once nothing can raise. */
static int waiter_wait(lua_State *L, const char *what, void *obj, unsigned *refs, waiter_unref_fn unref,
                       vk_lua_push_fn push, waiter **head, waiter **tail)
{
	vk_lua_op *op = vk_lua_op_new(L, what); /* raises outside a task */
	vk_lua_host *h = vk_lua__host_of(L);
	(*refs)++;
	waiter *w = vk_xcalloc(1, sizeof *w);
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
static vk_lua_task *owner_task(lua_State *L, const char *what)
{
	vk_lua_host *h = vk_lua__host_of(L);
	vk_lua_task *t = h ? h->current : NULL;
	if (!t || t->co == h->L)
		luaL_error(L, "%s: only a callback or a task can hold a permit (not a module's top level)", what);
	return t;
}

/* ---- semaphores ----------------------------------------------------------- */

typedef struct sem {
	unsigned refs;   /* the Lua object, each hold, each waiter */
	int size, free;
	bool mutex;
	vk_lua_host *h;
	waiter *head, *tail;
} sem;

/* One permit held by one task: on the task's list (t->holds). */
struct vk_lua_hold {
	sem *s;
	char where[LUA_IDSIZE + 32]; /* "file:line" of the acquire */
	struct vk_lua_hold *next;
};

typedef struct {
	sem *s;
} sem_ud;

static const char *sem_name(const sem *s) { return s->mutex ? "vk.mutex" : "vk.semaphore"; }

static void sem_unref(void *obj)
{
	sem *s = obj;
	if (--s->refs == 0)
		free(s);
}

static void hold_add(vk_lua_task *t, sem *s, const char *where)
{
	struct vk_lua_hold *hd = vk_xcalloc(1, sizeof *hd);
	hd->s = s;
	s->refs++;
	snprintf(hd->where, sizeof hd->where, "%s", where);
	size_t n = strlen(hd->where);
	if (n >= 2 && hd->where[n - 2] == ':') /* "file:line: " -> "file:line" */
		hd->where[n - 2] = '\0';
	hd->next = t->holds;
	t->holds = hd;
}

/* A permit comes back: the longest waiter gets it, else it is free.  While
 * the host closes nobody is woken (every waiter is being cancelled). */
static void sem_give_back(sem *s)
{
	waiter *w = s->head;
	if (w && !s->h->closing) {
		hold_add(w->task, s, w->where);
		waiter_wake(w);
		return;
	}
	s->free++;
}

static sem *check_sem(lua_State *L)
{
	sem_ud *u = luaL_checkudata(L, 1, SEM_MT);
	return u->s;
}

static int push_true(lua_State *L, void *ud)
{
	(void)ud;
	lua_pushboolean(L, 1);
	return 1;
}

static void check_not_holder(lua_State *L, sem *s, vk_lua_task *t, const char *fn)
{
	if (!s->mutex)
		return;
	for (struct vk_lua_hold *hd = t->holds; hd; hd = hd->next)
		if (hd->s == s)
			luaL_error(L, "vk.mutex:%s: this task already holds it (acquired at %s)", fn, hd->where);
}

static int l_acquire(lua_State *L)
{
	sem *s = check_sem(L);
	vk_lua_task *t = owner_task(L, "vk.semaphore:acquire");
	check_not_holder(L, s, t, "acquire");
	char where[LUA_IDSIZE + 32];
	vk_lua__where(L, 1, where, sizeof where);
	if (s->free > 0) {
		s->free--;
		hold_add(t, s, where);
		lua_pushboolean(L, 1);
		return 1;
	}
	return waiter_wait(L, s->mutex ? "vk.mutex:acquire" : "vk.semaphore:acquire", s, &s->refs, sem_unref,
	                   push_true, &s->head, &s->tail);
}

static int l_try_acquire(lua_State *L)
{
	sem *s = check_sem(L);
	vk_lua_task *t = owner_task(L, "vk.semaphore:try_acquire");
	check_not_holder(L, s, t, "try_acquire");
	if (s->free <= 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	char where[LUA_IDSIZE + 32];
	vk_lua__where(L, 1, where, sizeof where);
	s->free--;
	hold_add(t, s, where);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_release(lua_State *L)
{
	sem *s = check_sem(L);
	vk_lua_task *t = owner_task(L, "vk.semaphore:release");
	for (struct vk_lua_hold **pp = &t->holds; *pp; pp = &(*pp)->next) {
		struct vk_lua_hold *hd = *pp;
		if (hd->s != s)
			continue;
		*pp = hd->next;
		free(hd);
		sem_give_back(s);
		sem_unref(s);
		return 0;
	}
	return luaL_error(L, "%s:release: this task holds none of its permits", sem_name(s));
}

static int l_available(lua_State *L)
{
	lua_pushinteger(L, check_sem(L)->free);
	return 1;
}

static int l_waiting(lua_State *L)
{
	sem *s = check_sem(L);
	int n = 0;
	for (waiter *w = s->head; w; w = w->next)
		n++;
	lua_pushinteger(L, n);
	return 1;
}

static int l_sem_gc(lua_State *L)
{
	sem_ud *u = luaL_checkudata(L, 1, SEM_MT);
	if (u->s)
		sem_unref(u->s);
	u->s = NULL;
	return 0;
}

static int new_sem(lua_State *L, int n, bool mutex)
{
	sem_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
	u->s = NULL;
	luaL_setmetatable(L, SEM_MT);
	sem *s = vk_xcalloc(1, sizeof *s);
	s->refs = 1;
	s->size = s->free = n;
	s->mutex = mutex;
	s->h = vk_lua__host_of(L);
	u->s = s;
	return 1;
}

static int l_semaphore(lua_State *L)
{
	lua_Integer n = luaL_checkinteger(L, 1);
	if (n < 1 || n > 1000000)
		return luaL_error(L, "vk.semaphore: n must be between 1 and 1000000, got %d", (int)n);
	return new_sem(L, (int)n, false);
}

static int l_mutex(lua_State *L) { return new_sem(L, 1, true); }

/* host.c calls this as a task ends: what it still holds goes back. */
void vk_lua__task_drop_holds(vk_lua_task *t)
{
	while (t->holds) {
		struct vk_lua_hold *hd = t->holds;
		t->holds = hd->next;
		if (!t->h->closing)
			vk_warn(t->speaker, "the task ended holding a %s permit (acquired at %s); it is given back",
			        sem_name(hd->s), hd->where);
		sem_give_back(hd->s);
		sem_unref(hd->s);
		free(hd);
	}
}

/* ---- spawn ---------------------------------------------------------------- */

typedef struct spawned {
	unsigned refs;    /* the handle, the running task, each joiner */
	bool done, ok;
	int res_ref;      /* {n=, ...} of the results, or the error string */
	vk_lua_host *h;
	waiter *head, *tail;
} spawned;

typedef struct {
	spawned *s;
} spawn_ud;

static void spawned_unref(void *obj)
{
	spawned *s = obj;
	if (--s->refs > 0)
		return;
	if (s->res_ref != LUA_NOREF && !s->h->closing)
		luaL_unref(s->h->L, LUA_REGISTRYINDEX, s->res_ref);
	free(s);
}

/* join()'s results: true, results... or false, err. */
static int push_joined(lua_State *L, void *ud)
{
	spawned *s = ud;
	if (s->res_ref == LUA_NOREF) {
		lua_pushboolean(L, s->ok);
		if (!s->ok)
			lua_pushliteral(L, "the task was cancelled");
		return s->ok ? 1 : 2;
	}
	lua_pushboolean(L, s->ok);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->res_ref);
	if (!s->ok)
		return 2;
	int tbl = lua_gettop(L);
	lua_getfield(L, tbl, "n");
	int n = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	luaL_checkstack(L, n, "vk.task:join: too many results");
	for (int i = 1; i <= n; i++)
		lua_rawgeti(L, tbl, i);
	lua_remove(L, tbl);
	return n + 1;
}

static int push_joined_waiter(lua_State *L, void *ud) { return push_joined(L, ((waiter *)ud)->obj); }

static void spawn_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	spawned *s = t->done_ud;
	vk_lua_host *h = t->h;
	if (err && err != -ECANCELED)
		vk_warn(t->speaker, "%s", errmsg);
	s->done = true;
	s->ok = err == 0;
	/* Keep the outcome only while someone can still join. */
	if (s->refs > 1 && !h->closing && lua_checkstack(h->L, nres + 3)) {
		if (err == 0) {
			lua_createtable(h->L, nres, 1);
			int tbl = lua_gettop(h->L);
			lua_pushinteger(h->L, nres);
			lua_setfield(h->L, tbl, "n");
			lua_xmove(t->co, h->L, nres);
			for (int i = nres; i >= 1; i--)
				lua_rawseti(h->L, tbl, i); /* pops the top: result i */
		} else {
			lua_pushstring(h->L, err == -ECANCELED ? "the task was cancelled" : errmsg);
		}
		s->res_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
	}
	while (s->head && !h->closing)
		waiter_wake(s->head);
	spawned_unref(s);
}

static spawned *check_spawned(lua_State *L)
{
	spawn_ud *u = luaL_checkudata(L, 1, SPAWN_MT);
	return u->s;
}

static int l_join(lua_State *L)
{
	spawned *s = check_spawned(L);
	if (s->done)
		return push_joined(L, s);
	vk_lua_task *t = vk_lua__current(L);
	if (t && t->done_ud == s && t->done == spawn_done)
		return luaL_error(L, "vk.task:join: a task cannot join itself");
	return waiter_wait(L, "vk.task:join", s, &s->refs, spawned_unref, push_joined_waiter, &s->head, &s->tail);
}

static int l_done(lua_State *L)
{
	lua_pushboolean(L, check_spawned(L)->done);
	return 1;
}

static int l_spawn_gc(lua_State *L)
{
	spawn_ud *u = luaL_checkudata(L, 1, SPAWN_MT);
	if (u->s)
		spawned_unref(u->s);
	u->s = NULL;
	return 0;
}

/* "provider create_pod default/web-1 > task mynode/probes.lua:40": the
 * root callback's name (not a chain of every task that spawned another)
 * and where this one was spawned. */
static char *task_speaker(lua_State *L, const vk_lua_task *parent)
{
	char where[LUA_IDSIZE + 32];
	vk_lua__where(L, 1, where, sizeof where);
	size_t n = strlen(where);
	if (n >= 2 && where[n - 2] == ':')
		where[n - 2] = '\0';
	const char *root = parent->speaker;
	const char *cut = strstr(root, " > task ");
	int rootlen = cut ? (int)(cut - root) : (int)strlen(root);
	return vk_asprintf("%.*s > task %s", rootlen, root, where[0] ? where : "?");
}

static int l_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	vk_lua_host *h = vk_lua__host_of(L);
	if (h->closing)
		return luaL_error(L, "vk.spawn: the provider is closing");
	vk_lua_task *parent = h->current;
	if (!parent || parent->co == h->L)
		return luaL_error(L, "vk.spawn: start tasks from init or a callback, not a module's top level");
	int nargs = lua_gettop(L) - 1;
	spawn_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
	u->s = NULL;
	luaL_setmetatable(L, SPAWN_MT);
	spawned *s = vk_xcalloc(1, sizeof *s);
	s->refs = 2; /* the handle and the task */
	s->res_ref = LUA_NOREF;
	s->h = h;
	u->s = s;

	char *speaker = task_speaker(L, parent);
	lua_pushvalue(L, 1);
	lua_xmove(L, h->L, 1); /* task_new takes the function from h->L */
	vk_lua_task *t = vk_lua__task_new(h, speaker, spawn_done, s);
	free(speaker);
	t->ns = vk_strdup(parent->ns);
	t->name = vk_strdup(parent->name);
	luaL_checkstack(t->co, nargs + 1, "vk.spawn: too many arguments");
	for (int i = 2; i <= nargs + 1; i++)
		lua_pushvalue(L, i);
	lua_xmove(L, t->co, nargs);
	vk_lua__task_queue(t, nargs);
	return 1; /* the handle */
}

int vk_lua_open_task(lua_State *L)
{
	static const luaL_Reg sem_methods[] = {
		{"acquire", l_acquire}, {"try_acquire", l_try_acquire}, {"release", l_release},
		{"available", l_available}, {"waiting", l_waiting}, {NULL, NULL},
	};
	static const luaL_Reg task_methods[] = {{"join", l_join}, {"done", l_done}, {NULL, NULL}};
	if (luaL_newmetatable(L, SEM_MT)) {
		luaL_newlib(L, sem_methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_sem_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	if (luaL_newmetatable(L, SPAWN_MT)) {
		luaL_newlib(L, task_methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_spawn_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {
		{"spawn", l_spawn}, {"semaphore", l_semaphore}, {"mutex", l_mutex}, {NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
