/* A fix for Debian's h2o 2.2 on the libuv it is built with (1.44).
 *
 * h2o 2.2's libuv binding ignores uv_write's return value and waits for the
 * write callback.  Newer libuv returns some failures only that way: once a
 * read failed (ECONNRESET: the client reset the connection), the stream is
 * no longer writable and uv_write returns UV_EPIPE at once, without a
 * callback.  h2o's TLS shutdown then waits forever: the connection, its
 * file descriptor and memory are never released, and vk could not finish
 * its shutdown.
 *
 * vk defines uv_write itself.  The dynamic linker binds libh2o's calls (and
 * libuv's own) to this definition, which calls libuv's and hands a failure
 * it returns at once to the callback from a uv_check handle: in the same
 * loop turn, before any close callback could free the request, as libuv
 * did before.  Callers that check the return value see 0 and the error in
 * the callback, which libuv's contract allows. */
#include <dlfcn.h>
#include <stdlib.h>

#include "server_int.h"

typedef int (*uv_write_fn)(uv_write_t *, uv_stream_t *, const uv_buf_t[], unsigned int, uv_write_cb);

typedef struct {
	uv_check_t check;
	uv_write_t *req;
	uv_write_cb cb;
	int status;
} late_failure;

static void free_late(uv_handle_t *h) { free(h); }

static void on_check(uv_check_t *c)
{
	late_failure *f = (late_failure *)c;
	uv_check_stop(c);
	uv_close((uv_handle_t *)c, free_late);
	f->cb(f->req, f->status);
}

int uv_write(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs, uv_write_cb cb)
{
	static uv_write_fn real;
	if (!real)
		real = (uv_write_fn)dlsym(RTLD_NEXT, "uv_write");
	if (!real)
		abort(); /* libuv is linked: cannot happen */
	int rc = real(req, handle, bufs, nbufs, cb);
	if (rc == 0 || !cb)
		return rc;
	late_failure *f = vk_xcalloc(1, sizeof *f);
	f->req = req;
	f->cb = cb;
	f->status = rc;
	req->handle = handle;
	uv_check_init(handle->loop, &f->check);
	uv_check_start(&f->check, on_check);
	return 0;
}

/* Referenced by server.c so that the linker keeps this file. */
void vk_server__h2o_compat(void) {}
