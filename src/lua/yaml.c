/* YAML text -> cJSON with libyaml's event API (vk.yaml.decode and the
 * --provider-config file).  The core schema: plain scalars resolve to
 * null, booleans, integers and floats; quoted ones and !!str stay strings.
 * Anchors and aliases are expanded, `<<` merge keys are honoured; only the
 * first document of a stream is read. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "vk/lua.h"
#include "vk/util.h"

#define MAX_DEPTH 200

typedef struct {
	yaml_parser_t p;
	char *err;
	struct anchor {
		char *name;
		cJSON *node; /* a copy of the finished node, owned here */
	} *anchors;
	size_t nanchors;
} ystate;

static void set_err(ystate *s, const yaml_mark_t *m, const char *what)
{
	if (!s->err)
		s->err = vk_asprintf("line %zu column %zu: %s", m->line + 1, m->column + 1, what);
}

static bool next(ystate *s, yaml_event_t *ev)
{
	if (yaml_parser_parse(&s->p, ev))
		return true;
	if (!s->err)
		s->err = vk_asprintf("line %zu column %zu: %s%s%s", s->p.problem_mark.line + 1,
		                     s->p.problem_mark.column + 1, s->p.problem ? s->p.problem : "syntax error",
		                     s->p.context ? " " : "", s->p.context ? s->p.context : "");
	return false;
}

static void remember(ystate *s, const yaml_char_t *anchor, cJSON *node)
{
	if (!anchor)
		return;
	s->anchors = realloc(s->anchors, (s->nanchors + 1) * sizeof *s->anchors);
	if (!s->anchors)
		abort();
	s->anchors[s->nanchors].name = vk_strdup((const char *)anchor);
	s->anchors[s->nanchors].node = cJSON_Duplicate(node, true);
	s->nanchors++;
}

static bool all_match(const char *v, const char *set)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!strchr(set, *v))
			return false;
	return true;
}

static cJSON *plain_scalar(const char *v)
{
	if (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
		return cJSON_CreateNull();
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return cJSON_CreateTrue();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return cJSON_CreateFalse();
	const char *d = (*v == '-' || *v == '+') ? v + 1 : v;
	if (all_match(d, "0123456789"))
		return cJSON_CreateNumber(strtod(v, NULL));
	if (!strncmp(v, "0x", 2) && all_match(v + 2, "0123456789abcdefABCDEF"))
		return cJSON_CreateNumber((double)strtoull(v + 2, NULL, 16));
	if (!strncmp(v, "0o", 2) && all_match(v + 2, "01234567"))
		return cJSON_CreateNumber((double)strtoull(v + 2, NULL, 8));
	if (!strcmp(d, ".inf") || !strcmp(d, ".Inf") || !strcmp(d, ".INF"))
		return cJSON_CreateNumber(*v == '-' ? -INFINITY : INFINITY);
	if (!strcmp(v, ".nan") || !strcmp(v, ".NaN") || !strcmp(v, ".NAN"))
		return cJSON_CreateNumber(NAN);
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	const char *q = d;
	size_t digits = 0;
	while (*q >= '0' && *q <= '9')
		q++, digits++;
	if (*q == '.') {
		q++;
		while (*q >= '0' && *q <= '9')
			q++, digits++;
	}
	if (digits && (*q == 'e' || *q == 'E')) {
		q++;
		if (*q == '-' || *q == '+')
			q++;
		if (!(*q >= '0' && *q <= '9'))
			return cJSON_CreateString(v);
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (digits && !*q && strchr(d, '.') != NULL)
		return cJSON_CreateNumber(strtod(v, NULL));
	if (digits && !*q)
		return cJSON_CreateNumber(strtod(v, NULL));
	return cJSON_CreateString(v);
}

static cJSON *parse_node(ystate *s, yaml_event_t *ev, int depth);

/* Copies the keys of a merged mapping that the target lacks. */
static void merge_into(cJSON *obj, const cJSON *src)
{
	for (const cJSON *c = src ? src->child : NULL; c; c = c->next)
		if (c->string && !cJSON_GetObjectItemCaseSensitive(obj, c->string))
			cJSON_AddItemToObject(obj, c->string, cJSON_Duplicate(c, true));
}

static cJSON *parse_mapping(ystate *s, yaml_event_t *start, int depth)
{
	cJSON *obj = cJSON_CreateObject();
	char *anchor = vk_strdup((const char *)start->data.mapping_start.anchor);
	yaml_event_delete(start);
	for (;;) {
		yaml_event_t kev;
		if (!next(s, &kev))
			break;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			remember(s, (const yaml_char_t *)anchor, obj);
			free(anchor);
			return obj;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			set_err(s, &kev.start_mark, "only scalar mapping keys have a JSON form");
			yaml_event_delete(&kev);
			break;
		}
		char *key = vk_strdup((const char *)kev.data.scalar.value);
		bool merge = kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(key, "<<");
		yaml_event_delete(&kev);
		yaml_event_t vev;
		if (!next(s, &vev)) {
			free(key);
			break;
		}
		cJSON *v = parse_node(s, &vev, depth + 1);
		if (!v) {
			free(key);
			break;
		}
		if (merge && (cJSON_IsObject(v) || cJSON_IsArray(v))) {
			if (cJSON_IsObject(v))
				merge_into(obj, v);
			else
				for (cJSON *m = v->child; m; m = m->next)
					merge_into(obj, m);
			cJSON_Delete(v);
		} else if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
			cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v); /* the last one wins */
		} else {
			cJSON_AddItemToObject(obj, key, v);
		}
		free(key);
	}
	free(anchor);
	cJSON_Delete(obj);
	return NULL;
}

