/* A SPDY/3.1 connection on an upgraded h2o socket (TLS below), the server
 * side of what kubelet's streaming endpoints speak.
 *
 * The client (the API server) opens every stream; each SYN_STREAM gets an
 * empty SYN_REPLY at once, as kubelet's httpstream/spdy server does (the
 * client waits for it).  PINGs the client sends are echoed.  Every header
 * block is inflated, also those vk ignores, to keep the shared zlib stream
 * in step.
 *
 * Flow control: SPDY/3.1's windows are not enforced on what vk sends, and
 * WINDOW_UPDATE frames are read and dropped: the API server's SPDY library
 * (moby/spdystream) never sends WINDOW_UPDATE, so a sender that waited for
 * one would stall after 64 KiB.  Backpressure is TCP's instead: the write
 * queue is one buffer handed to the socket when the previous write is done,
 * and a writer that finds it above VK_SPDY_HIGH_WATER waits for on_drain;
 * a consumer that cannot keep up with the client pauses reading
 * (vk_spdy_pause), which fills the client's TCP window.  Nothing blocks the
 * loop and a slow client stalls only its own session.
 *
 * Ownership: the session owns its streams and the socket; it is freed right
 * after on_close, from the socket's close path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spdy.h"

#define LINGER_MS 5000
#define MAX_STREAMS 64
#define CHUNK (32 * 1024)

struct vk_spdy_session {
	h2o_socket_t *sock;
	vk_spdy_callbacks cb;
	void *ud;
	char *what;
	vk_spdy_zlib z;
	vk_buf out;      /* queued frames */
	vk_buf inflight; /* handed to the socket */
	vk_spdy_stream *streams[MAX_STREAMS];
	size_t nstreams;
	uint32_t last_id;
	uv_timer_t *linger;
	bool writing, paused, finishing, goaway_sent, closing, closed, drain_wanted;
	int depth;       /* inside on_read: closing waits for its end */
	char *close_err; /* why it closes (NULL: the peer closed) */
};

static void flush(vk_spdy_session *ss);
static void do_close(vk_spdy_session *ss);

static void close_soon(vk_spdy_session *ss, const char *err)
{
	if (ss->closing)
		return;
	ss->closing = true;
	ss->close_err = err ? vk_strdup(err) : NULL;
	if (ss->depth == 0)
		do_close(ss);
}

static void linger_closed(uv_handle_t *h) { free(h); }

static void do_close(vk_spdy_session *ss)
{
	if (ss->closed)
		return;
	ss->closed = true;
	if (ss->linger) {
		uv_timer_stop(ss->linger);
		uv_close((uv_handle_t *)ss->linger, linger_closed);
		ss->linger = NULL;
	}
	h2o_socket_t *sock = ss->sock;
	ss->sock = NULL;
	sock->data = NULL;
	/* h2o closes the uv handle; the server's conns count follows */
	h2o_socket_close(sock);
	if (ss->cb.on_close)
		ss->cb.on_close(ss, ss->close_err, ss->ud);
	for (size_t i = 0; i < ss->nstreams; i++) {
		vk_spdy_headers_free(ss->streams[i]->hs, ss->streams[i]->nh);
		free(ss->streams[i]);
	}
	vk_spdy_zlib_free(&ss->z);
	vk_buf_free(&ss->out);
	vk_buf_free(&ss->inflight);
	free(ss->close_err);
	free(ss->what);
	free(ss);
}

static vk_spdy_stream *find(vk_spdy_session *ss, uint32_t id)
{
	for (size_t i = 0; i < ss->nstreams; i++)
		if (ss->streams[i]->id == id)
			return ss->streams[i];
	return NULL;
}

/* ---- writing --------------------------------------------------------------------- */

static void on_written(h2o_socket_t *sock, const char *err)
{
	vk_spdy_session *ss = sock->data;
	if (!ss)
		return;
	ss->writing = false;
	vk_buf_reset(&ss->inflight);
	if (err) {
		close_soon(ss, err);
		return;
	}
	flush(ss);
	if (ss->drain_wanted && ss->out.len + ss->inflight.len < VK_SPDY_HIGH_WATER && !ss->closing) {
		ss->drain_wanted = false;
		ss->depth++;
		if (ss->cb.on_drain)
			ss->cb.on_drain(ss, ss->ud);
		ss->depth--;
		if (ss->closing)
			do_close(ss);
	}
}

