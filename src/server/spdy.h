/* src/server/spdy.h - SPDY/3.1 as kubelet's streaming endpoints speak it
 * (the API server's client is moby/spdystream under k8s.io/apimachinery's
 * httpstream/spdy).
 *
 * spdy_frame.c: pure framing: parse one frame from a buffer, build frames
 * into a vk_buf, and the header blocks, compressed with zlib and SPDY/3's
 * dictionary, one zlib stream per direction for the whole connection.
 * spdy_session.c: a connection on an upgraded h2o socket: streams, replies,
 * PING, GOAWAY, RST_STREAM, the write queue and read backpressure. */
#ifndef VK_SERVER_SPDY_H
#define VK_SERVER_SPDY_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

#include "vk/util.h"

enum {
	VK_SPDY_SYN_STREAM = 1,
	VK_SPDY_SYN_REPLY = 2,
	VK_SPDY_RST_STREAM = 3,
	VK_SPDY_SETTINGS = 4,
	VK_SPDY_PING = 6,
	VK_SPDY_GOAWAY = 7,
	VK_SPDY_HEADERS = 8,
	VK_SPDY_WINDOW_UPDATE = 9,
};
enum { VK_SPDY_FLAG_FIN = 0x01, VK_SPDY_FLAG_UNIDIRECTIONAL = 0x02 };
enum {
	VK_SPDY_RST_PROTOCOL_ERROR = 1,
	VK_SPDY_RST_INVALID_STREAM = 2,
	VK_SPDY_RST_REFUSED = 3,
	VK_SPDY_RST_CANCEL = 5,
	VK_SPDY_RST_INTERNAL = 6
};

#define VK_SPDY_MAX_FRAME (1u << 24) /* 24-bit lengths */
#define VK_SPDY_DICT_LEN 1423

/* SPDY/3's header compression dictionary (built once, VK_SPDY_DICT_LEN bytes). */
const uint8_t *vk_spdy_dictionary(void);

typedef struct {
	bool control;
	uint16_t version, type; /* control frames */
	uint8_t flags;
	uint32_t stream_id; /* data frames; control frames that carry one (set by parse) */
	const uint8_t *payload;
	uint32_t len;
} vk_spdy_frame;

/* One frame from buf[0..len): the bytes it takes (> 0), 0 when more are
 * needed, -EPROTO when the frame cannot be (bad version, a control frame
 * too short for its type, over max bytes).  f points into buf. */
ssize_t vk_spdy_parse(const uint8_t *buf, size_t len, size_t max, vk_spdy_frame *f);

typedef struct {
	char *name, *value; /* value: several values are joined by NUL in SPDY; kept as is */
	size_t value_len;
} vk_spdy_header;

typedef struct {
	z_stream in, out;
	bool in_ok, out_ok;
} vk_spdy_zlib;

void vk_spdy_zlib_init(vk_spdy_zlib *z);
void vk_spdy_zlib_free(vk_spdy_zlib *z);

/* Decompresses and parses a header block: *hs (malloc'd, free with
 * vk_spdy_headers_free).  -EPROTO with *err (malloc'd) on a bad block. */
int vk_spdy_headers_decode(vk_spdy_zlib *z, const uint8_t *block, size_t len, vk_spdy_header **hs, size_t *n,
                           char **err);
void vk_spdy_headers_free(vk_spdy_header *hs, size_t n);
/* The value of header name (lower case), or NULL. */
const char *vk_spdy_header_get(const vk_spdy_header *hs, size_t n, const char *name);

/* Frame builders (append to out).  Header blocks are compressed with z. */
void vk_spdy_put_data(vk_buf *out, uint32_t id, uint8_t flags, const void *data, size_t len);
int vk_spdy_put_syn_stream(vk_buf *out, vk_spdy_zlib *z, uint32_t id, uint8_t flags, const vk_spdy_header *hs,
                           size_t n);
int vk_spdy_put_syn_reply(vk_buf *out, vk_spdy_zlib *z, uint32_t id, uint8_t flags, const vk_spdy_header *hs, size_t n);
void vk_spdy_put_rst(vk_buf *out, uint32_t id, uint32_t status);
void vk_spdy_put_ping(vk_buf *out, uint32_t id);
void vk_spdy_put_goaway(vk_buf *out, uint32_t last_good, uint32_t status);
void vk_spdy_put_window_update(vk_buf *out, uint32_t id, uint32_t delta);

/* ---- spdy_session.c -------------------------------------------------------- */

typedef struct vk_spdy_session vk_spdy_session;

typedef struct {
	uint32_t id;
	vk_spdy_header *hs;
	size_t nh;
	bool remote_fin, local_fin, reset;
	void *ud; /* the owner's */
} vk_spdy_stream;

typedef struct {
	/* A SYN_STREAM arrived and was answered with a SYN_REPLY. */
	void (*on_stream)(vk_spdy_session *ss, vk_spdy_stream *st, void *ud);
	/* Data on a stream (len may be 0 with fin). */
	void (*on_data)(vk_spdy_session *ss, vk_spdy_stream *st, const uint8_t *data, size_t len, bool fin, void *ud);
	/* The peer reset a stream. */
	void (*on_reset)(vk_spdy_session *ss, vk_spdy_stream *st, void *ud);
	/* The write queue is short again (after vk_spdy_queued went high). */
	void (*on_drain)(vk_spdy_session *ss, void *ud);
	/* The connection is gone (err NULL: the peer closed).  The session is
	 * freed right after this returns. */
	void (*on_close)(vk_spdy_session *ss, const char *err, void *ud);
} vk_spdy_callbacks;

/* Takes the upgraded socket (after consuming the request's bytes from its
 * input; what is left there are the first frames). */
vk_spdy_session *vk_spdy_session_new(h2o_socket_t *sock, const vk_spdy_callbacks *cb, void *ud, const char *what);
/* Reads the frames already in the socket's input (sent with the upgrade
 * request); call once the owner stored the session.  Callbacks may run. */
void vk_spdy_kick(vk_spdy_session *ss);
/* Queues data on a stream (split in frames), with FIN when fin. */
int vk_spdy_send(vk_spdy_session *ss, vk_spdy_stream *st, const void *data, size_t len, bool fin);
/* Sends RST_STREAM: the stream is dropped. */
void vk_spdy_reset(vk_spdy_session *ss, vk_spdy_stream *st, uint32_t status);
size_t vk_spdy_queued(const vk_spdy_session *ss);
/* Stops reading from the socket (backpressure toward the client), or resumes. */
void vk_spdy_pause(vk_spdy_session *ss, bool pause);
/* Sends GOAWAY and closes once the queue is written and the peer closed
 * (or after a few seconds); on_close still comes. */
void vk_spdy_finish(vk_spdy_session *ss);
/* Closes at once (vk shuts down). */
void vk_spdy_abort(vk_spdy_session *ss);

#define VK_SPDY_HIGH_WATER (256 * 1024)

#endif
