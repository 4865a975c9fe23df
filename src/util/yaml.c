/* YAML -> cJSON over libyaml's event API.
 *
 * Kubernetes reads YAML as "JSON with another syntax" (sigs.k8s.io/yaml), so
 * this converter does the same: mappings become objects, sequences arrays,
 * and plain scalars are resolved with the YAML 1.2 core schema (null, bool,
 * int, float, else string).  Quoted scalars and `!!str` are always strings.
 * Anchors/aliases are expanded (with a cap against "billion laughs"), and
 * `<<` merge keys are honoured as kubectl does. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "vk/util.h"
#include "vk/yaml.h"

#define MAX_DEPTH 256
#define MAX_NODES 1000000 /* alias expansion budget */

typedef struct {
	char *name;
	cJSON *node; /* owned copy */
} anchor;

typedef struct {
	yaml_parser_t parser;
	yaml_event_t ev;
	bool have_ev;
	anchor *anchors;
	size_t n_anchors;
	size_t nodes;
	char *err;
} ctx;

static void set_err(ctx *c, size_t line, const char *fmt, const char *arg)
{
	if (c->err)
		return;
	vk_buf b = {0};
	vk_buf_printf(&b, "line %zu: ", line + 1);
	vk_buf_printf(&b, fmt, arg);
	c->err = vk_buf_steal(&b);
}

/* Reads the next event into c->ev; false on a syntax error. */
static bool next(ctx *c)
{
	if (c->have_ev)
		yaml_event_delete(&c->ev);
	c->have_ev = false;
	if (!yaml_parser_parse(&c->parser, &c->ev)) {
		const yaml_parser_t *y = &c->parser;
		if (!c->err) {
			/* libyaml's problem, plus where the enclosing construct began
			 * when it says (an unclosed [ or quote is found much later). */
			c->err = y->context && y->context_mark.line != y->problem_mark.line
			                 ? vk_asprintf("line %zu: %s (%s at line %zu)", y->problem_mark.line + 1,
			                               y->problem ? y->problem : "syntax error", y->context,
			                               y->context_mark.line + 1)
			                 : vk_asprintf("line %zu: %s", y->problem_mark.line + 1,
			                               y->problem ? y->problem : "syntax error");
		}
		return false;
	}
	c->have_ev = true;
	return true;
}

static bool is_one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

/* Resolves a plain scalar per the YAML 1.2 core schema. */
static cJSON *plain_scalar(const char *s, size_t len)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	if (strlen(s) != len) /* embedded NUL: keep it a string (cJSON truncates anyway) */
		return cJSON_CreateString(s);
	if (is_one_of(s, nulls))
		return cJSON_CreateNull();
	if (is_one_of(s, trues))
		return cJSON_CreateTrue();
	if (is_one_of(s, falses))
		return cJSON_CreateFalse();
	char *end;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p[2]) {
		errno = 0;
		long long v = strtoll(p + 2, &end, p[1] == 'x' ? 16 : 8);
		if (!*end && !errno)
			return cJSON_CreateNumber((double)(s[0] == '-' ? -v : v));
		return cJSON_CreateString(s);
	}
	if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0)
		return cJSON_CreateNumber(s[0] == '-' ? -INFINITY : INFINITY);
	if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)
		return cJSON_CreateNumber(NAN);
	/* [-+]? digits [. digits] [e[-+]digits], also ".5": strtod accepts more
	 * (hex floats, "inf", "nan"), so check the shape first. */
	const char *q = p;
	bool digits = false;
	while (*q >= '0' && *q <= '9')
		q++, digits = true;
	if (*q == '.') {
		q++;
		while (*q >= '0' && *q <= '9')
			q++, digits = true;
	}
	if (digits && (*q == 'e' || *q == 'E')) {
		q++;
		if (*q == '+' || *q == '-')
			q++;
		if (!(*q >= '0' && *q <= '9'))
			return cJSON_CreateString(s);
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (digits && !*q) {
		double v = strtod(s, &end);
		if (!*end)
			return cJSON_CreateNumber(v);
	}
	return cJSON_CreateString(s);
}

