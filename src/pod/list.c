/* The pods bound to this node for kubelet's /pods.  The informer's copies
 * (seeded from the store while the API server cannot be reached), with the
 * provider's latest status laid over the API's when it has not been
 * written yet: one by one (vk_pods_each), their names only (vk_pods_names),
 * or one by its name (vk_pods_get).  Never all at once: a pod is some
 * 15 KiB of cJSON. */
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

static void lay_over(cJSON *pod, const char *status_text)
{
	cJSON *st = cJSON_Parse(status_text);
	if (!cJSON_IsObject(st)) {
		cJSON_Delete(st);
		return;
	}
	cJSON *have = cJSON_GetObjectItemCaseSensitive(pod, "status");
	if (!cJSON_IsObject(have)) {
		cJSON_DeleteItemFromObjectCaseSensitive(pod, "status");
		cJSON_AddItemToObject(pod, "status", st);
		return;
	}
	cJSON *it;
	while ((it = st->child)) {
		cJSON_DetachItemViaPointer(st, it);
		cJSON *old = cJSON_GetObjectItemCaseSensitive(have, it->string);
		if (old)
			cJSON_ReplaceItemViaPointer(have, old, it); /* `it` keeps its own key */
		else
			cJSON_AddItemToObject(have, it->string, it);
	}
	cJSON_Delete(st);
}

/* The pod under key as /pods shows it (owned), or NULL. */
static cJSON *shown(vk_pods *pc, const char *key)
{
	cJSON *pod = vk_informer_get(pc->inf, key);
	pod_rec *r = pod ? vk_map_get(pc->recs, key) : NULL;
	if (r && r->unwritten)
		lay_over(pod, r->unwritten->s);
	return pod;
}

size_t vk_pods_names(vk_pods *pc, void (*fn)(const char *ns, const char *name, void *ud), void *ud)
{
	size_t n = 0;
	const char *k;
	for (vk_map_iter i = {0}; pc->inf && vk_informer_next(pc->inf, &i, &k);) {
		const char *slash = strchr(k, '/'); /* vk_kube_key's "namespace/name" */
		if (!slash) {
			fn(NULL, k, ud);
		} else {
			char ns[256];
			size_t len = (size_t)(slash - k);
			if (len >= sizeof ns)
				continue; /* not a namespace: they are at most 63 bytes */
			memcpy(ns, k, len);
			ns[len] = 0;
			fn(ns, slash + 1, ud);
		}
		n++;
	}
	return n;
}

cJSON *vk_pods_get(vk_pods *pc, const char *ns, const char *name)
{
	if (!pc->inf || !name)
		return NULL;
	char *key = ns && *ns ? vk_asprintf("%s/%s", ns, name) : vk_strdup(name); /* vk_kube_key's form */
	cJSON *pod = shown(pc, key);
	free(key);
	return pod;
}

/* One pod's tree at a time: a pod is some 15 KiB of cJSON, so a list of a
 * thousand took 13 MiB for a moment, on every /metrics scrape. */
size_t vk_pods_each(vk_pods *pc, void (*fn)(const cJSON *pod, void *ud), void *ud)
{
	size_t n = 0;
	const char *k;
	for (vk_map_iter i = {0}; pc->inf && vk_informer_next(pc->inf, &i, &k);) {
		cJSON *pod = shown(pc, k);
		if (!pod)
			continue;
		fn(pod, ud);
		cJSON_Delete(pod);
		n++;
	}
	return n;
}
