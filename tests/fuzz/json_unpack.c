/* vk.json.unpack and the packed text (src/util/ztext.c): a provider keeps
 * many pods as vk.json.pack strings and hands them to unpack, also across
 * a hot reload.  unpack must refuse what pack did not make with a Lua
 * error, never crash or allocate without bound; and pack then unpack of
 * any text gives the text back. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/json.h"

static int call(lua_State *L, const char *fn, const char *s, size_t n)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.json");
	lua_getfield(L, -1, fn);
	lua_remove(L, -2);
	lua_pushlstring(L, s, n);
	return lua_pcall(L, 1, 1, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lua_State *L;
	if (!L) {
		vk_json_init();
		L = luaL_newstate();
		luaL_openlibs(L);
		vk_lua__json_init(L);
		vk_lua__open_json(L);
		lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.json");
		/* The first text packed becomes the dictionary: a pod, as in vk. */
		static const char pod[] =
			"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
			"\"uid\":\"0b5e2e0c-7a1b-4c1e-9d3e-000000000001\",\"labels\":{\"app\":\"web\"}},\"spec\":"
			"{\"containers\":[{\"name\":\"app\",\"image\":\"docker.io/library/busybox:1.35\",\"command\":"
			"[\"sleep\",\"3600\"],\"resources\":{}}],\"nodeName\":\"edge\",\"restartPolicy\":\"Always\"},"
			"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.2\",\"hostIP\":\"127.0.0.1\"}}";
		if (call(L, "pack", pod, sizeof pod - 1) != LUA_OK)
			abort();
		lua_settop(L, 0);
	}
	const char *s = (const char *)data;
	/* Any bytes as a packed string: a text, or a Lua error. */
	int rc = call(L, "unpack", s, size);
	if (rc == LUA_OK && !lua_isstring(L, -1))
		abort();
	lua_settop(L, 0);
	/* Any text packed comes back unchanged. */
	if (call(L, "pack", s, size) != LUA_OK)
		abort();
	size_t pn;
	const char *p = lua_tolstring(L, -1, &pn);
	lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.json");
	lua_getfield(L, -1, "unpack");
	lua_pushlstring(L, p, pn);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK)
		abort();
	size_t un;
	const char *u = lua_tolstring(L, -1, &un);
	if (un != size || (size && memcmp(u, s, size) != 0))
		abort();
	lua_settop(L, 0);
	if (lua_gc(L, LUA_GCCOUNT, 0) > 64 * 1024)
		lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
