/* src/app/notify.c: $NOTIFY_SOCKET's address forms, and one datagram
 * through a real AF_UNIX socket, as systemd would receive it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app_int.h"
#include "tap.h"

static void test_addresses(void)
{
	struct sockaddr_un sa;
	socklen_t len = 0;
	is_int(vk_app__notify_addr("/run/systemd/notify", &sa, &len), 0, "a path is an address");
	is_str(sa.sun_path, "/run/systemd/notify", "its path is kept");
	is_int((int)len, (int)(offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1),
	       "its length counts the path and its NUL");
	is_int(vk_app__notify_addr("@vk/notify", &sa, &len), 0, "an @name is an address");
	ok(sa.sun_path[0] == '\0' && memcmp(sa.sun_path + 1, "vk/notify", 9) == 0,
	   "@name is the abstract name, after a NUL");
	is_int((int)len, (int)(offsetof(struct sockaddr_un, sun_path) + 10),
	       "an abstract name's length ends it (no NUL counted)");
	is_int(vk_app__notify_addr("", &sa, &len), -ENOENT, "empty: no address");
	is_int(vk_app__notify_addr("run/notify", &sa, &len), -EAFNOSUPPORT, "a relative path is refused");
	is_int(vk_app__notify_addr("vsock:2:1234", &sa, &len), -EAFNOSUPPORT, "vsock: is refused");
	char longpath[200];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	is_int(vk_app__notify_addr(longpath, &sa, &len), -ENAMETOOLONG, "a path too long for sun_path is refused");
}

/* Binds a datagram socket at `spec` and returns it, -1 on failure. */
static int listen_at(const char *spec)
{
	struct sockaddr_un sa;
	socklen_t len;
	if (vk_app__notify_addr(spec, &sa, &len) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_send(const char *spec, const char *what)
{
	int fd = listen_at(spec);
	ok(fd >= 0, "%s: a listener is bound", what);
	if (fd < 0)
		return;
	is_int(vk_app__notify_send(spec, "READY=1\nSTATUS=node n1 registered"), 0, "%s: the datagram is sent", what);
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	is_str(buf, "READY=1\nSTATUS=node n1 registered", "%s: the listener reads it whole, as one datagram", what);
	close(fd);
}

int main(void)
{
	test_addresses();
	char dir[] = "/tmp/vk-notify.XXXXXX";
	if (!mkdtemp(dir)) {
		ok(false, "mkdtemp %s: %s", dir, strerror(errno));
		return tap_done();
	}
	char path[128];
	snprintf(path, sizeof path, "%s/notify.sock", dir);
	test_send(path, "a path");
	unlink(path);
	rmdir(dir);
	char abs[64];
	snprintf(abs, sizeof abs, "@vk-notify-test-%ld", (long)getpid());
	test_send(abs, "an abstract name");
	is_int(vk_app__notify_send(path, "READY=1"), -ENOENT, "nobody listening at a path: -ENOENT, not a hang");
	return tap_done();
}
