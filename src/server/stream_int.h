/* src/server/stream_int.h - the streaming endpoints' shared state.
 *
 * A vk_server_sst is one `stream` handed to the provider (vk/stream.h): a
 * whole exec/attach session, or one port-forward connection (a data and an
 * error stream of a port-forward session).
 *
 * Ownership: two holders.  The core holds it until the provider's
 * callback returned AND its transport (the HTTP request, the SPDY session,
 * a proxy) is gone; the provider holds it from the call until
 * vk_stream_ops.unref (the Lua object is collected).  It is freed when
 * neither holds it; while it lives it counts in s->calls, so the server
 * is not freed under it. */
#ifndef VK_SERVER_STREAM_INT_H
#define VK_SERVER_STREAM_INT_H

#include <cjson/cJSON.h>
#include <h2o.h>
#include <h2o/http1.h>

#include "server_int.h"
#include "spdy.h"
#include "vk/stream.h"

typedef enum { SST_EXEC, SST_ATTACH, SST_PF } vk_sst_kind;
typedef enum {
	SST_PENDING,   /* the request waits: no 101 yet */
	SST_UPGRADING, /* 101 being written */
	SST_WAITING,   /* upgraded, waiting for the client's streams */
	SST_OPEN,      /* every expected stream is there */
	SST_PROXY,     /* handed to a streaming server (upgrade_proxy.c) */
	SST_ENDED      /* no transport left */
} vk_sst_state;

typedef struct vk_server_sst vk_server_sst;
typedef struct vk_server_pf vk_server_pf;
typedef struct vk_server_proxy vk_server_proxy;

typedef struct {
	vk_server_sst *st;
} vk_server_sst_slot;

struct vk_server_sst {
	vk_stream pub;
	vk_server *s;
	vk_sst_kind kind;
	vk_sst_state state;
	char *what; /* "exec ns/pod/container", for messages */
	bool provider_holds, result_in;
	/* before the upgrade */
	h2o_req_t *req;
	vk_server_sst_slot *slot;
	const char *proto; /* negotiated X-Stream-Protocol-Version */
	uv_timer_t *wait_timer;
	/* the SPDY side: exec/attach own ss; a port-forward pair borrows its pf's */
	vk_spdy_session *ss;
	vk_server_pf *pf;
	vk_spdy_stream *s_in, *s_out, *s_err, *s_error, *s_resize;
	/* what the client sent, not yet read */
	vk_buf in;
	bool in_eof, paused;
	vk_stream_data_cb rcb;
	void *rud;
	/* terminal sizes */
	vk_buf rz;
	int sizes[16][2];
	int nsizes;
	vk_stream_size_cb zcb;
	void *zud;
	/* a write waiting for the queue to drain */
	vk_stream_done_cb wcb;
	void *wud;
	vk_buf early[3]; /* stdout, stderr written before the streams were there */
	bool close_out;
	/* the callback's answer */
	int code;
	char *error;
	/* stream:proxy */
	vk_server_proxy *px;
	vk_list link; /* s->streams */
};

/* streaming.c */
/* A new stream in s->streams (counted in s->calls); takes what. */
vk_server_sst *vk_server__sst_new(vk_server *s, vk_sst_kind kind, char *what);
/* The first of ours (preferred first) that the client's
 * X-Stream-Protocol-Version headers offer, or NULL; *offered: it sent any. */
const char *vk_server__negotiate(h2o_req_t *req, const char *const *ours, size_t n, bool *offered);
/* An HTTP/1.1 upgrade to SPDY/3.1?  Else answered with a 400 Status. */
bool vk_server__upgrade_ok(h2o_req_t *req, const char *what);
/* 0 when the pod (and container, unless NULL) is this node's, or vk
 * cannot tell; else answered with a 404 Status and -ENOENT. */
int vk_server__check_pod(vk_server *s, h2o_req_t *req, const char *what, const char *ns, const char *pod,
                         const char *container);
void vk_server__stream_route(vk_server *s, h2o_req_t *req, char **seg, int n);
void vk_server__streams_close(vk_server *s); /* vk_server_close: ends every session */
void vk_server__sst_maybe_free(vk_server_sst *st);
void vk_server__sst_fail_waiters(vk_server_sst *st);
void vk_server__sst_on_data(vk_server_sst *st, const uint8_t *data, size_t len, bool fin);
void vk_server__sst_drain(vk_server_sst *st);
void vk_server__send_status(h2o_req_t *req, int code, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
extern const vk_stream_ops vk_server__sst_ops;

/* portforward.c */
void vk_server__pf_start(vk_server *s, h2o_req_t *req, const char *ns, const char *pod);
void vk_server__pfs_close(vk_server *s);

/* upgrade_proxy.c: see vk_stream_ops.proxy.  Returns 0 (cb later) or
 * -EINVAL (not a 127.0.0.1 http URL). */
int vk_server__proxy_start(vk_server_sst *st, const char *url, vk_stream_done_cb cb, void *ud);
void vk_server__proxy_abort(vk_server_proxy *px);

#endif
