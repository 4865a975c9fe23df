/* vk.cri: the CRI RuntimeService and ImageService for Lua.
 *
 *   local cri = require "vk.cri"
 *   cri.set_endpoint(config.runtime_endpoint)        -- optional, crictl's form
 *   local v = cri.version{}                          -- module-level default client
 *   local c = cri.connect("unix:///run/x.sock", {timeout_ms = 5000})
 *   local r = c:run_pod_sandbox{config = {...}}      -- -> {pod_sandbox_id = "..."}
 *
 * Every RPC takes a request table and an optional {timeout_ms = N}, yields
 * until the runtime answers and returns the response table.  A failure
 * raises a Lua error "file:line: vk.cri.NAME: CODE: message" where CODE is
 * the gRPC code's name (NOT_FOUND, UNAVAILABLE, ...); cri.code(err) extracts
 * it.  Tables follow the proto field names (see cri_codec.h; lua/vk.d.lua
 * documents the API for editors).
 *
 * The C part is one generic function, raw(endpoint, rpc, request, opts) ->
 * response | nil, err, driven by the method table of vk/cri.h.  The Lua
 * part below wraps it so that errors are raised at the caller's line (an
 * op's push cannot raise into the coroutine). */
#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "cri_codec.h"
#include "host.h"
#include "vk/cri.h"
#include "vk/util.h"

#define GUARD_MT "vk.cri.guard"

/* Owns what a call builds before it starts, so that a Lua error raised on
 * the way (bad request, cannot yield) frees it through __gc. */
typedef struct {
	vk_cri *cri;
	ProtobufCMessage *req;
} guard;

static void guard_release(guard *g)
{
	protobuf_c_message_free_unpacked(g->req, NULL);
	g->req = NULL;
	vk_cri_free(g->cri);
	g->cri = NULL;
}

static int guard_gc(lua_State *L)
{
	guard_release(luaL_checkudata(L, 1, GUARD_MT));
	return 0;
}

typedef struct {
	vk_lua_op *op;
	vk_cri_call *call;
	const vk_cri_method *m;
} cri_op;

typedef struct {
	const vk_cri_method *m;
	const vk_cri_result *r;
} push_ctx;

static int push_result(lua_State *L, void *ud)
{
	const push_ctx *p = ud;
	if (p->r->error) {
		lua_pushnil(L);
		lua_pushfstring(L, "vk.cri.%s: %s", p->m->name, p->r->error);
		return 2;
	}
	vk_lua__cri_push(L, p->r->resp);
	return 1;
}

static void on_result(vk_cri_call *call, vk_cri_result *r, void *ud)
{
	cri_op *c = ud;
	vk_lua_op *op = c->op;
	push_ctx p = {c->m, r};
	free(c);
	vk_lua_op_finish(op, push_result, &p); /* push runs in here */
	protobuf_c_message_free_unpacked(r->resp, NULL);
}

static void on_cancel(void *ud)
{
	cri_op *c = ud;
	vk_lua_op *op = c->op;
	vk_cri_call_cancel(c->call); /* its callback will not come */
	free(c);
	vk_lua_op_finish(op, NULL, NULL);
}

static uint32_t opt_timeout(lua_State *L, int idx, const char *name)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	if (!lua_istable(L, idx))
		luaL_error(L, "vk.cri.%s: options must be a table like {timeout_ms = 5000}", name);
	lua_getfield(L, idx, "timeout_ms");
	lua_Integer t = 0;
	if (!lua_isnil(L, -1)) {
		int isnum;
		t = lua_tointegerx(L, -1, &isnum);
		if (!isnum || t <= 0 || t > UINT32_MAX)
			luaL_error(L, "vk.cri.%s: timeout_ms must be a positive integer", name);
	}
	lua_pop(L, 1);
	return (uint32_t)t;
}

/* raw(endpoint|nil, rpc, request|nil, opts|nil) -> response | nil, err */
static int l_raw(lua_State *L)
{
	const char *ep = luaL_optstring(L, 1, NULL);
	const char *name = luaL_checkstring(L, 2);
	const vk_cri_method *m = vk_cri_method_find(name);
	if (!m)
		return luaL_error(L, "vk.cri: no RPC named '%s'", name);
	if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
		return luaL_error(L, "vk.cri.%s: the request must be a table, got %s", name, luaL_typename(L, 3));
	uint32_t timeout = opt_timeout(L, 4, name);
	vk_http *http = vk_lua_http(L);
	if (!http)
		return luaL_error(L, "vk.cri.%s: no HTTP engine in this host", name);

	guard *g = lua_newuserdatauv(L, sizeof *g, 0);
	g->cri = NULL;
	g->req = NULL;
	luaL_setmetatable(L, GUARD_MT);
	char *err = NULL;
	if (vk_cri_new(http, ep, &g->cri, &err) < 0 || vk_lua__cri_encode(L, 3, m->request, &g->req, &err) < 0) {
		lua_pushfstring(L, "vk.cri.%s: %s", name, err);
		free(err);
		return lua_error(L);
	}
	lua_pushfstring(L, "vk.cri.%s", name);
	vk_lua_op *op = vk_lua_op_new(L, lua_tostring(L, -1)); /* raises if L cannot yield */
	lua_pop(L, 1);

	cri_op *c = vk_xcalloc(1, sizeof *c);
	c->op = op;
	c->m = m;
	int rc = vk_cri_call_start(g->cri, m, g->req, timeout, on_result, c, &c->call, &err);
	guard_release(g); /* the request is packed; the call copied the endpoint */
	if (rc < 0) {
		free(c);
		vk_lua_op_finish(op, NULL, NULL);
		lua_pushstring(L, err);
		free(err);
		return lua_error(L);
	}
	vk_lua_op_on_cancel(op, on_cancel, c);
	return vk_lua_op_yield(L, op);
}

