/* The kubelet API server's life: h2o on vk's uv loop, the listener, and a
 * shutdown that lets the open connections and provider calls finish. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream_int.h"
#include "server_int.h"
#include "vk/metrics.h"

static void free_handle(uv_handle_t *h) { free(h); }

/* h2o keeps its socket in the handle's data, so the server rides along. */
typedef struct {
	uv_tcp_t tcp;
	vk_server *s;
} srv_conn;

static void on_conn_closed(uv_handle_t *h)
{
	srv_conn *c = VK_CONTAINER_OF(h, srv_conn, tcp);
	vk_server *s = c->s;
	free(c);
	s->conns--;
	vk_server__maybe_done(s);
}

static void on_accept(uv_stream_t *listener, int status)
{
	vk_server *s = listener->data;
	if (status < 0) {
		vk_warn("server", "accept: %s", uv_strerror(status));
		return;
	}
	srv_conn *c = vk_xcalloc(1, sizeof *c);
	c->s = s;
	uv_tcp_init(s->loop, &c->tcp);
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, free_handle);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	s->conns++;
	/* h2o owns the handle from here and closes it with on_conn_closed */
	h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
	h2o_accept(&s->accept, sock);
}

static int listen_on(vk_server *s, const char *address, int port, char **err)
{
	struct sockaddr_storage ss;
	int rc = strchr(address, ':') ? uv_ip6_addr(address, port, (struct sockaddr_in6 *)&ss)
	                              : uv_ip4_addr(address, port, (struct sockaddr_in *)&ss);
	if (rc < 0) {
		*err = vk_asprintf("%s %s: not an IP address", s->metrics_only ? "--metrics-addr" : "--listen-address",
		                   address);
		return rc;
	}
	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	s->listening = true;
	if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&s->listener, 128, on_accept)) < 0) {
		*err = vk_asprintf("%s: cannot listen on %s port %d: %s",
		                   s->metrics_only ? "--metrics-addr" : "kubelet API", address, port, uv_strerror(rc));
		return rc;
	}
	struct sockaddr_storage bound;
	int len = sizeof bound;
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
	                                            : ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

static void free_server(uv_handle_t *h)
{
	vk_server *s = h->data;
	free(s->nodename);
	free(s->fs_path);
	free(s);
}

static void on_listener_closed(uv_handle_t *h)
{
	vk_server *s = h->data;
	s->listening = false;
	vk_server__maybe_done(s);
}

/* The last step, from a timer callback: h2o_context_dispose runs the loop
 * once (UV_RUN_NOWAIT) to release its own timer handles, which is only safe
 * outside of libuv's I/O polling, so it is never called from a socket's
 * callback. */
static void on_drain(uv_timer_t *t)
{
	vk_server *s = t->data;
	if (s->disposed || s->conns || s->calls || s->listening)
		return;
	s->disposed = true;
	/* h2o's HTTP/2 shutdown arms a timer entry that outlives the
	 * connections it was for; dispose insists that none is pending. */
	if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
		h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
	h2o_context_dispose(&s->ctx);
	h2o_config_dispose(&s->config);
	SSL_CTX_free(s->ssl);
	s->ssl = NULL;
	uv_close((uv_handle_t *)&s->drain, free_server);
}

void vk_server__maybe_done(vk_server *s)
{
	if (s->closing && !s->disposed && !s->conns && !s->calls && !s->listening)
		uv_timer_start(&s->drain, on_drain, 0, 0);
}

vk_server *vk_server_new(const vk_server_opts *o, char **err)
{
	*err = NULL;
	if (!o || !o->loop || !o->provider || !o->nodename) {
		*err = vk_strdup("kubelet API: bad options");
		return NULL;
	}
	vk_server__h2o_compat();
	SSL_CTX *ssl = NULL;
	if (!o->metrics_only && !(ssl = vk_server__tls_new(o, err)))
		return NULL;
	vk_server *s = vk_xcalloc(1, sizeof *s);
	vk_list_init(&s->reviews);
	vk_list_init(&s->streams);
	vk_list_init(&s->pfs);
	s->loop = o->loop;
	s->provider = o->provider;
	s->nodename = vk_strdup(o->nodename);
	s->start_wall_ms = vk_wall_ms();
	s->client_auth = o->client_ca_file != NULL;
	s->anonymous_auth = o->anonymous_auth;
	s->metrics_only = o->metrics_only;
	s->fs_path = vk_strdup(o->fs_path);
	s->kube = o->kube;
	s->api = o->api;
	s->token_webhook = o->token_webhook;
	s->token_ttl_ms = o->token_cache_ttl_ms;
	s->ssl = ssl;

	h2o_config_init(&s->config);
	s->config.server_name = h2o_iovec_init(H2O_STRLIT("vk/" VK_VERSION));
	s->config.max_request_entity_size = 64 * 1024; /* no endpoint takes a body yet */
	s->config.handshake_timeout = 10000;
	s->config.http1.req_timeout = 10000;
	s->config.http2.idle_timeout = 10000;
	s->config.http2.graceful_shutdown_timeout = 2000;
	h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	vk_server_handler *hd = (vk_server_handler *)h2o_create_handler(path, sizeof *hd);
	hd->super.on_req = vk_server__on_req;
	hd->s = s;
	h2o_context_init(&s->ctx, s->loop, &s->config);
	s->accept.ctx = &s->ctx;
	s->accept.hosts = s->config.hosts;
	s->accept.ssl_ctx = s->ssl;
	uv_timer_init(s->loop, &s->drain);
	s->drain.data = s;

	if (listen_on(s, o->address ? o->address : "0.0.0.0", o->port, err) < 0) {
		vk_server_close(s);
		return NULL;
	}
	if (s->metrics_only) {
		vk_info("server", "metrics on http://%s%s%s:%d/metrics", strchr(o->address, ':') ? "[" : "", o->address,
		        strchr(o->address, ':') ? "]" : "", s->port);
		return s;
	}
	if (!o->tls_cert_file && o->cert_dir && o->api && vk_server__cert_start(s, o, err) < 0) {
		vk_server_close(s);
		return NULL;
	}
	vk_server__stats_start(s);
	vk_metric_set(vk_server__follows_gauge(), 0); /* shown from the start */
	vk_info("server",
	        "kubelet API on https://%s:%d (client certificates: %s; bearer tokens: %s; authorization: %s)",
	        o->address ? o->address : "0.0.0.0", s->port, o->client_ca_file ? o->client_ca_file : "none",
	        o->api && o->token_webhook ? "TokenReview" : "no", o->kube ? "Webhook" : "AlwaysAllow");
	return s;
}

int vk_server_port(const vk_server *s) { return s->port; }

void vk_server_set_pods(vk_server *s, vk_server_pod_names_fn names_fn, vk_server_pod_fn get_fn, void *ud)
{
	if (!s)
		return;
	s->pod_names_fn = names_fn;
	s->pod_fn = get_fn;
	s->pods_ud = ud;
}

void vk_server_close(vk_server *s)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	vk_server__authz_close(s); /* the kube client goes right after us */
	vk_server__authn_close(s);
	vk_server__cert_close(s);
	vk_server__streams_close(s); /* upgraded connections are not h2o's any more */
	vk_server__pfs_close(s);
	if (s->listening)
		uv_close((uv_handle_t *)&s->listener, on_listener_closed);
	/* idle HTTP/1 connections close, HTTP/2 ones get a GOAWAY; requests in
	 * progress finish first */
	h2o_context_request_shutdown(&s->ctx);
	vk_server__maybe_done(s);
}
