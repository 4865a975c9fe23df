/* The Node controller: registers the Node, keeps its status and readiness
 * current, renews the lease (lease.c) and re-creates the Node if someone
 * deletes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

#define SUB "node"

/* Sets obj[key] = val, taking ownership of val. */
static void set_item(cJSON *obj, const char *key, cJSON *val)
{
	if (!val)
		return;
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val);
	else
		cJSON_AddItemToObject(obj, key, val);
}

static void set_str(cJSON *obj, const char *key, const char *s) { set_item(obj, key, cJSON_CreateString(s)); }

vk_node *vk_node_new(const vk_node_opts *o, cJSON *node)
{
	vk_node *n = vk_xcalloc(1, sizeof *n);
	n->o = *o;
	if (!n->o.lease_duration_s)
		n->o.lease_duration_s = 40;
	if (!n->o.lease_renew_ms)
		n->o.lease_renew_ms = 10000;
	if (!n->o.ping_ms)
		n->o.ping_ms = 10000;
	if (!n->o.status_ms) /* kubelet's nodeStatusReportFrequency: the Lease is the heartbeat */
		n->o.status_ms = 300000;
	n->name = vk_strdup(o->name);
	n->o.name = n->name;
	n->node = node;
	n->ready = true;
	n->reg_backoff = (vk_backoff){.base_ms = 500, .max_ms = 30000};
	n->watch_backoff = (vk_backoff){.base_ms = 500, .max_ms = 30000};
	/* A failed ping is tried again soon, doubling up to the period: a
	 * runtime that comes back (containerd restarted, its CRI still
	 * initialising at the first try) makes the node Ready within a second
	 * or two, not at the next period. */
	n->ping_backoff = (vk_backoff){.base_ms = VK_NODE_PING_RETRY_MS, .max_ms = n->o.ping_ms, .exact = true};

	/* The provider may not rename the node or drop what the API requires. */
	cJSON *md = vk_json_at(node, "metadata");
	if (!md)
		md = cJSON_AddObjectToObject(node, "metadata");
	set_str(md, "name", n->name);
	cJSON *labels = vk_json_at(node, "metadata.labels");
	char *dropped = NULL;
	if (vk_node_filter_labels(labels, &dropped) > 0) {
		vk_warn(SUB, "dropped labels a node may not set on itself (NodeRestriction): %s", dropped);
		free(dropped);
	}

	uv_timer_t *timers[] = {&n->lease_timer, &n->ping_timer, &n->status_timer, &n->retry_timer, &n->watch_timer};
	for (size_t i = 0; i < VK_ARRAY_LEN(timers); i++) {
		uv_timer_init(o->loop, timers[i]);
		timers[i]->data = n;
		n->open_handles++;
	}
	return n;
}

const cJSON *vk_node_object(const vk_node *n) { return n->node; }

const char *vk_node_internal_ip(const vk_node *n)
{
	const cJSON *a;
	cJSON_ArrayForEach(a, vk_json_at(n->node, "status.addresses")) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "type");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "address");
		if (cJSON_IsString(t) && strcmp(t->valuestring, "InternalIP") == 0 && cJSON_IsString(v))
			return v->valuestring;
	}
	return NULL;
}

void vk_node_event(vk_node *n, const char *type, const char *reason, const char *msg)
{
	cJSON *ref = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(ref, "metadata");
	cJSON_AddStringToObject(md, "name", n->name);
	/* kubectl describe node matches events on uid = name for Nodes. */
	cJSON_AddStringToObject(md, "uid", n->name);
	vk_kube_event(n->o.kube, "Node", ref, type, reason, n->name, "%s", msg);
	cJSON_Delete(ref);
}

/* ---- conditions ---------------------------------------------------------- */

