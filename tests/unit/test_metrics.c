/* The metrics registry and its Prometheus text: series by labels, escaping,
 * cumulative histogram buckets, collectors, the API labels; and, when
 * promtool is installed, that it accepts what vk writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vk/metrics.h"
#include "vk/util.h"

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static int collected;
static void collect(void *ud)
{
	collected++;
	vk_metric_set(ud, 42);
}

static void exposition(void)
{
	vk_metric *c = vk_metric_new(VK_METRIC_COUNTER, "t_requests_total", "Requests.\nSecond \\ line.", "verb,code");
	ok(vk_metric_new(VK_METRIC_COUNTER, "t_requests_total", "again", "verb,code") == c,
	   "a family is found by name");
	vk_metric_add(c, 1, "GET", "200");
	vk_metric_add(c, 2, "GET", "200");
	vk_metric_add(c, 1, "PUT", "409");
	vk_metric_add(c, 1, "say \"hi\"\n", "a\\b");
	is_int(vk_metric_get(c, "GET", "200"), 3, "a series adds up");
	is_int(vk_metric_get(c, "POST", "200"), 0, "an unseen series is 0");
	vk_metric *g = vk_metric_new(VK_METRIC_GAUGE, "t_heap_bytes", "Heap.", NULL);
	vk_metric *h = vk_metric_histogram("t_latency_seconds", "Latency.", "callback", (const double[]){0.1, 1}, 2);
	vk_metric_observe(h, 0.05, "create_pod");
	vk_metric_observe(h, 0.5, "create_pod");
	vk_metric_observe(h, 0.1, "create_pod"); /* le is inclusive */
	vk_metric_observe(h, 7, "create_pod");
	vk_metric *empty = vk_metric_new(VK_METRIC_HISTOGRAM, "t_empty_seconds", "Nothing yet.", NULL);
	(void)empty;
	vk_metrics_on_collect(collect, g);
	size_t len;
	char *t = vk_metrics_render(&len);
	is_int(len, strlen(t), "the length is the text's");
	is_int(collected, 1, "collectors run before the exposition");
	ok(has_line(t, "# HELP t_requests_total Requests.\\nSecond \\\\ line."), "HELP escapes newline and backslash");
	ok(has_line(t, "# TYPE t_requests_total counter"), "TYPE counter");
	ok(has_line(t, "t_requests_total{verb=\"GET\",code=\"200\"} 3"), "a counter line with its labels");
	ok(has_line(t, "t_requests_total{verb=\"say \\\"hi\\\"\\n\",code=\"a\\\\b\"} 1"), "label values are escaped");
	ok(has_line(t, "# TYPE t_heap_bytes gauge") && has_line(t, "t_heap_bytes 42"), "a gauge set by a collector");
	ok(has_line(t, "t_latency_seconds_bucket{callback=\"create_pod\",le=\"0.1\"} 2"), "buckets count <= le");
	ok(has_line(t, "t_latency_seconds_bucket{callback=\"create_pod\",le=\"1\"} 3"), "and are cumulative");
	ok(has_line(t, "t_latency_seconds_bucket{callback=\"create_pod\",le=\"+Inf\"} 4"), "+Inf is the count");
	ok(has_line(t, "t_latency_seconds_sum{callback=\"create_pod\"} 7.6500000000000004") ||
	           has_line(t, "t_latency_seconds_sum{callback=\"create_pod\"} 7.65"),
	   "_sum");
	ok(has_line(t, "t_latency_seconds_count{callback=\"create_pod\"} 4"), "_count");
	ok(has_line(t, "t_empty_seconds_count 0"), "a histogram without labels shows zeros before its first event");
	if (access("/usr/bin/promtool", X_OK) == 0) {
		char path[] = "/tmp/vk-test-metrics.XXXXXX";
		int fd = mkstemp(path);
		ok(fd >= 0 && write(fd, t, len) == (ssize_t)len, "wrote the text for promtool");
		close(fd);
		char cmd[256];
		snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
		int rc = system(cmd);
		snprintf(cmd, sizeof cmd, "%s.out", path);
		vk_buf out = {0};
		char *err = NULL;
		vk_read_file(cmd, &out, &err);
		free(err);
		/* promtool's lint may only advise about names (e.g. a unit
		 * suffix); a format error fails the check. */
		ok(rc == 0 || (out.data && !strstr(out.data, "error while linting") && !strstr(out.data, "parse")),
		   "promtool check metrics accepts it (%s)", out.data ? out.data : "");
		vk_buf_free(&out);
		unlink(path);
		unlink(cmd);
	} else {
		tap_skip("promtool is not installed (Debian: prometheus)");
	}
	free(t);
	vk_metrics_off_collect(collect, g);
	t = vk_metrics_render(NULL);
	is_int(collected, 1, "a removed collector is not run");
	free(t);
	vk_metric_clear(c);
	is_int(vk_metric_get(c, "GET", "200"), 0, "clear drops the series");
	vk_metrics_reset();
	t = vk_metrics_render(&len);
	is_int(len, 0, "reset forgets every family");
	free(t);
}