/* check(endpoint) -> endpoint: raises on a malformed one (no I/O). */
static int l_check(lua_State *L)
{
	const char *ep = luaL_optstring(L, 1, NULL);
	vk_cri *c;
	char *err = NULL;
	if (vk_cri_new(NULL, ep, &c, &err) < 0) {
		lua_pushfstring(L, "vk.cri: %s", err);
		free(err);
		return lua_error(L);
	}
	lua_pushstring(L, vk_cri_endpoint(c));
	vk_cri_free(c);
	return 1;
}

/* where() -> "file:line: " of the innermost Lua function on the stack that
 * is not this module: error(msg, level) cannot know how many frames a tail
 * call (`return cri.version{}`) removed. */
static int l_where(lua_State *L)
{
	lua_Debug ar;
	for (int level = 1; lua_getstack(L, level, &ar); level++) {
		if (!lua_getinfo(L, "Sl", &ar))
			break;
		if (ar.currentline > 0 && strcmp(ar.source, "=vk.cri") != 0) {
			lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
			return 1;
		}
	}
	lua_pushliteral(L, "");
	return 1;
}

/* The Lua face of the module; receives raw, check, where, the RPC names and
 * the default endpoint. */
static const char module_lua[] = "local raw, check, where, names, DEFAULT = ...\n"
				 "local M = {DEFAULT_ENDPOINT = DEFAULT}\n"
				 "local default = DEFAULT\n"
				 "local function call(ep, name, req, opts)\n"
				 "  local r, err = raw(ep, name, req, opts)\n"
				 "  if r == nil then error(where() .. err, 0) end\n"
				 "  return r\n"
				 "end\n"
				 "local Client = {}\n"
				 "Client.__index = Client\n"
				 "Client.__name = 'vk.cri.client'\n"
				 "function Client.__tostring(c) return 'vk.cri.client(' .. c.endpoint .. ')' end\n"
				 "for _, name in ipairs(names) do\n"
				 "  M[name] = function(req, opts)\n"
				 "    local r = call(default, name, req, opts)\n"
				 "    return r\n"
				 "  end\n"
				 "  Client[name] = function(self, req, opts)\n"
				 "    if getmetatable(self) ~= Client then\n"
				 "      error('vk.cri: call it as a method, c:' .. name .. '{...}', 2)\n"
				 "    end\n"
				 "    local r = call(self.endpoint, name, req, opts or self.opts)\n"
				 "    return r\n"
				 "  end\n"
				 "end\n"
				 "function M.connect(endpoint, opts)\n"
				 "  if opts ~= nil and type(opts) ~= 'table' then\n"
				 "    error('vk.cri.connect: options must be a table like {timeout_ms = 5000}', 2)\n"
				 "  end\n"
				 "  return setmetatable({endpoint = check(endpoint or default), opts = opts}, Client)\n"
				 "end\n"
				 "function M.set_endpoint(endpoint) default = check(endpoint) end\n"
				 "function M.endpoint() return default end\n"
				 "function M.code(err)\n"
				 "  return type(err) == 'string' and err:match('vk%.cri%.[%w_]+: ([A-Z_]+): ') or nil\n"
				 "end\n"
				 "return M\n";

int vk_lua__open_cri(lua_State *L)
{
	if (luaL_newmetatable(L, GUARD_MT)) {
		lua_pushcfunction(L, guard_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	if (luaL_loadbuffer(L, module_lua, sizeof module_lua - 1, "=vk.cri") != LUA_OK)
		return lua_error(L);
	lua_pushcfunction(L, l_raw);
	lua_pushcfunction(L, l_check);
	lua_pushcfunction(L, l_where);
	size_t n;
	const vk_cri_method *m = vk_cri_methods(&n);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, m[i].name);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_pushliteral(L, VK_CRI_DEFAULT_ENDPOINT);
	lua_call(L, 5, 1);
	return 1;
}
