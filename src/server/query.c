/* Path and query parsing of the kubelet API, and the log trimming the core
 * applies to what a provider returns.  Pure functions: see test_server.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* The byte that starts at s[*i], %-escapes decoded, and *i moved past it;
 * -1 for a short or non-hex escape, %00 or a raw NUL. */
static int unescape_at(const char *s, size_t len, size_t *i, bool query)
{
	char c = s[*i];
	if (c == '%') {
		int hi = *i + 2 < len ? vk_hexval(s[*i + 1]) : -1;
		int lo = hi >= 0 ? vk_hexval(s[*i + 2]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0))
			return -1;
		*i += 3;
		return hi << 4 | lo;
	}
	if (c == '\0')
		return -1;
	*i += 1;
	return (query && c == '+') ? ' ' : (unsigned char)c;
}

char *vk_server__unescape(const char *s, size_t len, bool query)
{
	char *out = vk_xmalloc(len + 1), *o = out;
	for (size_t i = 0; i < len;) {
		int c = unescape_at(s, len, &i, query);
		if (c < 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

/* Whether s[0..len), unescaped as a query key, is key (1) or not (0), or
 * -1 when it holds a bad escape; without a copy: kubelet requests look up
 * each of their keys in the whole query. */
static int key_is(const char *s, size_t len, const char *key, size_t klen)
{
	bool same = true;
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		int c = unescape_at(s, len, &i, true);
		if (c < 0)
			return -1;
		same = same && n < klen && (unsigned char)key[n] == c;
		n++;
	}
	return same && n == klen;
}

int vk_server__split_path(const char *path, size_t len, char **segs, int max)
{
	if (len == 0 || path[0] != '/')
		return -EINVAL;
	int n = 0;
	size_t i = 1;
	while (i < len) {
		const char *e = memchr(path + i, '/', len - i);
		size_t end = e ? (size_t)(e - path) : len;
		if (end == i || n == max) /* an empty segment ("//"), or too many */
			goto fail;
		segs[n] = vk_server__unescape(path + i, end - i, false);
		if (!segs[n])
			goto fail;
		n++;
		i = end + 1; /* past the "/": a trailing one ends the loop */
	}
	return n;
fail:
	for (int k = 0; k < n; k++)
		free(segs[k]);
	return -EINVAL;
}

char *vk_server__query_get(const char *q, size_t len, const char *key, bool *bad)
{
	char *val = NULL;
	size_t klen = strlen(key);
	size_t i = 0;
	while (i < len) {
		const char *amp = memchr(q + i, '&', len - i);
		size_t end = amp ? (size_t)(amp - q) : len;
		const char *eq = memchr(q + i, '=', end - i);
		size_t kend = eq ? (size_t)(eq - q) : end;
		int is = key_is(q + i, kend - i, key, klen);
		if (is < 0) {
			*bad = true;
		} else if (is) {
			char *v = eq ? vk_server__unescape(eq + 1, end - kend - 1, true) : vk_strdup("");
			if (!v) {
				*bad = true;
			} else {
				free(val);
				val = v;
			}
		}
		i = end + 1;
	}
	return val;
}

/* Go's strconv.ParseBool, which the API server's query decoding uses. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
	for (size_t i = 0; i < VK_ARRAY_LEN(t); i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_count(const char *s, long long *out)
{
	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

cJSON *vk_server__log_opts(const char *q, size_t len, vk_server_log_limits *lim, char **err)
{
	static const char *const counts[] = {"tailLines", "limitBytes", "sinceSeconds"};
	static const char *const bools[] = {"timestamps", "previous", "follow"};
	*lim = (vk_server_log_limits){.tail_lines = -1, .limit_bytes = -1};
	*err = NULL;
	cJSON *opts = cJSON_CreateObject();
	bool bad = false;
	for (size_t i = 0; i < VK_ARRAY_LEN(counts) && !*err; i++) {
		char *v = vk_server__query_get(q, len, counts[i], &bad);
		long long n;
		if (v && parse_count(v, &n) < 0) {
			*err = vk_asprintf("%s must be a non-negative integer, not '%s'", counts[i], v);
		} else if (v) {
			cJSON_AddNumberToObject(opts, counts[i], (double)n);
			if (i == 0)
				lim->tail_lines = n;
			else if (i == 1)
				lim->limit_bytes = n;
		}
		free(v);
	}
	for (size_t i = 0; i < VK_ARRAY_LEN(bools) && !*err; i++) {
		char *v = vk_server__query_get(q, len, bools[i], &bad);
		bool b;
		if (v && parse_bool(v, &b) < 0) {
			*err = vk_asprintf("%s must be true or false, not '%s'", bools[i], v);
		} else if (v) {
			cJSON_AddBoolToObject(opts, bools[i], b);
			if (i == 2)
				lim->follow = b;
		}
		free(v);
	}
	if (!*err) {
		char *v = vk_server__query_get(q, len, "sinceTime", &bad);
		if (v)
			cJSON_AddStringToObject(opts, "sinceTime", v);
		free(v);
	}
	if (!*err && bad)
		*err = vk_strdup("the query has a bad %-escape");
	if (!*err && lim->limit_bytes == 0)
		*err = vk_strdup("limitBytes must be greater than zero");
	if (*err) {
		cJSON_Delete(opts);
		return NULL;
	}
	return opts;
}

size_t vk_server__log_trim(const char *text, size_t len, const vk_server_log_limits *lim, size_t *off)
{
	size_t start = 0;
	if (lim->tail_lines >= 0) {
		/* Walk back over tail_lines newline-terminated lines; an
		 * unterminated last line counts as one. */
		long long want = lim->tail_lines;
		size_t i = len;
		if (i > 0 && text[i - 1] == '\n')
			i--;
		if (want == 0) {
			start = len;
		} else {
			while (i > 0) {
				if (text[i - 1] == '\n' && --want == 0)
					break;
				i--;
			}
			start = i;
		}
	}
	size_t n = len - start;
	if (lim->limit_bytes >= 0 && (unsigned long long)lim->limit_bytes < n)
		n = (size_t)lim->limit_bytes;
	*off = start;
	return n;
}

const char *vk_server__authz_verb(const char *method, size_t len)
{
	static const struct {
		const char *m, *verb;
	} map[] = {{"GET", "get"},    {"HEAD", "get"},    {"POST", "create"},
	           {"PUT", "update"}, {"PATCH", "patch"}, {"DELETE", "delete"}};
	for (size_t i = 0; i < VK_ARRAY_LEN(map); i++)
		if (strlen(map[i].m) == len && memcmp(map[i].m, method, len) == 0)
			return map[i].verb;
	return "";
}

const char *vk_server__authz_subresource(const char *seg)
{
	static const struct {
		const char *seg, *sub;
	} map[] = {{"stats", "stats"},           {"metrics", "metrics"}, {"logs", "log"},       {"spec", "spec"},
	           {"checkpoint", "checkpoint"}, {"configz", "configz"}, {"healthz", "healthz"}};
	for (size_t i = 0; seg && i < VK_ARRAY_LEN(map); i++)
		if (strcmp(seg, map[i].seg) == 0)
			return map[i].sub;
	return "proxy";
}
