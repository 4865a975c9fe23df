/* vk - a virtual kubelet whose provider is a Lua script.
 *
 * The entry point: the command line is read by src/app/cli.c and the agent
 * is wired and run by src/app/wiring.c (hot reload: src/app/reload.c).
 * Everything else lives in src/<subsystem>/. */
#include <stdlib.h>

#include "vk/app.h"
#include "vk/json.h"

int main(int argc, char **argv)
{
	/* Earlier units set it, to spare the gnutls that Debian's libcurl.so
	 * loads its set-up, and a copy of one may still do so.  The processes
	 * vk starts (exec credential plugins, providers' commands) may use
	 * gnutls and must not inherit it. */
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
