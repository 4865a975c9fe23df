/* YAML in general (vk/yaml.h): the provider config, vk.yaml.decode, --config. */
#include <stdint.h>
#include <stdlib.h>

#include "vk/json.h"
#include "vk/yaml.h"

static void on_line(const char *path, const char *key, int depth, size_t line, void *ud)
{
	size_t *n = ud;
	*n += (path ? 1 : 0) + (key ? 1 : 0) + (size_t)depth + line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		vk_json_init();
	const char *text = (const char *)data;
	char *err = NULL;
	cJSON *all = vk_yaml_parse_all(text, size, &err);
	if (all) {
		/* What the parser built must print (cJSON hands it to Lua and the API). */
		char *s = cJSON_PrintUnformatted(all);
		if (!s)
			abort();
		free(s);
	}
	cJSON_Delete(all);
	free(err);
	err = NULL;
	cJSON_Delete(vk_yaml_parse(text, size, &err));
	free(err);
	cJSON_Delete(vk_yaml_key_lines(text, size));
	size_t n = 0;
	err = NULL;
	vk_yaml_walk_lines(text, size, on_line, &n, &err);
	free(err);
	return 0;
}
