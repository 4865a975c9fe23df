/* vk.log: debug/info/warn/error(fmt, ...) into vk's log, the speaker
 * tagged with the callback and pod ("provider create_pod default/web-1"). */
#include "host.h"
#include "vk/util.h"

/* One argument is the message as is (tostring); more are string.format. */
static int log_at(lua_State *L, vk_log_level lvl)
{
	if (lvl < vk_log_get_level())
		return 0;
	int n = lua_gettop(L);
	const char *msg;
	if (n <= 1) {
		msg = luaL_tolstring(L, 1, NULL);
	} else {
		lua_getglobal(L, "string");
		lua_getfield(L, -1, "format");
		lua_insert(L, 1);
		lua_pop(L, 1);
		lua_call(L, n, 1);
		msg = lua_tostring(L, -1);
	}
	vk_lua_task *t = vk_lua__current(L);
	vk_log(lvl, t ? t->speaker : "provider", "%s", msg ? msg : "");
	return 0;
}

static int l_debug(lua_State *L) { return log_at(L, VK_LOG_DEBUG); }
static int l_info(lua_State *L) { return log_at(L, VK_LOG_INFO); }
static int l_warn(lua_State *L) { return log_at(L, VK_LOG_WARN); }
static int l_error(lua_State *L) { return log_at(L, VK_LOG_ERROR); }

int vk_lua__open_log(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"debug", l_debug}, {"info", l_info}, {"warn", l_warn}, {"error", l_error}, {NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
