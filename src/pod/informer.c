/* The pod informer: the generic informer (vk/kube.h) on the pods bound to
 * this node (fieldSelector spec.nodeName=NODE).  Every pod that changes or
 * disappears is queued for sync; after each list, so is every pod the
 * provider has that the API no longer does. */
#include <stdlib.h>

#include "pod_int.h"

static void on_upsert(const char *key, const cJSON *obj, void *ud)
{
	vk_pods *pc = ud;
	vk_pod__persist_pod(pc, key, obj);
	vk_queue_add(pc->q, key);
	vk_pod__recheck(pc, key);
}

static void on_delete(const char *key, const cJSON *old, void *ud)
{
	vk_pods *pc = ud;
	vk_pod__persist_pod_gone(pc, key, old);
	vk_pod__forget(pc, key, old);
	vk_queue_add(pc->q, key);
}

static void on_synced(void *ud)
{
	vk_pods *pc = ud;
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(pc->recs, &i, &k, &v);)
		if (!vk_informer_has(pc->inf, k))
			vk_queue_add(pc->q, k);
}

void vk_pod__informer_start(vk_pods *pc)
{
	char *sel = vk_asprintf("spec.nodeName=%s", pc->o.nodename);
	char *what = vk_asprintf("pods on %s", pc->o.nodename);
	/* --namespace: list and watch that namespace's pods only */
	char *path = pc->o.namespace_ ? vk_asprintf("/api/v1/namespaces/%s/pods", pc->o.namespace_)
	                              : vk_strdup("/api/v1/pods");
	vk_informer_opts o = {
		.what = what,
		.path = path,
		.selector = sel,
		.on_upsert = on_upsert,
		.on_delete = on_delete,
		.on_synced = on_synced,
		.ud = pc,
	};
	pc->inf = vk_informer_new(pc->o.loop, pc->o.kube, &o);
	free(sel);
	free(what);
	free(path);
	/* With the edge cache: the pods and resourceVersion a previous run kept.
	 * Each is synced as if just listed (the provider keeps what it runs;
	 * what it lacks is created); nothing is deleted for being absent until
	 * the API has confirmed the state with a list (on_synced). */
	if (vk_pod__persist_seed(pc, pc->inf)) {
		const char *k;
		size_t n = 0;
		for (vk_map_iter i = {0}; vk_informer_next(pc->inf, &i, &k); n++)
			vk_queue_add(pc->q, k);
		vk_info(SUB, "%zu pods from the store (resourceVersion %s); listing to confirm them", n,
		        vk_informer_rv(pc->inf));
	}
	vk_informer_start(pc->inf);
	/* Service links need every Service of a pod's namespace: a cache, as
	 * kubelet keeps, instead of two reads per pod created. */
	vk_informer_opts so = {.what = "services", .path = "/api/v1/services"};
	pc->services = vk_informer_new(pc->o.loop, pc->o.kube, &so);
	vk_informer_start(pc->services);
}

void vk_pod__informer_stop(vk_pods *pc)
{
	vk_informer_close(pc->inf);
	vk_informer_close(pc->services);
	pc->inf = pc->services = NULL;
}
