/* The Lua state, its coroutines ("tasks") and their budgets.
 *
 * Every provider callback, init and timer tick runs in a task: a coroutine
 * anchored in the registry.  A task is started from the loop (never inside
 * the C call that asked for it), runs until it returns, errors, or yields on
 * a binding op, and is resumed by vk_lua_op_finish.  Only one task runs at a
 * time (h->current); the count hook charges instructions and wall-clock
 * time since the last resume to it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "host.h"
#include "vk/metrics.h"
#include "vk/paths.h"
#include "vk/util.h"

#define DEFAULT_MAX_INSTR 100000000ull
#define DEFAULT_MAX_MS 2000u
#define HOOK_EVERY 10000

vk_lua_host *vk_lua__host_of(lua_State *L) { return *(vk_lua_host **)lua_getextraspace(L); }

uv_loop_t *vk_lua_loop(lua_State *L) { return vk_lua__host_of(L)->loop; }
vk_http *vk_lua_http(lua_State *L) { return vk_lua__host_of(L)->http; }
vk_store *vk_lua_store(lua_State *L) { return vk_lua__host_of(L)->store; }
vk_kube *vk_lua_kube(lua_State *L) { return vk_lua__host_of(L)->kube; }

vk_lua_task *vk_lua__current(lua_State *L)
{
	vk_lua_host *h = vk_lua__host_of(L);
	return h ? h->current : NULL;
}

void vk_lua__where(lua_State *L, int level, char *out, size_t n)
{
	lua_Debug ar;
	out[0] = '\0';
	if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
		snprintf(out, n, "%s:%d: ", ar.short_src, ar.currentline);
}

/* ---- package.path ------------------------------------------------------- */

static void add_dir(vk_buf *b, const char *dir)
{
	if (strchr(dir, '?')) { /* already a template, e.g. VK_LUA_PATH="/x/?.lua" */
		vk_buf_printf(b, "%s;", dir);
		return;
	}
	vk_buf_printf(b, "%s/?.lua;%s/?/init.lua;", dir, dir);
}

/* The provider's own folder first (its helper modules), then vk's shipped
 * Lua: $VK_LUA_PATH (';'-separated), else the source tree's lua/ and then the
 * installed copy when run from the build folder (tests, uninstalled builds),
 * or only the installed copy (vk/paths.h); then Lua's default path. */