static void set_ready_condition(vk_node *n, const char *now)
{
	cJSON *c;
	cJSON_ArrayForEach(c, vk_json_at(n->node, "status.conditions")) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
		if (!cJSON_IsString(t))
			continue;
		set_str(c, "lastHeartbeatTime", now);
		if (strcmp(t->valuestring, "Ready") != 0)
			continue;
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "status");
		const char *want = n->ready ? "True" : "False";
		if (!cJSON_IsString(s) || strcmp(s->valuestring, want) != 0 || n->ready_transition) {
			set_str(c, "status", want);
			set_str(c, "lastTransitionTime", now);
			n->ready_transition = false;
		}
		set_str(c, "reason", n->ready ? "KubeletReady" : "ProviderPingFailed");
		set_str(c, "message",
		        n->ready ? "vk is posting ready status"
		                 : (n->not_ready_msg ? n->not_ready_msg : "ping failed"));
	}
}

/* ---- status --------------------------------------------------------------- */

static void status_tick(uv_timer_t *t);

static uint64_t check_ms(const vk_node *n)
{
	return n->o.status_ms < VK_NODE_CHECK_MS ? n->o.status_ms : VK_NODE_CHECK_MS;
}

/* The Node is gone: the lease stops naming the old one as its owner (the
 * garbage collector would delete it) until the new Node's uid is known. */
static void forget_uid(vk_node *n)
{
	free(n->uid);
	n->uid = NULL;
}

static void status_done(const vk_kube_result *r, void *ud)
{
	vk_node *n = ud;
	n->status_busy = false;
	n->status_call = NULL;
	if (n->closing)
		return;
	if (r->status == 404) {
		vk_warn(SUB, "Node %s is gone from the API; registering it again", n->name);
		n->registered = false;
		forget_uid(n);
		vk_node__register(n);
		return;
	}
	if (r->status != 200) {
		vk_warn(SUB, "status update failed: %ld %s", r->status, r->error ? r->error : "");
		/* While the API server is unreachable, vk_node__on_link writes it
		 * the moment it is back. */
		free(n->status_sent); /* not written: the next tick writes it */
		n->status_sent = NULL;
		if (vk_kube_link_up(n->o.kube))
			uv_timer_start(&n->status_timer, status_tick, 2000, check_ms(n));
		return;
	}
	if (n->status_dirty) {
		n->status_dirty = false;
		vk_node__write_status(n);
	}
}

/* The status as text without the heartbeat times: what "changed" means. */
static char *status_print(vk_node *n)
{
	cJSON *st = cJSON_Duplicate(vk_json_at(n->node, "status"), 1);
	cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "conditions"))
		cJSON_DeleteItemFromObjectCaseSensitive(c, "lastHeartbeatTime");
	char *text = st ? cJSON_PrintUnformatted(st) : NULL;
	cJSON_Delete(st);
	return text;
}

/* Writes the status when it changed since the last write, or when the
 * last write is status_ms old. */
static void write_status_if_due(vk_node *n)
{
	char *now = status_print(n);
	bool changed = !now || !n->status_sent || strcmp(now, n->status_sent) != 0;
	free(now);
	if (changed || vk_now_ms() - n->status_sent_ms >= n->o.status_ms)
		vk_node__write_status(n);
}

/* PATCHes the whole status (strategic merge: conditions merge by type). */
void vk_node__write_status(vk_node *n)
{
	if (n->closing || !n->registered)
		return;
	if (n->status_busy) {
		n->status_dirty = true;
		return;
	}
	free(n->status_sent);
	n->status_sent = status_print(n);
	n->status_sent_ms = vk_now_ms();
	char now[40];
	vk_rfc3339(now, vk_wall_ms(), false);
	set_ready_condition(n, now);
	cJSON *patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", cJSON_Duplicate(vk_json_at(n->node, "status"), 1));
	char *path = vk_asprintf("/api/v1/nodes/%s/status", n->name);
	char *text = cJSON_PrintUnformatted(patch);
	n->status_busy = true;
	if (vk_kube_request_within(n->o.kube, VK_NODE_CALL_MS, "PATCH", path, "application/strategic-merge-patch+json",
	                           text, status_done, n, &n->status_call) < 0)
		n->status_busy = false;
	free(text);
	free(path);
	cJSON_Delete(patch);
}

/* Merges the provider's conditions into ours by type (MemoryPressure,
 * DiskPressure, PIDPressure, its own types); Ready stays ours, set by
 * ping.  A changed status gets a new lastTransitionTime. */
