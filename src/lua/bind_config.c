/* vk.config: where a provider's config came from, so that its checks can
 * point at the line of the file (no yield):
 *   file()       -> the --provider-config path (made absolute), or nil
 *   lines(text)  -> {["key.sub[2].x"] = LINE, ...}: the 1-based line of every
 *                   mapping key and sequence item of the YAML text, by its
 *                   path (keys joined with '.', items as [N] from 1), or
 *                   nil, "line N: problem" for text that is not YAML
 * A provider reads the file with vk.fs.read_file, then names a bad setting
 * as "FILE:LINE: key: why" (providers/cloud.lua does). */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "host.h"
#include "vk/util.h"

static int l_file(lua_State *L)
{
	vk_lua_host *h = vk_lua__host_of(L);
	if (h && h->config_path)
		lua_pushstring(L, h->config_path);
	else
		lua_pushnil(L);
	return 1;
}

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

static void record(lua_State *L, const char *path, size_t line)
{
	if (!*path)
		return;
	lua_pushinteger(L, (lua_Integer)line + 1);
	lua_setfield(L, -2, path);
}

/* The path of the value node that starts now, under the top frame. */
static char *value_path(frame *f)
{
	if (f->is_map)
		return join(f->path, f->key ? f->key : "");
	f->index++;
	return vk_asprintf("%s[%d]", f->path, f->index);
}

static int l_lines(lua_State *L)
{
	size_t n;
	const char *text = luaL_checklstring(L, 1, &n);
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return luaL_error(L, "vk.config.lines: out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
	lua_newtable(L);
	frame st[MAX_DEPTH + 1];
	int depth = 0; /* frames in use; the document's root node has none */
	char *err = NULL;
	bool done = false;
	while (!done && !err) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			err = vk_asprintf("line %zu: %s", p.problem_mark.line + 1, p.problem ? p.problem : "not YAML");
			break;
		}
		size_t line = ev.start_mark.line;
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
				record(L, path, line);
				free(path);
			} else if (top) {
				char *path = value_path(top);
				if (!top->is_map)
					record(L, path, line);
				free(path);
				top->want_key = top->is_map;
			}
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == MAX_DEPTH) {
				err = vk_asprintf("line %zu: nested too deeply", line + 1);
				break;
			}
			{
				char *path = top ? value_path(top) : vk_strdup("");
				if (top && !top->is_map)
					record(L, path, line);
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
	if (err) {
		lua_pushnil(L);
		lua_pushfstring(L, "vk.config.lines: %s", err);
		free(err);
		return 2;
	}
	return 1;
}

int vk_lua__open_config(lua_State *L)
{
	static const luaL_Reg fns[] = {{"file", l_file}, {"lines", l_lines}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
