/* vk - a virtual kubelet whose provider is a Lua script.
 *
 * The entry point: the command line is read by src/app/cli.c and the agent
 * is wired and run by src/app/wiring.c (hot reload: src/app/reload.c).
 * Everything else lives in src/<subsystem>/. */
#include <stdlib.h>

#include "vk/app.h"
#include "vk/json.h"

/* gnutls is mapped (libcurl's librtmp and libldap need it) but never
 * used: vk's TLS is OpenSSL's.  Its constructor would set it up at load all
 * the same (ASN.1 trees, random pools, p11-kit): 0.9 MiB of RSS, 180 KiB of
 * it heap.  gnutls asks this weak hook first, and a program may define it;
 * the executable exports it (meson.build) so that the library's call finds
 * it.  Nothing in the process may use gnutls: libcurl's TLS is OpenSSL's,
 * and ldap:// and rtmp:// are never asked for. */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void) { return 1; }

int main(int argc, char **argv)
{
	/* Older units set it for the same end as the hook above.  The
	 * processes vk starts (exec credential plugins, providers' commands)
	 * may use gnutls without initialising it themselves. */
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	vk_json_init(); /* cJSON allocates through vk's aborting allocator */
	vk_app_options o;
	int rc = vk_app_parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	rc = vk_app_run(&o);
	vk_app_options_free(&o);
	return rc;
}
