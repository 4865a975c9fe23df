/* The node Lease (coordination.k8s.io/v1 in kube-node-lease): the node's
 * heartbeat.  Renewed every lease_renew_ms by a timer of its own, so no
 * provider callback, however slow, can delay it: callbacks only ever run
 * between loop iterations and yield on I/O.
 *
 * As kubelet's lease controller does, the first renewal goes out at start,
 * beside the Node's registration, not after it: a restarted vk renews its
 * heartbeat one round trip after start, not after the registration's POST
 * (409) and PATCH.  Until the Node's uid is known the Lease has no owner;
 * the renewal that follows the registration adds it. */
#include <errno.h>
#include <stdlib.h>

#include "node_int.h"
#include "vk/metrics.h"

#define LEASE_SLOW_MS 2000

static void lease_tick(uv_timer_t *t) { vk_node__lease_renew(t->data); }

void vk_node__lease_start(vk_node *n)
{
	n->lease_timer.data = n;
	uv_timer_start(&n->lease_timer, lease_tick, 0, n->o.lease_renew_ms);
}

cJSON *vk_node__lease_body(const char *name, const char *uid, const char *rv, unsigned duration_s, uint64_t wall_ms)
{
	char now[40];
	vk_rfc3339(now, wall_ms, true);
	cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(l, "kind", "Lease");
	cJSON *md = cJSON_AddObjectToObject(l, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", "kube-node-lease");
	if (rv)
		cJSON_AddStringToObject(md, "resourceVersion", rv);
	if (uid) {
		/* Owned by the Node, so the garbage collector removes it with the Node. */
		cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "apiVersion", "v1");
		cJSON_AddStringToObject(r, "kind", "Node");
		cJSON_AddStringToObject(r, "name", name);
		cJSON_AddStringToObject(r, "uid", uid);
		cJSON_AddItemToArray(refs, r);
	}
	cJSON *spec = cJSON_AddObjectToObject(l, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", name);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", duration_s);
	cJSON_AddStringToObject(spec, "renewTime", now);
	return l;
}

static cJSON *lease_body(vk_node *n)
{
	return vk_node__lease_body(n->name, n->uid, n->lease_rv, n->o.lease_duration_s, n->lease_started_wall_ms);
}

vk_node_lease_next vk_node__lease_next(long status)
{
	if (status == 200 || status == 201)
		return VK_NODE_LEASE_RENEWED;
	/* 404: no lease yet (or the Node and its lease were deleted);
	 * 409: someone else wrote it; both: forget the version, try again now. */
	if (status == 404 || status == 409)
		return VK_NODE_LEASE_AGAIN_NOW;
	/* Anything else: well inside the lease duration rather than a full period later. */
	return VK_NODE_LEASE_AGAIN_SOON;
}

static void remember_rv(vk_node *n, const cJSON *lease)
{
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lease, "metadata"),
	                                                   "resourceVersion");
	free(n->lease_rv);
	n->lease_rv = cJSON_IsString(rv) ? vk_strdup(rv->valuestring) : NULL;
}

/* A renewal is a debug line, unless it came after failures or took long:
 * then the log says when the heartbeat resumed and what it cost (a node
 * Ready late after a fault is read from these lines). */
static void said_renewed(vk_node *n)
{
	uint64_t now = vk_wall_ms();
	uint64_t took_ms = now > n->lease_started_wall_ms ? now - n->lease_started_wall_ms : 0; /* clock stepped back */
	if (n->lease_failed && !n->lease_last_ok_ms)
		vk_info("lease", "renewed for the first time, after %u failed or abandoned renewal(s)",
		        n->lease_failed);
	else if (n->lease_failed)
		vk_info("lease", "renewed after %u failed or abandoned renewal(s), %.1f s after the last good one",
		        n->lease_failed, (double)(vk_now_ms() - n->lease_last_ok_ms) / 1000);
	else if (took_ms > LEASE_SLOW_MS)
		vk_info("lease", "renewed, but the renewal took %.1f s", (double)took_ms / 1000);
	else
		vk_debug("lease", "renewed (rv %s)", n->lease_rv ? n->lease_rv : "?");
	n->lease_failed = 0;
}

