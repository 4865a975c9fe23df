/* vk_net_socket: a socket made inside a network namespace, on a thread
 * that enters it and ends (vk/net.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vk/net.h"
#include "vk/util.h"

struct vk_net_req {
	uv_async_t done; /* the thread's "I am finished", back on the loop */
	char *netns;
	int family;
	int fd, err; /* written by the thread before it signals */
	bool cancelled;
	vk_net_socket_cb cb;
	void *ud;
};

/* The thread's whole life: enter, make the socket, say so.  It touches r
 * no more after uv_async_send (the loop may free it at once). */
static void *make_socket(void *arg)
{
	vk_net_req *r = arg;
	r->fd = -1;
	if (r->netns) {
		int ns = open(r->netns, O_RDONLY | O_CLOEXEC);
		if (ns < 0) {
			r->err = -errno;
			goto out;
		}
		int rc = setns(ns, CLONE_NEWNET);
		int e = errno;
		close(ns);
		if (rc < 0) {
			r->err = -e;
			goto out;
		}
	}
	r->fd = socket(r->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		r->err = -errno;
out:
	uv_async_send(&r->done);
	return NULL;
}

static void req_closed(uv_handle_t *hd)
{
	vk_net_req *r = hd->data;
	if (r->cancelled) {
		if (r->fd >= 0)
			close(r->fd);
	} else {
		r->cb(r->fd, r->fd >= 0 ? 0 : r->err, r->ud);
	}
	free(r->netns);
	free(r);
}

static void req_done(uv_async_t *a) { uv_close((uv_handle_t *)a, req_closed); }

int vk_net_socket(uv_loop_t *loop, const char *netns, int family, vk_net_socket_cb cb, void *ud, vk_net_req **out)
{
	if (!cb || (family != AF_INET && family != AF_INET6) || (netns && !*netns))
		return -EINVAL;
	vk_net_req *r = vk_xcalloc(1, sizeof *r);
	r->netns = vk_strdup(netns);
	r->family = family;
	r->fd = -1;
	r->cb = cb;
	r->ud = ud;
	int rc = uv_async_init(loop, &r->done, req_done);
	if (rc < 0) {
		free(r->netns);
		free(r);
		return rc;
	}
	r->done.data = r;
	/* Detached: nobody joins it, and its namespace dies with it. */
	pthread_attr_t attr;
	pthread_t th;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, make_socket, r);
	pthread_attr_destroy(&attr);
	if (rc) {
		/* No callback: the request is cancelled before the handle goes. */
		r->cancelled = true;
		uv_close((uv_handle_t *)&r->done, req_closed);
		return -rc;
	}
	if (out)
		*out = r;
	return 0;
}

void vk_net_socket_cancel(vk_net_req *req) { req->cancelled = true; }
