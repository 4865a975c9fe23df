/* vk/stream.h - one streaming session of the kubelet API (exec, attach, a
 * port-forward connection), as the provider sees it.
 *
 * The kubelet API (src/server) implements it; the Lua host (src/lua,
 * bind_stream.c) hands it to the provider's exec/attach/port_forward
 * callbacks as the `stream` object.  Neither side sees the other's types.
 *
 * Calls:
 *   read    the next chunk of stdin (exec, attach) or of the forwarded
 *           connection (port_forward): cb(st, 0, data, len); at the end
 *           (the client closed its side, or the session is gone)
 *           cb(st, VK_STREAM_EOF, NULL, 0).
 *   write   to stdout (fd 1) or stderr (fd 2); port_forward: the data.
 *           cb(st, 0, NULL) once the bytes are queued and the session's
 *           queue is short again (backpressure), or cb(st, -EPIPE, msg).
 *   resize  the next terminal size: cb(st, 0, width, height); at the end
 *           cb(st, VK_STREAM_EOF, 0, 0).
 *   proxy   only as the first use: hands the session to a streaming server
 *           at url (http://127.0.0.1:PORT/...): cb(st, 0, NULL) once
 *           either side closed, or cb(st, -err, msg) when the server
 *           refused (the client got that server's answer) or could not be
 *           reached (the session is still unused).
 *   cancel  forgets the callbacks registered with ud (none is called).
 *   close   ends the output: stdout/stderr (or the data stream) are closed.
 *   unref   the caller lets go of st (the session may outlive it).
 *
 * A callback may run before the call that registered it returns (data
 * already there); a call that returns an error (-EBUSY: one of this kind
 * is pending; -EPIPE: closed; -EINVAL) never invokes its callback. */
#ifndef VK_STREAM_H
#define VK_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#define VK_STREAM_EOF 1 /* a status, not an error: the end */

typedef struct vk_stream vk_stream;
typedef void (*vk_stream_data_cb)(vk_stream *st, int status, const char *data, size_t len, void *ud);
typedef void (*vk_stream_done_cb)(vk_stream *st, int status, const char *msg, void *ud);
typedef void (*vk_stream_size_cb)(vk_stream *st, int status, int width, int height, void *ud);

typedef struct {
	int (*read)(vk_stream *st, vk_stream_data_cb cb, void *ud);
	int (*write)(vk_stream *st, int fd, const char *data, size_t len, vk_stream_done_cb cb, void *ud);
	int (*resize)(vk_stream *st, vk_stream_size_cb cb, void *ud);
	int (*proxy)(vk_stream *st, const char *url, vk_stream_done_cb cb, void *ud);
	void (*cancel)(vk_stream *st, void *ud);
	void (*close)(vk_stream *st);
	void (*unref)(vk_stream *st);
} vk_stream_ops;

struct vk_stream {
	const vk_stream_ops *ops;
	bool in, out, err, tty; /* what the client asked for (port_forward: in and out) */
};

#endif
