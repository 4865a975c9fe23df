/* vk/provider.h implemented by a Lua provider file.
 *
 * vk_lua_provider_open loads the file, checks the table it returns and
 * runs init(config, node) in a task; each call() is one more task.  Results
 * and errors reach the caller's callback from the loop, never from inside
 * call() itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/metrics.h"
#include "vk/json.h"
#include "vk/util.h"

static vk_lua_host *host_of(vk_provider *p) { return VK_CONTAINER_OF(p, vk_lua_host, prov); }
static const vk_provider_iface lua_iface;

vk_lua_host *vk_lua__host_from_provider(vk_provider *p) { return p && p->iface == &lua_iface ? host_of(p) : NULL; }

/* ---- calls -------------------------------------------------------------- */

typedef struct {
	vk_provider_call call;
	vk_provider_cb cb;
	void *ud;
	uint64_t start_ns; /* for vk_provider_callback_duration_seconds */
	int out_ref;       /* container_logs' `out` (follow), or LUA_NOREF */
} call_ctx;

static void call_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	call_ctx *c = t->done_ud;
	vk_lua__log_out_detach(t->h->L, c->out_ref); /* before the caller frees its output */
	vk_metrics_callback(vk_provider_call_name(c->call), (double)(uv_hrtime() - c->start_ns) / 1e9,
	                    err != 0 && err != -ECANCELED, t->killed);
	vk_provider_result r = {.err = err, .errmsg = err ? errmsg : NULL};
	char *cerr = NULL;
	bool streaming = c->call == VK_CALL_EXEC || c->call == VK_CALL_ATTACH || c->call == VK_CALL_PORT_FORWARD;
	if (!err && streaming) {
		/* an exit code, nothing, or `nil, err` */
		lua_State *co = t->co;
		int base = lua_gettop(co) - nres + 1;
		if (nres > 0 && lua_type(co, base) == LUA_TNUMBER) {
			r.value = cJSON_CreateNumber((double)lua_tointeger(co, base));
		} else if (nres > 1 && lua_isnil(co, base) && !lua_isnil(co, base + 1)) {
			const char *m = luaL_tolstring(co, base + 1, NULL);
			r.value = cJSON_CreateObject();
			cJSON_AddStringToObject(r.value, "error", m ? m : "error");
			lua_pop(co, 1);
		}
	} else if (!err) {
		lua_State *co = t->co;
		int base = lua_gettop(co) - nres + 1;
		bool has_value = nres > 0 && !lua_isnil(co, base);
		if (!has_value && c->call == VK_CALL_NODE_STATUS && t->arg_ref != LUA_NOREF) {
			/* node_status may edit its argument instead of returning it */
			lua_rawgeti(co, LUA_REGISTRYINDEX, t->arg_ref);
			base = lua_gettop(co);
			has_value = true;
		}
		bool text_ok = c->call == VK_CALL_GET_POD || c->call == VK_CALL_GET_POD_STATUS ||
		               c->call == VK_CALL_GET_PODS;
		if (has_value && text_ok && lua_type(co, base) == LUA_TSTRING) {
			/* Pods and statuses may come back as their JSON text, or as
			 * what vk.json.pack made of it: a provider holding many pods
			 * keeps them packed and hands them over as they are, and
			 * unpacking and parsing in C makes no garbage in its heap. */
			size_t len;
			const char *text = lua_tolstring(co, base, &len);
			char *unpacked = vk_lua__json_unpacked(text, len, &len);
			if (unpacked)
				text = unpacked;
			const char *end = NULL;
			r.value = cJSON_ParseWithLengthOpts(text, len, &end, false);
			if (!r.value) {
				r.err = -EIO;
				cerr = vk_asprintf("%s: %s returned a string that is not JSON (at byte %zu)",
				                   t->h->path, vk_provider_call_name(c->call),
				                   end ? (size_t)(end - text) : 0);
				r.errmsg = cerr;
			}
			free(unpacked);
		} else if (has_value) {
			r.value = vk_lua_to_json(co, base, &cerr);
			if (!r.value) {
				r.err = -EIO;
				char *m = vk_asprintf("%s: %s returned a value with no JSON form: %s", t->h->path,
				                      vk_provider_call_name(c->call), cerr);
				free(cerr);
				cerr = m;
				r.errmsg = cerr;
			} else if (c->call == VK_CALL_GET_PODS && cJSON_IsObject(r.value) && !r.value->child) {
				/* `return {}`: no pods, an empty array */
				cJSON_Delete(r.value);
				r.value = cJSON_CreateArray();
			}
		}
	}
	c->cb(&r, c->ud);
	free(cerr);
	free(c);
}

