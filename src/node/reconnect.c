/* The API server is reachable again after an outage: the node says so at
 * once, as a kubelet coming back would.  The lease is renewed and the
 * NodeStatus written within a round trip or two, not at the next period
 * (up to 10 s and 60 s away): while the node was cut off, the node
 * lifecycle controller may have set its Ready condition to Unknown and
 * tainted it node.kubernetes.io/unreachable; a Ready=True status lifts
 * both.  Calls still waiting on the dead link are abandoned for fresh ones.
 *
 * The Node is read back first: when the API's Ready differs from ours (the
 * controller's Unknown), the status we write carries a new
 * lastTransitionTime, so the condition says when the node came back. */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

static void resync_done(const vk_kube_result *r, void *ud)
{
	vk_node *n = ud;
	n->resync_call = NULL;
	if (n->closing)
		return;
	const char *want = n->ready ? "True" : "False";
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "status"),
	                                                       "conditions")) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "status");
		const char *type = cJSON_IsString(t) ? t->valuestring : NULL;
		const char *st = cJSON_IsString(s) ? s->valuestring : NULL;
		if (type && strcmp(type, "Ready") == 0 && (!st || strcmp(st, want) != 0)) {
			vk_info("node", "the API says Ready=%s after the outage; writing Ready=%s", st ? st : "?",
			        want);
			n->ready_transition = true;
		}
	}
	vk_node__write_status(n);
}

void vk_node__on_link(bool up, void *ud)
{
	vk_node *n = ud;
	if (!up || n->closing)
		return;
	if (n->lease_busy && n->lease_call) {
		vk_kube_cancel(n->lease_call);
		n->lease_call = NULL;
		n->lease_busy = false;
		n->lease_failed++;
	}
	vk_node__lease_renew(n);
	if (!n->registered) {
		/* Not registered yet (started while cut off): now, not after the
		 * registration's backoff. */
		if (!n->registering) {
			uv_timer_stop(&n->retry_timer);
			vk_node__register(n);
		}
		return;
	}
	if (n->status_busy && n->status_call) {
		vk_kube_cancel(n->status_call);
		n->status_call = NULL;
		n->status_busy = false;
	}
	if (n->resync_call)
		return;
	char *path = vk_asprintf("/api/v1/nodes/%s", n->name);
	if (vk_kube_request_within(n->o.kube, VK_NODE_CALL_MS, "GET", path, NULL, NULL, resync_done, n,
	                           &n->resync_call) < 0)
		vk_node__write_status(n);
	free(path);
}
