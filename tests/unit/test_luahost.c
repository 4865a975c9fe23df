/* The Lua provider host through the vk_provider interface, on a real uv
 * loop and without a cluster: the providers in tests/lua/providers. */
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

#define DIR "tests/lua/providers/"

/* ---- opening ------------------------------------------------------------ */

static void spin(bool *flag) { spin_until(&loop, flag); }

/* vk_lua_opts.on_quiet: the provider has been quiet for a second. */
static bool quiet;
static void on_quiet(void *ud) { *(bool *)ud = true; }
static void keep_alive(uv_timer_t *t) { (void)t; }

static vk_provider *open_p(const char *path, const char *config, cJSON *node, uint64_t max_instr, char **err)
{
	cJSON *cfg = config ? cJSON_Parse(config) : NULL;
	/* a huge instruction budget leaves the clock to stop loops */
	vk_lua_opts o = {.loop = &loop,
	                 .path = path,
	                 .config = cfg,
	                 .max_instructions = max_instr,
	                 .max_run_ms = max_instr > 1000000000ull ? 200 : 1000,
	                 .on_quiet = on_quiet,
	                 .quiet_ud = &quiet};
	opened r = {0};
	int rc = vk_lua_provider_open(&o, node, on_open, &r);
	cJSON_Delete(cfg); /* only read during open */
	if (rc < 0) {
		*err = strdup(strerror(-rc));
		return NULL;
	}
	spin(&r.done);
	*err = r.err;
	return r.p;
}

/* ---- calls -------------------------------------------------------------- */

static void result_free(result *r)
{
	free(r->errmsg);
	free(r->value);
	memset(r, 0, sizeof *r);
}

static cJSON *make_pod(const char *name, const char *ms)
{
	char buf[512];
	snprintf(buf, sizeof buf,
	         "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"default\",\"name\":\"%s\","
	         "\"annotations\":{\"ms\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
	         name, ms ? ms : "0");
	return cJSON_Parse(buf);
}

static void create(vk_provider *p, const char *name, const char *ms, result *r)
{
	cJSON *pod = make_pod(name, ms);
	int rc = vk_provider_create_pod(p, pod, on_result, r);
	cJSON_Delete(pod); /* the host copied it into Lua */
	if (rc < 0) {
		r->done = true;
		r->err = rc;
	}
}

static void create_sync(vk_provider *p, const char *name, result *r)
{
	create(p, name, NULL, r);
	spin(&r->done);
}

static bool first_line_is(const char *msg, const char *prefix, const char *suffix)
{
	if (!msg || strncmp(msg, prefix, strlen(prefix)))
		return false;
	const char *nl = strchr(msg, '\n');
	size_t len = nl ? (size_t)(nl - msg) : strlen(msg);
	size_t sl = strlen(suffix);
	return len >= sl && !memcmp(msg + len - sl, suffix, sl);
}

/* The first line of a message, for one-line TAP diagnostics. */
static const char *line1(const char *msg)
{
	static char buf[4][512];
	static int i;
	char *b = buf[i++ % 4];
	snprintf(b, sizeof buf[0], "%s", msg ? msg : "(null)");
	b[strcspn(b, "\n")] = '\0';
	return b;
}

/* Closes the provider from inside a callback: the controllers may do that. */
static vk_provider *to_close;
static void close_on_result(const vk_provider_result *r, void *ud)
{
	on_result(r, ud);
	if (to_close) {
		vk_provider *p = to_close;
		to_close = NULL;
		vk_provider_close(p);
	}
}
static void close_on_notify(cJSON *j, void *ud)
{
	cJSON_Delete(j);
	vk_provider *p = ud;
	vk_provider_close(p);
}

static int notified;
static char *notified_json;
static void on_notify(cJSON *j, void *ud)
{
	notified++;
	free(notified_json);
	notified_json = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
}

