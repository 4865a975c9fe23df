/* vk check (DESIGN.md 5): validates a provider without a cluster.
 *
 * Same steps as open (compile, top level, the table, init(config, node)),
 * but where open stops at the first problem, check goes on as far as it
 * can and lists every problem, each "file:line: message".  A field that is
 * not a function has no line of its own in Lua's eyes: the line of its
 * first assignment is found in the source text, else the file alone is
 * named (as for a callback that is missing). */
#include <ctype.h>
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
	uv_timer_t *deadline;    /* freed in its close callback */
	bool timed_out;
} check_ctx;

static void add(check_ctx *c, char *problem)
{
	c->problems = vk_xrealloc(c->problems, (c->n + 2) * sizeof *c->problems);
	c->problems[c->n++] = problem;
	c->problems[c->n] = NULL;
}

/* Keeps the first line of a Lua error (a traceback may follow). */
static void add_first_line(check_ctx *c, const char *msg)
{
	msg = msg ? msg : "(error object is not a string)";
	add(c, vk_asprintf("%.*s", (int)strcspn(msg, "\n"), msg));
}

static bool ident_char(char ch) { return isalnum((unsigned char)ch) || ch == '_'; }

/* The first line of `path` that assigns `field` ("x.field =", "field =",
 * "function X.field"), or 0. */
static int assignment_line(const char *path, const char *field)
{
	vk_buf b = {0};
	char *err = NULL;
	if (vk_read_file(path, &b, &err) < 0) {
		free(err);
		return 0;
	}
	size_t flen = strlen(field);
	int line = 1, found = 0;
	for (size_t i = 0; i + flen <= b.len && !found; i++) {
		if (b.data[i] == '\n') {
			line++;
			continue;
		}
		if (memcmp(b.data + i, field, flen) != 0 || (i > 0 && ident_char(b.data[i - 1])) ||
		    (i + flen < b.len && ident_char(b.data[i + flen])))
			continue;
		size_t j = i + flen;
		while (j < b.len && (b.data[j] == ' ' || b.data[j] == '\t'))
			j++;
		bool assigns = j < b.len && b.data[j] == '=' && (j + 1 >= b.len || b.data[j + 1] != '=');
		bool fn = i >= 1 && (b.data[i - 1] == '.' || b.data[i - 1] == ':');
		if (fn) { /* "function P.field" */
			size_t k = i - 1;
			while (k > 0 && (ident_char(b.data[k - 1]) || b.data[k - 1] == '.'))
				k--;
			while (k > 0 && (b.data[k - 1] == ' ' || b.data[k - 1] == '\t'))
				k--;
			fn = k >= 8 && memcmp(b.data + k - 8, "function", 8) == 0;
		}
		if (assigns || fn)
			found = line;
	}
	vk_buf_free(&b);
	return found;
}

static char *where(const char *path, const char *field)
{
	int line = assignment_line(path, field);
	return line ? vk_asprintf("%s:%d", path, line) : vk_strdup(path);
}

/* A label value (the taint's value is P.name): at most 63 characters of
 * [A-Za-z0-9._-], alphanumeric at both ends. */
static bool label_value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* The provider table on top of L. */
static void check_table(vk_lua_host *h, check_ctx *c)
{
	lua_State *L = h->L;
	for (int k = 0; k < VK_CALL__COUNT; k++) {
		const char *f = vk_provider_call_name((vk_provider_call)k);
		lua_getfield(L, -1, f);
		int ty = lua_type(L, -1);
		lua_pop(L, 1);
		bool required = k == VK_CALL_CREATE_POD || k == VK_CALL_DELETE_POD || k == VK_CALL_GET_POD_STATUS;
		if (ty == LUA_TNIL && required) {
			add(c, vk_asprintf("%s: the required callback %s is missing (create_pod, delete_pod and "
			                   "get_pod_status are required)", h->path, f));
		} else if (ty != LUA_TNIL && ty != LUA_TFUNCTION) {
			char *w = where(h->path, f);
			add(c, vk_asprintf("%s: %s must be a function (it is a %s)", w, f, lua_typename(L, ty)));
			free(w);
		}
	}
	static const char *const others[] = {"init", "on_reload"};
	for (size_t i = 0; i < VK_ARRAY_LEN(others); i++) {
		lua_getfield(L, -1, others[i]);
		int ty = lua_type(L, -1);
		lua_pop(L, 1);
		if (ty != LUA_TNIL && ty != LUA_TFUNCTION) {
			char *w = where(h->path, others[i]);
			add(c, vk_asprintf("%s: %s must be a function (it is a %s)", w, others[i], lua_typename(L, ty)));
			free(w);
		}
	}
	lua_getfield(L, -1, "name");
	int ty = lua_type(L, -1);
	if (ty == LUA_TSTRING) {
		free(c->name);
		c->name = vk_strdup(lua_tostring(L, -1));
		if (!label_value_ok(c->name)) {
			char *w = where(h->path, "name");
			add(c, vk_asprintf("%s: name \"%s\" cannot be the value of the node's taint (a label value: "
			                   "up to 63 of [A-Za-z0-9._-], alphanumeric at both ends)", w, c->name));
			free(w);
		}
	} else if (ty != LUA_TNIL) {
		char *w = where(h->path, "name");
		add(c, vk_asprintf("%s: name must be a string (it is a %s)", w, lua_typename(L, ty)));
		free(w);
	}
	lua_pop(L, 1);
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
	add(c, vk_asprintf("%s: init did not return within %d s (waiting on I/O that does not answer?)",
	                   c->h->path, CHECK_INIT_MS / 1000));
	vk_lua__host_close(c->h); /* ends init with -ECANCELED: init_done reports */
}

static void nothing_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	check_end(t->h, t->done_ud);
}

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
		check_table(h, c);
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
