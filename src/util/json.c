/* cJSON helpers: the allocator hooks, and lookups by dotted path. */
#include <stdlib.h>
#include <string.h>

#include "vk/json.h"
#include "vk/util.h"

static void *json_malloc(size_t n) { return vk_xmalloc(n); }

void vk_json_init(void)
{
	cJSON_Hooks hooks = {.malloc_fn = json_malloc, .free_fn = free};
	cJSON_InitHooks(&hooks);
}

cJSON *vk_json_at(const cJSON *o, const char *path)
{
	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		const cJSON *next = NULL;
		if (cJSON_IsObject(o))
			for (const cJSON *c = o->child; c; c = c->next)
				if (c->string && strlen(c->string) == n && memcmp(c->string, path, n) == 0) {
					next = c;
					break;
				}
		o = next;
		path += n + (dot ? 1 : 0);
	}
	return (cJSON *)o;
}

const char *vk_json_str(const cJSON *o, const char *path)
{
	const cJSON *x = vk_json_at(o, path);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}
