/* vk/node.h - the Node controller: registration, NodeStatus, the Lease,
 * ping, and re-creation of a deleted Node. */
#ifndef VK_NODE_H
#define VK_NODE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <uv.h>

#include "vk/kube.h"
#include "vk/provider.h"

typedef struct {
	uv_loop_t *loop;
	vk_kube *kube;
	vk_provider *provider;
	const char *name; /* the Node's name */
	bool disable_taint;
	int port;                  /* kubelet API port (daemonEndpoints) */
	unsigned lease_duration_s; /* 0: 40 */
	unsigned lease_renew_ms;   /* 0: 10000 */
	unsigned ping_ms;          /* 0: 10000 */
	unsigned status_ms;        /* 0: 300000: NodeStatus written at least this often */
} vk_node_opts;

typedef struct vk_node vk_node;

/* The Node object vk proposes before the provider's init edits it: kubelet's
 * labels, the taint, default capacity and conditions, addresses, nodeInfo.
 * Caller owns the result. */
cJSON *vk_node_template(const vk_node_opts *o, const char *provider_name);

/* Removes labels the NodeRestriction admission plugin forbids a node to set
 * on itself, logging one warning that names them.  Returns how many it
 * dropped.  Pure: used by the controller and the unit tests. */
int vk_node_filter_labels(cJSON *labels, char **dropped);
bool vk_node_label_allowed(const char *key);

/* Takes `node` (the template after init).  vk_node_start registers it and
 * starts the lease, ping and status timers; `ready_cb` is called once the
 * Node exists in the API (err NULL) or registration failed for good. */
typedef void (*vk_node_ready_cb)(const char *err, void *ud);
vk_node *vk_node_new(const vk_node_opts *o, cJSON *node);
int vk_node_start(vk_node *n, vk_node_ready_cb cb, void *ud);
void vk_node_close(vk_node *n);

/* The current Node object (borrowed), e.g. for status.hostIP. */
const cJSON *vk_node_object(const vk_node *n);
/* The first InternalIP address, or NULL. */
const char *vk_node_internal_ip(const vk_node *n);
/* An Event on the Node (hot-reload results, provider failures). */
void vk_node_event(vk_node *n, const char *type, const char *reason, const char *msg);

#endif
