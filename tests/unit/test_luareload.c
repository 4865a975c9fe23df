/* Hot reload of a provider inside the same Lua state: swap on success,
 * nothing changes on failure, in-flight callbacks finish on their version. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provider_wait.h"
#include "tap.h"
#include "vk/json.h"
#include "vk/lua.h"
#include "vk/util.h"

static uv_loop_t loop;
static char dir[64], prov_path[128], helper_path[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* Version N of the provider: its answers say which version ran. */
static void write_version(int n, const char *extra)
{
	char buf[2048];
	snprintf(buf, sizeof buf, "return { version = %d }\n", n);
	write_file(helper_path, buf);
	snprintf(buf, sizeof buf,
	         "local helper = require 'vhelper'\n"
	         "local P = {}\n"
	         "local state = { created = 0 }\n"
	         "function P.init(config, node)\n"
	         "  node.metadata.labels = { version = '%d' }\n"
	         "  vk.timer.every(10, function() _G['ticks_v%d'] = (_G['ticks_v%d'] or 0) + 1 end)\n"
	         "end\n"
	         "function P.on_reload(previous) state = previous.state() end\n"
	         "function P.state() return state end\n"
	         "function P.create_pod(pod)\n"
	         "  state.created = state.created + 1\n"
	         "  if pod.metadata.name == 'sleep' then vk.timer.sleep(1000) end\n"
	         "  return { v = helper.version, loaded = require('vhelper').version, created = state.created,\n"
	         "           ticks1 = _G.ticks_v1 or 0, kb = math.floor(collectgarbage('count')) }\n"
	         "end\n"
	         "function P.delete_pod(pod) end\n"
	         "function P.get_pod_status(ns, name) return nil end\n"
	         "%s\n"
	         "return P\n",
	         n, n, n, extra ? extra : "");
	write_file(prov_path, buf);
}

static void spin(bool *flag) { spin_until(&loop, flag); }

static void create(vk_provider *p, const char *name, result *r)
{
	char buf[128];
	snprintf(buf, sizeof buf, "{\"metadata\":{\"namespace\":\"d\",\"name\":\"%s\"}}", name);
	cJSON *pod = cJSON_Parse(buf);
	memset(r, 0, sizeof *r);
	vk_provider_create_pod(p, pod, on_result, r);
	cJSON_Delete(pod);
}

static int field(const char *json, const char *key)
{
	cJSON *j = cJSON_Parse(json ? json : "{}");
	cJSON *v = cJSON_GetObjectItem(j, key);
	int n = cJSON_IsNumber(v) ? v->valueint : -1;
	cJSON_Delete(j);
	return n;
}

static void rfree(result *r)
{
	free(r->errmsg);
	free(r->value);
}

static char *reload(vk_provider *p, cJSON *node, bool *swapped)
{
	opened o = {0};
	int rc = vk_lua_provider_reload(p, NULL, node, on_open, &o);
	if (rc < 0)
		return vk_strdup(strerror(-rc));
	spin(&o.done);
	*swapped = o.p == p;
	return o.err;
}

static void noop_timer(uv_timer_t *t) { (void)t; }