static void flush(vk_spdy_session *ss)
{
	if (ss->writing || ss->closed || ss->out.len == 0)
		return;
	vk_buf t = ss->inflight;
	ss->inflight = ss->out;
	ss->out = t;
	ss->writing = true;
	h2o_iovec_t iov = h2o_iovec_init(ss->inflight.data, ss->inflight.len);
	h2o_socket_write(ss->sock, &iov, 1, on_written);
}

void vk_spdy_reset(vk_spdy_session *ss, vk_spdy_stream *st, uint32_t status)
{
	if (st->reset || ss->closing)
		return;
	st->reset = true;
	vk_spdy_put_rst(&ss->out, st->id, status);
	flush(ss);
}

size_t vk_spdy_queued(const vk_spdy_session *ss) { return ss->out.len + ss->inflight.len; }

int vk_spdy_send(vk_spdy_session *ss, vk_spdy_stream *st, const void *data, size_t len, bool fin)
{
	if (ss->closing || ss->closed || st->local_fin || st->reset)
		return -EPIPE;
	const char *p = data;
	do {
		size_t n = len > CHUNK ? CHUNK : len;
		len -= n;
		vk_spdy_put_data(&ss->out, st->id, fin && len == 0 ? VK_SPDY_FLAG_FIN : 0, p, n);
		p += n;
	} while (len > 0);
	if (fin)
		st->local_fin = true;
	if (vk_spdy_queued(ss) >= VK_SPDY_HIGH_WATER)
		ss->drain_wanted = true;
	flush(ss);
	return 0;
}

/* ---- reading --------------------------------------------------------------------- */

static void protocol_error(vk_spdy_session *ss, const char *why)
{
	vk_warn("server", "%s: SPDY: %s; closing the connection", ss->what, why);
	vk_spdy_put_goaway(&ss->out, ss->last_id, 1 /* PROTOCOL_ERROR */);
	flush(ss);
	close_soon(ss, why);
}

static void on_syn_stream(vk_spdy_session *ss, const vk_spdy_frame *f)
{
	uint32_t id = f->stream_id;
	vk_spdy_header *hs;
	size_t nh;
	char *err = NULL;
	if (vk_spdy_headers_decode(&ss->z, f->payload + 10, f->len - 10, &hs, &nh, &err) < 0) {
		protocol_error(ss, err);
		free(err);
		return;
	}
	if (id == 0 || id % 2 == 0 || id <= ss->last_id || ss->finishing || ss->nstreams == MAX_STREAMS) {
		vk_spdy_headers_free(hs, nh);
		vk_spdy_put_rst(&ss->out, id, id <= ss->last_id ? VK_SPDY_RST_PROTOCOL_ERROR : VK_SPDY_RST_REFUSED);
		flush(ss);
		return;
	}
	ss->last_id = id;
	vk_spdy_stream *st = vk_xcalloc(1, sizeof *st);
	st->id = id;
	st->hs = hs;
	st->nh = nh;
	st->remote_fin = (f->flags & VK_SPDY_FLAG_FIN) != 0;
	st->local_fin = (f->flags & VK_SPDY_FLAG_UNIDIRECTIONAL) != 0;
	ss->streams[ss->nstreams++] = st;
	vk_spdy_put_syn_reply(&ss->out, &ss->z, id, 0, NULL, 0);
	flush(ss);
	if (ss->cb.on_stream)
		ss->cb.on_stream(ss, st, ss->ud);
}

