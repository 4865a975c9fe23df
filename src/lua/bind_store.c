/* vk.store: the local store for providers.
 *
 *   vk.store.get(key [, {raw=true}])   -> value, rv | nil (missing) | nil, err
 *   vk.store.put(key, value [, {ttl=SECONDS, rv=N}]) -> true | nil, err
 *   vk.store.delete(key [, {rv=N}])    -> true | nil, err
 *   vk.store.list(prefix)              -> {[key] = value, ...} | nil, err
 *   vk.store.open(URL)                 -> store | nil, err   (same methods,
 *                                         called as store:get(...); store:close())
 *
 * Every call yields until the store answers.  A value is a string, or a
 * table stored as JSON; get gives a table back for a JSON object or array
 * (raw=true: always the text).  In vk's own store each provider works in
 * its namespace "providers/NAME/"; a store from vk.store.open(URL)
 * (embedded:DIR, redis://..., etcd://...) is the provider's own, without a
 * prefix.  A refused write (a record with a greater rv) is nil, "stale...". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/store.h"
#include "vk/util.h"

#define STORE_MT "vk.store.Store"

/* A store a provider opened.  The Lua userdata points at it; calls in
 * flight are listed so that a close (or the collector) can free them. */
typedef struct lstore lstore;
typedef struct scall scall;

struct lstore {
	vk_store *s; /* NULL once closed */
	bool own;    /* opened by vk.store.open (else vk's own store) */
	scall *calls;
};

struct scall {
	vk_lua_op *op; /* NULL once abandoned */
	lstore *ls;    /* NULL for vk's own store */
	const char *what;
	size_t plen; /* the namespace prefix to strip from list keys */
	bool raw;
	int status;
	char *err;
	char *value;
	size_t len;
	uint64_t rv;
	vk_store_rec *recs;
	size_t n;
	vk_store *opened; /* open: the new store */
	scall *prev, *next;
};

static void call_link(scall *c)
{
	if (!c->ls)
		return;
	c->next = c->ls->calls;
	if (c->next)
		c->next->prev = c;
	c->ls->calls = c;
}

static void call_unlink(scall *c)
{
	if (!c->ls)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->ls->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->ls = NULL; /* unlinked once */
}

static void call_free(scall *c)
{
	call_unlink(c);
	free(c->err);
	free(c->value);
	for (size_t i = 0; i < c->n; i++) {
		free((char *)c->recs[i].key);
		free((char *)c->recs[i].value);
	}
	free(c->recs);
	free(c);
}

/* Pushes a stored value: a table for JSON objects and arrays. */
static void push_value(lua_State *L, const char *v, size_t len, bool raw)
{
	if (!raw && len && (v[0] == '{' || v[0] == '[')) {
		cJSON *j = cJSON_ParseWithLength(v, len);
		if (j && (cJSON_IsObject(j) || cJSON_IsArray(j))) {
			vk_lua_push_json(L, j);
			cJSON_Delete(j);
			return;
		}
		cJSON_Delete(j);
	}
	lua_pushlstring(L, v, len);
}

