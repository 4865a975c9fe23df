/* The lines of a YAML mapping's keys, from libyaml's marks: what a config
 * file's messages need to say "file:line" (the cJSON tree has no lines). */
#include <stdbool.h>
#include <yaml.h>

#include "vk/yaml.h"

cJSON *vk_yaml_key_lines(const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	if (!yaml_parser_initialize(&p))
		return NULL;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	cJSON *out = NULL;
	int depth = 0;         /* collections open */
	bool want_key = false; /* at depth 1, the next scalar or collection is a key */
	for (bool done = false; !done;) {
		if (!yaml_parser_parse(&p, &ev)) {
			cJSON_Delete(out);
			out = NULL;
			break;
		}
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
			if (depth == 0)
				out = cJSON_CreateObject();
			else if (depth == 1)
				want_key = !want_key;
			depth++;
			if (depth == 1)
				want_key = true;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (depth == 0)
				done = true; /* not a mapping */
			else if (depth == 1)
				want_key = !want_key;
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			if (depth == 0)
				done = true;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (depth == 0) {
				done = true;
			} else if (depth == 1) {
				if (want_key && ev.type == YAML_SCALAR_EVENT &&
				    !cJSON_GetObjectItemCaseSensitive(out, (const char *)ev.data.scalar.value))
					cJSON_AddNumberToObject(out, (const char *)ev.data.scalar.value,
					                        (double)ev.start_mark.line + 1);
				want_key = !want_key;
			}
			break;
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT: done = true; break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return out;
}
