/* JSON <-> Lua tables, shaped exactly like the Kubernetes JSON.
 *
 * Lua has one table type for both arrays and objects, so the array-ness of
 * a JSON array is kept in a shared metatable (registry "vk.json.array"):
 * an empty array survives the round trip as [].  A table without the
 * marker is an array when its keys are exactly 1..n (n > 0), an object
 * when its keys are all strings, and {} when it is empty.
 *
 * cJSON stores every number as a double; integral values within 2^53 come
 * to Lua as integers so that `restartCount + 1` stays 1, not 1.0. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

char vk_lua__null_sentinel;

#define ARRAY_MT "vk.json.array"
#define MAX_DEPTH 200
#define TWO53 9007199254740992.0

/* Created on first use, so that any lua_State can hold JSON. */
static void push_array_mt(lua_State *L)
{
	if (luaL_newmetatable(L, ARRAY_MT)) {
		lua_pushliteral(L, "array");
		lua_setfield(L, -2, "__name");
	}
}

void vk_lua__json_init(lua_State *L)
{
	push_array_mt(L);
	lua_pop(L, 1);
}

void vk_lua__json_mark_array(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	push_array_mt(L);
	lua_setmetatable(L, idx);
}

bool vk_lua__json_is_array(lua_State *L, int idx)
{
	if (!lua_getmetatable(L, idx))
		return false;
	luaL_getmetatable(L, ARRAY_MT);
	bool is = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return is;
}

/* ---- JSON -> Lua -------------------------------------------------------- */

static void push_json(lua_State *L, const cJSON *j, int depth)
{
	luaL_checkstack(L, 4, "JSON nested too deeply");
	if (!j || cJSON_IsNull(j) || cJSON_IsInvalid(j)) {
		lua_pushlightuserdata(L, VK_LUA_NULL);
	} else if (cJSON_IsFalse(j)) {
		lua_pushboolean(L, 0);
	} else if (cJSON_IsTrue(j)) {
		lua_pushboolean(L, 1);
	} else if (cJSON_IsNumber(j)) {
		double d = j->valuedouble;
		if (d == floor(d) && fabs(d) <= TWO53)
			lua_pushinteger(L, (lua_Integer)d);
		else
			lua_pushnumber(L, d);
	} else if (cJSON_IsString(j) || cJSON_IsRaw(j)) {
		lua_pushstring(L, j->valuestring ? j->valuestring : "");
	} else if (cJSON_IsArray(j)) {
		lua_createtable(L, cJSON_GetArraySize(j), 0);
		lua_Integer i = 1;
		for (const cJSON *c = j->child; c; c = c->next) {
			push_json(L, c, depth + 1);
			lua_rawseti(L, -2, i++);
		}
		vk_lua__json_mark_array(L, -1);
	} else { /* object */
		lua_createtable(L, 0, cJSON_GetArraySize(j));
		for (const cJSON *c = j->child; c; c = c->next) {
			if (!c->string)
				continue;
			push_json(L, c, depth + 1);
			lua_setfield(L, -2, c->string); /* a plain table: no metamethods */
		}
	}
}

void vk_lua_push_json(lua_State *L, const cJSON *j) { push_json(L, j, 0); }

/* ---- Lua -> JSON -------------------------------------------------------- */

typedef struct {
	lua_State *L;
	char *err;
	int depth;
	const void *stack[MAX_DEPTH + 1]; /* tables on the current path: cycles */
	/* the path to the value being converted, for messages */
	struct {
		const char *key; /* object key, or NULL for an array index */
		lua_Integer idx;
	} path[MAX_DEPTH + 1];
} conv;