static void remember_anchor(ctx *c, const yaml_char_t *name, const cJSON *node)
{
	if (!name)
		return;
	c->anchors = vk_xrealloc(c->anchors, (c->n_anchors + 1) * sizeof *c->anchors);
	c->anchors[c->n_anchors].name = vk_strdup((const char *)name);
	c->anchors[c->n_anchors].node = cJSON_Duplicate(node, true);
	c->n_anchors++;
}

static size_t count_nodes(const cJSON *n)
{
	size_t k = 1;
	for (const cJSON *ch = n->child; ch; ch = ch->next)
		k += count_nodes(ch);
	return k;
}

static cJSON *parse_node(ctx *c, int depth);

/* Merges the object `src` into `dst` without overriding keys already set. */
static void merge_into(cJSON *dst, const cJSON *src)
{
	for (const cJSON *ch = src->child; ch; ch = ch->next)
		if (!cJSON_GetObjectItemCaseSensitive(dst, ch->string))
			cJSON_AddItemToObject(dst, ch->string, cJSON_Duplicate(ch, true));
}

static cJSON *parse_mapping(ctx *c, int depth)
{
	size_t line = c->ev.start_mark.line;
	const yaml_char_t *anc = c->ev.data.mapping_start.anchor;
	char *anchor_name = anc ? vk_strdup((const char *)anc) : NULL;
	cJSON *obj = cJSON_CreateObject();
	cJSON *merges = NULL; /* values of `<<` keys, merged at the end so explicit keys win */
	for (;;) {
		if (!next(c))
			goto fail;
		if (c->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (c->ev.type != YAML_SCALAR_EVENT) {
			set_err(c, c->ev.start_mark.line, "%s", "only scalar mapping keys are supported");
			goto fail;
		}
		char *key = vk_strdup((const char *)c->ev.data.scalar.value);
		bool merge = c->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(key, "<<") == 0;
		if (!next(c)) {
			free(key);
			goto fail;
		}
		cJSON *val = parse_node(c, depth + 1);
		if (!val) {
			free(key);
			goto fail;
		}
		if (merge) {
			if (!merges)
				merges = cJSON_CreateArray();
			if (cJSON_IsArray(val)) {
				for (cJSON *m = val->child; m; m = m->next)
					cJSON_AddItemToArray(merges, cJSON_Duplicate(m, true));
				cJSON_Delete(val);
			} else {
				cJSON_AddItemToArray(merges, val);
			}
		} else if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
			cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val); /* last one wins */
		} else {
			cJSON_AddItemToObject(obj, key, val);
		}
		free(key);
	}
	for (cJSON *m = merges ? merges->child : NULL; m; m = m->next) {
		if (!cJSON_IsObject(m)) {
			set_err(c, line, "%s", "a << merge key needs a mapping or a list of mappings");
			goto fail;
		}
		merge_into(obj, m);
	}
	cJSON_Delete(merges);
	if (anchor_name)
		remember_anchor(c, (yaml_char_t *)anchor_name, obj);
	free(anchor_name);
	return obj;
fail:
	cJSON_Delete(merges);
	cJSON_Delete(obj);
	free(anchor_name);
	return NULL;
}

