/* Waiting on a provider in the Lua host tests: callbacks that record what
 * came back, and a loop runner. */
#ifndef VK_PROVIDER_WAIT_H
#define VK_PROVIDER_WAIT_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "vk/provider.h"

typedef struct {
	bool done;
	vk_provider *p;
	char *err;
} opened;

typedef struct {
	bool done;
	int err;
	char *errmsg;
	char *value; /* printed JSON, or NULL for nil */
	uint64_t at; /* vk_now_ms() when it came */
} result;

void on_open(vk_provider *p, const char *err, void *ud); /* ud: opened */
void on_result(const vk_provider_result *r, void *ud);   /* ud: result */
void spin_until(uv_loop_t *loop, bool *flag);            /* runs the loop until *flag */
#endif
