/* The read-through cache: the last answer to each GET made with
 * vk_kube_get_cached (ConfigMaps, Secrets, Services, a provider's
 * vk.kube.get), kept to answer the same GET while the API server cannot
 * be reached.  An edge node cut off from its control plane still resolves
 * a restarted pod's env and volumes from what it read before.
 *
 *   200            remember the body (replacing an older one)
 *   404            forget the path (the object is gone: a cached copy
 *                  would resurrect it)
 *   no answer, 5xx answer from the cache, status 200, `cached` set
 *
 * Entries are compact JSON text.  The owner (the pod controller's
 * persistence) learns every change through hooks and may seed the cache
 * from what a previous run kept. */
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "vk/kube.h"
#include "vk/util.h"

typedef struct {
	char *text;
	size_t len;
} entry;

struct vk_kube_cache {
	vk_map *entries; /* path -> entry */
	vk_kube_cache_hooks hooks;
};

static struct vk_kube_cache *cache_of(vk_kube *k)
{
	if (!k->cache) {
		k->cache = vk_xcalloc(1, sizeof *k->cache);
		k->cache->entries = vk_map_new();
	}
	return k->cache;
}

static void entry_free(entry *e)
{
	if (!e)
		return;
	free(e->text);
	free(e);
}

void vk_kube__cache_free(vk_kube *k)
{
	struct vk_kube_cache *c = k->cache;
	if (!c)
		return;
	const char *p;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(c->entries, &i, &p, &v);)
		entry_free(v);
	vk_map_free(c->entries);
	free(c);
	k->cache = NULL;
}

void vk_kube_cache_set_hooks(vk_kube *k, const vk_kube_cache_hooks *h)
{
	cache_of(k)->hooks = h ? *h : (vk_kube_cache_hooks){0};
}

static void set_entry(struct vk_kube_cache *c, const char *path, const char *text, size_t len)
{
	entry *e = vk_xcalloc(1, sizeof *e);
	e->text = vk_memdupz(text, len);
	e->len = len;
	entry_free(vk_map_set(c->entries, path, e));
}

void vk_kube_cache_seed(vk_kube *k, const char *path, const char *json, size_t len)
{
	set_entry(cache_of(k), path, json, len);
}

/* Stores `obj` (compact, without managedFields) and tells the owner. */
void vk_kube_cache_put(vk_kube *k, const char *path, const cJSON *obj)
{
	struct vk_kube_cache *c = cache_of(k);
	cJSON *copy = cJSON_Duplicate(obj, 1);
	cJSON *md = cJSON_GetObjectItemCaseSensitive(copy, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(copy, "items");
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
		cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "metadata"),
		                                        "managedFields");
	char *text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (!text)
		return;
	size_t len = strlen(text);
	entry *old = vk_map_get(c->entries, path);
	if (old && old->len == len && memcmp(old->text, text, len) == 0) {
		free(text); /* nothing new: no write */
		return;
	}
	set_entry(c, path, text, len);
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	                                                   "resourceVersion");
	if (c->hooks.on_put)
		c->hooks.on_put(path, text, len, cJSON_IsString(rv) ? rv->valuestring : NULL, c->hooks.ud);
	free(text);
}

static void forget(vk_kube *k, const char *path)
{
	struct vk_kube_cache *c = cache_of(k);
	entry *e = vk_map_del(c->entries, path);
	if (!e)
		return;
	entry_free(e);
	if (c->hooks.on_del)
		c->hooks.on_del(path, c->hooks.ud);
}

bool vk_kube_cache_has(vk_kube *k, const char *path) { return k->cache && vk_map_get(k->cache->entries, path) != NULL; }

size_t vk_kube_cache_len(const vk_kube *k) { return k->cache ? vk_map_len(k->cache->entries) : 0; }

void vk_kube_cache_each(vk_kube *k, vk_kube_cache_each_cb fn, void *ud)
{
	if (!k->cache)
		return;
	const char *path;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(k->cache->entries, &i, &path, &v);) {
		const entry *e = v;
		fn(path, e->text, e->len, ud);
	}
}

bool vk_kube__cache_answer(vk_kube *k, const char *path, vk_kube_result *r, cJSON **json)
{
	if (r->status == 200 && r->json) {
		vk_kube_cache_put(k, path, r->json);
		return false;
	}
	if (r->status == 404) {
		forget(k, path);
		return false;
	}
	if (r->status != 0 && r->status < 500)
		return false;
	entry *e = k->cache ? vk_map_get(k->cache->entries, path) : NULL;
	cJSON *obj = e ? cJSON_ParseWithLength(e->text, e->len) : NULL;
	if (!obj)
		return false;
	vk_debug("kube", "GET %s answered from the cache (%s)", path, r->error ? r->error : "no answer");
	cJSON_Delete(*json);
	*json = obj;
	*r = (vk_kube_result){.status = 200, .json = obj, .body = e->text, .body_len = e->len, .cached = true};
	return true;
}
