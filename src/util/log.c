/* Logging: one line per record on stderr, UTC timestamp, level, speaker;
 * or, with vk_log_set_json, one JSON object per line. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vk/util.h"

static vk_log_level min_level = VK_LOG_INFO;
static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const json_names[] = {"debug", "info", "warn", "error"};
static bool json;

void vk_log_set_level(vk_log_level lvl) { min_level = lvl; }
void vk_log_set_json(bool on) { json = on; }
vk_log_level vk_log_get_level(void) { return min_level; }

int vk_log_parse_level(const char *s, vk_log_level *out)
{
	for (size_t i = 0; i < VK_ARRAY_LEN(names); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (vk_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = VK_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

/* Who speaks, as the rest of vk names it: "provider CALLBACK [NS/NAME]"
 * for a provider callback (the Lua host's speakers; a task it spawned adds
 * " > task FILE:LINE"), "pod" with a message that starts with "NS/NAME: "
 * for the pod controller. */
static void split_speaker(const char *sub, const char *msg, char *comp, char *cb, char *pod, size_t n)
{
	comp[0] = cb[0] = pod[0] = '\0';
	snprintf(comp, n, "%s", sub);
	if (strncmp(sub, "provider ", 9) == 0) {
		snprintf(comp, n, "provider");
		const char *c = sub + 9;
		size_t cl = strcspn(c, " ");
		snprintf(cb, n, "%.*s", (int)cl, c);
		const char *p = c[cl] ? c + cl + 1 : c + cl;
		size_t pl = strcspn(p, " ");
		if (pl && memchr(p, '/', pl))
			snprintf(pod, n, "%.*s", (int)pl, p);
	} else if (strcmp(sub, "pod") == 0) {
		size_t k = strcspn(msg, ": ");
		if (msg[k] == ':' && msg[k + 1] == ' ' && memchr(msg, '/', k) && k < n)
			snprintf(pod, n, "%.*s", (int)k, msg);
	}
}

char *vk_log_format_json(vk_log_level lvl, const char *ts, const char *sub, const char *msg)
{
	char comp[256], cb[256], pod[256];
	split_speaker(sub ? sub : "vk", msg, comp, cb, pod, sizeof comp);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "time", ts);
	cJSON_AddStringToObject(o, "level", json_names[lvl]);
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddStringToObject(o, "component", comp);
	if (pod[0])
		cJSON_AddStringToObject(o, "pod", pod);
	if (cb[0])
		cJSON_AddStringToObject(o, "callback", cb);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

void vk_logv(vk_log_level lvl, const char *sub, const char *fmt, va_list ap)
{
	if (lvl < min_level)
		return;
	char ts[40], msg[2048];
	vk_rfc3339(ts, vk_wall_ms(), false);
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One fprintf per record so that lines from a crash or a child stay whole. */
	if (json) {
		char *line = vk_log_format_json(lvl, ts, sub, msg);
		fprintf(stderr, "%s\n", line);
		cJSON_free(line);
		return;
	}
	fprintf(stderr, "%s %-5s %s: %s\n", ts, names[lvl], sub ? sub : "vk", msg);
}

void vk_log(vk_log_level lvl, const char *sub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vk_logv(lvl, sub, fmt, ap);
	va_end(ap);
}
