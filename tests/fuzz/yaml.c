/* YAML in general (vk/yaml.h): the provider config, vk.yaml.decode, --config. */
#include <stdint.h>
#include <stdlib.h>

#include "vk/json.h"
#include "vk/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		vk_json_init();
	const char *text = (const char *)data;
	/* vk_yaml_parse is this parse's first document and vk_yaml_key_lines
	 * this walk with a callback (both in src/util): calling them too would
	 * parse each input twice more and find nothing new. */
	char *err = NULL;
	cJSON *all = vk_yaml_parse_all(text, size, &err);
	if (all) {
		/* What the parser built must print (cJSON hands it to Lua and the API). */
		char *s = cJSON_PrintUnformatted(all);
		if (!s)
			abort();
		free(s);
	} else if (!err || !*err) {
		abort(); /* a failure always says why */
	}
	cJSON_Delete(all);
	free(err);
	cJSON_Delete(vk_yaml_key_lines(text, size));
	return 0;
}
