/* Writing a pod's status to the API server.
 *
 * A PUT of the pod the informer holds, carrying the new status laid over
 * the one the API has: optimistic concurrency by its resourceVersion.  When
 * that copy is stale (409) or there is none, a strategic merge PATCH with
 * the uid as precondition.  Either way conditions merge by type, as
 * kubelet's status patches do: those others set (a readiness gate's, the
 * DisruptionTarget) stay.  The PUT is the cheaper of the two for the API
 * server: it decodes the body, where a patch also encodes the stored pod,
 * merges and decodes again (measured with the API server's CPU profile
 * during a 1000-pod churn: applying merge patches was a sixth of its time). */
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

typedef struct {
	vk_pods *pc;
	char *path, *uid;
	pod_text *text; /* one holder: the caller's may be gone before the answer */
	bool patched;
	vk_pod_status_write_cb cb;
	void *ud;
	vk_kube_call *call; /* the request in flight */
	vk_list link;       /* in pc->writes while one is */
} status_write;

static void sw_free(status_write *w)
{
	vk_list_remove(&w->link);
	free(w->path);
	free(w->uid);
	vk_pod__text_unref(w->text);
	free(w);
}

static int send_patch(status_write *w);

static void merge_conditions(cJSON *theirs, cJSON *ours)
{
	cJSON *c;
	while ((c = ours->child)) {
		cJSON_DetachItemViaPointer(ours, c);
		const char *type = vk_json_str(c, "type");
		cJSON *old = NULL, *x;
		cJSON_ArrayForEach(x, theirs) {
			const char *t = vk_json_str(x, "type");
			if (type && t && strcmp(t, type) == 0) {
				old = x;
				break;
			}
		}
		if (old)
			cJSON_ReplaceItemViaPointer(theirs, old, c);
		else
			cJSON_AddItemToArray(theirs, c);
	}
}

/* Lays `ours` over `dst` as a JSON merge patch would (RFC 7386: objects
 * merge, the rest is replaced, null removes), with conditions merged by
 * type at the top.  Takes ours. */
static void merge_status(cJSON *dst, cJSON *ours, bool top)
{
	cJSON *it;
	while ((it = ours->child)) {
		cJSON_DetachItemViaPointer(ours, it);
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(dst, it->string);
		if (cJSON_IsNull(it)) {
			cJSON_DeleteItemFromObjectCaseSensitive(dst, it->string);
			cJSON_Delete(it);
		} else if (top && strcmp(it->string, "conditions") == 0 && cJSON_IsArray(it) && cJSON_IsArray(cur)) {
			merge_conditions(cur, it);
			cJSON_Delete(it);
		} else if (cJSON_IsObject(it) && cJSON_IsObject(cur)) {
			merge_status(cur, it, false);
		} else if (cur) {
			cJSON_ReplaceItemViaPointer(dst, cur, it);
		} else {
			cJSON_AddItemToObject(dst, it->string, it);
		}
	}
	cJSON_Delete(ours);
}

static void sw_done(const vk_kube_result *res, void *ud)
{
	status_write *w = ud;
	w->call = NULL;
	if (res->status == 409 && !w->patched && !w->pc->closing && send_patch(w) == 0)
		return; /* our copy was stale: the patch decides */
	w->cb(res->status, res->error, w->ud);
	sw_free(w);
}

static int send_patch(status_write *w)
{
	w->patched = true;
	cJSON *u = cJSON_CreateStringReference(w->uid);
	char *uid = cJSON_PrintUnformatted(u);
	cJSON_Delete(u);
	char *body = vk_asprintf("{\"metadata\":{\"uid\":%s},\"status\":%s}", uid, w->text->s);
	free(uid);
	int rc = vk_kube_request_within(w->pc->o.kube, VK_POD_STATUS_CALL_MS, "PATCH", w->path,
	                                "application/strategic-merge-patch+json", body, sw_done, w, &w->call);
	free(body);
	return rc;
}

int vk_pod__write_status(vk_pods *pc, const char *key, const char *uid, cJSON *api, pod_text *text,
                         vk_pod_status_write_cb cb, void *ud)
{
	const char *slash = strchr(key, '/');
	status_write *w = vk_xcalloc(1, sizeof *w);
	w->pc = pc;
	w->path = vk_asprintf("/api/v1/namespaces/%.*s/pods/%s/status", (int)(slash - key), key, slash + 1);
	w->uid = vk_strdup(uid);
	w->text = text;
	w->cb = cb;
	w->ud = ud;
	const char *api_uid = vk_json_str(api, "metadata.uid");
	cJSON *st = api && api_uid && strcmp(api_uid, uid) == 0 && vk_json_str(api, "metadata.resourceVersion")
	                    ? cJSON_ParseWithLength(text->s, text->len)
	                    : NULL;
	int rc;
	if (st && cJSON_IsObject(st)) {
		cJSON *have = cJSON_GetObjectItemCaseSensitive(api, "status");
		if (cJSON_IsObject(have))
			merge_status(have, st, true);
		else if (!cJSON_ReplaceItemInObjectCaseSensitive(api, "status", st))
			cJSON_AddItemToObject(api, "status", st);
		if (!cJSON_GetObjectItemCaseSensitive(api, "apiVersion"))
			cJSON_AddStringToObject(api, "apiVersion", "v1");
		if (!cJSON_GetObjectItemCaseSensitive(api, "kind"))
			cJSON_AddStringToObject(api, "kind", "Pod");
		char *body = cJSON_PrintUnformatted(api);
		rc = vk_kube_request_within(pc->o.kube, VK_POD_STATUS_CALL_MS, "PUT", w->path, NULL, body, sw_done, w,
		                            &w->call);
		free(body);
	} else {
		cJSON_Delete(st);
		rc = send_patch(w);
	}
	cJSON_Delete(api);
	if (rc < 0)
		sw_free(w);
	else
		vk_list_insert_tail(&pc->writes, &w->link);
	return rc;
}

void vk_pod__writes_cancel(vk_pods *pc)
{
	for (vk_list *n; (n = vk_list_first(&pc->writes));) {
		status_write *w = VK_LIST_ENTRY(n, status_write, link);
		vk_kube_cancel(w->call);
		w->call = NULL;
		w->cb(0, "vk is stopping", w->ud);
		sw_free(w); /* unlinks it */
	}
}
