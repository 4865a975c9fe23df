/* vk/net.h - sockets made inside another network namespace.
 *
 * A network namespace belongs to a thread, not to a process, and a socket
 * keeps the namespace it was made in for good.  So vk never enters a pod's
 * namespace on the loop thread: a short-lived thread of its own opens the
 * namespace file (a CRI sandbox's /var/run/netns/cni-..., or
 * /proc/PID/ns/net), enters it with setns(2), makes the socket and ends;
 * the loop then drives the socket like any other (uv_tcp_open, curl's
 * opensocket callback).  A connect() on it reaches the namespace's
 * addresses: 127.0.0.1 is the pod's own loopback.
 *
 * Needs CAP_SYS_ADMIN (setns into a namespace vk did not make).
 * As in libuv, a call that returns an error never invokes its callback. */
#ifndef VK_NET_H
#define VK_NET_H

#include <uv.h>

typedef struct vk_net_req vk_net_req;

/* fd: a non-blocking, close-on-exec SOCK_STREAM socket of `family`,
 * owned by the callee from then on; or -1 and err, a negative errno
 * (-ENOENT: no such namespace file, -EINVAL: the file is not a network
 * namespace, -EPERM: not allowed to enter it). */
typedef void (*vk_net_socket_cb)(int fd, int err, void *ud);

/* Makes a TCP socket of `family` (AF_INET, AF_INET6) inside the network
 * namespace at path `netns` (NULL: vk's own namespace, still on a thread,
 * so that the callback comes from the loop either way).  cb runs on the
 * loop.  *out (may be NULL) stays valid until cb runs or the request is
 * cancelled.  Returns 0 or a negative errno. */
int vk_net_socket(uv_loop_t *loop, const char *netns, int family, vk_net_socket_cb cb, void *ud, vk_net_req **out);

/* cb will not be called; a socket made meanwhile is closed. */
void vk_net_socket_cancel(vk_net_req *req);

#endif
