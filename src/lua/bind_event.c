/* vk.event.record(obj, type, reason, message) -> true | false
 *
 * Records a core/v1 Event about a Pod table (or another object whose `kind`
 * says what it is, e.g. kind = "Node"), as kubelet does for
 * "Failed"/"BackOff"/"Pulling" while it works on a pod.  Fire and forget
 * through the core's client (vk_kube_event): no yield, false when vk runs
 * without a cluster (vk check, tests).  The event's source host is the
 * object's spec.nodeName when it has one. */
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/json.h"
#include "vk/util.h"

static int l_record(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *type = luaL_checkstring(L, 2);
	const char *reason = luaL_checkstring(L, 3);
	const char *msg = luaL_checkstring(L, 4);
	if (strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0)
		return luaL_error(L, "vk.event.record: type must be \"Normal\" or \"Warning\", got \"%s\"", type);
	vk_kube *k = vk_lua_kube(L);
	if (!k) {
		lua_pushboolean(L, 0);
		return 1;
	}
	cJSON *obj = vk_lua__to_json_or_raise(L, 1, "vk.event.record");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "nodeName"));
	/* The pods a provider holds often carry no kind: they are the Pods. */
	const char *kind = vk_json_str(obj, "kind");
	vk_kube_event(k, kind ? kind : "Pod", obj, type, reason, host ? host : "vk", "%s", msg);
	cJSON_Delete(obj);
	lua_pushboolean(L, 1);
	return 1;
}

int vk_lua__open_event(lua_State *L)
{
	static const luaL_Reg fns[] = {{"record", l_record}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
