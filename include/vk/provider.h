/* vk/provider.h - the one interface between the controllers and a provider.
 *
 * The pod and node controllers call a provider only through these
 * functions; they never see a lua_State.  The Lua host (vk/lua.h)
 * implements the interface; a test may implement it in C.
 *
 * Every call is asynchronous (a Lua callback may yield on I/O).  As in
 * libuv, a call that returns an error never invokes its callback:
 *   -ENOSYS  the provider does not implement this optional callback;
 *   -ESHUTDOWN the provider is closing.
 * The result's `value` is handed to the receiver, which must cJSON_Delete it. */
#ifndef VK_PROVIDER_H
#define VK_PROVIDER_H

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>

#include "vk/stream.h"

typedef enum {
	VK_CALL_CREATE_POD,
	VK_CALL_UPDATE_POD,
	VK_CALL_DELETE_POD,
	VK_CALL_GET_POD,
	VK_CALL_GET_POD_STATUS,
	VK_CALL_GET_PODS,
	VK_CALL_PING,
	VK_CALL_NODE_STATUS,
	VK_CALL_CONTAINER_LOGS, /* container_logs(ns, pod, container, opts) -> string */
	VK_CALL_STATS_SUMMARY,  /* stats_summary() -> a kubelet Summary object */
	VK_CALL_EXEC,           /* exec(ns, pod, container, cmd, stream) -> exit code */
	VK_CALL_ATTACH,         /* attach(ns, pod, container, stream) -> exit code */
	VK_CALL_PORT_FORWARD,   /* port_forward(ns, pod, port, stream) */
	VK_CALL__COUNT
} vk_provider_call;

/* "create_pod", "get_pod_status", ...: the Lua callback's name. */
static inline const char *vk_provider_call_name(vk_provider_call c)
{
	static const char *const names[VK_CALL__COUNT] = {
		[VK_CALL_CREATE_POD] = "create_pod",
		[VK_CALL_UPDATE_POD] = "update_pod",
		[VK_CALL_DELETE_POD] = "delete_pod",
		[VK_CALL_GET_POD] = "get_pod",
		[VK_CALL_GET_POD_STATUS] = "get_pod_status",
		[VK_CALL_GET_PODS] = "get_pods",
		[VK_CALL_PING] = "ping",
		[VK_CALL_NODE_STATUS] = "node_status",
		[VK_CALL_CONTAINER_LOGS] = "container_logs",
		[VK_CALL_STATS_SUMMARY] = "stats_summary",
		[VK_CALL_EXEC] = "exec",
		[VK_CALL_ATTACH] = "attach",
		[VK_CALL_PORT_FORWARD] = "port_forward",
	};
	return (unsigned)c < VK_CALL__COUNT ? names[c] : "unknown";
}

typedef struct {
	int err;            /* 0, or a negative errno (-ECANCELED, -ETIMEDOUT, -EIO) */
	const char *errmsg; /* Lua's message with file:line, e.g.
	                       "providers/mock.lua:40: boom"; NULL when err == 0.
	                       The Lua host may append a traceback after a
	                       '\n': use the first line for Events. */
	cJSON *value;       /* the callback's return value as JSON, NULL for nil;
	                       owned by the receiver */
} vk_provider_result;

typedef void (*vk_provider_cb)(const vk_provider_result *r, void *ud);

/* pod_or_status is owned by the receiver.  It is either a whole Pod
 * (has "metadata") or {namespace=, name=, status=} as vk.notify documents. */
typedef void (*vk_provider_notify_cb)(cJSON *pod_or_status, void *ud);

typedef struct vk_provider vk_provider;

