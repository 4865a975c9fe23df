/* pod: the controller's decisions (sync, tombstones, status dedup), checked
 * as pure functions with a fake provider; the e2e tests run them against a
 * real API server. */
#include <stdlib.h>
#include <string.h>

#include "fake_provider.h"
#include "pod_int.h"
#include "tap.h"
#include "vk/json.h"

static cJSON *pod(const char *uid, const char *extra)
{
	char *t = vk_asprintf("{\"metadata\": {\"namespace\": \"ns\", \"name\": \"web\", \"uid\": \"%s\"%s}, "
	                      "\"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"busybox:1.35\"}]}}",
	                      uid, extra ? extra : "");
	cJSON *p = cJSON_Parse(t);
	free(t);
	return p;
}

static pod_rec rec(const char *uid, bool created)
{
	return (pod_rec){.key = "ns/web", .uid = (char *)uid, .created = created};
}

static void sync_decisions(void)
{
	fake_provider f;
	fake_provider_init(&f, true);
	vk_provider *p = &f.p;
	cJSON *api = pod("u1", NULL);

	vk_pod_sync_plan d = vk_pod__decide_sync(NULL, api, p, true);
	is_int(d.action, VK_POD_SYNC_CREATE, "a new pod is created");
	ok(!d.drop_rec, "no record to drop for a new pod");
	is_int(vk_pod__decide_sync(NULL, api, p, false).action, VK_POD_SYNC_HOLD,
	       "the provider's list not in yet (get_pods failed): a new pod waits for it, the provider may run it");

	pod_rec r = rec("u1", false);
	d = vk_pod__decide_sync(&r, api, p, true);
	is_int(d.action, VK_POD_SYNC_CREATE, "a pod whose create has not succeeded is created (again)");

	cJSON *done = pod("u1", NULL);
	cJSON_AddObjectToObject(done, "status");
	cJSON_AddStringToObject(cJSON_GetObjectItem(done, "status"), "phase", "Succeeded");
	is_int(vk_pod__decide_sync(NULL, done, p, true).action, VK_POD_SYNC_DONE,
	       "a pod already Succeeded is not created");
	cJSON_Delete(done);

	r = rec("u1", true);
	r.spec_sig = vk_pod__spec_sig(api);
	d = vk_pod__decide_sync(&r, api, p, true);
	is_int(d.action, VK_POD_SYNC_DONE, "an unchanged pod the provider has: nothing to do");
	ok(d.spec_sig == r.spec_sig, "its signature is the one recorded");

	cJSON *labelled = pod("u1", ", \"labels\": {\"tier\": \"web\"}");
	d = vk_pod__decide_sync(&r, labelled, p, true);
	is_int(d.action, VK_POD_SYNC_UPDATE, "a label change calls update_pod");
	fake_provider g;
	fake_provider_init(&g, false);
	d = vk_pod__decide_sync(&r, labelled, &g.p, true);
	is_int(d.action, VK_POD_SYNC_DONE, "without update_pod a change is only recorded");
	ok(d.spec_sig && d.spec_sig != r.spec_sig, "and the new signature is handed back to record");
	cJSON *status_only = pod("u1", NULL);
	cJSON_AddObjectToObject(status_only, "status");
	is_int(vk_pod__decide_sync(&r, status_only, p, true).action, VK_POD_SYNC_DONE,
	       "a status change alone is no update");
	cJSON_Delete(status_only);
	cJSON_Delete(labelled);

	r.spec_sig = 0; /* adopted from get_pods at start-up */
	r.pod = cJSON_Duplicate(api, 1);
	d = vk_pod__decide_sync(&r, api, p, true);
	ok(d.action == VK_POD_SYNC_DONE && d.spec_sig == vk_pod__spec_sig(api) && d.drop_adopted_copy,
	   "an adopted pod takes the API's signature, is not updated, and drops the provider's copy");
	cJSON_Delete(r.pod);
	r.pod = NULL;

	/* kubectl debug: ephemeral containers are a spec change; an adopted pod
	 * that has some hands them over once, whatever the provider's copy says. */
	cJSON *debugged = cJSON_Duplicate(api, 1);
	cJSON *eph = cJSON_AddArrayToObject(cJSON_GetObjectItem(debugged, "spec"), "ephemeralContainers");
	cJSON_AddItemToArray(eph, cJSON_Parse("{\"name\": \"dbg\", \"image\": \"busybox:1.35\"}"));
	r.spec_sig = vk_pod__spec_sig(api);
	is_int(vk_pod__decide_sync(&r, debugged, p, true).action, VK_POD_SYNC_UPDATE,
	       "an ephemeral container added calls update_pod");
	r.spec_sig = 0;
	d = vk_pod__decide_sync(&r, debugged, p, true);
	ok(d.action == VK_POD_SYNC_UPDATE && d.spec_sig == vk_pod__spec_sig(debugged),
	   "an adopted pod with ephemeral containers is updated once, with the API's signature");
	cJSON_Delete(debugged);

	r = rec("u1", true);
	d = vk_pod__decide_sync(&r, NULL, p, true);
	is_int(d.action, VK_POD_SYNC_DELETE_GONE, "a pod gone from the API is deleted from the provider");
	r = rec("u1", false);
	d = vk_pod__decide_sync(&r, NULL, p, true);
	ok(d.action == VK_POD_SYNC_DONE && d.drop_rec, "a gone pod the provider never had is only forgotten");
	d = vk_pod__decide_sync(NULL, NULL, p, true);
	ok(d.action == VK_POD_SYNC_DONE && !d.drop_rec, "a key nobody knows is done");

	cJSON *other = pod("u2", NULL);
	r = rec("u1", true);
	is_int(vk_pod__decide_sync(&r, other, p, true).action, VK_POD_SYNC_DELETE_STALE,
	       "a pod replaced under the same name: the old one is deleted first");
	r = rec("u1", false);
	d = vk_pod__decide_sync(&r, other, p, true);
	ok(d.action == VK_POD_SYNC_CREATE && d.drop_rec, "replaced before its create: forget it, create the new one");
	cJSON_Delete(other);

	cJSON *deleting = pod("u1", ", \"deletionTimestamp\": \"2026-12-02T04:00:00Z\"");
	r = rec("u1", true);
	is_int(vk_pod__decide_sync(&r, deleting, p, true).action, VK_POD_SYNC_DELETE_GRACEFUL,
	       "a deletionTimestamp: delete_pod, then the terminal status and DELETE");
	r.deleted = true;
	d = vk_pod__decide_sync(&r, deleting, p, true);
	ok(d.action == VK_POD_SYNC_DONE && !d.drop_rec,
	   "a tombstone (deletion done) does nothing until the watch reports the pod gone");
	r = rec("u1", false);
	d = vk_pod__decide_sync(&r, deleting, p, true);
	ok(d.action == VK_POD_SYNC_FINISH_DELETION && d.drop_rec,
	   "a pod deleted before it reached the provider: only the terminal status and DELETE");
	is_int(vk_pod__decide_sync(NULL, deleting, p, true).action, VK_POD_SYNC_FINISH_DELETION,
	       "a pod deleted before vk knew it: the same");
	r = rec("u1", false);
	d = vk_pod__decide_sync(&r, deleting, p, false);
	ok(d.action == VK_POD_SYNC_DELETE_GRACEFUL && d.drop_rec,
	   "the provider's list not in yet (get_pods failed): a pod the core never created still goes to delete_pod");
	is_int(vk_pod__decide_sync(NULL, deleting, p, false).action, VK_POD_SYNC_DELETE_GRACEFUL,
	       "... and so does one the core never knew");
	r = rec("u1", true);
	r.deleted = true;
	is_int(vk_pod__decide_sync(&r, deleting, p, false).action, VK_POD_SYNC_DONE,
	       "... but a tombstone still does nothing");
	cJSON_Delete(deleting);

	is_int(f.calls + g.calls, 0, "no decision called the provider");
	cJSON_Delete(api);
}

