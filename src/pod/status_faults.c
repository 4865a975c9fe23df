/* A pod status the core cannot use, or that the API refuses: the wrong
 * type from get_pod_status, a status over the size limit, get_pod_status
 * raising, a write the API server rejects.  Each is one Warning Event on
 * the pod and one log line, as kubelet reports a pod it cannot sync; the
 * same fault again (the poll asks every few seconds) is said once, until
 * the pod has had a good status written. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "pod_int.h"

#define SUB "pod"

void vk_pod__status_fault(vk_pods *pc, const char *key, const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pod_rec *r = vk_map_get(pc->recs, key);
	uint64_t h = vk_hash64(msg) ^ vk_hash64(reason);
	if (r && r->status_fault == h) {
		vk_debug(SUB, "%s: %s (again)", key, msg);
		return;
	}
	if (r)
		r->status_fault = h;
	vk_warn(SUB, "%s: %s", key, msg);
	cJSON *pod = vk_informer_get(pc->inf, key);
	if (!pod && r && r->pod)
		pod = cJSON_Duplicate(r->pod, 1);
	if (pod)
		vk_kube_event(pc->o.kube, "Pod", pod, "Warning", reason, pc->o.nodename, "%s", msg);
	cJSON_Delete(pod);
}

void vk_pod__status_fault_clear(vk_pods *pc, const char *key)
{
	pod_rec *r = vk_map_get(pc->recs, key);
	if (r)
		r->status_fault = 0;
}
