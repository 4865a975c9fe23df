/* Private to src/node: the controller's state, shared by its files. */
#ifndef VK_NODE_INT_H
#define VK_NODE_INT_H

#include "vk/json.h"
#include "vk/node.h"
#include "vk/util.h"

struct vk_node {
	vk_node_opts o;
	char *name;
	cJSON *node; /* what we register and keep writing */
	char *uid;   /* the registered Node's uid (lease owner) */
	bool registered, registering, closing;
	bool ready; /* last ping result */
	char *not_ready_msg;

	vk_node_ready_cb ready_cb;
	void *ready_ud;

	uv_timer_t lease_timer, ping_timer, status_timer, retry_timer;
	int open_handles;

	/* lease */
	char *lease_rv; /* resourceVersion of our Lease, NULL until known */
	bool lease_busy;
	bool lease_owner_sent;    /* the last lease written named the Node as its owner */
	vk_kube_call *lease_call; /* the lease call in flight, if any */
	uint64_t lease_last_ok_ms;
	unsigned lease_failed;          /* renewals that failed or were abandoned since the last good one */
	uint64_t lease_started_wall_ms; /* the renewal in flight started then: its renewTime */

	/* status writes: at most one in flight, a later request marks it dirty */
	bool status_busy, status_dirty, ping_busy, node_status_busy;
	vk_kube_call *status_call;
	bool ready_transition;     /* the API's Ready differs from ours: a new lastTransitionTime */
	vk_kube_call *resync_call; /* reconnect.c: reading the Node back */
	char *status_sent;         /* the status last written, heartbeats left out */
	uint64_t status_sent_ms;   /* ... and when */

	vk_kube_watch *watch;
	vk_backoff reg_backoff, watch_backoff;
	vk_backoff ping_backoff; /* while pings fail: 1 s doubling to the period */
	unsigned reg_tries;      /* registrations that failed in a row, for the progress line */
	uv_timer_t watch_timer;
};

/* lease.c: the Lease object to write (pure: the time is given), and what
 * follows a write's answer. */
cJSON *vk_node__lease_body(const char *name, const char *uid, const char *rv, unsigned duration_s, uint64_t wall_ms);
typedef enum {
	VK_NODE_LEASE_RENEWED,    /* keep the new resourceVersion; next renewal on the timer */
	VK_NODE_LEASE_AGAIN_NOW,  /* 404/409: forget the version, read or create it again now */
	VK_NODE_LEASE_AGAIN_SOON, /* other failures: again after VK_NODE_LEASE_RETRY_MS */
} vk_node_lease_next;
#define VK_NODE_LEASE_RETRY_MS 1000
vk_node_lease_next vk_node__lease_next(long status);
void vk_node__lease_start(vk_node *n);
void vk_node__lease_renew(vk_node *n);
void vk_node__register(vk_node *n);
void vk_node__write_status(vk_node *n);
void vk_node__watch_start(vk_node *n);
void vk_node__on_link(bool up, void *ud); /* reconnect.c */

/* Unary calls of the node controller get as long as kubelet's heartbeat
 * client does: a lease renewal that waits longer is on a dead link. */
#define VK_NODE_CALL_MS 10000

/* The provider's node_status is asked this often (kubelet's
 * --node-status-update-frequency); the status is written when it changed,
 * and at least every status_ms. */
#define VK_NODE_CHECK_MS 10000

/* A failed ping is tried again after this, doubling up to the period. */
#define VK_NODE_PING_RETRY_MS 1000

#endif
