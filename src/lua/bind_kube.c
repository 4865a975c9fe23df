/* vk.kube: read objects through the core's Kubernetes client and its
 * read-through cache (the last answer to the same GET while the API server
 * cannot be reached; kept across restarts when vk has a store).
 *   get(path)                -> table, or nil, err ("not found" on 404)
 *   get_configmap(ns, name)  -> the ConfigMap
 *   get_secret(ns, name)     -> the Secret (data values stay base64)
 *   patch(path, body[, content_type])
 *                            -> the patched object, or nil, err: a merge
 *                               patch by default (body a table or JSON text);
 *                               e.g. a pod's annotations through its
 *                               pods/NAME/status subresource, the one a node
 *                               may patch under the Node authorizer
 * Each call yields until the answer comes; patch never reads the cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

typedef struct {
	vk_lua_op *op;
	vk_kube_call *call;
} kube_get;

static int push_result(lua_State *L, void *ud)
{
	const vk_kube_result *r = ud;
	if (r->status >= 200 && r->status < 300 && r->json) {
		vk_lua_push_json(L, r->json);
		return 1;
	}
	lua_pushnil(L);
	if (r->status == 404)
		lua_pushliteral(L, "not found");
	else if (r->status == 0)
		lua_pushfstring(L, "vk.kube: %s", r->error ? r->error : "no answer");
	else if (r->status >= 200 && r->status < 300)
		lua_pushfstring(L, "vk.kube: HTTP %d with a body that is not JSON", (int)r->status);
	else
		lua_pushfstring(L, "vk.kube: HTTP %d: %s", (int)r->status, r->error ? r->error : "error");
	return 2;
}

static void on_answer(const vk_kube_result *r, void *ud)
{
	kube_get *g = ud;
	vk_lua_op *op = g->op;
	free(g);
	vk_lua_op_finish(op, push_result, (void *)r);
}

static void on_cancel(void *ud)
{
	kube_get *g = ud;
	vk_lua_op *op = g->op;
	vk_kube_cancel(g->call); /* its callback will not come */
	free(g);
	vk_lua_op_finish(op, NULL, NULL);
}

static int start_get(lua_State *L, const char *what, const char *path)
{
	vk_kube *k = vk_lua_kube(L);
	if (!k)
		return luaL_error(L, "%s: no cluster connection (vk check runs without one)", what);
	vk_lua_op *op = vk_lua_op_new(L, what);
	kube_get *g = vk_xcalloc(1, sizeof *g);
	g->op = op;
	/* Read through the cache: while the API server cannot be reached, the
	 * last answer to the same GET comes back (an edge node cut off). */
	int rc = vk_kube_get_cached(k, path, on_answer, g, &g->call);
	if (rc < 0) {
		free(g);
		vk_lua_op_finish(op, NULL, NULL); /* finished before yielding: freed with the task */
		return luaL_error(L, "%s: %s", what, strerror(-rc));
	}
	vk_lua_op_on_cancel(op, on_cancel, g);
	return vk_lua_op_yield(L, op);
}

static int l_get(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (strncmp(path, "/api/", 5) && strncmp(path, "/apis/", 6))
		return luaL_argerror(L, 1, "a path starting with /api/ or /apis/");
	return start_get(L, "vk.kube.get", path);
}

static int l_patch(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (strncmp(path, "/api/", 5) && strncmp(path, "/apis/", 6))
		return luaL_argerror(L, 1, "a path starting with /api/ or /apis/");
	const char *ctype = luaL_optstring(L, 3, "application/merge-patch+json");
	if (strcmp(ctype, "application/merge-patch+json") && strcmp(ctype, "application/strategic-merge-patch+json") &&
	    strcmp(ctype, "application/json-patch+json"))
		return luaL_argerror(L, 3,
		                     "application/merge-patch+json, strategic-merge-patch+json or json-patch+json");
	char *body;
	if (lua_type(L, 2) == LUA_TSTRING) {
		body = vk_strdup(lua_tostring(L, 2));
	} else {
		luaL_checktype(L, 2, LUA_TTABLE);
		cJSON *j = vk_lua__to_json_or_raise(L, 2, "vk.kube.patch: body");
		body = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		if (!body)
			return luaL_error(L, "vk.kube.patch: cannot encode the body");
	}
	vk_kube *k = vk_lua_kube(L);
	if (!k) {
		free(body);
		return luaL_error(L, "vk.kube.patch: no cluster connection (vk check runs without one)");
	}
	vk_lua_op *op = vk_lua_op_new(L, "vk.kube.patch");
	kube_get *g = vk_xcalloc(1, sizeof *g);
	g->op = op;
	int rc = vk_kube_request(k, "PATCH", path, ctype, body, on_answer, g, &g->call);
	free(body);
	if (rc < 0) {
		free(g);
		vk_lua_op_finish(op, NULL, NULL);
		return luaL_error(L, "vk.kube.patch: %s", strerror(-rc));
	}
	vk_lua_op_on_cancel(op, on_cancel, g);
	return vk_lua_op_yield(L, op);
}

/* A DNS-1123 name or namespace: it goes into a URL unescaped. */
static const char *check_name(lua_State *L, int arg)
{
	size_t n;
	const char *s = luaL_checklstring(L, arg, &n);
	if (n == 0 || n > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n)
		luaL_argerror(L, arg, "a Kubernetes name (lower case letters, digits, '-', '.')");
	return s;
}

static int get_named(lua_State *L, const char *what, const char *kind)
{
	const char *ns = check_name(L, 1), *name = check_name(L, 2);
	char path[600];
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s/%s", ns, kind, name);
	return start_get(L, what, path);
}

static int l_get_configmap(lua_State *L) { return get_named(L, "vk.kube.get_configmap", "configmaps"); }
static int l_get_secret(lua_State *L) { return get_named(L, "vk.kube.get_secret", "secrets"); }

int vk_lua__open_kube(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"get", l_get}, {"get_configmap", l_get_configmap}, {"get_secret", l_get_secret}, {"patch", l_patch},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
