/* vk.semaphore(n) and vk.mutex(): locks between a provider's tasks.
 *
 *   :acquire()      yields until a permit is free (FIFO: release hands the
 *                   permit to the longest waiter, try_acquire cannot jump
 *                   the queue); returns true
 *   :try_acquire()  -> bool, never yields
 *   :release()      gives back one of the current task's permits
 *   :available(), :waiting()
 * A mutex is a semaphore of one permit that refuses a second acquire by
 * its holder.
 *
 * Permits belong to the task that acquired them (t->holds).  A task that
 * ends still holding some (it returned, raised, or was killed by its
 * budget) gives them back then, with a warning naming where they were
 * acquired: a dead holder never blocks the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

#define SEM_MT "vk.semaphore"

typedef struct sem {
	unsigned refs; /* the Lua object, each hold, each waiter */
	int size, free;
	bool mutex;
	vk_lua_host *h;
	vk_lua_waiter *head, *tail;
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
	vk_lua_waiter *w = s->head;
	if (w && !s->h->closing) {
		hold_add(w->task, s, w->where);
		vk_lua__wake(w);
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
	vk_lua_task *t = vk_lua__owner_task(L, "vk.semaphore:acquire");
	check_not_holder(L, s, t, "acquire");
	char where[LUA_IDSIZE + 32];
	vk_lua__where(L, 1, where, sizeof where);
	if (s->free > 0) {
		s->free--;
		hold_add(t, s, where);
		lua_pushboolean(L, 1);
		return 1;
	}
	return vk_lua__wait(L, s->mutex ? "vk.mutex:acquire" : "vk.semaphore:acquire", s, &s->refs, sem_unref,
	                    push_true, &s->head, &s->tail);
}

static int l_try_acquire(lua_State *L)
{
	sem *s = check_sem(L);
	vk_lua_task *t = vk_lua__owner_task(L, "vk.semaphore:try_acquire");
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
	vk_lua_task *t = vk_lua__owner_task(L, "vk.semaphore:release");
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
	for (vk_lua_waiter *w = s->head; w; w = w->next)
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

int vk_lua__semaphore_new(lua_State *L)
{
	lua_Integer n = luaL_checkinteger(L, 1);
	if (n < 1 || n > 1000000)
		return luaL_error(L, "vk.semaphore: n must be between 1 and 1000000, got %d", (int)n);
	return new_sem(L, (int)n, false);
}

int vk_lua__mutex_new(lua_State *L) { return new_sem(L, 1, true); }

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

void vk_lua__sem_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"acquire", l_acquire},     {"try_acquire", l_try_acquire}, {"release", l_release},
		{"available", l_available}, {"waiting", l_waiting},         {NULL, NULL},
	};
	if (luaL_newmetatable(L, SEM_MT)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_sem_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
}
