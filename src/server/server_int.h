/* src/server/server_int.h - internals shared by the kubelet API's files.
 *
 * Ownership:
 *   vk_server   owns the h2o configuration and context, the SSL_CTX, the
 *               listener and a drain timer.  vk_server_close starts the
 *               shutdown; the struct is freed from the drain timer's close
 *               callback once no connection and no provider call is left.
 *   vk_server_call one request waiting for the provider.  It holds the server
 *               (s->calls) and is freed when the provider answers; the h2o
 *               request it answers may go away first (client gone), which
 *               the request pool's dispose hook tells it. */
#ifndef VK_SERVER_INT_H
#define VK_SERVER_INT_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vk/host.h"
#include "vk/kube.h"
#include "vk/list.h"
#include "vk/server.h"
#include "vk/util.h"

typedef struct vk_server_call vk_server_call;
typedef struct vk_server_token_cache vk_server_token_cache;
typedef struct vk_server_cert vk_server_cert;

/* What the core applies to a provider's logs (-1: no limit). */
typedef struct {
	long long tail_lines;
	long long limit_bytes;
	bool follow;
} vk_server_log_limits;

typedef struct {
	h2o_handler_t super;
	vk_server *s;
} vk_server_handler;

struct vk_server {
	uv_loop_t *loop;
	vk_provider *provider;
	char *nodename;
	uint64_t start_wall_ms;
	int port;
	bool client_auth;    /* a client CA was given */
	bool anonymous_auth; /* no certificate: system:anonymous, not 401 */
	bool metrics_only;   /* --metrics-addr: plain HTTP, /metrics and /healthz */
	vk_kube *kube;       /* SubjectAccessReviews; NULL: AlwaysAllow */
	vk_kube *api;        /* TokenReviews and the serving certificate's CSRs */
	bool token_webhook;  /* bearer tokens are reviewed (authn.c) */
	unsigned token_ttl_ms;
	vk_server_token_cache *tokens; /* authn.c; made at the first token */
	vk_server_cert *cert;          /* serving_cert.c: the CSR bootstrap, or NULL */
	vk_map *authz;                 /* "user|groups|verb|sub" -> authz_entry */
	vk_list reviews;               /* vk_server_call waiting for a SubjectAccessReview */
	SSL_CTX *ssl;
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept;
	uv_tcp_t listener;
	bool listening; /* listener initialised, not yet closed */
	uv_timer_t drain;
	unsigned conns; /* accepted TCP handles not yet closed */
	unsigned calls; /* vk_server_call alive */
	bool closing;
	bool disposed;
	vk_list streams;                     /* vk_server_sst: exec/attach sessions, port-forward pairs */
	vk_list pfs;                         /* vk_server_pf: port-forward connections */
	vk_server_pod_names_fn pod_names_fn; /* /pods from the pod controller (pod_list.c), or NULL */
	vk_server_pod_fn pod_fn;             /* one of them by name, or NULL */
	void *pods_ud;
	char *fs_path;        /* statvfs for the node's fs (the state dir), or NULL: "/" */
	vk_host_sampler host; /* stats.c: the previous host sample, for the CPU rate */
};

/* pod_list.c: GET /pods from the pod controller, streamed; the largest
 * chunk the listings finished since the last call made (for the unit test). */
void vk_server__pod_list(vk_server *s, h2o_req_t *req);
size_t vk_server__pod_list_max_chunk(void);

/* tls.c: the SSL_CTX with the serving certificate and client CA. */
SSL_CTX *vk_server__tls_new(const vk_server_opts *o, char **err);
/* Serves chain_pem (the leaf first) with key_pem on connections accepted
 * from now on; those open keep theirs.  0, or -EINVAL with *err. */
/* Adds "DNS:name" or "IP:name" to a comma-separated SAN list, once. */
void vk_server__add_san(vk_buf *sans, const char *name);
int vk_server__tls_install(SSL_CTX *ctx, const char *chain_pem, const char *key_pem, char **err);
/* The verified client certificate's user (subject CN) and groups (each O),
 * both malloc'd, or false when the connection has none. */
bool vk_server__tls_peer(vk_server *s, h2o_req_t *req, char **user, cJSON **groups);

