/* node: the Lease's timing and content, and the pod informer's resume
 * decisions, checked as pure functions (the e2e tests run them against a
 * real API server). */
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "node_int.h"
#include "tap.h"
#include "vk/json.h"

static void lease_timing(void)
{
	is_int(vk_node__lease_next(200), VK_NODE_LEASE_RENEWED, "200: renewed, the next renewal waits for the timer");
	is_int(vk_node__lease_next(201), VK_NODE_LEASE_RENEWED, "201 (created): renewed");
	is_int(vk_node__lease_next(404), VK_NODE_LEASE_AGAIN_NOW, "404: the lease is created again at once");
	is_int(vk_node__lease_next(409), VK_NODE_LEASE_AGAIN_NOW, "409: read again and retried at once");
	is_int(vk_node__lease_next(500), VK_NODE_LEASE_AGAIN_SOON, "500: retried soon");
	is_int(vk_node__lease_next(0), VK_NODE_LEASE_AGAIN_SOON, "a transport failure: retried soon");
	ok(VK_NODE_LEASE_RETRY_MS <= 40000 / 10, "a failed renewal is retried well inside the 40 s lease");
}

static void lease_body(void)
{
	/* 2026-12-02T04:00:00.250Z */
	cJSON *l = vk_node__lease_body("edge", "uid-1", "42", 40, 1796184000250ull);
	is_str(vk_json_str(l, "metadata.namespace"), "kube-node-lease", "the lease lives in kube-node-lease");
	is_str(vk_json_str(l, "metadata.name"), "edge", "named after the node");
	is_str(vk_json_str(l, "metadata.resourceVersion"), "42", "a renewal carries the version it replaces");
	is_str(vk_json_str(l, "spec.holderIdentity"), "edge", "held by the node");
	is_int(vk_json_at(l, "spec.leaseDurationSeconds")->valueint, 40, "40 s");
	is_str(vk_json_str(l, "spec.renewTime"), "2026-12-02T04:00:00.250000Z",
	       "renewTime is MicroTime at the given time");
	const cJSON *ref = cJSON_GetArrayItem(vk_json_at(l, "metadata.ownerReferences"), 0);
	ok(ref && !strcmp(vk_json_str(ref, "kind"), "Node") && !strcmp(vk_json_str(ref, "uid"), "uid-1"),
	   "owned by the Node, so it goes with it");
	cJSON_Delete(l);
	l = vk_node__lease_body("edge", NULL, NULL, 40, 0);
	ok(!vk_json_at(l, "metadata.resourceVersion") && !vk_json_at(l, "metadata.ownerReferences"),
	   "a first lease (no version, node uid not known yet) has neither");
	cJSON_Delete(l);
}

static void informer_resume(void)
{
	is_int(vk_kube__informer_after_close(false, 200, NULL), VK_KUBE_INFORMER_RELIST,
	       "without a resourceVersion (after a 410) the informer lists again");
	is_int(vk_kube__informer_after_close(true, 200, NULL), VK_KUBE_INFORMER_RESUME,
	       "a clean end of the stream resumes at once from the last resourceVersion");
	is_int(vk_kube__informer_after_close(true, 0, "Connection refused"), VK_KUBE_INFORMER_RESUME_LATER,
	       "a transport failure resumes after the backoff");
	is_int(vk_kube__informer_after_close(true, 403, "forbidden"), VK_KUBE_INFORMER_RESUME_LATER,
	       "a refused watch resumes after the backoff");
	is_int(vk_kube__informer_after_close(true, 200, "line too long"), VK_KUBE_INFORMER_RESUME_LATER,
	       "a stream we aborted resumes after the backoff");
	is_int(vk_kube__informer_after_page(200, false), VK_KUBE_INFORMER_RESUME, "a listed page: the next or the end");
	is_int(vk_kube__informer_after_page(410, true), VK_KUBE_INFORMER_RELIST,
	       "an expired continue token: the list again from the top");
	is_int(vk_kube__informer_after_page(410, false), VK_KUBE_INFORMER_RESUME_LATER,
	       "a 410 on the first page is a failure like any other: after the backoff");
	is_int(vk_kube__informer_after_page(0, true), VK_KUBE_INFORMER_RESUME_LATER,
	       "a transport failure mid-list: after the backoff");
	is_int(vk_kube__informer_after_page(403, false), VK_KUBE_INFORMER_RESUME_LATER,
	       "a refused list: after the backoff");
	cJSON *gone = cJSON_Parse("{\"kind\": \"Status\", \"code\": 410, \"reason\": \"Expired\"}");
	cJSON *other = cJSON_Parse("{\"kind\": \"Status\", \"code\": 500, \"reason\": \"Expired\"}");
	ok(vk_kube__watch_expired(gone), "an ERROR event with code 410 means: list again");
	ok(!vk_kube__watch_expired(other), "the code decides, not the reason");
	cJSON_Delete(gone);
	cJSON_Delete(other);
}

int main(void)
{
	vk_json_init();
	lease_timing();
	lease_body();
	informer_resume();
	return tap_done();
}
