/* A create_pod that does not return.  A callback that runs without
 * yielding is stopped by the Lua host's budget; one that keeps yielding
 * (waiting on something that never comes) is not, and its pod would stay
 * Pending without a word.  After VK_POD_CREATE_SLOW_MS it gets one
 * Warning Event (ProviderCreateSlow) and one log line; the call itself
 * goes on, and a delete of the pod still reaches the provider. */
#include <stdlib.h>

#include "pod_int.h"

#define SUB "pod"

typedef struct {
	uint64_t since_ms;
	const cJSON *pod; /* the create job's, alive as long as this entry */
	bool told;
} slow_entry;

void vk_pod__create_began(vk_pods *pc, const char *key, const cJSON *pod)
{
	slow_entry *e = vk_xcalloc(1, sizeof *e);
	e->since_ms = vk_now_ms();
	e->pod = pod;
	free(vk_map_set(pc->create_since, key, e));
}

void vk_pod__create_ended(vk_pods *pc, const char *key) { free(vk_map_del(pc->create_since, key)); }

void vk_pod__create_check(vk_pods *pc, uint64_t now_ms)
{
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(pc->create_since, &i, &k, &v);) {
		slow_entry *e = v;
		if (e->told || now_ms - e->since_ms < VK_POD_CREATE_SLOW_MS)
			continue;
		e->told = true;
		unsigned s = (unsigned)((now_ms - e->since_ms) / 1000);
		vk_warn(SUB, "%s: create_pod has not returned after %u s (it goes on)", k, s);
		vk_kube_event(pc->o.kube, "Pod", e->pod, "Warning", "ProviderCreateSlow", pc->o.nodename,
		              "create_pod has not returned after %u s", s);
	}
}

void vk_pod__create_since_free(vk_pods *pc)
{
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(pc->create_since, &i, &k, &v);)
		free(v);
	vk_map_free(pc->create_since);
}