typedef struct {
	vk_provider_call call;
	const cJSON *pod;
	const char *ns, *name;
	lua_State *co;
	int *arg_ref;
	vk_stream *st;        /* exec, attach, port_forward */
	vk_provider_out *out; /* container_logs with follow */
	int *out_ref;
} args_ctx;

/* Builds the arguments on the main thread under pcall (a memory error must
 * not panic), then moves them onto the coroutine. */
static int build_args(lua_State *L)
{
	args_ctx *a = lua_touserdata(L, 1);
	lua_settop(L, 0);
	switch (a->call) {
	case VK_CALL_CREATE_POD:
	case VK_CALL_UPDATE_POD:
	case VK_CALL_DELETE_POD: vk_lua_push_json(L, a->pod); return 1;
	case VK_CALL_NODE_STATUS:
		if (a->pod)
			vk_lua_push_json(L, a->pod);
		else
			lua_newtable(L);
		lua_pushvalue(L, -1);
		*a->arg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		return 1;
	case VK_CALL_GET_POD:
	case VK_CALL_GET_POD_STATUS:
		lua_pushstring(L, a->ns ? a->ns : "");
		lua_pushstring(L, a->name ? a->name : "");
		return 2;
	case VK_CALL_CONTAINER_LOGS: {
		/* container_logs(ns, pod, container, opts): opts is always a table */
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(a->pod, "container");
		const cJSON *opts = cJSON_GetObjectItemCaseSensitive(a->pod, "opts");
		lua_pushstring(L, a->ns ? a->ns : "");
		lua_pushstring(L, a->name ? a->name : "");
		lua_pushstring(L, cJSON_IsString(c) ? c->valuestring : "");
		if (cJSON_IsObject(opts))
			vk_lua_push_json(L, opts);
		else
			lua_newtable(L);
		if (!a->out)
			return 4;
		vk_lua__push_log_out(L, a->out);
		lua_pushvalue(L, -1);
		*a->out_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		return 5;
	}
	case VK_CALL_EXEC:
	case VK_CALL_ATTACH:
	case VK_CALL_PORT_FORWARD: {
		/* exec(ns, pod, container, cmd, stream), attach(ns, pod, container,
		 * stream), port_forward(ns, pod, port, stream) */
		lua_pushstring(L, a->ns ? a->ns : "");
		lua_pushstring(L, a->name ? a->name : "");
		if (a->call == VK_CALL_PORT_FORWARD) {
			const cJSON *port = cJSON_GetObjectItemCaseSensitive(a->pod, "port");
			lua_pushinteger(L, cJSON_IsNumber(port) ? (lua_Integer)port->valuedouble : 0);
		} else {
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(a->pod, "container");
			lua_pushstring(L, cJSON_IsString(c) ? c->valuestring : "");
		}
		if (a->call == VK_CALL_EXEC) {
			const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(a->pod, "command");
			if (cJSON_IsArray(cmd))
				vk_lua_push_json(L, cmd);
			else
				lua_newtable(L);
		}
		vk_lua__push_stream(L, a->st);
		a->st = NULL; /* the object holds the reference now */
		return lua_gettop(L);
	}
	default: return 0;
	}
}

static void pod_key(const cJSON *pod, const char **ns, const char **name)
{
	*ns = vk_json_str(pod, "metadata.namespace");
	*name = vk_json_str(pod, "metadata.name");
}

