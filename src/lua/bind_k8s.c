/* vk.k8s: Kubernetes' value formats and kubelet's backoff, over util's C
 * (vk/k8s.h, vk_base64_*, vk_backoff), so providers do not write their own.
 *
 *   quantity(q)            -> number in base units, or nil, err
 *   base64_encode(s)       -> string
 *   base64_decode(s)       -> string, or nil, err
 *   expand(s, vars[, {escapes = true}]) -> string ($(VAR) as kubelet does)
 *   backoff{base_ms=, max_ms=, jitter=true, immediate=false} -> object:
 *     :next() -> ms, :reset(), :attempts() -> n, :delay() -> the last ms */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "host.h"
#include "vk/k8s.h"
#include "vk/util.h"

#define BACKOFF_MT "vk.k8s.backoff"

static int l_quantity(lua_State *L)
{
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_settop(L, 1);
		return 1;
	}
	const char *s = luaL_checkstring(L, 1);
	double v;
	if (vk_k8s_quantity(s, &v) < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "vk.k8s.quantity: \"%s\" is not a quantity (e.g. 500m, 2, 128Mi, 1G)", s);
		return 2;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact as an integer */
		lua_pushinteger(L, (lua_Integer)v);
	else
		lua_pushnumber(L, v);
	return 1;
}

static int l_base64_encode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	vk_buf b = {0};
	vk_base64_encode(s, n, &b);
	lua_pushlstring(L, b.data ? b.data : "", b.len);
	vk_buf_free(&b);
	return 1;
}

static int l_base64_decode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	vk_buf b = {0};
	int rc = vk_base64_decode(s, n, &b);
	if (rc < 0) {
		vk_buf_free(&b);
		lua_pushnil(L);
		lua_pushliteral(L, "vk.k8s.base64_decode: not valid base64");
		return 2;
	}
	lua_pushlstring(L, b.data ? b.data : "", b.len);
	vk_buf_free(&b);
	return 1;
}

/* A variable's value from the vars table at stack index 2.  A string value
 * stays alive in the table after the pop; other values count as undefined.
 * rawget and pushlstring do not raise except on out-of-memory. */
static const char *table_lookup(const char *name, size_t n, void *ud)
{
	lua_State *L = ud;
	lua_pushlstring(L, name, n);
	lua_rawget(L, 2);
	const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1);
	return v;
}

static int l_expand(lua_State *L)
{
	const char *s = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	bool escapes = true;
	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		if (lua_getfield(L, 3, "escapes") != LUA_TNIL)
			escapes = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	char *out = vk_k8s_expand(s, table_lookup, L, escapes);
	lua_pushstring(L, out);
	free(out);
	return 1;
}

/* ---- backoff ------------------------------------------------------------ */

typedef struct {
	vk_backoff b;
	bool immediate; /* the first delay is 0 (kubelet's first restart) */
	unsigned n;     /* next() calls since the last reset */
	uint64_t last;  /* the delay next() returned last */
} backoff;

static uint64_t opt_ms(lua_State *L, const char *key, uint64_t def)
{
	lua_Integer v = def;
	if (lua_getfield(L, 1, key) != LUA_TNIL) {
		int isint;
		v = lua_tointegerx(L, -1, &isint);
		if (!isint || v < 0)
			luaL_error(L, "vk.k8s.backoff: %s must be a whole number of ms >= 0", key);
	}
	lua_pop(L, 1);
	return (uint64_t)v;
}

static bool opt_bool(lua_State *L, const char *key, bool def)
{
	bool v = def;
	int ty = lua_getfield(L, 1, key);
	if (ty == LUA_TBOOLEAN)
		v = lua_toboolean(L, -1);
	else if (ty != LUA_TNIL)
		luaL_error(L, "vk.k8s.backoff: %s must be a boolean", key);
	lua_pop(L, 1);
	return v;
}

static int l_backoff(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	uint64_t base = opt_ms(L, "base_ms", 1000), max = opt_ms(L, "max_ms", 60000);
	if (base == 0)
		luaL_error(L, "vk.k8s.backoff: base_ms must be at least 1");
	if (max < base)
		luaL_error(L, "vk.k8s.backoff: max_ms (%d) is below base_ms (%d)", (int)max, (int)base);
	bool jitter = opt_bool(L, "jitter", true), immediate = opt_bool(L, "immediate", false);
	backoff *b = lua_newuserdatauv(L, sizeof *b, 0);
	*b = (backoff){.b = {.base_ms = base, .max_ms = max, .exact = !jitter}, .immediate = immediate};
	luaL_setmetatable(L, BACKOFF_MT);
	return 1;
}

static int l_backoff_next(lua_State *L)
{
	backoff *b = luaL_checkudata(L, 1, BACKOFF_MT);
	b->last = (b->immediate && b->n == 0) ? 0 : vk_backoff_next(&b->b);
	b->n++;
	lua_pushinteger(L, (lua_Integer)b->last);
	return 1;
}

static int l_backoff_reset(lua_State *L)
{
	backoff *b = luaL_checkudata(L, 1, BACKOFF_MT);
	vk_backoff_reset(&b->b);
	b->n = 0;
	b->last = 0;
	return 0;
}

static int l_backoff_attempts(lua_State *L)
{
	backoff *b = luaL_checkudata(L, 1, BACKOFF_MT);
	lua_pushinteger(L, b->n);
	return 1;
}

static int l_backoff_delay(lua_State *L)
{
	backoff *b = luaL_checkudata(L, 1, BACKOFF_MT);
	lua_pushinteger(L, (lua_Integer)b->last);
	return 1;
}

int vk_lua__open_k8s(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"next", l_backoff_next},
		{"reset", l_backoff_reset},
		{"attempts", l_backoff_attempts},
		{"delay", l_backoff_delay},
		{NULL, NULL},
	};
	if (luaL_newmetatable(L, BACKOFF_MT)) {
		luaL_newlib(L, methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	static const luaL_Reg fns[] = {
		{"quantity", l_quantity},
		{"base64_encode", l_base64_encode},
		{"base64_decode", l_base64_decode},
		{"expand", l_expand},
		{"backoff", l_backoff},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