static void merge_conditions(cJSON *mine, const cJSON *theirs)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(mine, "conditions");
	if (!cJSON_IsArray(theirs) || !cJSON_IsArray(list))
		return;
	char now[40];
	vk_rfc3339(now, vk_wall_ms(), false);
	const cJSON *c;
	cJSON_ArrayForEach(c, theirs) {
		const char *type = vk_json_str(c, "type");
		const char *status = vk_json_str(c, "status");
		if (!type || !status || strcmp(type, "Ready") == 0)
			continue;
		cJSON *have = NULL, *h;
		cJSON_ArrayForEach(h, list) {
			const char *t = vk_json_str(h, "type");
			if (t && strcmp(t, type) == 0)
				have = h;
		}
		if (!have) {
			have = cJSON_CreateObject();
			set_str(have, "type", type);
			cJSON_AddItemToArray(list, have);
		}
		const char *was = vk_json_str(have, "status");
		if (!was || strcmp(was, status) != 0)
			set_str(have, "lastTransitionTime", now);
		set_str(have, "status", status);
		static const char *const keys[] = {"reason", "message"};
		for (size_t i = 0; i < VK_ARRAY_LEN(keys); i++) {
			const char *v = vk_json_str(c, keys[i]);
			set_str(have, keys[i], v ? v : "");
		}
	}
}

/* Takes what the provider's node_status returned into our Node. */
static void node_status_done(const vk_provider_result *r, void *ud)
{
	vk_node *n = ud;
	n->node_status_busy = false;
	if (n->closing)
		return;
	if (r->err) {
		vk_warn(SUB, "provider node_status failed: %s", r->errmsg ? r->errmsg : "error");
	} else if (cJSON_IsObject(r->value)) {
		const cJSON *st = vk_json_at(r->value, "status");
		cJSON *mine = vk_json_at(n->node, "status");
		static const char *const keys[] = {"capacity", "allocatable", "addresses", "nodeInfo",
		                                   "daemonEndpoints"};
		for (size_t i = 0; st && mine && i < VK_ARRAY_LEN(keys); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, keys[i]);
			if (v)
				set_item(mine, keys[i], cJSON_Duplicate(v, 1));
		}
		if (st && mine)
			merge_conditions(mine, cJSON_GetObjectItemCaseSensitive(st, "conditions"));
	}
	cJSON_Delete(r->value);
	write_status_if_due(n);
}

static void status_tick(uv_timer_t *t)
{
	vk_node *n = t->data;
	if (n->closing || !n->registered || n->node_status_busy)
		return;
	if (vk_provider_has(n->o.provider, VK_CALL_NODE_STATUS)) {
		n->node_status_busy = true;
		if (vk_provider_node_status(n->o.provider, n->node, node_status_done, n) == 0)
			return;
		n->node_status_busy = false;
	}
	write_status_if_due(n);
}

/* ---- ping ----------------------------------------------------------------- */

static void ping_tick(uv_timer_t *t);

/* After a failed ping the next comes after the backoff's wait; after the
 * first good one the timer is back on the period. */
static void ping_reschedule(vk_node *n, bool ok)
{
	if (!ok)
		uv_timer_start(&n->ping_timer, ping_tick, vk_backoff_next(&n->ping_backoff), n->o.ping_ms);
	else if (n->ping_backoff.attempt) {
		vk_backoff_reset(&n->ping_backoff);
		uv_timer_start(&n->ping_timer, ping_tick, n->o.ping_ms, n->o.ping_ms);
	}
}

static void ping_done(const vk_provider_result *r, void *ud)
{
	vk_node *n = ud;
	n->ping_busy = false;
	cJSON_Delete(r->value);
	if (n->closing)
		return;
	bool ready = r->err == 0;
	/* The condition shows the error's first line; the log keeps the traceback. */
	char msg[512];
	snprintf(msg, sizeof msg, "%s", r->errmsg ? r->errmsg : "ping failed");
	msg[strcspn(msg, "\n")] = '\0';
	bool changed = ready != n->ready || (!ready && (!n->not_ready_msg || strcmp(n->not_ready_msg, msg) != 0));
	n->ready = ready;
	free(n->not_ready_msg);
	n->not_ready_msg = ready ? NULL : vk_strdup(msg);
	ping_reschedule(n, ready);
	if (!changed)
		return;
	if (ready)
		vk_info(SUB, "provider ping recovered: node Ready");
	else
		vk_warn(SUB, "provider ping failed, node NotReady: %s", r->errmsg ? r->errmsg : msg);
	vk_node__write_status(n);
}