static int start_call(vk_provider *p, vk_provider_call c, const cJSON *pod, const char *ns, const char *name,
                      vk_stream *st, vk_provider_out *out, vk_provider_cb cb, void *ud)
{
	vk_lua_host *h = host_of(p);
	if ((unsigned)c >= VK_CALL__COUNT || !cb)
		return -EINVAL;
	if (h->closing)
		return -ESHUTDOWN;
	if (!h->has[c])
		return -ENOSYS;
	bool takes_pod = c == VK_CALL_CREATE_POD || c == VK_CALL_UPDATE_POD || c == VK_CALL_DELETE_POD;
	if (takes_pod && !pod)
		return -EINVAL;
	if (takes_pod)
		pod_key(pod, &ns, &name);

	lua_State *L = h->L;
	char *speaker = (ns || name) ? vk_asprintf("provider %s %s/%s", vk_provider_call_name(c), ns ? ns : "",
	                                           name ? name : "")
	                             : vk_asprintf("provider %s", vk_provider_call_name(c));
	call_ctx *cc = vk_xcalloc(1, sizeof *cc);
	cc->call = c;
	cc->cb = cb;
	cc->ud = ud;
	cc->start_ns = uv_hrtime();
	cc->out_ref = LUA_NOREF;
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->provider_ref);
	lua_getfield(L, -1, vk_provider_call_name(c));
	lua_remove(L, -2);
	vk_lua_task *t = vk_lua__task_new(h, speaker, call_done, cc);
	free(speaker);
	t->ns = vk_strdup(ns);
	t->name = vk_strdup(name);

	int top = lua_gettop(L);
	args_ctx a = {c, pod, ns, name, t->co, &t->arg_ref, st, out, &cc->out_ref};
	lua_pushcfunction(L, build_args);
	lua_pushlightuserdata(L, &a);
	if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
		lua_settop(L, top);
		t->done = NULL; /* a call that fails never calls back */
		vk_lua__log_out_detach(L, cc->out_ref);
		free(cc);
		vk_lua__task_queue(t, 0);
		t->killed = true; /* finishes at once, silently */
		t->killmsg = vk_strdup("out of memory");
		return -ENOMEM;
	}
	int n = lua_gettop(L) - top;
	lua_xmove(L, t->co, n);
	vk_lua__task_queue(t, n);
	return 0;
}

static int lua_call_op(vk_provider *p, vk_provider_call c, const cJSON *pod, const char *ns, const char *name,
                       vk_provider_cb cb, void *ud)
{
	if (c == VK_CALL_EXEC || c == VK_CALL_ATTACH || c == VK_CALL_PORT_FORWARD)
		return -EINVAL; /* they need a stream: call_stream */
	return start_call(p, c, pod, ns, name, NULL, NULL, cb, ud);
}

/* exec, attach, port_forward: the stream's reference goes to the Lua
 * object when the call starts (not when it is refused). */
static int lua_call_stream(vk_provider *p, vk_provider_call c, const cJSON *args, const char *ns, const char *name,
                           vk_stream *st, vk_provider_cb cb, void *ud)
{
	if ((c != VK_CALL_EXEC && c != VK_CALL_ATTACH && c != VK_CALL_PORT_FORWARD) || !st || !args)
		return -EINVAL;
	return start_call(p, c, args, ns, name, st, NULL, cb, ud);
}

static int lua_follow_logs(vk_provider *p, const char *ns, const char *name, const cJSON *args, vk_provider_out *out,
                           vk_provider_cb cb, void *ud)
{
	if (!out || !args)
		return -EINVAL;
	return start_call(p, VK_CALL_CONTAINER_LOGS, args, ns, name, NULL, out, cb, ud);
}

static bool lua_has(vk_provider *p, vk_provider_call c)
{
	vk_lua_host *h = host_of(p);
	return (unsigned)c < VK_CALL__COUNT && h->has[c];
}

static void lua_close_op(vk_provider *p) { vk_lua__host_close(host_of(p)); }

static const vk_provider_iface lua_iface = {
	.call = lua_call_op,
	.has = lua_has,
	.call_stream = lua_call_stream,
	.close = lua_close_op,
	.follow_logs = lua_follow_logs,
};

/* ---- open --------------------------------------------------------------- */

static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t len = strlen(base);
	if (len > 4 && strcmp(base + len - 4, ".lua") == 0)
		len -= 4;
	return vk_asprintf("%.*s", (int)len, base);
}

/* The provider's name (table on top): P.name, else the file's basename
 * without ".lua". */
static void join_problem(void *ud, char *problem)
{
	vk_buf *b = ud;
	vk_buf_printf(b, "%s%s", b->len ? "; " : "", problem);
	free(problem);
}

static int traceback_handler(lua_State *L)
{
	const char *m = lua_tostring(L, 1);
	luaL_traceback(L, L, m ? m : "(error object is not a string)", 1);
	return 1;
}

/* Loads and runs the chunk and checks the provider table; on success sets
 * has[], *ref (the table, in the registry) and *name.  Returns NULL or a
 * malloc'd "file:line: message".  Also used by reload. */