/* Runs the loop for ms milliseconds. */
static void sleep_ms(unsigned ms)
{
	uint64_t end = vk_now_ms() + ms;
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	while (vk_now_ms() < end) {
		uv_timer_start(&t, noop_timer, end - vk_now_ms(), 0);
		uv_run(&loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

int main(void)
{
	vk_json_init();
	alarm(240);
	vk_log_set_level(VK_LOG_ERROR);
	uv_loop_init(&loop);
	snprintf(dir, sizeof dir, "/tmp/vk-reload-XXXXXX");
	if (!mkdtemp(dir)) {
		tap_skip("no temporary folder");
		return tap_done();
	}
	snprintf(prov_path, sizeof prov_path, "%s/v.lua", dir);
	snprintf(helper_path, sizeof helper_path, "%s/vhelper.lua", dir);
	write_version(1, NULL);

	cJSON *node = cJSON_Parse("{\"metadata\":{\"name\":\"n\"}}");
	vk_lua_opts o = {.loop = &loop, .path = prov_path};
	opened op = {0};
	vk_lua_provider_open(&o, node, on_open, &op);
	spin(&op.done);
	vk_provider *p = op.p;
	ok(p != NULL, "version_1_opens (%s)", op.err ? op.err : "ok");
	free(op.err);
	if (!p)
		return tap_done();

	char **src = vk_lua_provider_sources(p);
	int nsrc = 0;
	bool has_prov = false, has_helper = false;
	for (char **s = src; *s; s++, nsrc++) {
		has_prov |= !strcmp(*s, prov_path);
		has_helper |= !strcmp(*s, helper_path);
		free(*s);
	}
	free(src);
	ok(nsrc == 2 && has_prov && has_helper, "sources_are_the_file_and_its_own_modules (%d)", nsrc);

	result r, slow;
	create(p, "x", &r);
	spin(&r.done);
	is_int(field(r.value, "v"), 1, "version_1_answers");
	rfree(&r);

	create(p, "sleep", &slow); /* in flight across the reload */
	uv_run(&loop, UV_RUN_NOWAIT);

	/* version 1's timer ticks meanwhile: wait until it has, however
	 * slow the machine (alarm() above bounds the wait) */
	int polls = 0;
	for (int ticks = 0; ticks == 0; polls++) {
		sleep_ms(20);
		create(p, "x", &r);
		spin(&r.done);
		ticks = field(r.value, "ticks1");
		rfree(&r);
	}
	write_version(2, NULL);
	bool swapped = false;
	char *err = reload(p, node, &swapped);
	ok(swapped && !err, "a_good_version_is_swapped_in (%s)", err ? err : "ok");
	free(err);
	cJSON *labels = cJSON_GetObjectItem(cJSON_GetObjectItem(node, "metadata"), "labels");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(labels, "version")), "2", "the_new_init_edits_the_node");
	create(p, "x", &r);
	spin(&r.done);
	is_int(field(r.value, "v"), 2, "later_calls_go_to_version_2");
	is_int(field(r.value, "loaded"), 2, "its_modules_were_loaded_afresh");
	/* x, the in-flight sleep (counted as it started), the polls, this x */
	is_int(field(r.value, "created"), 3 + polls, "on_reload_took_the_old_state");
	rfree(&r);
	spin(&slow.done);
	is_int(field(slow.value, "v"), 1, "an_in_flight_callback_finishes_on_its_version");
	rfree(&slow);

	create(p, "x", &r);
	spin(&r.done);
	int t1 = field(r.value, "ticks1");
	rfree(&r);
	sleep_ms(100);
	create(p, "x", &r);
	spin(&r.done);
	ok(t1 > 0 && field(r.value, "ticks1") == t1, "the_old_versions_timers_stopped (%d then %d)", t1,
	   field(r.value, "ticks1"));
	rfree(&r);

	/* Failures keep version 2. */
	write_file(helper_path, "return { version = 3 }\n");
	write_file(prov_path, "local helper = require 'vhelper'\nlocal P = {\n");
	err = reload(p, node, &swapped);
	ok(!swapped && err && !strncmp(err, prov_path, strlen(prov_path)), "a_syntax_error_fails_the_reload (%s)",
	   err ? err : "");
	free(err);
	write_version(3, "P.delete_pod = nil");
	err = reload(p, node, &swapped);
	ok(!swapped && err && strstr(err, "the required callback delete_pod is missing"),
	   "a_missing_callback_fails_the_reload (%s)", err ? err : "");
	free(err);
	write_version(3, "function P.init() error('no init today') end");
	err = reload(p, node, &swapped);
	ok(!swapped && err && strstr(err, "v.lua:18: no init today"), "an_init_error_fails_the_reload (%s)",
	   err ? strtok(err, "\n") : "");
	free(err);
	create(p, "x", &r);
	spin(&r.done);
	ok(field(r.value, "v") == 2 && field(r.value, "loaded") == 2,
	   "after_failed_reloads_version_2_and_its_modules_remain (%s)", r.value ? r.value : r.errmsg);
	rfree(&r);

	/* A reload right after another is refused until the first ends. */
	write_version(4, NULL);
	opened a = {0}, b = {0};
	is_int(vk_lua_provider_reload(p, NULL, node, on_open, &a), 0, "a_reload_starts");
	is_int(vk_lua_provider_reload(p, NULL, node, on_open, &b), -EBUSY, "a_second_concurrent_reload_is_EBUSY");
	spin(&a.done);
	ok(a.p == p, "the_first_reload_succeeds (%s)", a.err ? a.err : "ok");
	free(a.err);

	/* Old versions are garbage: 100 reloads do not grow the Lua heap. */
	create(p, "gc", &r);
	spin(&r.done);
	rfree(&r);
	int kb0 = -1, kb1 = -1, good = 0;
	for (int i = 0; i < 100; i++) {
		write_version(10 + i, NULL);
		err = reload(p, node, &swapped);
		good += swapped;
		free(err);
		if (i == 9 || i == 99) {
			create(p, "x", &r);
			spin(&r.done);
			*(i == 9 ? &kb0 : &kb1) = field(r.value, "kb");
			rfree(&r);
		}
	}
	ok(good == 100 && kb1 > 0 && kb1 < kb0 * 2,
	   "100_reloads_do_not_grow_the_heap (%d KB after 10, %d KB after 100)", kb0, kb1);

	vk_provider_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	is_int(uv_loop_close(&loop), 0, "every_handle_is_closed");
	cJSON_Delete(node);
	unlink(prov_path);
	unlink(helper_path);
	rmdir(dir);
	return tap_done();
}
