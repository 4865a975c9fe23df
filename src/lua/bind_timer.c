/* vk.timer: sleep(ms) yields on a uv_timer; every(ms, fn) runs fn in a
 * fresh task per tick; now_ms() is the monotonic clock.  Under `vk test`
 * the three use the host's virtual clock instead (vclock.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/kube.h"
#include "vk/lua.h"
#include "vk/util.h"

#define MAX_MS (7 * 24 * 3600 * 1000ll) /* a week: anything longer is a bug */

static lua_Integer check_ms(lua_State *L, int arg, const char *fn)
{
	lua_Number n = luaL_checknumber(L, arg);
	if (!(n >= 0 && n <= (lua_Number)MAX_MS))
		luaL_error(L, "%s: ms must be between 0 and %d (a week), got %f", fn, (int)MAX_MS, n);
	return (lua_Integer)n;
}

/* ---- sleep -------------------------------------------------------------- */

typedef struct {
	uv_timer_t timer;
	vk_lua_vtimer vt; /* instead of timer, on the virtual clock */
	bool virt;
	vk_lua_host *h;
	vk_lua_op *op;
} sleeper;

static void sleeper_closed(uv_handle_t *hd)
{
	sleeper *s = hd->data;
	vk_lua_host *h = s->h;
	free(s);
	vk_lua__host_unref(h);
}

static void sleeper_fired(uv_timer_t *tm)
{
	sleeper *s = tm->data;
	vk_lua_op *op = s->op;
	uv_close((uv_handle_t *)tm, sleeper_closed);
	vk_lua_op_finish(op, NULL, NULL);
}

static void vsleeper_fired(vk_lua_vtimer *vt)
{
	sleeper *s = VK_CONTAINER_OF(vt, sleeper, vt);
	vk_lua_op *op = s->op;
	vk_lua_host *h = s->h;
	free(s);
	vk_lua_op_finish(op, NULL, NULL);
	vk_lua__host_unref(h);
}

static void sleeper_cancel(void *ud)
{
	sleeper *s = ud;
	if (s->virt) {
		vk_lua__vtimer_stop(&s->vt);
		vk_lua_op *op = s->op;
		vk_lua_host *h = s->h;
		free(s);
		vk_lua_op_finish(op, NULL, NULL);
		vk_lua__host_unref(h);
		return;
	}
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, sleeper_closed);
	vk_lua_op_finish(s->op, NULL, NULL);
}

static int l_sleep(lua_State *L)
{
	lua_Integer ms = check_ms(L, 1, "vk.timer.sleep");
	vk_lua_op *op = vk_lua_op_new(L, "vk.timer.sleep");
	vk_lua_host *h = vk_lua__host_of(L);
	sleeper *s = vk_xcalloc(1, sizeof *s);
	s->h = h;
	s->op = op;
	vk_lua_op_on_cancel(op, sleeper_cancel, s);
	if (vk_lua__vclock_on(h)) {
		s->virt = true;
		vk_lua__host_ref(h); /* until it fires or is cancelled */
		vk_lua__vtimer_start(h, &s->vt, (uint64_t)ms, 0, vsleeper_fired);
		return vk_lua_op_yield(L, op);
	}
	uv_timer_init(vk_lua_loop(L), &s->timer);
	s->timer.data = s;
	vk_lua__host_ref(h); /* until the handle's close callback */
	uv_timer_start(&s->timer, sleeper_fired, (uint64_t)ms, 0);
	return vk_lua_op_yield(L, op);
}

/* ---- every -------------------------------------------------------------- */

#define EVERY_MT "vk.timer.every"

/* Held by the host (a vk_lua_handle) while its timer runs; the Lua handle
 * only points at it, and is anchored (ud_ref) so that a dropped handle does
 * not stop the timer, as with setInterval. */
typedef struct vk_lua_every {
	vk_lua_handle hd; /* the host stops it on close and on reload */
	uv_timer_t timer;
	vk_lua_vtimer vt; /* instead of timer, on the virtual clock */
	bool virt;
	vk_lua_host *h;
	int fn_ref, ud_ref;
	bool busy;   /* a tick's task still runs: skip ticks */
	bool closed; /* the handle is closed; freed when !busy */
	/* The pod whose callback started the timer (NULL: none): an error in
	 * a tick is an Event on it.  last_err: the hash of the last error
	 * reported, so that a tick failing the same way every time says it once. */
	char *ns, *name;
	uint64_t last_err;
} vk_lua_every;

typedef struct {
	vk_lua_every *e;
} every_ud;

static void every_free(vk_lua_every *e)
{
	vk_lua_host *h = e->h;
	free(e->ns);
	free(e->name);
	free(e);
	vk_lua__host_unref(h);
}

/* A tick may still be waiting (stop() from inside it): it frees e then. */
static void every_closed(uv_handle_t *hd)
{
	vk_lua_every *e = hd->data;
	e->closed = true;
	if (!e->busy)
		every_free(e);
}

