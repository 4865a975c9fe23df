/* Private to src/app: the running agent, shared by wiring.c and reload.c. */
#ifndef VK_APP_INT_H
#define VK_APP_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

#include "vk/app.h"
#include "vk/fswatch.h"
#include "vk/http.h"
#include "vk/kube.h"
#include "vk/lua.h"
#include "vk/node.h"
#include "vk/pod.h"
#include "vk/provider.h"
#include "vk/server.h"
#include "vk/store.h"

#define SUB "main"

typedef struct {
	vk_app_options o;
	uv_loop_t *loop;
	vk_http *http;
	vk_kube *kube;
	vk_provider *provider;
	vk_node *node;
	vk_pods *pods;
	vk_server *server;         /* the kubelet API; NULL with --port 0 */
	vk_server *metrics_server; /* --metrics-addr (metrics.c); NULL without */
	vk_store *store;           /* the local store (--store, --state-dir) */
	vk_store_wb *wb;           /* its write-behind: the pod controller's edge cache */
	bool have_state_key;       /* --state-key-file given: Secrets may be persisted */
	uint8_t state_key[VK_STORE_KEY_LEN];
	char state_dir[4096]; /* the default --state-dir, /var/lib/vk/NODENAME */
	cJSON *node_obj;      /* the template, until the node controller takes it */
	cJSON *config;        /* --provider-config */
	uv_signal_t sigint, sigterm, sighup;
	uv_timer_t trim;            /* gives freed heap pages back to the system */
	uv_timer_t startup, resync; /* --startup-timeout, --full-resync-period (startup.c) */
	uv_timer_t pods_wait;       /* with a store: pods start when registered, or after VK_APP_PODS_WAIT_MS */
	bool registered;            /* the Node exists in the API */
	vk_fswatch *watch;          /* NULL with --no-reload */
	bool reloading;             /* a reload runs ... */
	bool reload_again;          /* ... and another change came meanwhile */
	uint64_t reload_seen_ms, reload_start_ms;
	cJSON *reload_node; /* the Node handed to the new version's init */
	int exit_code;
	bool stopping;
	bool flushing; /* a signal came: the edge cache is written, then stop */
	uint64_t t0;
} vk_app;

/* reload.c */
void vk_app__watch_start(vk_app *a); /* unless --no-reload */
void vk_app__on_sighup(uv_signal_t *s, int signum);
void vk_app__code_hash(vk_provider *p, char out[17]);
/* notify.c: systemd's Type=notify (nothing without $NOTIFY_SOCKET) */
void vk_app__notify_ready(vk_app *a); /* the Node is registered */
void vk_app__notify_stopping(vk_app *a);
/* $NOTIFY_SOCKET's value (a path, or "@name": abstract) as an address:
 * 0, -ENOENT (empty), -EAFNOSUPPORT (neither), -ENAMETOOLONG. */
int vk_app__notify_addr(const char *spec, struct sockaddr_un *sa, socklen_t *len);
/* One datagram `state` to that socket: 0 or a negative errno. */
int vk_app__notify_send(const char *spec, const char *state);
/* wiring.c */
void vk_app__node_event(vk_app *a, const char *type, const char *reason, const char *msg);
void vk_app__stop(vk_app *a, int code);
/* malloc_tune.c: glibc malloc settings, before the agent allocates much. */
void vk_app__malloc_tune(void);
/* metrics.c: the families and collectors; --metrics-addr once the provider
 * is there (the server wants one), closed with the kubelet API. */
int vk_app__metrics_start(vk_app *a);
void vk_app__metrics_close(vk_app *a);
/* startup.c */
void vk_app__node_flags(cJSON *node, const vk_app_options *o); /* --node-ip, --os */
/* With a store the pods start from it without the API server, but not
 * before the Node's registration had this long: a restarted vk's
 * registration, status and Lease go out ahead of its pods' writes. */
#define VK_APP_PODS_WAIT_MS 2000

void vk_app__timers_start(vk_app *a);
void vk_app__timers_close(vk_app *a);

#endif
