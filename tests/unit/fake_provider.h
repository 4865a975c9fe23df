/* A small provider in C for the controllers' unit tests: it says which
 * optional callbacks it has and counts the calls it gets (it answers none:
 * a decision that is pure must not call it). */
#ifndef VK_TEST_FAKE_PROVIDER_H
#define VK_TEST_FAKE_PROVIDER_H

#include <errno.h>
#include <stdbool.h>

#include "vk/provider.h"

typedef struct {
	vk_provider p;
	bool has[VK_CALL__COUNT];
	unsigned calls;
} fake_provider;

static int fake_provider_call(vk_provider *p, vk_provider_call c, const cJSON *pod, const char *ns, const char *name,
                              vk_provider_cb cb, void *ud)
{
	((fake_provider *)p)->calls++;
	return -ENOSYS;
}
static bool fake_provider_has(vk_provider *p, vk_provider_call c) { return ((fake_provider *)p)->has[c]; }
static void fake_provider_close(vk_provider *p) {}

static const vk_provider_iface fake_provider_iface = {
	.call = fake_provider_call,
	.has = fake_provider_has,
	.close = fake_provider_close,
};

/* A provider with the required callbacks, and update_pod when `update`. */
static inline void fake_provider_init(fake_provider *f, bool update)
{
	*f = (fake_provider){.p = {.iface = &fake_provider_iface, .name = "fake"}};
	f->has[VK_CALL_CREATE_POD] = f->has[VK_CALL_DELETE_POD] = f->has[VK_CALL_GET_POD_STATUS] = true;
	f->has[VK_CALL_UPDATE_POD] = update;
}

#endif