static cJSON *parse_sequence(ctx *c, int depth)
{
	const yaml_char_t *anc = c->ev.data.sequence_start.anchor;
	char *anchor_name = anc ? vk_strdup((const char *)anc) : NULL;
	cJSON *arr = cJSON_CreateArray();
	for (;;) {
		if (!next(c))
			goto fail;
		if (c->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		cJSON *val = parse_node(c, depth + 1);
		if (!val)
			goto fail;
		cJSON_AddItemToArray(arr, val);
	}
	if (anchor_name)
		remember_anchor(c, (yaml_char_t *)anchor_name, arr);
	free(anchor_name);
	return arr;
fail:
	cJSON_Delete(arr);
	free(anchor_name);
	return NULL;
}

/* Converts the node whose first event is c->ev. */
static cJSON *parse_node(ctx *c, int depth)
{
	if (depth > MAX_DEPTH) {
		set_err(c, c->ev.start_mark.line, "%s", "nested too deeply");
		return NULL;
	}
	if (++c->nodes > MAX_NODES) {
		set_err(c, c->ev.start_mark.line, "%s", "document too large (alias expansion?)");
		return NULL;
	}
	switch (c->ev.type) {
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)c->ev.data.scalar.value;
		const char *tag = (const char *)c->ev.data.scalar.tag;
		cJSON *n;
		if (tag && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "tag:yaml.org,2002:binary") == 0))
			n = cJSON_CreateString(v);
		else if (c->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			n = cJSON_CreateString(v);
		else
			n = plain_scalar(v, c->ev.data.scalar.length);
		remember_anchor(c, c->ev.data.scalar.anchor, n);
		return n;
	}
	case YAML_SEQUENCE_START_EVENT: return parse_sequence(c, depth);
	case YAML_MAPPING_START_EVENT: return parse_mapping(c, depth);
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)c->ev.data.alias.anchor;
		for (size_t i = c->n_anchors; i-- > 0;) {
			if (strcmp(c->anchors[i].name, name) == 0) {
				c->nodes += count_nodes(c->anchors[i].node);
				if (c->nodes > MAX_NODES) {
					set_err(c, c->ev.start_mark.line, "%s",
					        "document too large (alias expansion?)");
					return NULL;
				}
				return cJSON_Duplicate(c->anchors[i].node, true);
			}
		}
		set_err(c, c->ev.start_mark.line, "unknown alias *%s", name);
		return NULL;
	}
	default: set_err(c, c->ev.start_mark.line, "%s", "unexpected YAML event"); return NULL;
	}
}

static void ctx_free(ctx *c)
{
	if (c->have_ev)
		yaml_event_delete(&c->ev);
	for (size_t i = 0; i < c->n_anchors; i++) {
		free(c->anchors[i].name);
		cJSON_Delete(c->anchors[i].node);
	}
	free(c->anchors);
	yaml_parser_delete(&c->parser);
}

cJSON *vk_yaml_parse_all(const char *text, size_t len, char **err)
{
	ctx c = {0};
	cJSON *docs = cJSON_CreateArray();
	yaml_parser_initialize(&c.parser);
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
	if (!next(&c) || c.ev.type != YAML_STREAM_START_EVENT)
		goto fail;
	for (;;) {
		if (!next(&c))
			goto fail;
		if (c.ev.type == YAML_STREAM_END_EVENT)
			break;
		if (c.ev.type != YAML_DOCUMENT_START_EVENT)
			goto fail;
		if (!next(&c))
			goto fail;
		cJSON *doc = parse_node(&c, 0);
		if (!doc)
			goto fail;
		cJSON_AddItemToArray(docs, doc);
		if (!next(&c) || c.ev.type != YAML_DOCUMENT_END_EVENT)
			goto fail;
		/* Anchors do not cross documents. */
		for (size_t i = 0; i < c.n_anchors; i++) {
			free(c.anchors[i].name);
			cJSON_Delete(c.anchors[i].node);
		}
		c.n_anchors = 0;
	}
	ctx_free(&c);
	return docs;
fail:
	if (!c.err)
		set_err(&c, c.parser.mark.line, "%s", "malformed YAML stream");
	if (err)
		*err = c.err;
	else
		free(c.err);
	ctx_free(&c);
	cJSON_Delete(docs);
	return NULL;
}

cJSON *vk_yaml_parse(const char *text, size_t len, char **err)
{
	cJSON *docs = vk_yaml_parse_all(text, len, err);
	if (!docs)
		return NULL;
	cJSON *first = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	return first ? first : cJSON_CreateNull();
}
