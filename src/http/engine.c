/* The process-wide curl multi handle, driven by libuv.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to wake it up (CURLMOPT_TIMERFUNCTION); we map those onto one uv_poll per
 * socket and one uv_timer, and feed the events back with
 * curl_multi_socket_action().  Finished transfers are collected with
 * curl_multi_info_read() and reported through on_done.
 *
 * The rule that shapes this file: libcurl forbids curl_multi_remove_handle(),
 * curl_multi_add_handle() and curl_multi_cleanup() from inside its own
 * callbacks, yet our users' on_data runs inside curl's write callback and may
 * cancel, start or close anything.  So while we are inside curl
 * (h->in_curl), such operations are queued and carried out as soon as
 * curl_multi_socket_action() returns. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vk/http.h"
#include "vk/list.h"
#include "vk/util.h"

typedef struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	vk_http *h;
	vk_list link; /* h->socks */
} sock_ctx;

enum req_state {
	REQ_PENDING, /* started while inside curl; added after socket_action returns */
	REQ_RUNNING, /* in the multi handle */
	REQ_DONE,    /* on_done running */
};

struct vk_http_req {
	vk_http *h;
	CURL *easy;
	struct curl_slist *headers;
	vk_http_opts opts;
	enum req_state state;
	bool cancelled; /* no more callbacks; freed at the next safe point */
	bool too_big;   /* max_body exceeded */
	size_t received;
	vk_buf body;
	char errbuf[CURL_ERROR_SIZE];
	vk_list link; /* h->reqs */
};

struct vk_http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	vk_list socks;         /* sock_ctx */
	vk_list reqs;          /* vk_http_req */
	size_t active;         /* started, not cancelled, on_done not yet called */
	unsigned open_handles; /* uv handles not yet through their close callback */
	curl_socket_t *fds;    /* every socket curl opened and has not closed */
	size_t nfds, capfds;
	int in_curl;     /* depth of curl_multi_socket_action() calls */
	int dispatching; /* depth of on_done dispatch */
	bool closing;    /* vk_http_close() called */
	bool torn_down;  /* multi cleaned up, handles closing */
};

static void teardown(vk_http *h);

/* Takes a request out of the multi handle and frees it.  Only called outside
 * curl's callbacks. */
static void req_destroy(vk_http_req *r)
{
	vk_http *h = r->h;
	if (r->state == REQ_RUNNING || r->state == REQ_DONE)
		curl_multi_remove_handle(h->multi, r->easy);
	vk_list_remove(&r->link);
	curl_easy_cleanup(r->easy);
	if (r->opts.use_socket && r->opts.socket >= 0) /* curl never asked for it */
		close(r->opts.socket);
	curl_slist_free_all(r->headers);
	vk_buf_free(&r->body);
	free(r);
}

/* ---- uv handle lifetimes ---------------------------------------------- */

static void maybe_free(vk_http *h)
{
	if (h->torn_down && h->open_handles == 0) {
		free(h->fds);
		free(h);
		curl_global_cleanup(); /* pairs with vk_http_new (libcurl counts them) */
	}
}

static void on_sock_closed(uv_handle_t *handle)
{
	sock_ctx *s = handle->data;
	vk_http *h = s->h;
	free(s);
	h->open_handles--;
	maybe_free(h);
}

static void on_timer_closed(uv_handle_t *handle)
{
	vk_http *h = handle->data;
	h->open_handles--;
	maybe_free(h);
}

static void sock_close(sock_ctx *s)
{
	vk_list_remove(&s->link);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* ---- driving curl ----------------------------------------------------- */

static void report(vk_http_req *r, CURLcode code)
{
	vk_http_resp resp = {0};
	resp.code = code;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
	if (code != CURLE_OK) {
		if (r->too_big || code == CURLE_FILESIZE_EXCEEDED) {
			resp.code = CURLE_FILESIZE_EXCEEDED;
			snprintf(r->errbuf, sizeof r->errbuf, "response body larger than %zu bytes", r->opts.max_body);
		} else if (!r->errbuf[0]) {
			snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror(code));
		}
		resp.error = r->errbuf;
	}
	if (!r->opts.on_data) {
		resp.body = r->body.data ? r->body.data : "";
		resp.body_len = r->body.len;
	}
	resp.easy = r->easy;
	r->opts.on_done(r, &resp, r->opts.ud);
}

/* Runs the work that could not be done inside curl: deferred cancels and
 * adds, then finished transfers.  Loops because an on_done may start or
 * cancel more. */