static void every_stop(vk_lua_every *e)
{
	lua_State *L = vk_lua__state(e->h);
	vk_lua__handle_remove(&e->hd);
	lua_rawgeti(L, LUA_REGISTRYINDEX, e->ud_ref);
	every_ud *u = lua_touserdata(L, -1);
	if (u)
		u->e = NULL;
	lua_pop(L, 1);
	luaL_unref(L, LUA_REGISTRYINDEX, e->fn_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, e->ud_ref);
	if (e->virt) {
		vk_lua__vtimer_stop(&e->vt);
		every_closed((uv_handle_t *)&e->timer); /* it was never a uv handle */
		return;
	}
	uv_timer_stop(&e->timer);
	uv_close((uv_handle_t *)&e->timer, every_closed);
}

static void every_host_stop(vk_lua_handle *hd) { every_stop(VK_CONTAINER_OF(hd, vk_lua_every, hd)); }

/* A tick raised: a log line and, for a timer a pod's callback started, a
 * Warning Event on that pod (its first line), once per distinct error. */
static void tick_failed(vk_lua_every *e, const char *speaker, const char *errmsg)
{
	uint64_t h = vk_hash64(errmsg);
	if (h == e->last_err) {
		vk_debug(speaker, "%s (again)", errmsg);
		return;
	}
	e->last_err = h;
	if (!e->ns) {
		vk_warn(speaker, "%s", errmsg);
		return;
	}
	vk_warn(speaker, "%s/%s: %s", e->ns, e->name, errmsg);
	vk_kube *k = vk_lua_kube(vk_lua__state(e->h));
	if (!k)
		return;
	cJSON *pod = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(md, "namespace", e->ns);
	cJSON_AddStringToObject(md, "name", e->name);
	int n = (int)strcspn(errmsg, "\n");
	vk_kube_event(k, "Pod", pod, "Warning", "ProviderTimerFailed", "vk", "a vk.timer.every callback raised: %.*s",
	              n, errmsg);
	cJSON_Delete(pod);
}

static void tick_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	vk_lua_every *e = vk_lua__task_ud(t);
	if (err && err != -ECANCELED)
		tick_failed(e, vk_lua__task_speaker(t), errmsg ? errmsg : "error");
	e->busy = false;
	if (e->closed)
		every_free(e);
}

static void every_fired(uv_timer_t *tm)
{
	vk_lua_every *e = tm->data;
	vk_lua_host *h = e->h;
	if (e->busy || vk_lua__closing(h))
		return;
	e->busy = true;
	lua_rawgeti(vk_lua__state(h), LUA_REGISTRYINDEX, e->fn_ref);
	vk_lua_task *t = vk_lua__task_new(h, "provider timer", tick_done, e);
	vk_lua__task_resume(t, 0);
}

static void vevery_fired(vk_lua_vtimer *vt) { every_fired(&VK_CONTAINER_OF(vt, vk_lua_every, vt)->timer); }

static int l_every(lua_State *L)
{
	lua_Integer ms = check_ms(L, 1, "vk.timer.every");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (ms < 1)
		luaL_error(L, "vk.timer.every: ms must be at least 1");
	vk_lua_host *h = vk_lua__host_of(L);
	if (vk_lua__closing(h))
		luaL_error(L, "vk.timer.every: the provider is closing");
	vk_lua_every *e = vk_xcalloc(1, sizeof *e);
	e->h = h;
	if (h->current && h->current->ns && h->current->name) {
		e->ns = vk_strdup(h->current->ns);
		e->name = vk_strdup(h->current->name);
	}
	e->hd.stop = every_host_stop;
	every_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
	u->e = e;
	luaL_setmetatable(L, EVERY_MT);
	lua_pushvalue(L, -1);
	e->ud_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushvalue(L, 2);
	e->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	e->timer.data = e;
	vk_lua__host_ref(h);
	if (vk_lua__vclock_on(h)) {
		e->virt = true;
		vk_lua__vtimer_start(h, &e->vt, (uint64_t)ms, (uint64_t)ms, vevery_fired);
	} else {
		uv_timer_init(vk_lua_loop(L), &e->timer);
		uv_timer_start(&e->timer, every_fired, (uint64_t)ms, (uint64_t)ms);
	}
	vk_lua__handle_add(h, &e->hd);
	return 1;
}

static int l_every_stop(lua_State *L)
{
	every_ud *u = luaL_checkudata(L, 1, EVERY_MT);
	if (u->e)
		every_stop(u->e);
	return 0;
}

static int l_now_ms(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)vk_lua__now_ms(vk_lua__host_of(L)));
	return 1;
}

int vk_lua__open_timer(lua_State *L)
{
	static const luaL_Reg handle[] = {{"stop", l_every_stop}, {NULL, NULL}};
	if (luaL_newmetatable(L, EVERY_MT)) {
		luaL_newlib(L, handle);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {
		{"sleep", l_sleep},
		{"every", l_every},
		{"now_ms", l_now_ms},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