char *vk_lua__load_provider(vk_lua_host *h, bool has[VK_CALL__COUNT], int *ref, char **name)
{
	lua_State *L = h->L;
	lua_pushcfunction(L, traceback_handler);
	int hidx = lua_gettop(L);
	if (luaL_loadfilex(L, h->path, "t") != LUA_OK) {
		char *e = vk_strdup(lua_tostring(L, -1));
		lua_settop(L, hidx - 1);
		return e;
	}
	if (vk_lua__pcall_budgeted(h, 0, 1, hidx, "provider load") != LUA_OK) {
		char *e = vk_strdup(lua_tostring(L, -1));
		lua_settop(L, hidx - 1);
		return e;
	}
	if (!lua_istable(L, -1)) {
		char *e = vk_asprintf("%s: the provider must return a table of callbacks (it returned %s)", h->path,
		                      luaL_typename(L, -1));
		lua_settop(L, hidx - 1);
		return e;
	}
	/* Every problem, on one line: it becomes a log line and an Event. */
	vk_buf problems = {0};
	char *given = NULL;
	if (vk_lua__validate_provider(L, h->path, has, &given, join_problem, &problems) > 0) {
		free(given);
		lua_settop(L, hidx - 1);
		return vk_buf_steal(&problems);
	}
	*name = given ? given : name_from_path(h->path);
	lua_pushvalue(L, -1);
	*ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_settop(L, hidx - 1);
	return NULL;
}

/* Replaces the caller's node contents with the edited table's JSON. */
char *vk_lua__write_back_node(vk_lua_host *h, lua_State *co, int ref, cJSON *node)
{
	lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
	char *err = NULL;
	cJSON *j = vk_lua_to_json(co, -1, &err);
	lua_pop(co, 1);
	if (!j) {
		char *m = vk_asprintf("%s: init left the node with no JSON form: %s", h->path, err);
		free(err);
		return m;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return vk_asprintf("%s: init turned the node into a non-object", h->path);
	}
	cJSON_Delete(node->child);
	node->child = j->child;
	j->child = NULL;
	cJSON_Delete(j);
	return NULL;
}

static void open_finish(vk_lua_host *h, const char *err)
{
	vk_lua_open_cb cb = h->open_cb;
	void *ud = h->open_ud;
	h->open_cb = NULL;
	if (err) {
		vk_lua__host_ref(h);
		vk_lua__host_close(h);
		cb(NULL, err, ud);
		vk_lua__host_unref(h);
	} else {
		cb(&h->prov, NULL, ud);
	}
}

static void init_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	vk_lua_host *h = t->h;
	if (err) {
		open_finish(h, errmsg);
		return;
	}
	char *e = h->open_node ? vk_lua__write_back_node(h, t->co, t->arg_ref, h->open_node) : NULL;
	open_finish(h, e);
	free(e);
}

/* A load error is reported from the loop like any other outcome: a task
 * that does nothing carries it. */
int vk_lua__nothing(lua_State *L)
{
	(void)L;
	return 0;
}

static void load_failed_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	char *lerr = t->done_ud;
	open_finish(t->h, lerr);
	free(lerr);
}

int vk_lua_provider_open(const vk_lua_opts *o, cJSON *node, vk_lua_open_cb cb, void *ud)
{
	if (!o || !o->loop || !o->path || !cb)
		return -EINVAL;
	if (node && !cJSON_IsObject(node))
		return -EINVAL;
	char *err = NULL;
	vk_lua_host *h = vk_lua__host_new(o, &err);
	if (!h) {
		free(err);
		return -ENOMEM;
	}
	h->prov.iface = &lua_iface;
	h->open_cb = cb;
	h->open_ud = ud;
	h->open_node = node;
	lua_State *L = h->L;

	vk_lua__snapshot_loaded(h);
	char *lerr = vk_lua__load_provider(h, h->has, &h->provider_ref, &h->name);
	h->prov.name = h->name;
	if (lerr) {
		h->name = name_from_path(h->path);
		h->prov.name = h->name;
		lua_pushcfunction(L, vk_lua__nothing);
		vk_lua_task *t = vk_lua__task_new(h, "provider load", load_failed_done, lerr);
		vk_lua__task_queue(t, 0);
		return 0;
	}

	lua_rawgeti(L, LUA_REGISTRYINDEX, h->provider_ref);
	lua_getfield(L, -1, "init");
	lua_remove(L, -2);
	if (!lua_isfunction(L, -1)) { /* no init: the node goes back untouched */
		lua_pop(L, 1);
		lua_pushcfunction(L, vk_lua__nothing);
	}
	vk_lua_task *t = vk_lua__task_new(h, "provider init", init_done, NULL);
	vk_lua_init_args a = {o->config, node};
	int top = lua_gettop(L);
	lua_pushcfunction(L, vk_lua__push_init_args);
	lua_pushlightuserdata(L, &a);
	if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
		lua_settop(L, top);
		t->done = NULL;
		h->open_cb = NULL;
		vk_lua__host_close(h);
		return -ENOMEM;
	}
	lua_pushvalue(L, -1); /* the node table, read back after init */
	t->arg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_xmove(L, t->co, 2);
	vk_lua__task_queue(t, 2);
	return 0;
}