static void on_frame(vk_spdy_session *ss, const vk_spdy_frame *f)
{
	if (!f->control) {
		vk_spdy_stream *st = find(ss, f->stream_id);
		if (!st || st->reset) {
			vk_spdy_put_rst(&ss->out, f->stream_id, VK_SPDY_RST_INVALID_STREAM);
			flush(ss);
			return;
		}
		bool fin = (f->flags & VK_SPDY_FLAG_FIN) != 0;
		if (st->remote_fin)
			return; /* data after FIN: dropped */
		st->remote_fin = fin;
		if (ss->cb.on_data && !ss->finishing)
			ss->cb.on_data(ss, st, f->payload, f->len, fin, ss->ud);
		return;
	}
	switch (f->type) {
	case VK_SPDY_SYN_STREAM: on_syn_stream(ss, f); break;
	case VK_SPDY_SYN_REPLY:
	case VK_SPDY_HEADERS: { /* vk opens no stream; inflated to keep zlib in step */
		vk_spdy_header *hs;
		size_t nh;
		char *err = NULL;
		if (vk_spdy_headers_decode(&ss->z, f->payload + 4, f->len - 4, &hs, &nh, &err) < 0) {
			protocol_error(ss, err);
			free(err);
			return;
		}
		vk_spdy_headers_free(hs, nh);
		break;
	}
	case VK_SPDY_RST_STREAM: {
		vk_spdy_stream *st = find(ss, f->stream_id);
		if (st && !st->reset) {
			st->reset = true;
			if (ss->cb.on_reset)
				ss->cb.on_reset(ss, st, ss->ud);
		}
		break;
	}
	case VK_SPDY_PING:
		if (f->payload[3] & 1) { /* the client's (odd): echoed */
			uint32_t id = (uint32_t)f->payload[0] << 24 | (uint32_t)f->payload[1] << 16 |
			              (uint32_t)f->payload[2] << 8 | f->payload[3];
			vk_spdy_put_ping(&ss->out, id);
			flush(ss);
		}
		break;
	case VK_SPDY_GOAWAY: ss->finishing = true; break; /* no new streams; the open ones go on */
	default: break; /* SETTINGS, WINDOW_UPDATE (see above), unknown types: ignored */
	}
}

static void on_read(h2o_socket_t *sock, const char *err)
{
	vk_spdy_session *ss = sock->data;
	if (!ss)
		return;
	if (err) {
		close_soon(ss, err == h2o_socket_error_closed ? NULL : err);
		return;
	}
	ss->depth++;
	while (!ss->closing) {
		vk_spdy_frame f;
		ssize_t n = vk_spdy_parse((const uint8_t *)sock->input->bytes, sock->input->size, VK_SPDY_MAX_FRAME,
		                          &f);
		if (n == 0)
			break;
		if (n < 0) {
			protocol_error(ss, "a frame that is not SPDY/3");
			break;
		}
		if (ss->goaway_sent && ss->finishing) {
			h2o_buffer_consume(&sock->input, (size_t)n); /* lingering: read and dropped */
			continue;
		}
		on_frame(ss, &f);
		h2o_buffer_consume(&sock->input, (size_t)n);
	}
	ss->depth--;
	if (ss->closing)
		do_close(ss);
}

void vk_spdy_pause(vk_spdy_session *ss, bool pause)
{
	if (ss->closed || ss->paused == pause)
		return;
	ss->paused = pause;
	if (pause) {
		h2o_socket_read_stop(ss->sock);
	} else {
		h2o_socket_read_start(ss->sock, on_read);
		if (ss->sock->input->size > 0 && ss->depth == 0)
			on_read(ss->sock, NULL); /* frames that arrived before the pause */
	}
}

/* ---- life ---------------------------------------------------------------------- */

vk_spdy_session *vk_spdy_session_new(h2o_socket_t *sock, const vk_spdy_callbacks *cb, void *ud, const char *what)
{
	vk_spdy_session *ss = vk_xcalloc(1, sizeof *ss);
	ss->sock = sock;
	ss->cb = *cb;
	ss->ud = ud;
	ss->what = vk_strdup(what);
	vk_spdy_zlib_init(&ss->z);
	sock->data = ss;
	h2o_socket_read_start(sock, on_read);
	return ss;
}

void vk_spdy_kick(vk_spdy_session *ss)
{
	if (!ss->closed && !ss->paused && ss->sock->input->size > 0 && ss->depth == 0)
		on_read(ss->sock, NULL);
}

/* After GOAWAY: the peer has this long to close its side. */
static void on_linger(uv_timer_t *t)
{
	vk_spdy_session *ss = t->data;
	close_soon(ss, NULL);
}

void vk_spdy_finish(vk_spdy_session *ss)
{
	if (ss->closing || ss->goaway_sent)
		return;
	ss->goaway_sent = true;
	ss->finishing = true;
	vk_spdy_put_goaway(&ss->out, ss->last_id, 0);
	flush(ss);
	ss->linger = vk_xcalloc(1, sizeof *ss->linger);
	uv_timer_init(h2o_socket_get_loop(ss->sock), ss->linger);
	ss->linger->data = ss;
	uv_timer_start(ss->linger, on_linger, LINGER_MS, 0);
	if (ss->paused)
		vk_spdy_pause(ss, false); /* read to the end (dropped) */
}

void vk_spdy_abort(vk_spdy_session *ss) { close_soon(ss, "vk is shutting down"); }
