/* container_logs' `out` in the Lua host (src/lua/log_out.c), with an
 * output written in C: each write yields until the output calls back,
 * from the loop; a closed output makes writes false; an `out` kept after
 * its call is closed for good; a provider closed while a write waits
 * cancels it (the output never calls back into freed memory). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provider_wait.h"
#include "tap.h"
#include "vk/json.h"
#include "vk/lua.h"
#include "vk/util.h"

static uv_loop_t loop;

typedef struct {
	vk_provider_out o;
	vk_buf got;
	vk_provider_out_cb cb;
	void *arg;
	uv_timer_t t;
	int writes, close_after, cancels;
	bool hold, closed;
} fake_out;

static void on_t(uv_timer_t *t)
{
	fake_out *f = t->data;
	vk_provider_out_cb cb = f->cb;
	f->cb = NULL;
	if (cb)
		cb(f->arg, !f->closed);
}

static int f_write(vk_provider_out *o, const char *data, size_t len, vk_provider_out_cb cb, void *arg)
{
	fake_out *f = (fake_out *)o;
	if (f->closed)
		return -EPIPE;
	vk_buf_append(&f->got, data, len);
	f->writes++;
	if (f->close_after && f->writes >= f->close_after)
		f->closed = true;
	f->cb = cb;
	f->arg = arg;
	if (!f->hold)
		uv_timer_start(&f->t, on_t, 0, 0); /* answers from the loop, as the contract says */
	return 0;
}

static bool f_closed(vk_provider_out *o) { return ((fake_out *)o)->closed; }

static void f_cancel(vk_provider_out *o)
{
	fake_out *f = (fake_out *)o;
	f->cancels++;
	f->cb = NULL;
}

static void fake_reset(fake_out *f)
{
	f->o = (vk_provider_out){.write = f_write, .closed = f_closed, .cancel = f_cancel};
	f->got.len = 0;
	f->cb = NULL;
	f->writes = f->close_after = f->cancels = 0;
	f->hold = f->closed = false;
}

static void follow(vk_provider *p, const char *pod, fake_out *f, result *r)
{
	cJSON *args = cJSON_Parse("{\"container\":\"main\",\"opts\":{\"follow\":true}}");
	memset(r, 0, sizeof *r);
	int rc = vk_provider_follow_logs(p, "default", pod, args, &f->o, on_result, r);
	cJSON_Delete(args);
	if (rc < 0) {
		r->done = true;
		r->err = rc;
	}
}

static void result_free(result *r)
{
	free(r->errmsg);
	free(r->value);
	memset(r, 0, sizeof *r);
}

int main(void)
{
	vk_json_init();
	uv_loop_init(&loop);
	if (chdir(VK_SOURCE_LUA_DIR "/..") != 0) {
		tap_skip("cannot chdir to the source tree");
		return tap_done();
	}
	vk_lua_opts o = {.loop = &loop, .path = "tests/unit/data/follow_provider.lua"};
	opened op = {0};
	if (vk_lua_provider_open(&o, NULL, on_open, &op) < 0)
		return tap_done();
	spin_until(&loop, &op.done);
	vk_provider *p = op.p;
	ok(p != NULL, "the provider loads (%s)", op.err ? op.err : "no error");
	free(op.err);
	if (!p)
		return tap_done();

	fake_out f = {0};
	uv_timer_init(&loop, &f.t);
	f.t.data = &f;
	result r;

	fake_reset(&f);
	follow(p, "web", &f, &r);
	spin_until(&loop, &r.done);
	is_str(r.value, "\"true,true,true,false\"",
	       "each write returns true once the output took it; closed() is false");
	ok(f.got.len == 21 && memcmp(f.got.data, "line 1\nline 2\nline 3\n", 21) == 0,
	   "the output got the three writes in order");
	result_free(&r);

	fake_reset(&f);
	f.close_after = 1;
	follow(p, "web", &f, &r);
	spin_until(&loop, &r.done);
	is_str(r.value, "\"false,false,false,true\"",
	       "a write the output answers with false returns false, later ones at once, and closed() is true");
	is_int(f.writes, 1, "no write reaches a closed output");
	result_free(&r);

	cJSON *args = cJSON_Parse("{\"container\":\"main\"}");
	vk_provider_container_logs(p, "default", "none", args, on_result, &r);
	spin_until(&loop, &r.done);
	is_str(r.value, "\"nil\"", "without follow there is no fifth argument");
	result_free(&r);

	fake_reset(&f);
	follow(p, "keep", &f, &r);
	spin_until(&loop, &r.done);
	result_free(&r);
	vk_provider_container_logs(p, "default", "stale", args, on_result, &r);
	spin_until(&loop, &r.done);
	is_str(r.value, "\"false true\"", "an out kept after its call is closed: write is false, nothing is written");
	is_int(f.writes, 0, "and its output is never called");
	result_free(&r);
	cJSON_Delete(args);

	fake_reset(&f);
	follow(p, "bad", &f, &r);
	spin_until(&loop, &r.done);
	ok(r.err == -EIO && r.errmsg && strstr(r.errmsg, "bad argument #1 to 'write'"),
	   "out:write with a table is an error naming the argument (%s)", r.errmsg ? r.errmsg : "");
	result_free(&r);

	fake_reset(&f);
	f.hold = true;
	follow(p, "web", &f, &r);
	uint64_t t0 = vk_now_ms();
	while (f.writes == 0 && vk_now_ms() - t0 < 10000)
		uv_run(&loop, UV_RUN_ONCE);
	ok(f.writes == 1 && !r.done, "a write the output holds keeps the callback waiting");
	vk_provider_close(p);
	ok(r.done && r.err == -ECANCELED && f.cancels == 1 && f.cb == NULL,
	   "closing the provider cancels the waiting write and ends the call (%d, %d cancels)", r.err, f.cancels);
	result_free(&r);

	uv_close((uv_handle_t *)&f.t, NULL);
	vk_buf_free(&f.got);
	uv_run(&loop, UV_RUN_DEFAULT);
	is_int(uv_loop_close(&loop), 0, "no handle is left on the loop");
	return tap_done();
}