static void settle(vk_http *h)
{
	if (h->in_curl || h->dispatching)
		return;
	h->dispatching++;
	for (bool again = true; again && !h->closing;) {
		again = false;
		vk_list *n, *tmp;
		VK_LIST_FOREACH_SAFE(n, tmp, &h->reqs)
		{
			vk_http_req *r = VK_LIST_ENTRY(n, vk_http_req, link);
			if (r->cancelled) {
				req_destroy(r);
				again = true;
			} else if (r->state == REQ_PENDING) {
				if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
					/* Too late to fail vk_http_start(): report it as a transfer error. */
					r->state = REQ_DONE;
					h->active--;
					snprintf(r->errbuf, sizeof r->errbuf, "curl_multi_add_handle failed");
					report(r, CURLE_FAILED_INIT);
					r->state = REQ_PENDING; /* not in the multi: destroy must not remove it */
					r->cancelled = true;
					again = true;
					break; /* the list may have changed under us */
				}
				r->state = REQ_RUNNING;
			}
		}
		CURLMsg *msg;
		int left;
		while (!h->closing && (msg = curl_multi_info_read(h->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			vk_http_req *r = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			CURLcode code = msg->data.result; /* msg is invalid after remove_handle */
			if (!r || r->cancelled)
				continue;
			r->state = REQ_DONE;
			h->active--;
			report(r, code);
			/* on_done may have cancelled other transfers or closed the engine:
			 * both only mark things, so r is still ours to free. */
			req_destroy(r);
			again = true;
		}
	}
	h->dispatching--;
	if (h->closing && !h->torn_down)
		teardown(h);
}

static void socket_action(vk_http *h, curl_socket_t fd, int flags)
{
	int running;
	h->in_curl++;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	h->in_curl--;
	settle(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	sock_ctx *s = p->data;
	int flags = 0;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	socket_action(s->h, s->fd, flags);
}

static void on_timer(uv_timer_t *t) { socket_action(t->data, CURL_SOCKET_TIMEOUT, 0); }

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	vk_http *h = userp;
	sock_ctx *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			if (!h->torn_down)
				curl_multi_assign(h->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = vk_xcalloc(1, sizeof *s);
		s->fd = fd;
		s->h = h;
		int rc = uv_poll_init_socket(h->loop, &s->poll, fd);
		if (rc < 0) {
			vk_error("http", "cannot watch socket %d: %s", (int)fd, uv_strerror(rc));
			free(s);
			return -1;
		}
		s->poll.data = s;
		h->open_handles++;
		vk_list_insert_head(&h->socks, &s->link);
		curl_multi_assign(h->multi, fd, s);
	}
	int events = 0;
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	int rc = uv_poll_start(&s->poll, events, on_poll);
	if (rc < 0) {
		/* curl cannot make progress on a socket we cannot watch: say so
		 * rather than letting the transfer hang until its timeout. */
		vk_error("http", "cannot watch socket %d: %s", (int)fd, uv_strerror(rc));
		return -1;
	}
	return 0;
}

/* curl asks to be called back after timeout_ms; -1 means never.  We may not
 * call curl_multi_socket_action() from here, so even 0 goes through the
 * timer (it fires on the next loop iteration). */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	vk_http *h = userp;
	if (h->torn_down)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* Every socket curl opens and closes goes through these two, so that
 * vk_http_drop_peer() can find a connection even while it sits idle in
 * curl's pool, where no poll watches it. */
static curl_socket_t given_socket(vk_http_req *r, const struct curl_sockaddr *a)
{
	int fd = r->opts.socket, family = 0;
	socklen_t len = sizeof family;
	if (fd < 0)
		return CURL_SOCKET_BAD; /* already handed out: no second attempt */
	r->opts.socket = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0 || family != a->family ||
	    a->socktype != SOCK_STREAM) {
		close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd;
}

static curl_socket_t open_socket_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	vk_http_req *r = ud;
	vk_http *h = r->h;
	(void)purpose;
	curl_socket_t fd = r->opts.use_socket ? given_socket(r, a) : socket(a->family, a->socktype, a->protocol);
	if (fd == CURL_SOCKET_BAD)
		return fd;
	if (h->nfds == h->capfds) {
		size_t cap = h->capfds ? 2 * h->capfds : 8;
		curl_socket_t *n = realloc(h->fds, cap * sizeof *n);
		if (!n) {
			close(fd);
			return CURL_SOCKET_BAD;
		}
		h->fds = n;
		h->capfds = cap;
	}
	h->fds[h->nfds++] = fd;
	return fd;
}

static int close_socket_cb(void *ud, curl_socket_t fd)
{
	vk_http *h = ud;
	for (size_t i = 0; i < h->nfds; i++) {
		if (h->fds[i] == fd) {
			h->fds[i] = h->fds[--h->nfds];
			break;
		}
	}
	return close(fd);
}

/* The peer of a socket as curl reports a transfer's (CURLINFO_PRIMARY_IP
 * and _PORT): false for anything but a connected IPv4/IPv6 socket. */
