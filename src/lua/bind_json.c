/* vk.json: encode(v [, {pretty=true}]) / decode(s) / null / array(t) /
 * pack(v) / unpack(p). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

static int l_encode(lua_State *L)
{
	luaL_checkany(L, 1);
	bool pretty = false;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "pretty");
		pretty = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	cJSON *j = vk_lua__to_json_or_raise(L, 1, "vk.json.encode");
	char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s) /* cJSON prints any tree vk_lua_to_json builds; say so if it ever does not */
		return luaL_error(L, "vk.json.encode: cJSON could not print the value");
	lua_pushstring(L, s);
	free(s);
	return 1;
}

static int l_decode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, false);
	if (!j) {
		size_t off = end && end >= s ? (size_t)(end - s) : 0;
		if (!end) {
			const char *e = cJSON_GetErrorPtr();
			off = e && e >= s && e <= s + n ? (size_t)(e - s) : 0;
		}
		char msg[96];
		snprintf(msg, sizeof msg, "vk.json.decode: invalid JSON at byte %zu near '%.20s'", off + 1,
		         s + (off < n ? off : n));
		return luaL_error(L, "%s", msg);
	}
	vk_lua_push_json(L, j);
	cJSON_Delete(j);
	return 1;
}

/* pack(v): v's JSON (v a table, or already JSON text) packed into a
 * binary string a tenth of its size, for a provider that keeps many pods.
 * One dictionary serves every provider version, so what a version packed
 * survives a hot reload (on_reload hands it over as it is). */
static vk_ztext *packer;

static int l_pack(lua_State *L)
{
	luaL_checkany(L, 1);
	char *text = NULL;
	size_t n;
	const char *s;
	if (lua_type(L, 1) == LUA_TSTRING) {
		s = lua_tolstring(L, 1, &n);
	} else {
		cJSON *j = vk_lua__to_json_or_raise(L, 1, "vk.json.pack");
		text = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		if (!text)
			return luaL_error(L, "vk.json.pack: cJSON could not print the value");
		s = text;
		n = strlen(text);
	}
	if (!packer)
		packer = vk_ztext_new();
	void *blob = vk_ztext_pack(packer, s, n);
	free(text);
	if (!blob)
		return luaL_error(L, "vk.json.pack: the text is too big");
	lua_pushlstring(L, blob, vk_ztext_size(blob));
	free(blob);
	return 1;
}

/* A JSON text never passes for a blob: its second 4 bytes would say how
 * long the packed bytes are, and printable characters say 538 MB or more. */
char *vk_lua__json_unpacked(const char *p, size_t n, size_t *len)
{
	char *text = packer && vk_ztext_check(p, n) ? vk_ztext_unpack(packer, p) : NULL;
	if (text)
		*len = vk_ztext_len(p);
	return text;
}

/* unpack(p): the JSON text pack made. */
static int l_unpack(lua_State *L)
{
	size_t n, len;
	const char *p = luaL_checklstring(L, 1, &n);
	char *text = vk_lua__json_unpacked(p, n, &len);
	if (!text)
		return luaL_error(L, "vk.json.unpack: not a string vk.json.pack made");
	lua_pushlstring(L, text, len);
	free(text);
	return 1;
}

/* Marks (and returns) t as a JSON array, so that an empty one stays []. */
static int l_array(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	vk_lua__json_mark_array(L, 1);
	return 1;
}

static int l_is_array(lua_State *L)
{
	lua_pushboolean(L, lua_istable(L, 1) && vk_lua__json_is_array(L, 1));
	return 1;
}

int vk_lua__open_json(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"encode", l_encode}, {"decode", l_decode}, {"array", l_array}, {"is_array", l_is_array},
		{"pack", l_pack},     {"unpack", l_unpack}, {NULL, NULL},
	};
	luaL_newlib(L, fns);
	lua_pushlightuserdata(L, VK_LUA_NULL);
	lua_setfield(L, -2, "null");
	return 1;
}