static void renew_done(const vk_kube_result *r, void *ud)
{
	vk_node *n = ud;
	n->lease_busy = false;
	n->lease_call = NULL;
	if (n->closing)
		return;
	vk_node_lease_next next = vk_node__lease_next(r->status);
	if (next != VK_NODE_LEASE_AGAIN_NOW) /* from the renewal's start, its GET included */
		vk_metrics_lease_renewal((double)(vk_wall_ms() - n->lease_started_wall_ms) / 1000,
		                         next == VK_NODE_LEASE_RENEWED);
	if (next == VK_NODE_LEASE_RENEWED) {
		remember_rv(n, r->json);
		said_renewed(n);
		n->lease_last_ok_ms = vk_now_ms();
		/* Written before the registration told us the Node's uid: now
		 * with its owner, so the lease goes with the Node. */
		if (!n->lease_owner_sent && n->uid)
			vk_node__lease_renew(n);
		return;
	}
	if (next == VK_NODE_LEASE_AGAIN_NOW) {
		free(n->lease_rv);
		n->lease_rv = NULL;
		vk_debug("lease", "%ld %s, creating or refreshing", r->status, r->reason ? r->reason : "");
		vk_node__lease_renew(n);
		return;
	}
	/* The version is kept: the next renewal is one PUT, not a GET and a
	 * PUT (a 429 storm answers each of them late; a version that is no
	 * longer current gets 409, and the lease is read again at once). */
	n->lease_failed++;
	vk_warn("lease", "renewal failed: %ld %s", r->status, r->error ? r->error : "");
	/* Not while the API server is unreachable: the client probes the link
	 * and vk_node__on_link renews the moment it is back. */
	if (vk_kube_link_up(n->o.kube))
		uv_timer_start(&n->lease_timer, lease_tick, VK_NODE_LEASE_RETRY_MS, n->o.lease_renew_ms);
}

static void get_done(const vk_kube_result *r, void *ud);

static int send_lease(vk_node *n, const char *method, const char *path)
{
	cJSON *body = lease_body(n);
	n->lease_owner_sent = n->uid != NULL;
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	int rc = vk_kube_request_urgent(n->o.kube, VK_NODE_CALL_MS, method, path, NULL, text, renew_done, n,
	                                &n->lease_call);
	free(text);
	return rc;
}

void vk_node__lease_renew(vk_node *n)
{
	if (n->lease_busy || n->closing)
		return;
	n->lease_busy = true;
	/* renewTime is when this renewal started, also when it must read the
	 * lease first: a slow GET does not push it late and the next one early. */
	n->lease_started_wall_ms = vk_wall_ms();
	char *path = vk_asprintf("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", n->name);
	int rc;
	if (!n->lease_rv) {
		rc = vk_kube_request_urgent(n->o.kube, VK_NODE_CALL_MS, "GET", path, NULL, NULL, get_done, n,
		                            &n->lease_call);
	} else {
		rc = send_lease(n, "PUT", path);
	}
	free(path);
	if (rc < 0) {
		n->lease_busy = false;
		vk_warn("lease", "could not start renewal: %d", rc);
	}
}

/* After a GET: update the existing lease, or create it. */
static void get_done(const vk_kube_result *r, void *ud)
{
	vk_node *n = ud;
	n->lease_busy = false;
	n->lease_call = NULL;
	if (n->closing)
		return;
	int rc;
	n->lease_busy = true;
	if (r->status == 200) {
		remember_rv(n, r->json);
		char *path = vk_asprintf("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", n->name);
		rc = send_lease(n, "PUT", path);
		free(path);
	} else if (r->status == 404) {
		rc = send_lease(n, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases");
	} else {
		n->lease_busy = false;
		n->lease_failed++;
		vk_warn("lease", "could not read the lease: %ld %s", r->status, r->error ? r->error : "");
		if (vk_kube_link_up(n->o.kube))
			uv_timer_start(&n->lease_timer, lease_tick, VK_NODE_LEASE_RETRY_MS, n->o.lease_renew_ms);
		return;
	}
	if (rc < 0)
		n->lease_busy = false;
}