static void ping_tick(uv_timer_t *t)
{
	vk_node *n = t->data;
	if (n->closing || n->ping_busy || !vk_provider_has(n->o.provider, VK_CALL_PING))
		return;
	n->ping_busy = true;
	if (vk_provider_ping(n->o.provider, ping_done, n) < 0)
		n->ping_busy = false;
}

/* ---- registration ------------------------------------------------------- */

static void registered(vk_node *n, const cJSON *obj)
{
	const cJSON *uid = vk_json_at(obj, "metadata.uid");
	if (cJSON_IsString(uid)) {
		free(n->uid);
		n->uid = vk_strdup(uid->valuestring);
	}
	bool first = !n->ready_cb ? false : true;
	n->registered = true;
	n->registering = false;
	vk_backoff_reset(&n->reg_backoff);
	n->reg_tries = 0;
	free(n->lease_rv);
	n->lease_rv = NULL;
	vk_node__write_status(n);
	vk_node__lease_renew(n);
	if (first) {
		vk_node_ready_cb cb = n->ready_cb;
		n->ready_cb = NULL;
		cb(NULL, n->ready_ud);
	}
}

static void retry_tick(uv_timer_t *t) { vk_node__register(t->data); }

static void retry_later(vk_node *n, const char *why)
{
	uint64_t d = vk_backoff_next(&n->reg_backoff);
	n->reg_tries++;
	/* one line per try, as a progress line: what it waits for, how long */
	vk_warn(SUB, "waiting for the API server to register Node %s: %u %s, next in %.1f s (%s)", n->name,
	        n->reg_tries, n->reg_tries == 1 ? "try" : "tries", (double)d / 1000, why);
	n->registering = false;
	uv_timer_start(&n->retry_timer, retry_tick, d, 0);
}

static void labels_done(const vk_kube_result *r, void *ud)
{
	vk_node *n = ud;
	if (n->closing)
		return;
	if (r->status != 200) {
		retry_later(n, r->error ? r->error : "label update failed");
		return;
	}
	registered(n, r->json);
}

static void create_done(const vk_kube_result *r, void *ud)
{
	vk_node *n = ud;
	if (n->closing)
		return;
	if (r->status == 201 || r->status == 200) {
		vk_info(SUB, "registered Node %s", n->name);
		registered(n, r->json);
		return;
	}
	if (r->status == 409) {
		/* It exists already (a restart): bring our labels onto it. */
		cJSON *patch = cJSON_CreateObject();
		cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
		const cJSON *labels = vk_json_at(n->node, "metadata.labels");
		cJSON_AddItemToObject(md, "labels", labels ? cJSON_Duplicate(labels, 1) : cJSON_CreateObject());
		char *path = vk_asprintf("/api/v1/nodes/%s", n->name);
		int rc = vk_kube_send_json(n->o.kube, "PATCH", path, "application/strategic-merge-patch+json", patch,
		                           labels_done, n);
		free(path);
		cJSON_Delete(patch);
		if (rc < 0)
			retry_later(n, "could not start label update");
		else
			vk_info(SUB, "Node %s exists; updating it", n->name);
		return;
	}
	retry_later(n, r->error ? r->error : "create failed");
}

void vk_node__register(vk_node *n)
{
	if (n->closing || n->registering)
		return;
	n->registering = true;
	cJSON *body = cJSON_Duplicate(n->node, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(vk_json_at(body, "metadata"), "resourceVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(vk_json_at(body, "metadata"), "uid");
	if (vk_kube_send_json(n->o.kube, "POST", "/api/v1/nodes", NULL, body, create_done, n) < 0)
		retry_later(n, "could not start the request");
	cJSON_Delete(body);
}

/* ---- watching our own Node, to re-create it at once if deleted ----------- */

static void watch_tick(uv_timer_t *t) { vk_node__watch_start(t->data); }

/* The Ready condition's status in a Node object, or NULL. */
static const char *ready_status(const cJSON *node)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, vk_json_at(node, "status.conditions")) {
		const char *t = vk_json_str(c, "type");
		if (t && strcmp(t, "Ready") == 0)
			return vk_json_str(c, "status");
	}
	return NULL;
}

