#include "provider_wait.h"

#include <stdlib.h>

#include "vk/util.h"

void on_open(vk_provider *p, const char *err, void *ud)
{
	opened *o = ud;
	o->done = true;
	o->p = p;
	o->err = vk_strdup(err);
}

void on_result(const vk_provider_result *r, void *ud)
{
	result *x = ud;
	x->done = true;
	x->err = r->err;
	x->errmsg = vk_strdup(r->errmsg);
	x->value = r->value ? cJSON_PrintUnformatted(r->value) : NULL;
	cJSON_Delete(r->value);
	x->at = vk_now_ms();
}

void spin_until(uv_loop_t *loop, bool *flag)
{
	while (!*flag)
		uv_run(loop, UV_RUN_ONCE);
}
