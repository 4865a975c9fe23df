/* vk/server.h - the kubelet HTTP API (what the API server calls on :10250).
 *
 * HTTPS (h2o on vk's libuv loop), HTTP/1.1 and HTTP/2:
 *   GET /healthz                        "ok" (also to anonymous clients)
 *   GET /pods                           PodList of the pods bound to the node as
 *                                       the pod controller knows them (the
 *                                       store's while the API server cannot be
 *                                       reached), with the provider's latest
 *                                       statuses; without vk_server_set_pods,
 *                                       the provider's get_pods()
 *   GET /runningpods/                   PodList of the provider's get_pods()
 *   GET /containerLogs/NS/POD/CONTAINER ?tailLines=&limitBytes=&timestamps=
 *                                       &previous=&sinceSeconds=&sinceTime=&follow=
 *                                       text from the provider's container_logs
 *   GET /stats/summary                  the provider's stats_summary(), else a
 *                                       minimal summary (node name, start time,
 *                                       pod references), with the node's CPU,
 *                                       memory, fs, network from the host
 *                                       (vk/host.h) unless the provider gave them
 *   GET /metrics/resource               the same as the Prometheus text that
 *                                       metrics-server reads (nodes/metrics)
 *   /exec, /attach, /portForward        SPDY/3.1 upgrades (kubelet's remotecommand
 *                                       and portforward protocols) to the
 *                                       provider's exec, attach, port_forward
 *                                       (vk/stream.h; src/server/README.md)
 *   /run                                501
 *   GET /metrics                        Prometheus text (vk/metrics.h); with
 *                                       metrics_only, plain HTTP without
 *                                       authentication serving only this and
 *                                       /healthz (--metrics-addr)
 *
 * Serving certificate: tls_cert_file + tls_key_file, else a self-signed one
 * made in memory for the node's name and addresses (as kubelet does); with
 * cert_dir and api as well, vk asks the cluster for one (a
 * kubernetes.io/kubelet-serving CertificateSigningRequest), serves it once
 * it is approved and issued, keeps it in cert_dir and renews it before it
 * expires (kubelet's serverTLSBootstrap; src/server/README.md).
 * Clients, in kubelet's order: a client certificate that verifies against
 * client_ca_file is authenticated (the API server's
 * apiserver-kubelet-client: CN is the user, each O a group; a bad
 * certificate fails the handshake); else with token_webhook, a bearer
 * token is who a TokenReview to `api` says (answers cached
 * token_cache_ttl_ms; a rejected token is 401); else the request is
 * anonymous: 401, except /healthz, unless anonymous_auth (kubelet's
 * --anonymous-auth) is set: then it is the user system:anonymous in the
 * group system:unauthenticated and is authorized like any other.
 * Authorization as kubelet's --authorization-mode: with `kube`, Webhook: a
 * SubjectAccessReview for verb (get, create...) on nodes/NODENAME with
 * subresource stats, metrics, log, spec or proxy (everything else), answers
 * cached 5 min (allowed) / 30 s (denied), 403 when denied; without `kube`,
 * AlwaysAllow.
 *
 * follow=true is not streamed yet: the logs that exist are sent and the
 * response ends.  tailLines and limitBytes are applied again by the core to
 * whatever the provider returns, so a provider may ignore them. */
#ifndef VK_SERVER_H
#define VK_SERVER_H

#include <cjson/cJSON.h>
#include <uv.h>

#include "vk/provider.h"

typedef struct {
	uv_loop_t *loop;
	vk_provider *provider; /* borrowed; must outlive vk_server_close */
	const char *nodename;
	const char *address;       /* "0.0.0.0", "127.0.0.1", "::" ... */
	int port;                  /* 0: any free port (see vk_server_port) */
	const char *tls_cert_file; /* PEM, may hold the chain; NULL: self-signed */
	const char *tls_key_file;
	const char *client_ca_file;    /* PEM bundle; NULL: only /healthz is served */
	vk_kube *kube;                 /* NULL: AlwaysAllow; else SubjectAccessReviews
	                                  (must outlive vk_server_close) */
	bool anonymous_auth;           /* a request without a client certificate is
	                                  system:anonymous, not a 401 */
	const cJSON *node;             /* the Node object, read during vk_server_new
	                                  for the self-signed certificate's names */
	bool metrics_only;             /* no TLS, no authentication: /metrics and
	                                  /healthz only (--metrics-addr) */
	vk_kube *api;                  /* for TokenReviews and the serving
	                                  certificate's CSRs; NULL: neither (must
	                                  outlive vk_server_close) */
	bool token_webhook;            /* bearer tokens are checked with a TokenReview
	                                  (--authentication-token-webhook) */
	unsigned token_cache_ttl_ms;   /* how long a review's answer is kept (0:
	                                  not at all; kubelet's default 2 min) */
	const char *cert_dir;          /* without tls_cert_file: where the certificate
	                                  the cluster issues is kept; NULL: only the
	                                  self-signed one (--cert-dir) */
	unsigned cert_rotate_after_ms; /* 0: renew at a random 70-90 % of the
	                                  certificate's life, as kubelet; else
	                                  this long after it was installed */
	const char *fs_path;           /* the node's filesystem in /stats/summary
	                                  (vk's state dir); NULL or missing: "/" */
} vk_server_opts;

typedef struct vk_server vk_server;

/* Loads or makes the certificate and listens.  Returns the server, or NULL
 * with *err (malloc'd, e.g. "--tls-cert-file x.crt: No such file...").
 * The certificate files are read here, before the loop serves anything. */
vk_server *vk_server_new(const vk_server_opts *o, char **err);

/* Where /pods comes from once the pod controller runs: names_fn hands each
 * pod's namespace and name to cb (and returns how many), get_fn builds one
 * pod by namespace and name (the caller frees it; NULL when there is none).
 * /pods takes the names, then builds, sends and frees one pod after
 * another, a chunk at a time, never a tree of every pod; exec, attach,
 * port-forward and logs check their one pod with get_fn.  NULL fns: the
 * provider's get_pods again. */
typedef void (*vk_server_pod_name_cb)(const char *ns, const char *name, void *arg);
typedef size_t (*vk_server_pod_names_fn)(void *ud, vk_server_pod_name_cb cb, void *arg);
typedef cJSON *(*vk_server_pod_fn)(void *ud, const char *ns, const char *name);
void vk_server_set_pods(vk_server *s, vk_server_pod_names_fn names_fn, vk_server_pod_fn get_fn, void *ud);

/* The port it listens on (useful after port 0). */
int vk_server_port(const vk_server *s);

/* Stops listening, asks the open connections to finish and stops calling
 * the provider.  Calls already at the provider get their answer (or 503
 * when the provider is closed meanwhile); the memory is released once the
 * last connection is gone.  Call before closing the provider. */
void vk_server_close(vk_server *s);

#endif