int main(void)
{
	vk_json_init();
	/* Paths in messages are relative to the source tree. */
	if (chdir(VK_SOURCE_LUA_DIR "/..") != 0) {
		tap_skip("cannot chdir to the source tree");
		return tap_done();
	}
	alarm(240); /* a hung loop fails the test instead of hanging the suite */
	vk_log_set_level(VK_LOG_WARN);
	uv_loop_init(&loop);
	char *err = NULL;

	/* --- open failures --- */
	vk_provider *p = open_p(DIR "missing.lua", NULL, NULL, 0, &err);
	ok(!p && err && strstr(err, DIR "missing.lua: the required callback delete_pod is missing") &&
	           strstr(err, "; " DIR "missing.lua: the required callback get_pod_status is missing") &&
	           !strchr(err, '\n'),
	   "missing_required_callbacks_are_named (%s)", line1(err));
	free(err);

	p = open_p(DIR "syntax_error.lua", NULL, NULL, 0, &err);
	ok(!p && err && !strncmp(err, DIR "syntax_error.lua:3:", strlen(DIR "syntax_error.lua:3:")),
	   "syntax_error_gives_file_line (%s)", line1(err));
	free(err);

	p = open_p(DIR "toplevel_io.lua", NULL, NULL, 0, &err);
	ok(!p && first_line_is(err, DIR "toplevel_io.lua:3: vk.timer.sleep: cannot do I/O here",
	                       "move the call into a callback"),
	   "io_at_top_level_is_a_clear_error (%s)", line1(err));
	free(err);

	uint64_t t0 = vk_now_ms();
	p = open_p(DIR "toplevel_loop.lua", NULL, NULL, 1000000, &err);
	/* Bounds here are far above what is asked and far below "never":
	 * a busy machine stretches the time, it must not fail the test. */
	ok(!p && first_line_is(err, DIR "toplevel_loop.lua:2: callback exceeded its budget", "ms)") &&
	           vk_now_ms() - t0 < 15000,
	   "an_endless_top_level_is_stopped (%s, %llu ms)", line1(err), (unsigned long long)(vk_now_ms() - t0));
	free(err);

	p = open_p(DIR "no_such_file.lua", NULL, NULL, 0, &err);
	ok(!p && err && strstr(err, "no_such_file.lua"), "a_missing_file_is_named (%s)", line1(err));
	free(err);

	/* --- init edits the node --- */
	cJSON *node = cJSON_Parse("{\"metadata\":{\"name\":\"n1\",\"labels\":{\"type\":\"virtual-kubelet\"}},"
	                          "\"status\":{\"addresses\":[]}}");
	p = open_p(DIR "behaviours.lua", "{\"greeting\":\"hi\"}", node, 2000000, &err);
	ok(p != NULL, "behaviours_opens (%s)", err ? err : "ok");
	free(err);
	if (!p)
		return tap_done();
	char *ns = cJSON_PrintUnformatted(node);
	is_str(ns,
	       "{\"metadata\":{\"labels\":{\"example.com/greeting\":\"hi\",\"type\":\"virtual-kubelet\"},"
	       "\"name\":\"n1\"},\"status\":{\"addresses\":[],\"capacity\":{\"cpu\":\"4\",\"pods\":\"10\"}}}",
	       "init_edits_the_callers_node_in_place");
	free(ns);
	is_str(p->name, "behaviours", "the_provider_name_comes_from_P_name");
	ok(vk_provider_has(p, VK_CALL_CREATE_POD) && vk_provider_has(p, VK_CALL_NODE_STATUS) &&
	           !vk_provider_has(p, VK_CALL_UPDATE_POD) && !vk_provider_has(p, VK_CALL_PING),
	   "has_reports_the_callbacks_present");
	result r = {0};
	is_int(vk_provider_ping(p, on_result, &r), -ENOSYS, "an_absent_optional_callback_is_ENOSYS");

	/* --- values --- */
	create_sync(p, "hello", &r);
	is_str(r.value, "{\"containers\":1,\"got\":\"hello\",\"kind\":\"Pod\",\"same_vk\":true,\"shout\":\"X\"}",
	       "create_pod_return_value_arrives_as_json (and modules beside the provider load)");
	is_int(r.err, 0, "a_returning_callback_has_no_error");
	result_free(&r);
	{
		/* The settle timer does not keep a loop alive (vk's sockets do). */
		static uv_timer_t ka; /* alive until its close callback */
		uv_timer_init(&loop, &ka);
		uv_timer_start(&ka, keep_alive, 10, 10);
		quiet = false;
		spin(&quiet); /* the alarm above fails the test if it never comes */
		ok(quiet, "on_quiet_runs_once_the_provider_is_quiet_after_a_callback");
		uv_close((uv_handle_t *)&ka, NULL);
	}

	create_sync(p, "pack", &r);
	is_str(r.value, "{\"refused\":true,\"same\":true,\"smaller\":true,\"table_too\":\"pack\"}",
	       "json_pack_round_trips_shrinks_takes_tables_and_refuses_other_strings");
	result_free(&r);

	is_int(vk_provider_get_pod_status(p, "default", "web", on_result, &r), 0, "get_pod_status_starts");
	ok(!r.done, "the_callback_never_runs_inside_call");
	spin(&r.done);
	is_str(r.value, "{\"ns\":\"default\",\"phase\":\"Running\",\"podIP\":\"10.0.0.2\"}",
	       "get_pod_status_gets_ns_and_name");
	result_free(&r);
	vk_provider_get_pod_status(p, "default", "missing", on_result, &r);
	spin(&r.done);
	ok(r.err == 0 && r.value == NULL, "nil_return_is_a_NULL_value");
	result_free(&r);
	vk_provider_get_pod_status(p, "default", "as-text", on_result, &r);
	spin(&r.done);
	is_str(r.value, "{\"phase\":\"Running\",\"podIP\":\"10.0.0.3\"}", "a_status_returned_as_JSON_text_is_parsed");
	result_free(&r);
	vk_provider_get_pod_status(p, "default", "bad-text", on_result, &r);
	spin(&r.done);
	ok(r.err == -EIO && r.errmsg && strstr(r.errmsg, "get_pod_status returned a string that is not JSON"),
	   "a_string_that_is_not_JSON_is_an_error_naming_the_callback (%s)", r.errmsg ? r.errmsg : "");
	result_free(&r);
	vk_provider_get_pod_status(p, "default", "packed", on_result, &r);
	spin(&r.done);
	is_str(r.value, "{\"phase\":\"Running\",\"podIP\":\"10.0.0.4\"}",
	       "a_status_returned_as_vk_json_pack_made_it_is_unpacked_and_parsed");
	result_free(&r);
	vk_provider_get_pod_status(p, "default", "packed-cut", on_result, &r);
	spin(&r.done);
	ok(r.err == -EIO && r.errmsg && strstr(r.errmsg, "get_pod_status returned a string that is not JSON"),
	   "a_packed_status_cut_short_is_an_error_too (%s)", r.errmsg ? r.errmsg : "");
	result_free(&r);
	vk_provider_get_pods(p, on_result, &r);
	spin(&r.done);
	is_str(r.value, "[]", "get_pods_empty_table_is_an_empty_array");
	result_free(&r);
	cJSON *la = cJSON_Parse("{\"container\":\"main\",\"opts\":{\"tailLines\":3,\"timestamps\":true}}");
	is_int(vk_provider_container_logs(p, "default", "web", la, on_result, &r), 0, "container_logs_starts");
	cJSON_Delete(la);
	spin(&r.done);
	is_str(r.value, "\"default/web/main tailLines=3 timestamps=true\"",
	       "container_logs_gets_ns_pod_container_and_opts_and_returns_a_string");
	result_free(&r);
	la = cJSON_Parse("{\"container\":\"main\"}");
	vk_provider_container_logs(p, "default", "web", la, on_result, &r);
	cJSON_Delete(la);
	spin(&r.done);
	is_str(r.value, "\"default/web/main tailLines=nil timestamps=nil\"",
	       "container_logs_opts_default_to_an_empty_table");
	result_free(&r);
	is_int(vk_provider_stats_summary(p, on_result, &r), -ENOSYS, "stats_summary_is_optional");
	cJSON *n2 = cJSON_Parse("{\"metadata\":{\"name\":\"n1\",\"labels\":{}},\"status\":{}}");
	vk_provider_node_status(p, n2, on_result, &r);
	cJSON_Delete(n2);
	spin(&r.done);
	is_str(r.value,
	       "{\"metadata\":{\"labels\":{\"example.com/status\":\"seen\"},\"name\":\"n1\"},\"status\":{\"conditions\":[]}}",
	       "node_status_edits_come_back_when_it_returns_nothing");
	result_free(&r);

	/* --- errors --- */
	create_sync(p, "boom", &r);
	ok(r.err == -EIO && first_line_is(r.errmsg, DIR "behaviours.lua:", ": boom") &&
	           strstr(r.errmsg, "\nstack traceback:"),
	   "error_is_EIO_with_file_line_then_traceback (%s)", line1(r.errmsg));
	result_free(&r);

	create_sync(p, "badvalue", &r);
	ok(r.err == -EIO && r.errmsg &&
	           strstr(r.errmsg, "create_pod returned a value with no JSON form: f: a function"),
	   "a_value_with_no_json_form_is_an_error (%s)", line1(r.errmsg));
	result_free(&r);

	create_sync(p, "yield", &r);
	ok(r.err == -EIO && r.errmsg && strstr(r.errmsg, "coroutine.yield() outside a coroutine the provider created"),
	   "bare_coroutine_yield_is_an_error (%s)", line1(r.errmsg));
	result_free(&r);

	create_sync(p, "inner", &r);
	ok(r.err == -EIO && r.errmsg &&
	           strstr(r.errmsg, "vk.timer.sleep: cannot do I/O inside a coroutine the provider created"),
	   "io_in_a_provider_coroutine_is_an_error (%s)", line1(r.errmsg));
	result_free(&r);

	create_sync(p, "kube", &r);
	ok(r.err == -EIO && r.errmsg && strstr(r.errmsg, "vk.kube.get_configmap: no cluster connection"),
	   "vk_kube_without_a_cluster_is_a_clear_error (%s)", line1(r.errmsg));
	result_free(&r);

	/* --- budgets --- */
	t0 = vk_now_ms();
	create_sync(p, "loop", &r);
	ok(r.err == -ETIMEDOUT && first_line_is(r.errmsg, DIR "behaviours.lua:", "ms)") &&
	           strstr(r.errmsg, "callback exceeded its budget (2000000 instructions / 1000 ms"),
	   "an_endless_loop_is_stopped_by_the_budget (%s)", line1(r.errmsg));
	ok(vk_now_ms() - t0 < 15000, "the_loop_was_stopped_within_the_budget (%llu ms, 1000 asked)",
	   (unsigned long long)(vk_now_ms() - t0));
	result_free(&r);
	create_sync(p, "ploop", &r);
	ok(r.err == -ETIMEDOUT && r.errmsg && strstr(r.errmsg, "callback exceeded its budget"),
	   "a_pcall_cannot_swallow_the_budget_kill (%s)", line1(r.errmsg));
	result_free(&r);
	create_sync(p, "hello", &r);
	ok(r.err == 0 && r.value, "the_provider_works_after_a_kill");
	result_free(&r);

	/* --- yielding --- */
	/* Overlap is proven by order, not by time: a short sleep started
	 * after a long one ends first only if the long one yielded. */
	result a = {0}, b = {0};
	create(p, "sleep", "2000", &a);
	create(p, "sleep", "10", &b);
	spin(&b.done);
	ok(b.err == 0 && !a.done, "two_sleeping_callbacks_overlap (the 10 ms sleep started second ended first)");
	t0 = vk_now_ms();
	spin(&a.done);
	uint64_t took = vk_now_ms() - t0;
	ok(a.err == 0, "the_long_sleep_ends_too (%llu ms after the short one)", (unsigned long long)took);
	is_str(a.value, "{\"slept\":2000}", "sleep_resumes_the_callback");
	result_free(&a);
	result_free(&b);

	enum { MANY = 500 };
	result *many = calloc(MANY, sizeof *many);
	t0 = vk_now_ms();
	for (int i = 0; i < MANY; i++)
		create(p, "sleep", "50", &many[i]);
	int good = 0;
	for (int i = 0; i < MANY; i++) {
		spin(&many[i].done);
		good += many[i].err == 0;
		result_free(&many[i]);
	}
	took = vk_now_ms() - t0;
	/* one after the other they would take 25 s */
	ok(good == MANY && took < 12500, "500_concurrent_sleeping_callbacks (%d ok in %llu ms)", good,
	   (unsigned long long)took);
	free(many);

	create_sync(p, "every", &r);
	is_str(r.value, "{\"ticks\":3}", "timer_every_ticks_until_stopped");
	result_free(&r);

	create_sync(p, "json", &r);
	is_str(r.value,
	       "{\"n_type\":\"integer\",\"s\":\"{\\\"a\\\":[],\\\"b\\\":null,\\\"c\\\":[1,2]}\","
	       "\"x_is_array\":true,\"y_is_null\":true,\"yaml_b2\":\"y\"}",
	       "vk_json_and_vk_yaml_from_lua");
	result_free(&r);

	/* --- notify --- */
	create_sync(p, "notify", &r);
	is_str(r.value, "{\"delivered\":false}", "notify_without_a_notifier_is_false");
	result_free(&r);
	vk_provider_set_notify(p, on_notify, NULL);
	create_sync(p, "notify", &r);
	is_str(r.value, "{\"delivered\":true}", "notify_with_a_notifier_is_true");
	is_int(notified, 1, "notify_reaches_the_notify_callback");
	is_str(notified_json, "{\"status\":{\"phase\":\"Running\"},\"namespace\":\"default\",\"name\":\"notify\"}",
	       "notify_fills_the_pod_key_of_the_callback");
	result_free(&r);

	/* --- providers/mock.lua --- */
	cJSON *mnode = cJSON_Parse("{\"metadata\":{\"name\":\"edge1\",\"labels\":{}},\"status\":{\"addresses\":"
	                           "[{\"type\":\"InternalIP\",\"address\":\"192.0.2.7\"}]}}");
	vk_provider *m = open_p(
		"providers/mock.lua",
		"{\"cpu\": 8, \"startup_delay_ms\": 50, \"log_text\": \"hi\", \"labels\": {\"zone\": \"lab\"}}", mnode,
		0, &err);
	ok(m != NULL, "mock_opens (%s)", line1(err));
	free(err);
	if (m) {
		is_str(m->name, "mock", "mock_is_named_mock");
		cJSON *st = cJSON_GetObjectItem(mnode, "status");
		char *cap = cJSON_PrintUnformatted(cJSON_GetObjectItem(st, "capacity"));
		is_str(cap, "{\"cpu\":\"8\",\"ephemeral-storage\":\"100Gi\",\"memory\":\"100Gi\",\"pods\":\"110\"}",
		       "mock_capacity_comes_from_config_with_defaults");
		free(cap);
		is_str(cJSON_GetStringValue(cJSON_GetObjectItem(
			       cJSON_GetObjectItem(cJSON_GetObjectItem(mnode, "metadata"), "labels"), "zone")),
		       "lab", "mock_adds_config_labels");
		vk_provider_set_notify(m, on_notify, NULL);
		notified = 0;
		cJSON *pod = make_pod("web-1", NULL);
		vk_provider_create_pod(m, pod, on_result, &r);
		result s1 = {0};
		uv_run(&loop, UV_RUN_NOWAIT);
		vk_provider_get_pod_status(m, "default", "web-1", on_result, &s1);
		spin(&s1.done);
		ok(s1.value && strstr(s1.value, "\"phase\":\"Pending\""),
		   "mock_pod_is_pending_during_the_startup_delay");
		result_free(&s1);
		spin(&r.done);
		ok(r.err == 0 && notified == 1, "mock_create_notifies_once (%s)", line1(r.errmsg));
		cJSON *nj = cJSON_Parse(notified_json);
		cJSON *status = cJSON_GetObjectItem(nj, "status");
		is_str(cJSON_GetStringValue(cJSON_GetObjectItem(status, "phase")), "Running", "mock_status_is_running");
		is_str(cJSON_GetStringValue(cJSON_GetObjectItem(status, "podIP")), "10.0.0.2", "mock_pod_ip_is_fake");
		is_str(cJSON_GetStringValue(cJSON_GetObjectItem(status, "hostIP")), "192.0.2.7",
		       "mock_host_ip_is_the_nodes");
		cJSON *cs = cJSON_GetArrayItem(cJSON_GetObjectItem(status, "containerStatuses"), 0);
		ok(cJSON_IsTrue(cJSON_GetObjectItem(cs, "ready")) &&
		           cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cs, "state"), "running"),
		                               "startedAt") &&
		           cJSON_GetObjectItem(cs, "restartCount")->valueint == 0,
		   "mock_container_status_is_running_and_ready");
		is_int(cJSON_GetArraySize(cJSON_GetObjectItem(status, "conditions")), 4, "mock_has_four_conditions");
		cJSON_Delete(nj);
		result_free(&r);
		vk_provider_get_pods(m, on_result, &r);
		spin(&r.done);
		cJSON *list = cJSON_Parse(r.value);
		ok(cJSON_IsArray(list) && cJSON_GetArraySize(list) == 1, "mock_get_pods_lists_the_pod");
		cJSON_Delete(list);
		result_free(&r);
		vk_provider_ping(m, on_result, &r);
		spin(&r.done);
		is_int(r.err, 0, "mock_ping_is_ok");
		result_free(&r);
		vk_provider_delete_pod(m, pod, on_result, &r);
		spin(&r.done);
		result_free(&r);
		vk_provider_get_pod_status(m, "default", "web-1", on_result, &r);
		spin(&r.done);
		ok(r.err == 0 && r.value == NULL, "mock_forgets_a_deleted_pod");
		result_free(&r);
		cJSON_Delete(pod);
		vk_provider_close(m);
	}
	cJSON_Delete(mnode);

	/* --- the wall-clock budget, reset by every resume --- */
	cJSON *qnode = cJSON_Parse("{\"metadata\":{\"name\":\"n2\"}}");
	vk_provider *q = open_p(DIR "behaviours.lua", NULL, qnode, 1000000000000ull, &err);
	ok(q != NULL, "a_second_provider_opens_beside_the_first (%s)", line1(err));
	free(err);
	cJSON_Delete(qnode);
	if (q) {
		t0 = vk_now_ms();
		create_sync(q, "loop", &r);
		took = vk_now_ms() - t0;
		ok(r.err == -ETIMEDOUT && r.errmsg && strstr(r.errmsg, "/ 200 ms") && took >= 190 && took < 15000,
		   "the_wall_clock_budget_stops_a_loop (%llu ms, %s)", (unsigned long long)took, line1(r.errmsg));
		result_free(&r);
		cJSON *pod = make_pod("sleep", "300");
		vk_provider_create_pod(q, pod, on_result, &r);
		cJSON_Delete(pod);
		spin(&r.done);
		ok(r.err == 0, "time_spent_waiting_does_not_count (%s)", line1(r.errmsg));
		result_free(&r);
		vk_provider_close(q);
	}

	/* --- close from inside callbacks --- */
	cJSON *cnode = cJSON_Parse("{\"metadata\":{\"name\":\"n3\"}}");
	q = open_p(DIR "behaviours.lua", NULL, cnode, 0, &err);
	free(err);
	if (q) {
		create(q, "sleep", "30000", &a);
		uv_run(&loop, UV_RUN_NOWAIT);
		to_close = q;
		cJSON *pod = make_pod("hello", NULL);
		vk_provider_create_pod(q, pod, close_on_result, &b);
		cJSON_Delete(pod);
		spin(&b.done);
		ok(b.err == 0 && a.done && a.err == -ECANCELED,
		   "close_inside_a_result_callback_cancels_the_others (%d, %d)", b.err, a.err);
		result_free(&a);
		result_free(&b);
	}
	q = open_p(DIR "behaviours.lua", NULL, cnode, 0, &err);
	free(err);
	if (q) {
		create(q, "sleep", "30000", &a);
		uv_run(&loop, UV_RUN_NOWAIT);
		vk_provider_set_notify(q, close_on_notify, q);
		create(q, "notify", NULL, &b);
		spin(&b.done);
		ok(b.err == -ECANCELED && a.done && a.err == -ECANCELED,
		   "close_inside_notify_ends_the_running_callback_too (%d, %d)", b.err, a.err);
		result_free(&a);
		result_free(&b);
	}
	q = open_p(DIR "behaviours.lua", NULL, cnode, 0, &err);
	free(err);
	if (q) {
		create_sync(q, "exit", &r);
		ok(r.err == -EIO && strstr(line1(r.errmsg), "os.exit is not available to a provider"),
		   "os_exit_cannot_end_vk (%s)", line1(r.errmsg));
		result_free(&r);
		create_sync(q, "unhook", &r);
		ok(r.err == -EIO && strstr(line1(r.errmsg), "debug.sethook is reserved"),
		   "the_budget_hook_cannot_be_removed (%s)", line1(r.errmsg));
		result_free(&r);
		vk_provider_close(q);
	}
	cJSON_Delete(cnode);

	/* --- close cancels what is in flight --- */
	create(p, "sleep", "30000", &a);
	uv_run(&loop, UV_RUN_NOWAIT);
	ok(!a.done, "a_long_sleep_is_in_flight");
	create(p, "hello", NULL, &b); /* queued, not yet started */
	vk_provider_close(p);
	ok(a.done && a.err == -ECANCELED && b.done && b.err == -ECANCELED,
	   "close_ends_in_flight_callbacks_with_ECANCELED (%d, %d)", a.err, b.err);
	result_free(&a);
	result_free(&b);
	t0 = vk_now_ms();
	uv_run(&loop, UV_RUN_DEFAULT);
	/* the cancelled 30 s sleep's timer would keep it for 30 s */
	ok(vk_now_ms() - t0 < 15000, "after_close_no_timer_keeps_the_loop_alive (%llu ms)",
	   (unsigned long long)(vk_now_ms() - t0));
	is_int(uv_loop_close(&loop), 0, "every_handle_is_closed");

	cJSON_Delete(node);
	free(notified_json);
	return tap_done();
}