/* A request waiting for the provider or the API server.  `slot` lives in
 * the request's pool: it tells the call that h2o dropped the request (the
 * client went away); the call detaches before answering. */
typedef struct {
	vk_server_call *c;
} vk_server_call_slot;

enum { VK_SERVER_CALL_AUTHZ = 0, VK_SERVER_CALL_HOST = 100 }; /* routes.c numbers its kinds between */

struct vk_server_call {
	vk_server *s;
	h2o_req_t *req; /* NULL once h2o disposed the request */
	vk_server_call_slot *slot;
	int kind;
	vk_server_log_limits lim; /* containerLogs */
	char *what;               /* "containerLogs ns/pod/container", for messages */
	vk_kube_call *review;     /* authz: the SubjectAccessReview in flight */
	char *key;                /* authz: the cache key */
	vk_list link;             /* authz: s->reviews */
};

vk_server_call *vk_server__call_new(vk_server *s, h2o_req_t *req, int kind, char *what); /* takes what */
void vk_server__call_detach(vk_server_call *c);
void vk_server__call_free(vk_server_call *c);
void vk_server__send_text(h2o_req_t *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vk_server__send_body(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len);

/* stats.c: answers /stats/summary (JSON) or /metrics/resource (Prometheus
 * text, with scrape_error 1 when the provider failed) from sum (taken)
 * once the host is read; req must be alive now. */
enum { VK_SERVER_STATS_JSON, VK_SERVER_STATS_PROM, VK_SERVER_STATS_PROM_ERROR };
void vk_server__stats_answer(vk_server *s, h2o_req_t *req, cJSON *sum, int mode);
/* The first host sample, at start (the CPU rate needs two). */
void vk_server__stats_start(vk_server *s);
/* Pure, unit-tested: the text metrics-server reads, from a Summary;
 * timestamps in ms (now_ms where the summary has none). */
char *vk_server__resource_metrics(const cJSON *sum, bool scrape_error, uint64_t now_ms, size_t *len);
uint64_t vk_server__rfc3339_ms(const char *s); /* 0: not RFC 3339 */

/* routes.c: a container_logs result as the answer (value not taken). */
void vk_server__answer_logs(vk_server_call *c, h2o_req_t *req, const vk_provider_result *r);
/* logs_follow.c: streams container_logs(..., out) to c's request; c is then
 * the follow's.  A negative errno when the provider refused (-ENOSYS: it
 * cannot stream); c is still the caller's then. */
int vk_server__follow_logs(vk_server *s, vk_server_call *c, const char *ns, const char *pod, const cJSON *args);
/* The vk_server_log_follows gauge (made at the first call). */
struct vk_metric *vk_server__follows_gauge(void);

/* authz.c: 1 when the request may go on now, 0 when a review will answer
 * it (dispatch or 403), -1 when it was answered (403, 500). */
int vk_server__authorize(vk_server *s, h2o_req_t *req, const char *user, const cJSON *groups, const char *seg0);

/* authn.c: finds who the client is (certificate, bearer token, anonymous),
 * then authorizes and dispatches the request, or answers 401.  Tokens are
 * reviewed asynchronously (the call waits in s->reviews). */
void vk_server__authenticate(vk_server *s, h2o_req_t *req);
void vk_server__authn_close(vk_server *s); /* frees the token cache */

/* token_cache.c: pure, on a clock the caller passes (unit-tested). */
typedef struct {
	bool authenticated;
	char *user;    /* NULL when not authenticated */
	cJSON *groups; /* array, or NULL */
	uint64_t until_ms;
} vk_server_token_entry;
/* ttl_ms 0: nothing is kept; at most max entries. */
vk_server_token_cache *vk_server__token_cache_new(unsigned ttl_ms, size_t max);
void vk_server__token_cache_free(vk_server_token_cache *c);
/* The cache key of a token: its SHA-256 in hex (the token is never kept). */
void vk_server__token_key(const char *token, size_t len, char out[65]);
/* The entry for key, or NULL; *fresh tells whether it is still valid at
 * now_ms (an expired one is returned for the caller to judge). */
const vk_server_token_entry *vk_server__token_cache_get(const vk_server_token_cache *c, const char *key,
                                                        uint64_t now_ms, bool *fresh);
/* Keeps the answer until now_ms + ttl.  When the cache is full, expired
 * entries are dropped first; false when it is still full (not kept). */
bool vk_server__token_cache_put(vk_server_token_cache *c, const char *key, bool authenticated, const char *user,
                                const cJSON *groups, uint64_t now_ms);
size_t vk_server__token_cache_len(const vk_server_token_cache *c);

/* csr.c: pure, unit-tested.  The SANs of the node's serving certificate:
 * its name and each of its status.addresses ("DNS:n,IP:a", malloc'd). */
char *vk_server__serving_sans(const char *nodename, const cJSON *node);
/* A new ECDSA P-256 key (PEM in *key_pem) and its PKCS#10 request (the
 * returned PEM) for CN system:node:NODENAME, O system:nodes, these SANs;
 * NULL with *err.  Both malloc'd. */
char *vk_server__csr_make(const char *nodename, const char *sans, char **key_pem, char **err);
/* The first certificate of pem: notBefore and notAfter in ms since the
 * epoch; -EINVAL when there is none. */
int vk_server__cert_validity(const char *pem, int64_t *not_before_ms, int64_t *not_after_ms);
/* Whether the first certificate of pem is valid for every name of sans
 * ("DNS:n,IP:a"); false when there is none. */
bool vk_server__cert_covers(const char *pem, const char *sans);
/* When to renew: notBefore + (0.7 + 0.2 r) of the lifetime, r in [0, 1]. */
int64_t vk_server__rotation_deadline(int64_t not_before_ms, int64_t not_after_ms, double r);

/* serving_cert.c: the kubelet-serving certificate from the cluster (a CSR),
 * installed into s->ssl once issued and rotated before it expires. */
int vk_server__cert_start(vk_server *s, const vk_server_opts *o, char **err);
void vk_server__cert_close(vk_server *s);

/* routes.c: the one h2o handler; dispatches on the path. */
int vk_server__on_req(h2o_handler_t *self, h2o_req_t *req);
void vk_server__dispatch(vk_server *s, h2o_req_t *req);
/* Answers the calls waiting for a SubjectAccessReview with 503 (the kube
 * client is closed right after the server), and frees the cache. */
void vk_server__authz_close(vk_server *s);
/* Called when a vk_server_call ends, to let a closing server finish. */
void vk_server__maybe_done(vk_server *s);

/* h2o_compat.c: see there; called once so that the file is linked. */
void vk_server__h2o_compat(void);

/* ---- query.c: pure parsing, unit-tested --------------------------------- */

/* Percent-decodes s[0..len) into a malloc'd string ("+" stays "+" in paths,
 * becomes " " in queries).  NULL on a bad escape or an embedded NUL. */
char *vk_server__unescape(const char *s, size_t len, bool query);

/* Splits an absolute path ("/a/b%2Fc/d", no query) into at most max
 * decoded segments (malloc'd each).  Returns how many, or -EINVAL (bad
 * escape, empty segment, more than max).  A trailing "/" is allowed. */
int vk_server__split_path(const char *path, size_t len, char **segs, int max);

/* The value of key in a query string ("a=1&b=x%20y"), malloc'd; NULL when
 * absent.  A key without "=" has the value "".  The last one wins.
 * *bad is set when the query has a bad escape. */
char *vk_server__query_get(const char *q, size_t len, const char *key, bool *bad);

/* kubelet's PodLogOptions query -> the provider's opts object (see
 * vk/provider.h).  Also fills the limits the core applies afterwards
 * (-1: none).  NULL with *err (malloc'd) on a bad value. */
cJSON *vk_server__log_opts(const char *q, size_t len, vk_server_log_limits *lim, char **err);

/* The part of text[0..len) to send: its last tail_lines lines (a final
 * "\n" ends the last line, it does not start another), then at most
 * limit_bytes of them.  Sets *off and returns the length. */
/* kubelet's request attributes: the verb of an HTTP method ("get",
 * "create", ...) and the nodes subresource of a path's first segment
 * ("stats", "metrics", "log", "spec", else "proxy"). */
const char *vk_server__authz_verb(const char *method, size_t len);
const char *vk_server__authz_subresource(const char *first_segment);

size_t vk_server__log_trim(const char *text, size_t len, const vk_server_log_limits *lim, size_t *off);

#endif