static void api_labels(void)
{
	static const struct {
		const char *method, *path, *verb, *resource;
	} cases[] = {
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn", "LIST", "pods"},
		{"GET", "/api/v1/pods?watch=true&resourceVersion=5", "WATCH", "pods"},
		{"GET", "/api/v1/namespaces/ns/pods/p", "GET", "pods"},
		{"PUT", "/api/v1/namespaces/ns/pods/p/status", "PUT", "pods/status"},
		{"PATCH", "/api/v1/nodes/n/status", "PATCH", "nodes/status"},
		{"GET", "/api/v1/namespaces/ns/configmaps/c", "GET", "configmaps"},
		{"GET", "/api/v1/namespaces/ns", "GET", "namespaces"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n", "PUT", "leases"},
		{"POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "POST", "subjectaccessreviews"},
		{"GET", "/version", "GET", "version"},
		{"POST", "/api/v1/namespaces/ns/events", "POST", "events"},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(cases); i++) {
		char verb[16], res[64];
		vk_metrics_api_labels(cases[i].method, cases[i].path, verb, sizeof verb, res, sizeof res);
		ok(strcmp(verb, cases[i].verb) == 0 && strcmp(res, cases[i].resource) == 0,
		   "%s %s -> %s %s (got %s %s)", cases[i].method, cases[i].path, cases[i].verb, cases[i].resource, verb,
		   res);
	}
}

static void vk_families(void)
{
	vk_metrics_init();
	vk_metrics_api_request("LIST", "pods", 200);
	vk_metrics_callback("create_pod", 0.02, false, false);
	vk_metrics_callback("create_pod", 2, true, true);
	vk_metrics_reload(true);
	vk_metrics_reload(false);
	vk_metrics_lease_renewal(0.01, true);
	vk_metrics_store_op("embedded", "commit", true);
	char *t = vk_metrics_render(NULL);
	ok(has_line(t, "vk_api_requests_total{verb=\"LIST\",resource=\"pods\",code=\"200\"} 1"), "API requests");
	ok(has_line(t, "vk_provider_callback_duration_seconds_count{callback=\"create_pod\"} 2"), "callback latency");
	ok(has_line(t, "vk_provider_callback_errors_total{callback=\"create_pod\"} 1"), "callback errors");
	ok(has_line(t, "vk_provider_callback_budget_kills_total{callback=\"create_pod\"} 1"), "budget kills");
	ok(has_line(t, "vk_provider_reloads_total{result=\"ok\"} 1") &&
	           has_line(t, "vk_provider_reloads_total{result=\"failed\"} 1"),
	   "reloads by result");
	ok(has_line(t, "vk_lease_renewal_duration_seconds_count 1"), "lease renewals");
	ok(has_line(t, "vk_store_operations_total{store=\"embedded\",op=\"commit\",result=\"ok\"} 1"), "store ops");
	ok(strstr(t, "\nprocess_resident_memory_bytes ") && !has_line(t, "process_resident_memory_bytes 0"),
	   "process RSS");
	ok(strstr(t, "\nprocess_cpu_seconds_total ") != NULL, "process CPU");
	ok(has_line(t, "# TYPE vk_watch_restarts_total counter") && has_line(t, "# TYPE vk_relists_total counter"),
	   "watch restarts and re-lists are declared before the first");
	free(t);
	vk_metrics_reset();
}

int main(void)
{
	exposition();
	api_labels();
	vk_families();
	return tap_done();
}
