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

#include "vk/kube.h"
#include "vk/list.h"
#include "vk/server.h"
#include "vk/util.h"

typedef struct vk_server_call vk_server_call;

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
	vk_map *authz;       /* "user|groups|verb|sub" -> authz_entry */
	vk_list reviews;     /* vk_server_call waiting for a SubjectAccessReview */
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
	vk_list streams;           /* vk_server_sst: exec/attach sessions, port-forward pairs */
	vk_list pfs;               /* vk_server_pf: port-forward connections */
	vk_server_pods_fn pods_fn; /* /pods from the pod controller, or NULL */
	void *pods_ud;
};

/* tls.c: the SSL_CTX with the serving certificate and client CA. */
SSL_CTX *vk_server__tls_new(const vk_server_opts *o, char **err);
/* The verified client certificate's user (subject CN) and groups (each O),
 * both malloc'd, or false when the connection has none. */
bool vk_server__tls_peer(vk_server *s, h2o_req_t *req, char **user, cJSON **groups);

/* A request waiting for the provider or the API server.  `slot` lives in
 * the request's pool: it tells the call that h2o dropped the request (the
 * client went away); the call detaches before answering. */
typedef struct {
	vk_server_call *c;
} vk_server_call_slot;

enum { VK_SERVER_CALL_AUTHZ = 0 }; /* routes.c numbers its kinds after this */

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

/* authz.c: 1 when the request may go on now, 0 when a review will answer
 * it (dispatch or 403), -1 when it was answered (403, 500). */
int vk_server__authorize(vk_server *s, h2o_req_t *req, const char *user, const cJSON *groups, const char *seg0);

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
