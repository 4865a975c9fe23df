/* Clocks, RFC 3339 timestamps and jittered exponential backoff. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vk/util.h"

uint64_t vk_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t vk_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void vk_rfc3339(char out[40], uint64_t wall_ms, bool micro)
{
	time_t s = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (micro)
		snprintf(out + n, 40 - n, ".%06uZ", (unsigned)(wall_ms % 1000) * 1000u);
	else
		snprintf(out + n, 40 - n, "Z");
}

uint64_t vk_backoff_next(vk_backoff *b)
{
	uint64_t d = b->base_ms;
	for (unsigned i = 0; i < b->attempt && d < b->max_ms; i++)
		d *= 2;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	if (b->exact)
		return d;
	/* Jitter in [d/2, d]: spreads reconnecting clients without ever waiting
	 * less than half the nominal delay. */
	uint64_t half = d / 2;
	return half + (half ? (uint64_t)random() % (half + 1) : 0);
}

void vk_backoff_reset(vk_backoff *b) { b->attempt = 0; }