static bool is_ident(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* Sets c->err to "spec.containers[2].env: <message>" (Lua indices). */
static void fail(conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(conv *c, const char *fmt, ...)
{
	if (c->err)
		return;
	vk_buf b = {0};
	for (int i = 0; i < c->depth; i++) {
		if (!c->path[i].key)
			vk_buf_printf(&b, "[%lld]", (long long)c->path[i].idx);
		else if (is_ident(c->path[i].key))
			vk_buf_printf(&b, "%s%s", i ? "." : "", c->path[i].key);
		else
			vk_buf_printf(&b, "[\"%s\"]", c->path[i].key);
	}
	if (b.len == 0)
		vk_buf_printf(&b, "value");
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	vk_buf_printf(&b, ": %s", msg);
	c->err = vk_buf_steal(&b);
}

static cJSON *to_json(conv *c, int idx);

/* Pushes a path element, converts the value at idx, pops the element. */
static bool add_child(conv *c, cJSON *parent, int idx, const char *key, lua_Integer i)
{
	c->path[c->depth].key = key;
	c->path[c->depth].idx = i;
	c->depth++;
	cJSON *v = to_json(c, idx);
	c->depth--;
	if (!v)
		return false;
	if (key)
		cJSON_AddItemToObject(parent, key, v);
	else
		cJSON_AddItemToArray(parent, v);
	return true;
}

static cJSON *array_from(conv *c, int t, lua_Integer n)
{
	lua_State *L = c->L;
	cJSON *a = cJSON_CreateArray();
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, t, i);
		bool okv;
		if (lua_isnil(L, -1)) { /* a hole in a marked array is a null */
			okv = true;
			cJSON_AddItemToArray(a, cJSON_CreateNull());
		} else {
			okv = add_child(c, a, -1, NULL, i);
		}
		lua_pop(L, 1);
		if (!okv) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* An object's keys are emitted sorted, so the same table always gives the
 * same text (stable logs, stable status comparisons). */
static cJSON *table_to_json(conv *c, int t)
{
	lua_State *L = c->L;
	if (vk_lua__json_is_array(L, t))
		return array_from(c, t, (lua_Integer)lua_rawlen(L, t));

	size_t nstr = 0, nint = 0;
	lua_Integer maxi = 0;
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pop(L, 1);
		int kt = lua_type(L, -1);
		if (kt == LUA_TSTRING) {
			nstr++;
		} else if (kt == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
			nint++;
			lua_Integer k = lua_tointeger(L, -1);
			if (k > maxi)
				maxi = k;
		} else {
			const char *tn = luaL_typename(L, -1);
			lua_pop(L, 1);
			fail(c, "a table key of type %s has no JSON form (keys are strings or 1..n)",
			     kt == LUA_TNUMBER ? "number (not 1..n)" : tn);
			return NULL;
		}
	}
	if (nstr && nint) {
		fail(c, "mixed table: %zu array item(s) and %zu string key(s); JSON needs one or the other", nint,
		     nstr);
		return NULL;
	}
	if (nint) {
		if ((size_t)maxi != nint) {
			fail(c, "array has holes (largest index %lld, %zu items); use vk.json.null for a null",
			     (long long)maxi, nint);
			return NULL;
		}
		return array_from(c, t, maxi);
	}

	cJSON *o = cJSON_CreateObject();
	if (nstr == 0)
		return o;
	const char **keys = vk_xmalloc(nstr * sizeof *keys);
	size_t k = 0;
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pop(L, 1);
		if (k < nstr)
			keys[k++] = lua_tostring(L, -1); /* interned, alive while t is */
	}
	qsort(keys, k, sizeof *keys, cmp_str);
	for (size_t i = 0; i < k; i++) {
		lua_getfield(L, t, keys[i]);
		bool okv = add_child(c, o, -1, keys[i], 0);
		lua_pop(L, 1);
		if (!okv) {
			free(keys);
			cJSON_Delete(o);
			return NULL;
		}
	}
	free(keys);
	return o;
}

static cJSON *to_json(conv *c, int idx)
{
	lua_State *L = c->L;
	idx = lua_absindex(L, idx);
	if (!lua_checkstack(L, 6)) {
		fail(c, "out of Lua stack");
		return NULL;
	}
	switch (lua_type(L, idx)) {
	case LUA_TNIL: return cJSON_CreateNull();
	case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return cJSON_CreateNumber((double)lua_tointeger(L, idx));
		double d = lua_tonumber(L, idx);
		if (isnan(d) || isinf(d)) {
			fail(c, "%s has no JSON form", isnan(d) ? "NaN" : "an infinite number");
			return NULL;
		}
		return cJSON_CreateNumber(d);
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		if (strlen(s) != n) {
			fail(c, "a string with a NUL byte has no JSON form here");
			return NULL;
		}
		return cJSON_CreateString(s);
	}
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == VK_LUA_NULL)
			return cJSON_CreateNull();
		break;
	case LUA_TTABLE: {
		if (c->depth >= MAX_DEPTH) {
			fail(c, "nested deeper than %d levels", MAX_DEPTH);
			return NULL;
		}
		const void *p = lua_topointer(L, idx);
		for (int i = 0; i < c->depth; i++) {
			if (c->stack[i] == p) {
				fail(c, "cycle: this table contains itself");
				return NULL;
			}
		}
		c->stack[c->depth] = p;
		return table_to_json(c, idx);
	}
	default: break;
	}
	fail(c, "a %s has no JSON form", luaL_typename(L, idx));
	return NULL;
}

cJSON *vk_lua_to_json(lua_State *L, int idx, char **err)
{
	conv *c = vk_xcalloc(1, sizeof *c);
	c->L = L;
	int top = lua_gettop(L);
	cJSON *j = to_json(c, idx);
	lua_settop(L, top);
	if (!j && !c->err) /* every failing path says why; never leave err empty */
		fail(c, "cannot convert");
	if (err)
		*err = j ? NULL : c->err;
	else
		free(c->err);
	if (j && c->err) /* cannot happen, but never leak */
		free(c->err);
	free(c);
	return j;
}

int vk_lua__push_init_args(lua_State *L)
{
	vk_lua_init_args *a = lua_touserdata(L, 1);
	lua_settop(L, 0);
	if (a->config)
		vk_lua_push_json(L, a->config);
	else
		lua_newtable(L);
	if (a->node)
		vk_lua_push_json(L, a->node);
	else
		lua_newtable(L);
	return 2;
}

cJSON *vk_lua__to_json_or_raise(lua_State *L, int idx, const char *what)
{
	char *err = NULL;
	cJSON *j = vk_lua_to_json(L, idx, &err);
	if (!j) {
		lua_pushfstring(L, "%s: %s", what, err ? err : "cannot convert");
		free(err);
		lua_error(L); /* does not return */
	}
	return j;
}
