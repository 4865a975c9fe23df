/* vk/json.h - small helpers over cJSON, used by every subsystem that reads
 * Kubernetes objects.  General: depends on util only. */
#ifndef VK_JSON_H
#define VK_JSON_H

#include <stddef.h>

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

/* Spans of JSON text, without a tree (json_span.c): for a large answer
 * read one part at a time.  Only strings and brackets are followed; the
 * caller parses the spans it uses.
 * The value of member `name` of the object `text` holds: 0 and [*at,
 * *at + *n) of text; -ENOENT when there is no such member; -EINVAL when
 * the text is not an object or ends early. */
int vk_json_member_span(const char *text, size_t len, const char *name, size_t *at, size_t *n);
/* fn(each element's span, ud) of the array `text` holds, in order; a
 * nonzero return of fn stops and is returned.  0 at the end; -EINVAL (fn
 * called for the elements before) when the text is not an array or ends
 * early. */
int vk_json_each_element(const char *text, size_t len, int (*fn)(const char *p, size_t n, void *ud), void *ud);

#endif