typedef struct {
	/* Starts callback `c`.  `pod` for create/update/delete, `ns`+`name` for
	 * get_pod/get_pod_status, `node` for node_status; for container_logs
	 * `ns`+`name` and in `pod` the arguments {"container": NAME, "opts":
	 * {tailLines=, ...}} (see vk_provider_container_logs); others NULL. */
	int (*call)(vk_provider *p, vk_provider_call c, const cJSON *pod, const char *ns, const char *name,
	            vk_provider_cb cb, void *ud);
	bool (*has)(vk_provider *p, vk_provider_call c);
	/* exec, attach, port_forward: as call, with `args` {"container": NAME,
	 * "command": [...]} or {"port": N} and the session `st` (vk/stream.h),
	 * which the provider holds a reference on until it calls st->ops->unref.
	 * The result's value is the exit code (a number), null, or
	 * {"error": MESSAGE} for `return nil, err`.  NULL: no streaming. */
	int (*call_stream)(vk_provider *p, vk_provider_call c, const cJSON *args, const char *ns, const char *name,
	                   vk_stream *st, vk_provider_cb cb, void *ud);
	void (*close)(vk_provider *p); /* in-flight callbacks end with -ECANCELED */
} vk_provider_iface;

struct vk_provider {
	const vk_provider_iface *iface;
	const char *name;             /* "mock", used for the node taint */
	vk_provider_notify_cb notify; /* set by the pod controller */
	void *notify_ud;
};

static inline int vk_provider_create_pod(vk_provider *p, const cJSON *pod, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_CREATE_POD, pod, NULL, NULL, cb, ud);
}
static inline int vk_provider_update_pod(vk_provider *p, const cJSON *pod, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_UPDATE_POD, pod, NULL, NULL, cb, ud);
}
static inline int vk_provider_delete_pod(vk_provider *p, const cJSON *pod, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_DELETE_POD, pod, NULL, NULL, cb, ud);
}
static inline int vk_provider_get_pod(vk_provider *p, const char *ns, const char *name, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_GET_POD, NULL, ns, name, cb, ud);
}
static inline int vk_provider_get_pod_status(vk_provider *p, const char *ns, const char *name, vk_provider_cb cb,
                                             void *ud)
{
	return p->iface->call(p, VK_CALL_GET_POD_STATUS, NULL, ns, name, cb, ud);
}
static inline int vk_provider_get_pods(vk_provider *p, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_GET_PODS, NULL, NULL, NULL, cb, ud);
}
static inline int vk_provider_ping(vk_provider *p, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_PING, NULL, NULL, NULL, cb, ud);
}
static inline int vk_provider_node_status(vk_provider *p, const cJSON *node, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_NODE_STATUS, node, NULL, NULL, cb, ud);
}
/* args: {"container": "main", "opts": {"tailLines": 10, "timestamps": true, ...}}
 * (opts: the PodLogOptions query names that were given: tailLines,
 * limitBytes, sinceSeconds as numbers; timestamps, previous, follow as
 * booleans; sinceTime as a string).  The result's value is a string. */
static inline int vk_provider_container_logs(vk_provider *p, const char *ns, const char *name, const cJSON *args,
                                             vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_CONTAINER_LOGS, args, ns, name, cb, ud);
}
static inline int vk_provider_stats_summary(vk_provider *p, vk_provider_cb cb, void *ud)
{
	return p->iface->call(p, VK_CALL_STATS_SUMMARY, NULL, NULL, NULL, cb, ud);
}
/* exec/attach/port_forward (see call_stream above); -ENOSYS without it. */
static inline int vk_provider_stream(vk_provider *p, vk_provider_call c, const cJSON *args, const char *ns,
                                     const char *name, vk_stream *st, vk_provider_cb cb, void *ud)
{
	if (!p->iface->call_stream)
		return -ENOSYS;
	return p->iface->call_stream(p, c, args, ns, name, st, cb, ud);
}
static inline bool vk_provider_has(vk_provider *p, vk_provider_call c) { return p->iface->has(p, c); }
/* Closes the provider: callbacks in flight end with -ECANCELED; p is gone after. */
static inline void vk_provider_close(vk_provider *p) { p->iface->close(p); }
static inline void vk_provider_set_notify(vk_provider *p, vk_provider_notify_cb cb, void *ud)
{
	p->notify = cb;
	p->notify_ud = ud;
}

#endif