static int push_result(lua_State *L, void *ud)
{
	scall *c = ud;
	if (c->status == VK_STORE_ENOENT) {
		lua_pushnil(L);
		return 1;
	}
	if (c->status) {
		lua_pushnil(L);
		if (c->status == VK_STORE_ESTALE)
			lua_pushfstring(L, "%s: stale: the store holds a fresher version", c->what);
		else
			lua_pushfstring(L, "%s: %s", c->what, c->err ? c->err : vk_store_strerror(c->status));
		return 2;
	}
	if (c->opened) {
		lstore *ls = lua_newuserdatauv(L, sizeof *ls, 0);
		memset(ls, 0, sizeof *ls);
		ls->s = c->opened;
		ls->own = true;
		c->opened = NULL;
		luaL_setmetatable(L, STORE_MT);
		return 1;
	}
	if (c->recs || c->n == (size_t)-1) {
		lua_createtable(L, 0, (int)c->n);
		for (size_t i = 0; i < c->n; i++) {
			lua_pushstring(L, c->recs[i].key + c->plen);
			push_value(L, c->recs[i].value, c->recs[i].len, c->raw);
			lua_rawset(L, -3);
		}
		return 1;
	}
	if (c->value) {
		push_value(L, c->value, c->len, c->raw);
		lua_pushinteger(L, (lua_Integer)c->rv);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static void finish(scall *c)
{
	/* Resuming the coroutine may close the store (ls_close): this call is
	 * no longer its to free. */
	call_unlink(c);
	vk_lua_op *op = c->op;
	c->op = NULL;
	if (op)
		vk_lua_op_finish(op, push_result, c);
	if (c->opened) /* the push did not take it (the op was abandoned) */
		vk_store_close(c->opened);
	call_free(c);
}

static void on_cancel(void *ud)
{
	scall *c = ud;
	vk_lua_op *op = c->op;
	c->op = NULL; /* the store's answer, when it comes, only frees */
	vk_lua_op_finish(op, NULL, NULL);
}

static void set_status(scall *c, int status, const char *err)
{
	c->status = status;
	if (err)
		c->err = vk_strdup(err);
}

static void on_get(vk_store *s, int status, const char *err, const vk_store_rec *rec, void *ud)
{
	scall *c = ud;
	set_status(c, status, err);
	if (rec) {
		c->value = vk_xmalloc(rec->len + 1);
		memcpy(c->value, rec->value, rec->len + 1);
		c->len = rec->len;
		c->rv = rec->rv;
	}
	finish(c);
}

static void on_write(vk_store *s, int status, const char *err, void *ud)
{
	set_status(ud, status, err);
	finish(ud);
}

static void on_list(vk_store *s, int status, const char *err, const vk_store_rec *recs, size_t n, void *ud)
{
	scall *c = ud;
	set_status(c, status, err);
	c->recs = vk_xcalloc(n ? n : 1, sizeof *c->recs);
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		c->recs[i] = recs[i];
		c->recs[i].key = vk_strdup(recs[i].key);
		char *v = vk_xmalloc(recs[i].len + 1);
		memcpy(v, recs[i].value, recs[i].len + 1);
		c->recs[i].value = v;
	}
	finish(c);
}

static void on_opened(vk_store *s, int status, const char *err, void *ud)
{
	scall *c = ud;
	set_status(c, status, err);
	if (status)
		vk_store_close(s);
	else
		c->opened = s;
	finish(c);
}

/* ---- arguments --------------------------------------------------------- */

/* The target store: a Store userdata as argument 1 (method call), or vk's
 * own.  Returns the first argument index after it. */
static int target(lua_State *L, const char *fn, lstore **ls, vk_store **s)
{
	*ls = luaL_testudata(L, 1, STORE_MT);
	if (*ls) {
		if (!(*ls)->s)
			luaL_error(L, "%s: the store is closed", fn);
		*s = (*ls)->s;
		return 2;
	}
	*s = vk_lua_store(L);
	if (!*s)
		luaL_error(L, "%s: vk runs without a local store here; use vk.store.open(URL)", fn);
	return 1;
}

/* "providers/NAME/" + key for vk's own store; key as is for an opened one. */
static char *full_key(lua_State *L, lstore *ls, const char *key)
{
	if (ls)
		return vk_strdup(key);
	return vk_asprintf("providers/%s/%s", vk_lua__host_of(L)->name, key);
}

static scall *new_call(lua_State *L, lstore *ls, const char *what)
{
	scall *c = vk_xcalloc(1, sizeof *c);
	c->what = what;
	c->ls = ls;
	c->op = vk_lua_op_new(L, what); /* raises when L cannot yield */
	vk_lua_op_on_cancel(c->op, on_cancel, c);
	call_link(c);
	return c;
}

/* A call that did not start: finish its op, then raise. */
static int start_failed(lua_State *L, scall *c, int rc)
{
	vk_lua_op *op = c->op;
	const char *what = c->what;
	c->op = NULL;
	call_free(c);
	vk_lua_op_finish(op, NULL, NULL);
	return luaL_error(L, "%s: %s", what, vk_store_strerror(rc));
}

static const char *check_key(lua_State *L, int arg, const char *fn, bool empty_ok)
{
	size_t n;
	const char *k = luaL_checklstring(L, arg, &n);
	if ((!n && !empty_ok) || strlen(k) != n)
		luaL_error(L, "%s: bad argument #%d (key): a non-empty string without NUL bytes", fn, arg);
	return k;
}

static lua_Integer opt_int(lua_State *L, int opts, const char *field, const char *fn, lua_Integer max)
{
	if (lua_isnoneornil(L, opts))
		return 0;
	luaL_checktype(L, opts, LUA_TTABLE);
	lua_getfield(L, opts, field);
	lua_Integer v = 0;
	if (!lua_isnil(L, -1)) {
		int isnum;
		v = lua_tointegerx(L, -1, &isnum);
		if (!isnum || v < 0 || v > max)
			luaL_error(L, "%s: %s must be an integer from 0 to %I", fn, field, max);
	}
	lua_pop(L, 1);
	return v;
}

static bool opt_bool(lua_State *L, int opts, const char *field)
{
	if (!lua_istable(L, opts))
		return false;
	lua_getfield(L, opts, field);
	bool b = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return b;
}

/* ---- functions --------------------------------------------------------- */

static int l_get(lua_State *L)
{
	lstore *ls;
	vk_store *s;
	int a = target(L, "vk.store.get", &ls, &s);
	const char *key = check_key(L, a, "vk.store.get", false);
	bool raw = opt_bool(L, a + 1, "raw");
	char *k = full_key(L, ls, key);
	scall *c = new_call(L, ls, "vk.store.get");
	c->raw = raw;
	int rc = vk_store_get(s, k, on_get, c);
	free(k);
	if (rc)
		return start_failed(L, c, rc);
	return vk_lua_op_yield(L, c->op);
}

static int l_put(lua_State *L)
{
	lstore *ls;
	vk_store *s;
	int a = target(L, "vk.store.put", &ls, &s);
	const char *key = check_key(L, a, "vk.store.put", false);
	unsigned ttl = (unsigned)opt_int(L, a + 2, "ttl", "vk.store.put", 10 * 365 * 86400);
	uint64_t rv = (uint64_t)opt_int(L, a + 2, "rv", "vk.store.put", LUA_MAXINTEGER);
	char *text = NULL;
	size_t len = 0;
	const char *v;
	if (lua_type(L, a + 1) == LUA_TSTRING) {
		v = lua_tolstring(L, a + 1, &len);
	} else if (lua_type(L, a + 1) == LUA_TTABLE) {
		char *err = NULL;
		cJSON *j = vk_lua_to_json(L, a + 1, &err);
		if (!j) {
			lua_pushfstring(L, "vk.store.put: bad argument #%d (value): %s", a + 1, err);
			free(err);
			return lua_error(L);
		}
		text = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		v = text;
		len = strlen(text);
	} else {
		return luaL_error(L, "vk.store.put: bad argument #%d (value): a string or a table, not %s", a + 1,
		                  luaL_typename(L, a + 1));
	}
	char *k = full_key(L, ls, key);
	scall *c = new_call(L, ls, "vk.store.put");
	int rc = vk_store_put(s, k, v, len, rv, ttl, on_write, c);
	free(k);
	cJSON_free(text);
	if (rc)
		return start_failed(L, c, rc);
	return vk_lua_op_yield(L, c->op);
}

static int l_delete(lua_State *L)
{
	lstore *ls;
	vk_store *s;
	int a = target(L, "vk.store.delete", &ls, &s);
	const char *key = check_key(L, a, "vk.store.delete", false);
	uint64_t rv = (uint64_t)opt_int(L, a + 1, "rv", "vk.store.delete", LUA_MAXINTEGER);
	char *k = full_key(L, ls, key);
	scall *c = new_call(L, ls, "vk.store.delete");
	int rc = vk_store_delete(s, k, rv, on_write, c);
	free(k);
	if (rc)
		return start_failed(L, c, rc);
	return vk_lua_op_yield(L, c->op);
}

static int l_list(lua_State *L)
{
	lstore *ls;
	vk_store *s;
	int a = target(L, "vk.store.list", &ls, &s);
	const char *prefix = lua_isnoneornil(L, a) ? "" : check_key(L, a, "vk.store.list", true);
	bool raw = opt_bool(L, a + 1, "raw");
	char *k = full_key(L, ls, prefix);
	scall *c = new_call(L, ls, "vk.store.list");
	c->raw = raw;
	c->plen = ls ? 0 : strlen(k) - strlen(prefix);
	int rc = vk_store_list(s, k, on_list, c);
	free(k);
	if (rc)
		return start_failed(L, c, rc);
	return vk_lua_op_yield(L, c->op);
}

static int l_open(lua_State *L)
{
	const char *url = luaL_checkstring(L, 1);
	/* embedded:DIR opens DIR/vk.db; "embedded" alone has no folder here. */
	const char *dir = NULL;
	if (strncmp(url, "embedded:", 9) == 0) {
		dir = url + 9;
		url = "embedded";
	}
	if (strcmp(url, "embedded") == 0 && (!dir || !*dir))
		return luaL_error(L, "vk.store.open: 'embedded:DIR' names the folder of its vk.db");
	vk_store_url u;
	char *err = NULL;
	if (vk_store_url_parse(url, &u, &err) != 0) {
		lua_pushfstring(L, "vk.store.open: %s", err);
		free(err);
		return lua_error(L);
	}
	vk_store_url_free(&u);
	vk_store_opts o = {.loop = vk_lua_loop(L), .http = vk_lua_http(L), .url = url, .state_dir = dir};
	scall *c = new_call(L, NULL, "vk.store.open");
	vk_store *s = NULL;
	int rc = vk_store_open(&o, on_opened, c, &s, &err);
	if (rc) {
		vk_lua_op *op = c->op;
		c->op = NULL;
		call_free(c);
		vk_lua_op_finish(op, NULL, NULL);
		lua_pushfstring(L, "vk.store.open: %s", err ? err : vk_store_strerror(rc));
		free(err);
		return lua_error(L);
	}
	return vk_lua_op_yield(L, c->op);
}

static void ls_close(lstore *ls)
{
	if (!ls->s)
		return;
	/* The store calls back no more after this: free what waited. */
	vk_store_close(ls->s);
	ls->s = NULL;
	while (ls->calls) {
		scall *c = ls->calls;
		if (c->op) {
			vk_lua_op *op = c->op;
			c->op = NULL;
			c->status = VK_STORE_EIO;
			vk_lua_op_finish(op, NULL, NULL);
		}
		call_free(c);
	}
}

static int l_close(lua_State *L)
{
	ls_close(luaL_checkudata(L, 1, STORE_MT));
	return 0;
}

static int l_tostring(lua_State *L)
{
	lstore *ls = luaL_checkudata(L, 1, STORE_MT);
	lua_pushfstring(L, "vk.store (%s)", ls->s ? vk_store_name(ls->s) : "closed");
	return 1;
}

int vk_lua__open_store(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"get", l_get},   {"put", l_put},     {"delete", l_delete},
		{"list", l_list}, {"close", l_close}, {NULL, NULL},
	};
	if (luaL_newmetatable(L, STORE_MT)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {
		{"get", l_get}, {"put", l_put}, {"delete", l_delete}, {"list", l_list}, {"open", l_open}, {NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
