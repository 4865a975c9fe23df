/* systemd readiness (Type=notify): READY=1 once the Node is registered,
 * STOPPING=1 when a signal stops vk, and a STATUS= line for `systemctl
 * status`.  Through libsystemd's sd_notify, which does nothing when
 * $NOTIFY_SOCKET is unset (vk not run by systemd); a build without
 * libsystemd (meson -Dsystemd=disabled) sends nothing. */
#include <stdio.h>
#include <string.h>

#include "app_int.h"
#include "vk/util.h"

#ifdef VK_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static void send_state(const char *state)
{
	int rc = sd_notify(0, state); /* one datagram on a unix socket: does not block the loop */
	if (rc < 0)
		vk_warn(SUB, "sd_notify %s: %s", state, strerror(-rc));
}
#else
static void send_state(const char *state) { (void)state; }
#endif

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
