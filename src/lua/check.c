/* vk check (docs/design.md, "Hot reload"): validates a provider without a cluster.
 *
 * Same steps as open (compile, top level, the table's checks of
 * validate.c, init(config, node)), but where open stops at the first step
 * that fails, check goes on as far as it can and lists every problem, each
 * "file[:line]: message". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

/* init may wait on I/O that never answers (a socket nobody serves); the
 * budget counts only time spent running, so check has a deadline of its own. */
#define CHECK_INIT_MS 10000

typedef struct {
	vk_lua_check_cb cb;
	void *ud;
	cJSON *node;
	char *name;
	char **problems;
	size_t n;
	vk_lua_host *h;
	uv_timer_t *deadline; /* freed in its close callback */
	bool timed_out;
} check_ctx;

static void add(check_ctx *c, char *problem)
{
	c->problems = vk_xrealloc(c->problems, (c->n + 2) * sizeof *c->problems);
	c->problems[c->n++] = problem;
	c->problems[c->n] = NULL;
}

static void add_problem(void *ud, char *problem) { add(ud, problem); }

/* Keeps the first line of a Lua error (a traceback may follow). */
static void add_first_line(check_ctx *c, const char *msg)
{
	msg = msg ? msg : "(error object is not a string)";
	add(c, vk_asprintf("%.*s", (int)strcspn(msg, "\n"), msg));
}

static void deadline_closed(uv_handle_t *t) { free(t); }

static void check_end(vk_lua_host *h, check_ctx *c)
{
	if (c->deadline) {
		uv_timer_stop(c->deadline);
		uv_close((uv_handle_t *)c->deadline, deadline_closed);
	}
	if (!c->problems) { /* no problem: an empty list */
		c->problems = vk_xcalloc(1, sizeof *c->problems);
	}
	vk_lua__host_ref(h);
	vk_lua__host_close(h);
	c->cb(c->name, c->problems, c->ud);
	vk_lua__host_unref(h);
	for (size_t i = 0; i < c->n; i++)
		free(c->problems[i]);
	free(c->problems);
	free(c->name);
	free(c);
}

static void init_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	check_ctx *c = t->done_ud;
	vk_lua_host *h = t->h;
	if (c->timed_out) {
		/* the deadline's problem is already listed; this is the cancel */
	} else if (err) {
		add_first_line(c, errmsg);
	} else if (c->node) {
		char *e = vk_lua__write_back_node(h, t->co, t->arg_ref, c->node);
		if (e)
			add(c, e);
	}
	check_end(h, c);
}

static void on_deadline(uv_timer_t *t)
{
	check_ctx *c = t->data;
	c->timed_out = true;
	add(c, vk_asprintf("%s: init did not return within %d s (waiting on I/O that does not answer?)", c->h->path,
	                   CHECK_INIT_MS / 1000));
	vk_lua__host_close(c->h); /* ends init with -ECANCELED: init_done reports */
}

static void nothing_done(vk_lua_task *t, int err, const char *errmsg, int nres) { check_end(t->h, t->done_ud); }

static int traceback(lua_State *L)
{
	const char *m = lua_tostring(L, 1);
	luaL_traceback(L, L, m ? m : "(error object is not a string)", 1);
	return 1;
}

int vk_lua_provider_check(const vk_lua_opts *o, cJSON *node, vk_lua_check_cb cb, void *ud)
{
	if (!o || !o->loop || !o->path || !cb || (node && !cJSON_IsObject(node)))
		return -EINVAL;
	char *err = NULL;
	vk_lua_host *h = vk_lua__host_new(o, &err);
	if (!h) {
		free(err);
		return -ENOMEM;
	}
	lua_State *L = h->L;
	check_ctx *c = vk_xcalloc(1, sizeof *c);
	c->cb = cb;
	c->ud = ud;
	c->node = node;
	c->h = h;
	const char *slash = strrchr(o->path, '/');
	c->name = vk_strdup(slash ? slash + 1 : o->path);
	char *dot = strrchr(c->name, '.');
	if (dot && strcmp(dot, ".lua") == 0)
		*dot = '\0';
	vk_lua__snapshot_loaded(h);

	lua_pushcfunction(L, traceback);
	int hidx = lua_gettop(L);
	bool run_init = false;
	if (luaL_loadfilex(L, h->path, "t") != LUA_OK) {
		add_first_line(c, lua_tostring(L, -1));
	} else if (vk_lua__pcall_budgeted(h, 0, 1, hidx, "provider load") != LUA_OK) {
		add_first_line(c, lua_tostring(L, -1));
	} else if (!lua_istable(L, -1)) {
		add(c, vk_asprintf("%s: the provider must return a table of callbacks (it returned %s)", h->path,
		                   luaL_typename(L, -1)));
	} else {
		char *name = NULL;
		vk_lua__validate_provider(L, h->path, NULL, &name, add_problem, c);
		if (name) {
			free(c->name);
			c->name = name;
		}
		lua_getfield(L, -1, "init");
		run_init = lua_isfunction(L, -1);
		if (!run_init)
			lua_pop(L, 1);
	}
	if (!run_init) {
		lua_settop(L, hidx - 1);
		lua_pushcfunction(L, vk_lua__nothing);
		vk_lua_task *t = vk_lua__task_new(h, "provider check", nothing_done, c);
		vk_lua__task_queue(t, 0);
		return 0;
	}
	/* init is on top: it becomes the task's function. */
	vk_lua_task *t = vk_lua__task_new(h, "provider init", init_done, c);
	lua_settop(L, hidx - 1);
	vk_lua_init_args a = {o->config, node};
	int top = lua_gettop(L);
	lua_pushcfunction(L, vk_lua__push_init_args);
	lua_pushlightuserdata(L, &a);
	if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
		lua_settop(L, top);
		add(c, vk_strdup("out of memory"));
		vk_lua__task_queue(t, 0);
		return 0;
	}
	lua_pushvalue(L, -1);
	t->arg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_xmove(L, t->co, 2);
	vk_lua__task_queue(t, 2);
	c->deadline = vk_xcalloc(1, sizeof *c->deadline);
	uv_timer_init(o->loop, c->deadline);
	c->deadline->data = c;
	uv_timer_start(c->deadline, on_deadline, CHECK_INIT_MS, 0);
	return 0;
}
