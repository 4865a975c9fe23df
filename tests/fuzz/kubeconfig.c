/* kubeconfig files (vk_kubeconfig_parse): YAML, base64 certificate data,
 * contexts, exec credential plugins.  Relative paths resolve against a
 * folder that does not exist, so the harness reads no file. */
#include <stdint.h>
#include <stdlib.h>

#include "vk/json.h"
#include "vk/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		vk_json_init();
	vk_kubeconfig kc;
	char *err = NULL;
	if (vk_kubeconfig_parse((const char *)data, size, "fuzz.kubeconfig", "/nonexistent/vk-fuzz", NULL, &kc, &err) ==
	    0)
		vk_kubeconfig_free(&kc);
	else if (!err || !*err)
		abort(); /* a failure always says why */
	free(err);
	return 0;
}
