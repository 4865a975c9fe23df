/* --config FILE: a YAML mapping whose keys are vk's long flags, e.g.
 *
 *   provider: /usr/share/vk/providers/mynode.lua
 *   nodename: edge1
 *   port: 10250
 *   disable-taint: true
 *   startup-timeout: 2m
 *
 * Each value goes through the same check as the flag's; an unknown key, a
 * value of the wrong type or a bad value is one line "vk: FILE:LINE: ...". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "vk/util.h"
#include "vk/yaml.h"

static int line_of(const cJSON *lines, const char *key)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(lines, key);
	return cJSON_IsNumber(l) ? l->valueint : 1;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "a list";
	return "a mapping";
}

/* The value as the flag's text, or NULL with *want saying what it takes.
 * Numbers become their decimal text in `num`. */
static const char *as_text(const vk_flag *f, const cJSON *v, char *num, size_t n, const char **want)
{
	switch (f->type) {
	case VK_FLAG_BOOL:
		*want = "true or false";
		return cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? "true" : "false") : NULL;
	case VK_FLAG_UINT:
		*want = "a whole number";
		if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble)
			return NULL;
		snprintf(num, n, "%lld", (long long)v->valuedouble);
		return num;
	case VK_FLAG_DURATION:
		*want = "a duration such as 30s or 1m30s";
		if (cJSON_IsNumber(v) && v->valuedouble == 0)
			return "0";
		return cJSON_IsString(v) ? v->valuestring : NULL;
	case VK_FLAG_STRING:
	default: *want = "a string"; return cJSON_IsString(v) ? v->valuestring : NULL;
	}
}

int vk_app__config_file(const char *path, vk_app_options *o)
{
	vk_buf b = {0};
	char *err = NULL;
	if (vk_read_file(path, &b, &err) < 0) {
		fprintf(stderr, "vk: --config %s\n", err);
		free(err);
		return -1;
	}
	cJSON *doc = vk_yaml_parse(b.data ? b.data : "", b.len, &err);
	cJSON *lines = doc ? vk_yaml_key_lines(b.data ? b.data : "", b.len) : NULL;
	vk_buf_free(&b);
	if (!doc) {
		/* err is "line N: problem" */
		const char *l = err && strncmp(err, "line ", 5) == 0 ? err + 5 : NULL;
		if (l)
			fprintf(stderr, "vk: %s:%.*s:%s\n", path, (int)strcspn(l, ":"), l, l + strcspn(l, ":") + 1);
		else
			fprintf(stderr, "vk: %s: %s\n", path, err ? err : "cannot parse");
		free(err);
		return -1;
	}
	int rc = 0;
	if (cJSON_IsNull(doc)) { /* an empty file */
	} else if (!cJSON_IsObject(doc)) {
		fprintf(stderr, "vk: %s:1: expected a mapping of flag names to values, not %s\n", path, type_name(doc));
		rc = -1;
	}
	for (const cJSON *kv = cJSON_IsObject(doc) ? doc->child : NULL; kv && rc == 0; kv = kv->next) {
		int line = line_of(lines, kv->string);
		const vk_flag *f = vk_app__flag(kv->string);
		if (!f || f->cli_only) {
			fprintf(stderr,
			        "vk: %s:%d: %s '%s' (the keys are vk's long flags without '--'; see vk --help)\n", path,
			        line, f ? "not a config file key:" : "unknown key", kv->string);
			rc = -1;
			break;
		}
		char num[32];
		const char *want = NULL, *text = as_text(f, kv, num, sizeof num, &want);
		if (!text) {
			fprintf(stderr, "vk: %s:%d: %s: expected %s, not %s\n", path, line, kv->string, want,
			        type_name(kv));
			rc = -1;
			break;
		}
		char *why = NULL;
		if (f->set(f, o, text, &why) < 0) {
			fprintf(stderr, "vk: %s:%d: %s %s\n", path, line, kv->string, why ? why : "is not valid");
			free(why);
			rc = -1;
		}
	}
	cJSON_Delete(lines);
	if (rc < 0) {
		cJSON_Delete(doc);
		return -1;
	}
	/* The strings in *o point into doc: it lives as long as the options. */
	cJSON_Delete(o->doc);
	o->doc = doc;
	return 0;
}

void vk_app_options_free(vk_app_options *o)
{
	cJSON_Delete(o->doc);
	o->doc = NULL;
}