static void status_dedup(void)
{
	cJSON *api = cJSON_Parse("{\"metadata\": {\"uid\": \"u1\"}, \"status\": {\"phase\": \"Running\", \"podIP\": "
	                         "\"10.0.0.2\", \"hostIP\": \"127.0.0.1\", \"conditions\": [{\"type\": \"Ready\", "
	                         "\"status\": \"True\"}]}}");
	is_int(vk_pod__status_verdict("{\"phase\": \"Running\", \"podIP\": \"10.0.0.2\"}", api), VK_POD_STATUS_KNOWN,
	       "a status the API already holds (a subset) is not written");
	is_int(vk_pod__status_verdict(
		       "{\"phase\": \"Running\", \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}", api),
	       VK_POD_STATUS_KNOWN, "arrays compare item by item");
	is_int(vk_pod__status_verdict("{\"phase\": \"Succeeded\"}", api), VK_POD_STATUS_WRITE,
	       "a new phase is written");
	is_int(vk_pod__status_verdict("{\"conditions\": []}", api), VK_POD_STATUS_WRITE,
	       "an array of another length is written");
	is_int(vk_pod__status_verdict("{\"phase\": \"Running\", \"message\": \"hi\"}", api), VK_POD_STATUS_WRITE,
	       "a field the API lacks is written");
	is_int(vk_pod__status_verdict("{\"phase\": \"Running\"}", NULL), VK_POD_STATUS_UNWANTED,
	       "no status for a pod the API no longer has");
	cJSON_AddStringToObject(cJSON_GetObjectItem(api, "metadata"), "deletionTimestamp", "2026-12-02T04:00:00Z");
	is_int(vk_pod__status_verdict("{\"phase\": \"Failed\"}", api), VK_POD_STATUS_UNWANTED,
	       "no status for a pod being deleted: its deletion writes the terminal one");
	cJSON_Delete(api);
}

static void delete_answers(void)
{
	is_int(vk_pod__delete_verdict(200, false, true), VK_POD_DELETE_DONE,
	       "DELETE 200: gone (a tombstone until the watch)");
	is_int(vk_pod__delete_verdict(202, false, true), VK_POD_DELETE_DONE, "DELETE 202: the same");
	is_int(vk_pod__delete_verdict(409, false, true), VK_POD_DELETE_NEW_UID,
	       "409: another uid has the name, not ours");
	is_int(vk_pod__delete_verdict(404, true, false), VK_POD_DELETE_DONE,
	       "404 of this pod that the watch no longer lists: gone");
	is_int(vk_pod__delete_verdict(404, true, true), VK_POD_DELETE_RETRY,
	       "404 of this pod that the watch still lists (an API server just started, its admission cache "
	       "filling): tried again, not taken for gone");
	is_int(vk_pod__delete_verdict(404, false, false), VK_POD_DELETE_RETRY,
	       "a 404 that does not name the pod (a route not installed yet): tried again");
	is_int(vk_pod__delete_verdict(0, false, true), VK_POD_DELETE_RETRY, "no answer: tried again");
	is_int(vk_pod__delete_verdict(500, false, true), VK_POD_DELETE_RETRY, "500: tried again");
}

int main(void)
{
	vk_json_init();
	sync_decisions();
	status_dedup();
	delete_answers();
	return tap_done();
}