static void set_package_path(lua_State *L, const char *provider_path)
{
	vk_buf b = {0};
	const char *slash = strrchr(provider_path, '/');
	if (slash)
		vk_buf_printf(&b, "%.*s/?.lua;%.*s/?/init.lua;", (int)(slash - provider_path), provider_path,
		              (int)(slash - provider_path), provider_path);
	else
		vk_buf_printf(&b, "./?.lua;./?/init.lua;");
	const char *env = getenv("VK_LUA_PATH");
	if (env && *env) {
		char *copy = vk_strdup(env), *save = NULL;
		for (char *d = strtok_r(copy, ";", &save); d; d = strtok_r(NULL, ";", &save))
			add_dir(&b, d);
		free(copy);
	} else {
		add_dir(&b, vk_paths_lua_dir()); /* the tree's lua/ when run from its build folder */
		if (vk_paths_uninstalled())
			add_dir(&b, VK_LUA_DIR);
	}
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	vk_buf_printf(&b, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
	lua_pop(L, 1);
	lua_pushlstring(L, b.data, b.len);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
	vk_buf_free(&b);
}

/* ---- the host ----------------------------------------------------------- */

static void on_kick(uv_idle_t *idle);

/* vk_lua_heap_bytes: each live host adds its heap at a scrape. */
static void heap_collect(void *ud)
{
	vk_lua_host *h = ud;
	vk_metric_add(vk_metric_new(VK_METRIC_GAUGE, "vk_lua_heap_bytes", "", NULL),
	              (double)lua_gc(h->L, LUA_GCCOUNT, 0) * 1024 + (double)lua_gc(h->L, LUA_GCCOUNTB, 0));
}

vk_lua_host *vk_lua__host_new(const vk_lua_opts *o, char **err)
{
	lua_State *L = luaL_newstate();
	if (!L) {
		*err = vk_strdup("out of memory");
		return NULL;
	}
	/* Each callback converts a pod to a fresh table: garbage that the
	 * default pause (200: wait until the heap doubles) lets pile up to as
	 * much again as the live data.  Collect when it grew by half instead
	 * (measured: about a quarter less memory at 500 pods). */
	lua_gc(L, LUA_GCINC, 150, 0, 0);
	vk_lua_host *h = vk_xcalloc(1, sizeof *h);
	vk_list_init(&h->tasks);
	vk_list_init(&h->handles);
	vk_list_init(&h->ready);
	h->L = L;
	h->loop = o->loop;
	h->http = o->http;
	h->kube = o->kube;
	h->store = o->store;
	h->path = vk_strdup(o->path);
	/* Absolute, as vk.fs wants it (start-up only, like reading the file). */
	h->config_path = o->config_path ? realpath(o->config_path, NULL) : NULL;
	if (o->config_path && !h->config_path)
		h->config_path = vk_strdup(o->config_path);
	h->on_quiet = o->on_quiet;
	h->quiet_ud = o->quiet_ud;
	h->max_instr = o->max_instructions ? o->max_instructions : DEFAULT_MAX_INSTR;
	h->max_ms = o->max_run_ms ? o->max_run_ms : DEFAULT_MAX_MS;
	h->provider_ref = LUA_NOREF;
	h->refs = 1;                               /* the provider's own reference, dropped by close */
	*(vk_lua_host **)lua_getextraspace(L) = h; /* copied into every new thread */

	uv_idle_init(h->loop, &h->kick);
	h->kick.data = h;
	h->refs++; /* the kick handle, until its close callback */
	uv_timer_init(h->loop, &h->settle);
	h->settle.data = h;
	uv_unref((uv_handle_t *)&h->settle);
	h->refs++; /* the settle timer, likewise */

	luaL_openlibs(L);
	vk_lua__json_init(L);
	set_package_path(L, h->path);
	vk_lua__open_modules(L);
	vk_metrics_on_collect(heap_collect, h);
	return h;
}

void vk_lua__host_ref(vk_lua_host *h) { h->refs++; }

static void host_free(vk_lua_host *h)
{
	vk_metrics_off_collect(heap_collect, h);
	lua_close(h->L);
	free(h->path);
	free(h->config_path);
	free(h->name);
	free(h);
}

void vk_lua__host_unref(vk_lua_host *h)
{
	if (--h->refs == 0)
		host_free(h);
}

static void on_kick_closed(uv_handle_t *hd) { vk_lua__host_unref(hd->data); }

/* The incremental collector runs only as the heap grows: after a burst of
 * pods the garbage of their callbacks (each pod converted to a table) would
 * stay until the next burst.  Once the provider has been quiet for a
 * second, a full collection frees it, when the heap grew by an eighth and
 * 64 KiB since the last one (a full collection of a 1.1 MiB heap of pod
 * tables takes 0.2 ms here).  With a quarter and 256 KiB, mynode's heap at
 * 20 pods swung between 950 and 1014 KiB and never reached the mark; it
 * now stays at its live 860 KiB. */
#define SETTLE_MS 1000

static void on_settle(uv_timer_t *tm)
{
	vk_lua_host *h = tm->data;
	if (h->closing)
		return;
	size_t kb = (size_t)lua_gc(h->L, LUA_GCCOUNT, 0);
	if (kb > h->gc_base_kb + h->gc_base_kb / 8 + 64) {
		lua_gc(h->L, LUA_GCCOLLECT, 0);
		h->gc_base_kb = (size_t)lua_gc(h->L, LUA_GCCOUNT, 0);
	}
	if (h->on_quiet)
		h->on_quiet(h->quiet_ud);
}

static void task_complete(vk_lua_task *t, int err, const char *errmsg, int nres);

/* Ends every task with -ECANCELED, stops timers and drops the provider's
 * reference.  The lua_State lives on until the last op is finished and the
 * last handle closed. */
void vk_lua__host_close(vk_lua_host *h)
{
	if (h->closing)
		return;
	h->closing = true;
	vk_lua__host_ref(h);
	vk_lua__handles_stop(h);
	for (vk_list *n; (n = vk_list_first(&h->ready));)
		vk_list_remove(n);
	/* A RUNNING task (close called from inside it) is ended by
	 * task_resume when its resume returns.  Callbacks may change the list,
	 * so look again from the head after each one. */
	for (;;) {
		vk_lua_task *t = NULL;
		vk_list *n, *tmp;
		VK_LIST_FOREACH_SAFE(n, tmp, &h->tasks)
		{
			vk_lua_task *c = VK_LIST_ENTRY(n, vk_lua_task, link);
			if (c->state != VK_TASK_RUNNING && c->state != VK_TASK_DONE) {
				t = c;
				break;
			}
		}
		if (!t)
			break;
		vk_lua_op *op = t->op;
		t->op = NULL;
		if (op) {
			op->task = NULL; /* abandoned: finish will only free it */
			if (op->cancel)
				op->cancel(op->cancel_ud);
		}
		task_complete(t, -ECANCELED, "provider closed", 0);
	}
	uv_close((uv_handle_t *)&h->kick, on_kick_closed);
	uv_close((uv_handle_t *)&h->settle, on_kick_closed);
	vk_lua__host_unref(h); /* the provider's reference */
	vk_lua__host_unref(h);
}

/* ---- budgets ------------------------------------------------------------ */

static void budget_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	vk_lua_host *h = vk_lua__host_of(L);
	vk_lua_task *t = h->current;
	if (!t)
		return;
	if (!t->killed) {
		t->instr += HOOK_EVERY;
		uint64_t ms = (uv_hrtime() - t->resumed_ns) / 1000000u;
		if (t->instr < h->max_instr && ms < h->max_ms)
			return;
		char where[LUA_IDSIZE + 32];
		vk_lua__where(L, 0, where, sizeof where);
		t->killed = true;
		t->killmsg = vk_asprintf("%scallback exceeded its budget (%llu instructions / %u ms without "
		                         "yielding; ran %llu instructions in %llu ms)",
		                         where, (unsigned long long)h->max_instr, h->max_ms,
		                         (unsigned long long)t->instr, (unsigned long long)ms);
		/* From now on every instruction raises again, in this thread and in
		 * the task's own, so a pcall around the loop cannot swallow it. */
		lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
		if (L != t->co)
			lua_sethook(t->co, budget_hook, LUA_MASKCOUNT, 1);
	}
	lua_pushstring(L, t->killmsg);
	lua_error(L);
}

