/* Spans of JSON text, found without building a tree: the value of one
 * member of an object, and the elements of an array one by one.  A list
 * answer of 500 pods is some 7 MiB of cJSON tree but 1.5 MiB of text; the
 * informer parses one item at a time from the text instead.
 *
 * The scan follows strings (with their escapes) and brackets only; what is
 * inside a value is not checked: the caller parses the spans it uses. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "vk/json.h"

static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at '"': past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* p at the first byte of a value: past its last byte, or NULL. */
static const char *skip_value(const char *p, const char *e)
{
	if (p >= e)
		return NULL;
	if (*p == '"')
		return skip_string(p, e);
	if (*p != '{' && *p != '[') { /* a number, true, false, null */
		const char *s = p;
		while (p < e && !strchr(",]} \t\r\n\"{[:", *p))
			p++;
		return p > s ? p : NULL;
	}
	size_t depth = 0;
	while (p < e) {
		switch (*p) {
		case '"':
			if (!(p = skip_string(p, e)))
				return NULL;
			continue;
		case '{':
		case '[': depth++; break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		default: break;
		}
		p++;
	}
	return NULL;
}

int vk_json_member_span(const char *text, size_t len, const char *name, size_t *at, size_t *n)
{
	const char *e = text + len, *p = ws(text, e);
	size_t nl = strlen(name);
	if (p >= e || *p != '{')
		return -EINVAL;
	p = ws(p + 1, e);
	if (p < e && *p == '}')
		return -ENOENT;
	for (;;) {
		if (p >= e || *p != '"')
			return -EINVAL;
		const char *k = p + 1, *ke = skip_string(p, e);
		if (!ke)
			return -EINVAL;
		/* A key written with escapes is not matched (no name vk asks for needs them). */
		bool match = (size_t)(ke - 1 - k) == nl && memcmp(k, name, nl) == 0;
		p = ws(ke, e);
		if (p >= e || *p != ':')
			return -EINVAL;
		const char *v = ws(p + 1, e), *ve = skip_value(v, e);
		if (!ve)
			return -EINVAL;
		if (match) {
			*at = (size_t)(v - text);
			*n = (size_t)(ve - v);
			return 0;
		}
		p = ws(ve, e);
		if (p < e && *p == '}')
			return -ENOENT;
		if (p >= e || *p != ',')
			return -EINVAL;
		p = ws(p + 1, e);
	}
}

int vk_json_each_element(const char *text, size_t len, int (*fn)(const char *p, size_t n, void *ud), void *ud)
{
	const char *e = text + len, *p = ws(text, e);
	if (p >= e || *p != '[')
		return -EINVAL;
	p = ws(p + 1, e);
	if (p < e && *p == ']')
		return ws(p + 1, e) == e ? 0 : -EINVAL;
	for (;;) {
		const char *v = p, *ve = skip_value(v, e);
		if (!ve)
			return -EINVAL;
		p = ws(ve, e);
		if (p >= e || (*p != ',' && *p != ']'))
			return -EINVAL;
		int rc = fn(v, (size_t)(ve - v), ud);
		if (rc)
			return rc;
		if (*p == ']')
			return ws(p + 1, e) == e ? 0 : -EINVAL;
		p = ws(p + 1, e);
	}
}
