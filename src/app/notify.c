/* systemd readiness (Type=notify): READY=1 once the Node is registered,
 * STOPPING=1 when a signal stops vk, and a STATUS= line for `systemctl
 * status`.  Nothing is sent when $NOTIFY_SOCKET is unset (vk not run by
 * systemd).
 *
 * The protocol is one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * $NOTIFY_SOCKET names: a path, or "@name" for the abstract namespace.
 * systemd documents it as a stable interface meant to be spoken without
 * libsystemd, and vk speaks it here rather than link libsystemd: that
 * library brought five more (libgcrypt, liblzma, liblz4, libcap,
 * libgpg-error) and 0.84 MiB of RSS to every vk process for this one
 * datagram. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app_int.h"
#include "vk/util.h"

int vk_app__notify_addr(const char *spec, struct sockaddr_un *sa, socklen_t *len)
{
	if (!spec || !*spec)
		return -ENOENT;
	size_t n = strlen(spec);
	if (spec[0] != '/' && spec[0] != '@')
		return -EAFNOSUPPORT; /* vsock: and relative paths: not spoken here */
	if (n >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, spec, n);
	if (spec[0] == '@')
		sa->sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends the name */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (spec[0] == '/'));
	return 0;
}

int vk_app__notify_send(const char *spec, const char *state)
{
	struct sockaddr_un sa;
	socklen_t len;
	int rc = vk_app__notify_addr(spec, &sa, &len);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* One datagram; non-blocking, so a stuck receiver cannot stall the loop. */
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	rc = w < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static void send_state(const char *state)
{
	const char *spec = getenv("NOTIFY_SOCKET");
	if (!spec || !*spec)
		return;
	int rc = vk_app__notify_send(spec, state);
	if (rc < 0)
		vk_warn(SUB, "systemd notification to NOTIFY_SOCKET=%s failed: %s", spec, strerror(-rc));
}

void vk_app__notify_ready(vk_app *a)
{
	char s[512];
	snprintf(s, sizeof s, "READY=1\nSTATUS=node %s registered", a->o.nodename);
	send_state(s);
}

void vk_app__notify_stopping(vk_app *a)
{
	(void)a;
	send_state("STOPPING=1\nSTATUS=stopping: writing what is queued to the store");
}
