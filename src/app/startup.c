/* What some flags change at start-up: --node-ip and --os on the Node
 * template, the --startup-timeout deadline, the --full-resync-period timer. */
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "vk/util.h"

static cJSON *obj(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);
	return o ? o : cJSON_AddObjectToObject(parent, key);
}

void vk_app__node_flags(cJSON *node, const vk_app_options *o)
{
	cJSON *status = obj(node, "status");
	if (o->node_ip) {
		cJSON *addrs = cJSON_GetObjectItemCaseSensitive(status, "addresses"), *a;
		cJSON_ArrayForEach(a, addrs) {
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "type");
			if (cJSON_IsString(t) && strcmp(t->valuestring, "InternalIP") == 0)
				cJSON_ReplaceItemInObjectCaseSensitive(a, "address", cJSON_CreateString(o->node_ip));
		}
	}
	if (o->os) {
		cJSON_ReplaceItemInObjectCaseSensitive(obj(status, "nodeInfo"), "operatingSystem",
		                                       cJSON_CreateString(o->os));
		cJSON *labels = obj(obj(node, "metadata"), "labels");
		cJSON_ReplaceItemInObjectCaseSensitive(labels, "kubernetes.io/os", cJSON_CreateString(o->os));
		cJSON_ReplaceItemInObjectCaseSensitive(labels, "beta.kubernetes.io/os", cJSON_CreateString(o->os));
	}
}

static void on_startup_timeout(uv_timer_t *t)
{
	vk_app *a = t->data;
	if (a->registered)
		return;
	vk_error(SUB, "--startup-timeout: node %s not registered within %u ms; exiting", a->o.nodename,
	         a->o.startup_timeout_ms);
	vk_app__stop(a, 1);
}

static void on_resync(uv_timer_t *t)
{
	vk_app *a = t->data;
	if (a->pods)
		vk_pods_resync(a->pods);
}

void vk_app__timers_start(vk_app *a)
{
	uv_timer_init(a->loop, &a->startup);
	uv_timer_init(a->loop, &a->resync);
	uv_timer_init(a->loop, &a->pods_wait);
	a->startup.data = a->resync.data = a->pods_wait.data = a;
	if (a->o.check)
		return;
	if (a->o.startup_timeout_ms)
		uv_timer_start(&a->startup, on_startup_timeout, a->o.startup_timeout_ms, 0);
	if (a->o.full_resync_ms)
		uv_timer_start(&a->resync, on_resync, a->o.full_resync_ms, a->o.full_resync_ms);
}

void vk_app__timers_close(vk_app *a)
{
	uv_close((uv_handle_t *)&a->startup, NULL);
	uv_close((uv_handle_t *)&a->resync, NULL);
	uv_close((uv_handle_t *)&a->pods_wait, NULL);
}
