/* Logging: one line per record on stderr, UTC timestamp, level, speaker. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vk/util.h"

static vk_log_level min_level = VK_LOG_INFO;
static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void vk_log_set_level(vk_log_level lvl) { min_level = lvl; }
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

void vk_logv(vk_log_level lvl, const char *sub, const char *fmt, va_list ap)
{
	if (lvl < min_level)
		return;
	char ts[40], msg[2048];
	vk_rfc3339(ts, vk_wall_ms(), false);
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One fprintf per record so that lines from a crash or a child stay whole. */
	fprintf(stderr, "%s %-5s %s: %s\n", ts, names[lvl], sub ? sub : "vk", msg);
}

void vk_log(vk_log_level lvl, const char *sub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vk_logv(lvl, sub, fmt, ap);
	va_end(ap);
}