static void watch_event(const char *type, cJSON *obj, void *ud)
{
	vk_node *n = ud;
	if (n->closing)
		return;
	if (strcmp(type, "DELETED") == 0) {
		vk_warn(SUB, "Node %s was deleted; registering it again", n->name);
		n->registered = false;
		forget_uid(n);
		vk_node__register(n);
	} else if ((strcmp(type, "MODIFIED") == 0 || strcmp(type, "ADDED") == 0) && n->registered) {
		/* The status is written every 5 min when nothing changes; if
		 * another writer changed our Ready (the node-lifecycle controller
		 * marks it Unknown when the Lease is late), ours goes back now,
		 * as kubelet's next status check would.  ADDED too: a watch
		 * started again (the server ended the last one) begins with the
		 * Node as it is, and a change made while no watch was open comes
		 * only that way. */
		const char *have = ready_status(obj);
		if (have && strcmp(have, n->ready ? "True" : "False") != 0) {
			vk_info(SUB, "Node %s is Ready=%s in the API; writing its status", n->name, have);
			vk_node__write_status(n);
		}
	}
}

static void watch_closed(long status, const char *err, void *ud)
{
	vk_node *n = ud;
	n->watch = NULL;
	if (n->closing)
		return;
	uint64_t d = status == 200 && !err ? 0 : vk_backoff_next(&n->watch_backoff);
	if (!d)
		vk_backoff_reset(&n->watch_backoff);
	uv_timer_start(&n->watch_timer, watch_tick, d, 0);
}

void vk_node__watch_start(vk_node *n)
{
	if (n->closing || n->watch)
		return;
	char *q = vk_asprintf("metadata.name=%s", n->name);
	char *eq = vk_kube_escape(q);
	char *path = vk_asprintf("/api/v1/nodes?watch=true&timeoutSeconds=600&fieldSelector=%s", eq);
	if (vk_kube_watch_start(n->o.kube, path, watch_event, watch_closed, n, &n->watch) < 0)
		uv_timer_start(&n->watch_timer, watch_tick, vk_backoff_next(&n->watch_backoff), 0);
	free(path);
	free(eq);
	free(q);
}

/* ---- life cycle ----------------------------------------------------------- */

int vk_node_start(vk_node *n, vk_node_ready_cb cb, void *ud)
{
	n->ready_cb = cb;
	n->ready_ud = ud;
	vk_node__register(n);
	vk_node__lease_start(n);
	uv_timer_start(&n->ping_timer, ping_tick, 0, n->o.ping_ms);
	uv_timer_start(&n->status_timer, status_tick, check_ms(n), check_ms(n));
	vk_node__watch_start(n);
	vk_kube_link_listen(n->o.kube, vk_node__on_link, n);
	return 0;
}

static void on_close(uv_handle_t *h)
{
	vk_node *n = h->data;
	if (--n->open_handles > 0)
		return;
	cJSON_Delete(n->node);
	free(n->status_sent);
	free(n->uid);
	free(n->lease_rv);
	free(n->not_ready_msg);
	free(n->name);
	free(n);
}

void vk_node_close(vk_node *n)
{
	if (!n || n->closing)
		return;
	n->closing = true;
	vk_kube_link_unlisten(n->o.kube, vk_node__on_link, n);
	vk_kube_cancel(n->resync_call);
	n->resync_call = NULL;
	if (n->watch)
		vk_kube_watch_stop(n->watch);
	n->watch = NULL;
	uv_close((uv_handle_t *)&n->lease_timer, on_close);
	uv_close((uv_handle_t *)&n->ping_timer, on_close);
	uv_close((uv_handle_t *)&n->status_timer, on_close);
	uv_close((uv_handle_t *)&n->retry_timer, on_close);
	uv_close((uv_handle_t *)&n->watch_timer, on_close);
}