/* A protected call on the main thread under the same budget as a task:
 * the provider's top level (and what it requires) must not hang vk either.
 * On a kill the error on the stack is the budget message. */
int vk_lua__pcall_budgeted(vk_lua_host *h, int nargs, int nres, int msgh, const char *speaker)
{
	lua_State *L = h->L;
	vk_lua_task pseudo = {.h = h, .co = L, .speaker = (char *)speaker, .arg_ref = LUA_NOREF};
	vk_lua_task *saved = h->current;
	h->current = &pseudo;
	pseudo.resumed_ns = uv_hrtime();
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, h->max_instr < HOOK_EVERY ? (int)h->max_instr : HOOK_EVERY);
	int st = lua_pcall(L, nargs, nres, msgh);
	lua_sethook(L, NULL, 0, 0);
	h->current = saved;
	if (pseudo.killed) {
		lua_pop(L, 1);
		lua_pushstring(L, pseudo.killmsg);
		free(pseudo.killmsg);
		if (st == LUA_OK) /* cannot happen: the kill is sticky */
			st = LUA_ERRRUN;
	}
	return st;
}

/* ---- tasks -------------------------------------------------------------- */

vk_lua_task *vk_lua__task_new(vk_lua_host *h, const char *speaker, vk_lua_task_done_fn done, void *ud)
{
	lua_State *L = h->L;
	vk_lua_task *t = vk_xcalloc(1, sizeof *t);
	t->h = h;
	if (h->n_idle_co > 0) {
		t->ref = h->idle_co[--h->n_idle_co];
		lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
		t->co = lua_tothread(L, -1);
		lua_pop(L, 1);
	} else {
		t->co = lua_newthread(L);
		t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_xmove(L, t->co, 1); /* the function */
	lua_sethook(t->co, budget_hook, LUA_MASKCOUNT, h->max_instr < HOOK_EVERY ? (int)h->max_instr : HOOK_EVERY);
	t->speaker = vk_strdup(speaker);
	t->done = done;
	t->done_ud = ud;
	t->arg_ref = LUA_NOREF;
	t->state = VK_TASK_QUEUED;
	vk_list_insert_head(&h->tasks, &t->link);
	vk_lua__host_ref(h);
	return t;
}

static void task_free(vk_lua_task *t)
{
	vk_lua_host *h = t->h;
	vk_lua__op_free_early(t);
	vk_lua__task_drop_holds(t);
	vk_list_remove(&t->link);
	vk_list_remove(&t->ready_link);
	/* A coroutine that returned is as good as new once its stack is empty;
	 * one that raised or was killed is dropped. */
	if (t->reusable && !h->closing && h->n_idle_co < VK_LUA_IDLE_COROUTINES && lua_status(t->co) == LUA_OK) {
		lua_settop(t->co, 0);
		h->idle_co[h->n_idle_co++] = t->ref;
	} else {
		luaL_unref(h->L, LUA_REGISTRYINDEX, t->ref);
	}
	luaL_unref(h->L, LUA_REGISTRYINDEX, t->arg_ref);
	free(t->speaker);
	free(t->ns);
	free(t->name);
	free(t->killmsg);
	free(t);
	vk_lua__host_unref(h);
}

static void task_complete(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	t->state = VK_TASK_DONE;
	if (!t->h->closing)
		uv_timer_start(&t->h->settle, on_settle, SETTLE_MS, 0);
	if (t->done)
		t->done(t, err, errmsg, nres);
	task_free(t);
}

void vk_lua__task_queue(vk_lua_task *t, int nargs)
{
	vk_lua_host *h = t->h;
	t->nargs = nargs;
	vk_list_insert_tail(&h->ready, &t->ready_link);
	uv_idle_start(&h->kick, on_kick);
}

static void on_kick(uv_idle_t *idle)
{
	vk_lua_host *h = idle->data;
	vk_lua__host_ref(h);
	/* Only the tasks queued so far: one started now may queue more. */
	vk_list *last = vk_list_last(&h->ready);
	for (vk_list *n; !h->closing && (n = vk_list_first(&h->ready));) {
		vk_lua_task *t = VK_LIST_ENTRY(n, vk_lua_task, ready_link);
		vk_list_remove(n);
		bool was_last = n == last;
		vk_lua__task_resume(t, t->nargs); /* may free t */
		if (was_last)
			break;
	}
	if (vk_list_empty(&h->ready) && !h->closing)
		uv_idle_stop(&h->kick);
	vk_lua__host_unref(h);
}

/* The error message of a dead coroutine, with a traceback after a newline. */
static char *error_message(vk_lua_host *h, lua_State *co)
{
	int ty = lua_type(co, -1);
	const char *msg = (ty == LUA_TSTRING || ty == LUA_TNUMBER) ? lua_tostring(co, -1) : NULL;
	char buf[64];
	if (!msg) {
		snprintf(buf, sizeof buf, "(error object is a %s value)", luaL_typename(co, -1));
		msg = buf;
	}
	luaL_traceback(h->L, co, msg, 0);
	char *s = vk_strdup(lua_tostring(h->L, -1));
	lua_pop(h->L, 1);
	return s;
}

void vk_lua__task_resume(vk_lua_task *t, int nargs)
{
	vk_lua_host *h = t->h;
	if (t->killed) { /* sticky: a killed task never runs again */
		task_complete(t, -ETIMEDOUT, t->killmsg, 0);
		return;
	}
	vk_lua__host_ref(h);
	vk_lua_task *saved = h->current;
	h->current = t;
	t->state = VK_TASK_RUNNING;
	h->resumes++;
	t->instr = 0;
	t->resumed_ns = uv_hrtime();
	int nres = 0;
	int st = lua_resume(t->co, NULL, nargs, &nres);
	h->current = saved;

	if (st == LUA_YIELD) {
		vk_lua_op *op = t->op;
		if (!op || !op->yielded) {
			/* coroutine.yield() at the callback's own level */
			char *m = vk_asprintf("%s: coroutine.yield() outside a coroutine the provider "
			                      "created; use vk.timer.sleep to wait",
			                      h->path);
			task_complete(t, -EIO, m, 0);
			free(m);
		} else if (h->closing) {
			t->op = NULL;
			op->task = NULL;
			if (op->cancel)
				op->cancel(op->cancel_ud);
			task_complete(t, -ECANCELED, "provider closed", 0);
		} else {
			t->state = VK_TASK_WAITING;
		}
	} else if (h->closing) {
		task_complete(t, -ECANCELED, "provider closed", 0);
	} else if (t->killed) {
		char *m = error_message(h, t->co);
		/* the kill message, then the traceback of where it struck */
		const char *tb = strchr(m, '\n');
		char *full = vk_asprintf("%s%s", t->killmsg, tb ? tb : "");
		task_complete(t, -ETIMEDOUT, full, 0);
		free(full);
		free(m);
	} else if (st == LUA_OK) {
		t->reusable = true;
		task_complete(t, 0, NULL, nres);
	} else {
		char *m = error_message(h, t->co);
		task_complete(t, -EIO, m, 0);
		free(m);
	}
	vk_lua__host_unref(h);
}

/* ---- the host as bindings see it ------------------------------------------ */

lua_State *vk_lua__state(const vk_lua_host *h) { return h->L; }
bool vk_lua__closing(const vk_lua_host *h) { return h->closing; }
unsigned vk_lua__generation(const vk_lua_host *h) { return h->gen; }
void *vk_lua__task_ud(const vk_lua_task *t) { return t->done_ud; }
const char *vk_lua__task_speaker(const vk_lua_task *t) { return t->speaker; }

void vk_lua__task_pod(lua_State *L, const char **ns, const char **name)
{
	vk_lua_task *t = vk_lua__current(L);
	*ns = t ? t->ns : NULL;
	*name = t ? t->name : NULL;
}

bool vk_lua__notify(lua_State *L, cJSON *pod_or_status)
{
	vk_lua_host *h = vk_lua__host_of(L);
	if (!h->prov.notify || h->closing) {
		cJSON_Delete(pod_or_status);
		return false;
	}
	h->prov.notify(pod_or_status, h->prov.notify_ud); /* the receiver owns it */
	return true;
}

void vk_lua__handle_add(vk_lua_host *h, vk_lua_handle *hd)
{
	hd->gen = h->gen;
	vk_list_insert_head(&h->handles, &hd->link);
}

void vk_lua__handle_remove(vk_lua_handle *hd) { vk_list_remove(&hd->link); }

void vk_lua__handles_stop(vk_lua_host *h)
{
	for (vk_list *n; (n = vk_list_first(&h->handles));) {
		vk_lua_handle *hd = VK_LIST_ENTRY(n, vk_lua_handle, link);
		vk_list_remove(n); /* in case stop does not */
		hd->stop(hd);
	}
}

void vk_lua__handles_stop_gen(vk_lua_host *h, unsigned gen, bool older)
{
	vk_list *n, *tmp;
	VK_LIST_FOREACH_SAFE(n, tmp, &h->handles)
	{
		vk_lua_handle *hd = VK_LIST_ENTRY(n, vk_lua_handle, link);
		if (older ? hd->gen < gen : hd->gen == gen) {
			vk_list_remove(n);
			hd->stop(hd);
		}
	}
}
