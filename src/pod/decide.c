/* The pod controller's decisions, as pure functions of what the core knows
 * (a pod_rec), what the API says (the pod), and what the provider can do.
 * sync.c and status.c act on them; tests/unit/test_pod_decide.c checks
 * them without a cluster. */
#include <math.h>
#include <string.h>

#include "pod_int.h"

static bool terminal_phase(const cJSON *pod)
{
	const char *ph = vk_json_str(pod, "status.phase");
	return ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
}

vk_pod_sync_plan vk_pod__decide_sync(const pod_rec *r, const cJSON *api, vk_provider *p, bool listed)
{
	vk_pod_sync_plan d = {VK_POD_SYNC_DONE, false, false, 0};
	if (!api) {
		if (r && r->created) {
			d.action = VK_POD_SYNC_DELETE_GONE;
			return d;
		}
		d.drop_rec = r != NULL;
		return d;
	}
	const char *uid = vk_json_str(api, "metadata.uid");
	if (r && uid && strcmp(r->uid, uid) != 0) {
		if (r->created) { /* replaced under the same name: the old one goes first */
			d.action = VK_POD_SYNC_DELETE_STALE;
			return d;
		}
		d.drop_rec = true;
		r = NULL;
	}
	if (vk_json_str(api, "metadata.deletionTimestamp")) {
		if (r && r->deleted) /* a tombstone: the deletion is done, the watch will tell */
			return d;
		if (r && r->created) {
			d.action = VK_POD_SYNC_DELETE_GRACEFUL;
			return d;
		}
		d.drop_rec = d.drop_rec || r != NULL;
		/* Never reached the provider, as far as the core knows; until the
		 * provider's own list is in, it may run the pod all the same (a
		 * create a killed vk left behind), and only delete_pod can say. */
		d.action = listed ? VK_POD_SYNC_FINISH_DELETION : VK_POD_SYNC_DELETE_GRACEFUL;
		return d;
	}
	d.drop_adopted_copy = r && r->pod; /* adopted from get_pods: the API's copy serves now */
	if (!r || !r->created) {
		/* Without the provider's list the pod may run there already: a
		 * second create_pod could make a second cloud instance. */
		if (!terminal_phase(api))
			d.action = listed ? VK_POD_SYNC_CREATE : VK_POD_SYNC_HOLD;
		return d;
	}
	d.spec_sig = vk_pod__spec_sig(api);
	if (!r->spec_sig) {
		/* Adopted from get_pods at start-up: the provider's copy is the
		 * resolved pod, not comparable; the API's is the reference from now.
		 * Ephemeral containers are the exception: added through their own
		 * subresource, they may be missing from the copy the provider kept
		 * (mynode keeps the spec its sandbox was made with), so they are
		 * handed over again; starting what already ran is the provider's
		 * to avoid. */
		const cJSON *eph = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(api, "spec"),
		                                                    "ephemeralContainers");
		if (cJSON_GetArraySize(eph) > 0 && vk_provider_has(p, VK_CALL_UPDATE_POD))
			d.action = VK_POD_SYNC_UPDATE;
		return d;
	}
	if (d.spec_sig != r->spec_sig && vk_provider_has(p, VK_CALL_UPDATE_POD))
		d.action = VK_POD_SYNC_UPDATE;
	return d;
}

vk_pod_delete_verdict vk_pod__delete_verdict(long status, bool this_pod_404, bool still_listed)
{
	if (status == 200 || status == 202)
		return VK_POD_DELETE_DONE;
	if (status == 409)
		return VK_POD_DELETE_NEW_UID;
	/* Gone only when the watch agrees (or has already said so). */
	if (status == 404 && this_pod_404 && !still_listed)
		return VK_POD_DELETE_DONE;
	return VK_POD_DELETE_RETRY;
}

/* true when every field `a` sets has the same value in `b`: the API already
 * says all that `a` says. */
static bool json_subset(const cJSON *a, const cJSON *b)
{
	if (!b)
		return false;
	if (cJSON_IsObject(a)) {
		if (!cJSON_IsObject(b))
			return false;
		const cJSON *x;
		cJSON_ArrayForEach(x, a) {
			if (!json_subset(x, cJSON_GetObjectItemCaseSensitive(b, x->string)))
				return false;
		}
		return true;
	}
	if (cJSON_IsArray(a)) {
		if (!cJSON_IsArray(b) || cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return false;
		for (const cJSON *x = a->child, *y = b->child; x; x = x->next, y = y->next)
			if (!json_subset(x, y))
				return false;
		return true;
	}
	if (cJSON_IsString(a))
		return cJSON_IsString(b) && strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsNumber(a))
		return cJSON_IsNumber(b) && fabs(a->valuedouble - b->valuedouble) < 1e-9;
	if (cJSON_IsBool(a))
		return cJSON_IsBool(b) && cJSON_IsTrue(a) == cJSON_IsTrue(b);
	return cJSON_IsNull(a) && cJSON_IsNull(b);
}

vk_pod_status_verdict vk_pod__status_verdict(const char *text, const cJSON *api)
{
	/* Not when the pod left the API or is being deleted: the deletion
	 * writes the terminal status itself. */
	if (!api || vk_json_str(api, "metadata.deletionTimestamp"))
		return VK_POD_STATUS_UNWANTED;
	cJSON *st = cJSON_Parse(text);
	bool known = json_subset(st, cJSON_GetObjectItemCaseSensitive(api, "status"));
	cJSON_Delete(st);
	return known ? VK_POD_STATUS_KNOWN : VK_POD_STATUS_WRITE;
}
