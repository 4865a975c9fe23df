/* vk.notify(pod_or_status): PodNotifier.  Hands the core a whole Pod (a
 * table with metadata) or {namespace=, name=, status=}, the status a table
 * or its JSON text; inside a callback
 * that has a pod, namespace and name default to that pod's.  Returns true
 * when the core took it, false when no notifier is set. */
#include <stdlib.h>

#include "host.h"
#include "vk/util.h"

static int l_notify(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	cJSON *j = vk_lua__to_json_or_raise(L, 1, "vk.notify");
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return luaL_error(L, "vk.notify: expected a Pod or {namespace=, name=, status=}");
	}
	cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "status");
	if (cJSON_IsString(text)) { /* the status as its JSON text */
		cJSON *st = cJSON_Parse(text->valuestring);
		if (!cJSON_IsObject(st)) {
			cJSON_Delete(st);
			cJSON_Delete(j);
			return luaL_error(L, "vk.notify: status= is a string but not the JSON text of an object");
		}
		cJSON_ReplaceItemInObjectCaseSensitive(j, "status", st);
	}
	if (!cJSON_GetObjectItemCaseSensitive(j, "metadata")) {
		if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "status"))) {
			cJSON_Delete(j);
			return luaL_error(L, "vk.notify: expected a Pod (with metadata) or {namespace=, name=, "
			                     "status=} with a status table or its JSON text");
		}
		const char *ns, *name;
		vk_lua__task_pod(L, &ns, &name);
		if (!cJSON_GetObjectItemCaseSensitive(j, "namespace") && ns)
			cJSON_AddStringToObject(j, "namespace", ns);
		if (!cJSON_GetObjectItemCaseSensitive(j, "name") && name)
			cJSON_AddStringToObject(j, "name", name);
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "namespace")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "name"))) {
			cJSON_Delete(j);
			return luaL_error(L, "vk.notify: a status needs namespace= and name= (strings)");
		}
	}
	lua_pushboolean(L, vk_lua__notify(L, j)); /* takes j */
	return 1;
}

/* require "vk.notify" is the function itself: vk.notify(status). */
int vk_lua__open_notify(lua_State *L)
{
	lua_pushcfunction(L, l_notify);
	return 1;
}