static cJSON *parse_sequence(ystate *s, yaml_event_t *start, int depth)
{
	cJSON *arr = cJSON_CreateArray();
	char *anchor = vk_strdup((const char *)start->data.sequence_start.anchor);
	yaml_event_delete(start);
	for (;;) {
		yaml_event_t ev;
		if (!next(s, &ev))
			break;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			remember(s, (const yaml_char_t *)anchor, arr);
			free(anchor);
			return arr;
		}
		cJSON *v = parse_node(s, &ev, depth + 1);
		if (!v)
			break;
		cJSON_AddItemToArray(arr, v);
	}
	free(anchor);
	cJSON_Delete(arr);
	return NULL;
}

/* Consumes ev (and the events of the node it starts). */
static cJSON *parse_node(ystate *s, yaml_event_t *ev, int depth)
{
	if (depth > MAX_DEPTH) {
		set_err(s, &ev->start_mark, "nested too deeply");
		yaml_event_delete(ev);
		return NULL;
	}
	cJSON *r = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)ev->data.scalar.value;
		const char *tag = (const char *)ev->data.scalar.tag;
		if (tag && !strcmp(tag, YAML_STR_TAG))
			r = cJSON_CreateString(v);
		else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, "!")))
			r = plain_scalar(v);
		else
			r = cJSON_CreateString(v);
		remember(s, ev->data.scalar.anchor, r);
		yaml_event_delete(ev);
		return r;
	}
	case YAML_SEQUENCE_START_EVENT:
		return parse_sequence(s, ev, depth);
	case YAML_MAPPING_START_EVENT:
		return parse_mapping(s, ev, depth);
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		for (size_t i = s->nanchors; i-- > 0;) {
			if (!strcmp(s->anchors[i].name, name)) {
				r = cJSON_Duplicate(s->anchors[i].node, true);
				break;
			}
		}
		if (!r)
			set_err(s, &ev->start_mark, "unknown alias");
		yaml_event_delete(ev);
		return r;
	}
	default:
		set_err(s, &ev->start_mark, "unexpected YAML event");
		yaml_event_delete(ev);
		return NULL;
	}
}

cJSON *vk_yaml_decode(const char *text, size_t len, char **err)
{
	ystate s = {0};
	cJSON *doc = NULL;
	if (!yaml_parser_initialize(&s.p)) {
		*err = vk_strdup("out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&s.p, (const unsigned char *)text, len);
	yaml_event_t ev;
	bool done = false;
	while (!done && next(&s, &ev)) {
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			yaml_event_delete(&ev);
			break;
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			yaml_event_delete(&ev);
			done = true;
			break;
		default:
			doc = parse_node(&s, &ev, 0);
			if (!doc)
				done = true;
			break;
		}
	}
	if (!doc && !s.err) /* an empty stream is a null document */
		doc = cJSON_CreateNull();
	if (s.err) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	for (size_t i = 0; i < s.nanchors; i++) {
		free(s.anchors[i].name);
		cJSON_Delete(s.anchors[i].node);
	}
	free(s.anchors);
	yaml_parser_delete(&s.p);
	*err = s.err;
	return doc;
}
