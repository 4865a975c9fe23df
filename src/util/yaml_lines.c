/* The lines of a YAML document's keys and items, from libyaml's marks:
 * what a config file's messages need to say "file:line" (the cJSON tree has
 * no lines).  One walk serves both the top-level keys of vk's own config
 * file (vk_yaml_key_lines) and every path of a provider's (vk.config.lines).
 *
 * A path joins mapping keys with '.' and numbers sequence items from 1:
 * "specs[3].memory[2]". */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <yaml.h>

#include "vk/util.h"
#include "vk/yaml.h"

#define MAX_DEPTH 64

typedef struct {
	bool is_map;
	bool want_key; /* a mapping waits for its next key */
	int index;     /* a sequence's items so far */
	char *path;    /* this node's path ("" at the root) */
	char *key;     /* a mapping's current key */
} frame;

static char *join(const char *parent, const char *key)
{
	return *parent ? vk_asprintf("%s.%s", parent, key) : vk_strdup(key);
}

/* The path of the value node that starts now, under the top frame. */
static char *value_path(frame *f)
{
	if (f->is_map)
		return join(f->path, f->key ? f->key : "");
	f->index++;
	return vk_asprintf("%s[%d]", f->path, f->index);
}

int vk_yaml_walk_lines(const char *text, size_t len, vk_yaml_line_cb fn, void *ud, char **err)
{
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		abort(); /* its only failure is out of memory: vk aborts (vk/util.h) */
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	frame st[MAX_DEPTH + 1];
	int depth = 0; /* frames in use; the document's root node has none */
	char *why = NULL;
	for (bool done = false; !done && !why;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			why = vk_asprintf("line %zu: %s", p.problem_mark.line + 1, p.problem ? p.problem : "not YAML");
			break;
		}
		size_t line = ev.start_mark.line + 1;
		frame *top = depth ? &st[depth - 1] : NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT: done = true; break; /* the first document only */
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (top && top->is_map && top->want_key) {
				free(top->key);
				top->key = vk_strdup(ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value
				                                                  : "*");
				top->want_key = false;
				char *path = join(top->path, top->key);
				fn(path, top->key, depth, line, ud);
				free(path);
			} else if (top) {
				char *path = value_path(top);
				if (!top->is_map)
					fn(path, NULL, depth, line, ud);
				free(path);
				top->want_key = top->is_map;
			}
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == MAX_DEPTH) {
				why = vk_asprintf("line %zu: nested too deeply", line);
				break;
			}
			{
				char *path = top ? value_path(top) : vk_strdup("");
				if (top && !top->is_map)
					fn(path, NULL, depth, line, ud);
				st[depth++] = (frame){.is_map = ev.type == YAML_MAPPING_START_EVENT,
				                      .want_key = ev.type == YAML_MAPPING_START_EVENT,
				                      .path = path};
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (depth) {
				depth--;
				free(st[depth].path);
				free(st[depth].key);
				if (depth && st[depth - 1].is_map)
					st[depth - 1].want_key = true;
			}
			break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	while (depth) {
		depth--;
		free(st[depth].path);
		free(st[depth].key);
	}
	yaml_parser_delete(&p);
	if (why) {
		if (err)
			*err = why;
		else
			free(why);
		return -EINVAL;
	}
	return 0;
}

typedef struct {
	cJSON *out;
	bool not_map; /* the root has items, not keys */
} key_lines;

static void top_key(const char *path, const char *key, int depth, size_t line, void *ud)
{
	(void)path;
	key_lines *k = ud;
	if (depth != 1)
		return;
	if (!key)
		k->not_map = true;
	else if (!cJSON_GetObjectItemCaseSensitive(k->out, key)) /* the first of a repeated key */
		cJSON_AddNumberToObject(k->out, key, (double)line);
}

cJSON *vk_yaml_key_lines(const char *text, size_t len)
{
	key_lines k = {.out = cJSON_CreateObject()};
	if (vk_yaml_walk_lines(text, len, top_key, &k, NULL) < 0 || k.not_map) {
		cJSON_Delete(k.out);
		return NULL;
	}
	return k.out;
}