static bool peer_of(curl_socket_t fd, char ip[INET6_ADDRSTRLEN], long *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		*port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, ip, INET6_ADDRSTRLEN) != NULL;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		*port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, ip, INET6_ADDRSTRLEN) != NULL;
	}
	return false;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	vk_http_req *r = ud;
	size_t n = size * nmemb;
	if (r->cancelled || r->h->closing)
		return 0;
	r->received += n;
	if (r->opts.max_body && r->received > r->opts.max_body) {
		r->too_big = true;
		return 0;
	}
	if (r->opts.on_data) {
		if (r->opts.on_data(r, data, n, r->opts.ud) != 0)
			return 0;
		/* on_data may have cancelled this transfer: stop reading at once. */
		return r->cancelled ? 0 : n;
	}
	vk_buf_append(&r->body, data, n);
	return n;
}

/* ---- public API -------------------------------------------------------- */

vk_http *vk_http_new(uv_loop_t *loop)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	vk_http *h = vk_xcalloc(1, sizeof *h);
	vk_list_init(&h->socks);
	vk_list_init(&h->reqs);
	h->loop = loop;
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		curl_global_cleanup();
		return NULL;
	}
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	h->open_handles = 1;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	/* One connection per host carrying many HTTP/2 streams (watches and
	 * REST calls to the API server, gRPC to containerd). */
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
	return h;
}

static void teardown(vk_http *h)
{
	h->torn_down = true;
	h->active = 0;
	for (vk_list *n; (n = vk_list_first(&h->reqs));)
		req_destroy(VK_LIST_ENTRY(n, vk_http_req, link));
	/* curl may report REMOVE for cached connections while cleaning up;
	 * curl_socket_cb handles that without touching the multi. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	for (vk_list *n; (n = vk_list_first(&h->socks));)
		sock_close(VK_LIST_ENTRY(n, sock_ctx, link));
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

void vk_http_close(vk_http *h)
{
	if (!h || h->closing)
		return;
	h->closing = true;
	/* Inside curl or inside an on_done: the outermost settle() tears down. */
	if (h->in_curl || h->dispatching)
		return;
	teardown(h);
}

int vk_http_start(vk_http *h, CURL *easy, struct curl_slist *headers, const vk_http_opts *opts, vk_http_req **out)
{
	if (!h || !easy || !opts || !opts->on_done)
		return -EINVAL;
	if (h->closing)
		return -ESHUTDOWN;
	vk_http_req *r = vk_xcalloc(1, sizeof *r);
	r->h = h;
	r->easy = easy;
	r->headers = headers;
	r->opts = *opts;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)r);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, r);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, h);
	/* curl gives every transfer a 64 KiB upload and a 16 KiB download
	 * buffer; with a hundred status writes in flight that is most of vk's
	 * memory, and it fragments the heap long after.  Kubernetes objects
	 * are a few KiB: the smallest upload buffer curl allows, and 8 KiB in. */
	curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 8192L);
	if (headers)
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	if (opts->use_socket) {
		curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	}
	if (opts->max_body)
		curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_body);
	if (h->in_curl) {
		r->state = REQ_PENDING; /* added by settle() once curl returns */
	} else {
		if (curl_multi_add_handle(h->multi, easy) != CURLM_OK) {
			/* Give the easy handle back as the caller passed it. */
			curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
			free(r);
			return -EIO;
		}
		r->state = REQ_RUNNING;
	}
	vk_list_insert_head(&h->reqs, &r->link);
	h->active++;
	if (out)
		*out = r;
	return 0;
}

void vk_http_cancel(vk_http_req *r)
{
	/* Inside its own on_done the request is freed right after: nothing to do. */
	if (!r || r->cancelled || r->state == REQ_DONE)
		return;
	vk_http *h = r->h;
	r->cancelled = true;
	h->active--;
	if (h->in_curl)
		return; /* curl forbids remove_handle in its callbacks: settle() frees it */
	req_destroy(r);
}

/* shutdown(), not close(): the descriptor stays curl's, to close when it
 * notices.  A shut socket reads as end-of-stream at once, so curl fails the
 * transfers on it (their on_done run with a transport error) and drops the
 * connection, also one waiting idle in its pool (it checks before reuse). */
int vk_http_drop_peer(vk_http *h, const char *ip, long port)
{
	if (!h || !ip || !*ip || h->torn_down)
		return 0;
	int n = 0;
	for (size_t i = 0; i < h->nfds; i++) {
		char peer[INET6_ADDRSTRLEN];
		long p;
		if (peer_of(h->fds[i], peer, &p) && p == port && strcmp(peer, ip) == 0) {
			if (shutdown(h->fds[i], SHUT_RDWR) == 0)
				n++;
		}
	}
	return n;
}

size_t vk_http_active(const vk_http *h) { return h ? h->active : 0; }

const char *vk_http_version(void) { return curl_version(); }
