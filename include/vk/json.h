/* vk/json.h - small helpers over cJSON, used by every subsystem that reads
 * Kubernetes objects.  General: depends on util only. */
#ifndef VK_JSON_H
#define VK_JSON_H

#include <cjson/cJSON.h>

/* Makes cJSON allocate through vk_xmalloc/free, so that it aborts on out of
 * memory like the rest of vk (see vk/util.h).  Call it once, first thing in
 * main and in every test, before any cJSON call. */
void vk_json_init(void);

/* The value at a dotted path of object keys, e.g. "metadata.name" or
 * "spec.nodeName"; NULL when a key along the way is missing or a value on
 * the way is not an object.  Returned non-const, as cJSON's getters do, so
 * a caller holding a mutable tree may edit what it finds. */
cJSON *vk_json_at(const cJSON *o, const char *path);
/* The string at a dotted path, or NULL when it is missing or not a string. */
const char *vk_json_str(const cJSON *o, const char *path);

#endif
