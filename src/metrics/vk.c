/* vk's own metrics: the families, made once, and the calls the other
 * subsystems make at the points that count; the process's RSS and CPU. */
#include <malloc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "metrics_int.h"

static vk_metric *api, *cb_latency, *cb_errors, *cb_kills, *reloads, *restarts, *relists, *lease, *lease_fail,
	*store_ops, *events_dropped, *events_queued, *rss, *cpu, *start_time, *pods_phase, *lua_heap, *malloc_bytes,
	*sqlite_bytes;
static double started_s;

/* Before the collectors that were added (registry.c). */
void vk_metrics__vk_collect(void)
{
	if (!api)
		return;
	size_t r = 0;
	if (uv_resident_set_memory(&r) == 0)
		vk_metric_set(rss, (double)r);
	uv_rusage_t ru;
	if (uv_getrusage(&ru) == 0)
		vk_metric_set(cpu, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		                           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	vk_metric_set(start_time, started_s);
	vk_metric_set(lua_heap, 0); /* each Lua host's collector, run after this one, adds its heap */
	/* Where RSS goes: the C heap in use and free (all arenas, mmapped
	 * blocks counted in use), and SQLite's own (the page cache). */
	struct mallinfo2 mi = mallinfo2();
	vk_metric_set(malloc_bytes, (double)(mi.uordblks + mi.hblkhd), "in_use");
	vk_metric_set(malloc_bytes, (double)mi.fordblks, "free");
	vk_metric_set(sqlite_bytes, (double)sqlite3_memory_used());
}

void vk_metrics_init(void)
{
	if (api)
		return;
	api = vk_metric_new(VK_METRIC_COUNTER, "vk_api_requests_total",
	                    "Calls to the API server by verb, resource and HTTP code (0: no answer).",
	                    "verb,resource,code");
	cb_latency = vk_metric_new(VK_METRIC_HISTOGRAM, "vk_provider_callback_duration_seconds",
	                           "How long the provider's callbacks took, per callback.", "callback");
	cb_errors = vk_metric_new(VK_METRIC_COUNTER, "vk_provider_callback_errors_total",
	                          "Provider callbacks that raised an error (budget kills included).", "callback");
	cb_kills = vk_metric_new(VK_METRIC_COUNTER, "vk_provider_callback_budget_kills_total",
	                         "Provider callbacks stopped by their instruction or time budget.", "callback");
	reloads = vk_metric_new(VK_METRIC_COUNTER, "vk_provider_reloads_total",
	                        "Hot reloads of the provider by result (ok, failed).", "result");
	restarts = vk_metric_new(VK_METRIC_COUNTER, "vk_watch_restarts_total",
	                         "Watches that ended and were started again, per informer.", "informer");
	relists = vk_metric_new(VK_METRIC_COUNTER, "vk_relists_total",
	                        "Lists after the first (a 410 Gone, a failed resume), per informer.", "informer");
	lease = vk_metric_new(VK_METRIC_HISTOGRAM, "vk_lease_renewal_duration_seconds",
	                      "How long a renewal of the node's Lease took.", NULL);
	lease_fail = vk_metric_new(VK_METRIC_COUNTER, "vk_lease_renewal_failures_total",
	                           "Renewals of the node's Lease that failed.", NULL);
	events_dropped = vk_metric_new(VK_METRIC_COUNTER, "vk_events_dropped_total",
	                               "Events dropped because the queue of Events waiting to be sent was full.", NULL);
	events_queued = vk_metric_new(VK_METRIC_GAUGE, "vk_events_queued",
	                              "Events waiting to be sent (the queue keeps at most 1000).", NULL);
	store_ops = vk_metric_new(VK_METRIC_COUNTER, "vk_store_operations_total",
	                          "Operations on the local store by store, operation and result.", "store,op,result");
	pods_phase = vk_metric_new(VK_METRIC_GAUGE, "vk_pods", "Pods bound to this node by phase.", "phase");
	lua_heap = vk_metric_new(VK_METRIC_GAUGE, "vk_lua_heap_bytes", "Bytes in use by the providers' Lua heaps.",
	                         NULL);
	malloc_bytes = vk_metric_new(VK_METRIC_GAUGE, "vk_malloc_bytes",
	                             "The C heap (malloc) in bytes, in use and free (held, not returned).", "state");
	sqlite_bytes = vk_metric_new(VK_METRIC_GAUGE, "vk_sqlite_memory_bytes",
	                             "Bytes SQLite holds (the embedded store's page cache and statements).", NULL);
	rss = vk_metric_new(VK_METRIC_GAUGE, "process_resident_memory_bytes", "Resident memory size in bytes.", NULL);
	cpu = vk_metric_new(VK_METRIC_COUNTER, "process_cpu_seconds_total",
	                    "User and system CPU time spent in seconds.", NULL);
	start_time = vk_metric_new(VK_METRIC_GAUGE, "process_start_time_seconds",
	                           "Start time of the process since the Unix epoch in seconds.", NULL);
	started_s = (double)(vk_wall_ms() / 1000);
}

void vk_metrics__vk_reset(void) { api = NULL; }

#define READY()                            \
	do {                               \
		if (!api)                  \
			vk_metrics_init(); \
	} while (0)

/* /api/v1/namespaces/NS/pods/NAME/status -> pods/status; a GET of a
 * collection is LIST, or WATCH with watch=true (as the API server counts). */
void vk_metrics_api_labels(const char *method, const char *path, char *verb, size_t vn, char *resource, size_t rn)
{
	const char *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);
	char segs[8][128];
	size_t n = 0;
	for (const char *p = path; p < path + plen && n < 8;) {
		while (p < path + plen && *p == '/')
			p++;
		size_t k = strcspn(p, "/?");
		if (p + k > path + plen)
			k = (size_t)(path + plen - p);
		if (k)
			snprintf(segs[n++], sizeof segs[0], "%.*s", (int)k, p);
		p += k;
	}
	/* skip api/v1 or apis/GROUP/VERSION */
	size_t i = 0;
	bool rest = n && (strcmp(segs[0], "api") == 0 || strcmp(segs[0], "apis") == 0);
	if (rest)
		i = strcmp(segs[0], "api") == 0 ? 2 : 3;
	if (i < n && strcmp(segs[i], "namespaces") == 0 && n - i >= 3)
		i += 2;
	const char *res = i < n ? segs[i] : "";
	if (rest && n - i >= 3)
		snprintf(resource, rn, "%s/%s", res, segs[i + 2]);
	else if (rest)
		snprintf(resource, rn, "%s", res);
	else /* /version, /healthz */
		snprintf(resource, rn, "%s", n ? segs[n - 1] : "");
	bool watch = q && (strstr(q, "watch=true") || strstr(q, "watch=1"));
	if (rest && strcasecmp(method, "GET") == 0 && n - i == 1)
		snprintf(verb, vn, "%s", watch ? "WATCH" : "LIST");
	else
		snprintf(verb, vn, "%s", method);
}

void vk_metrics_api_request(const char *verb, const char *resource, long code)
{
	READY();
	char c[16];
	snprintf(c, sizeof c, "%ld", code);
	vk_metric_add(api, 1, verb, resource, c);
}

void vk_metrics_callback(const char *callback, double seconds, bool failed, bool killed)
{
	READY();
	vk_metric_observe(cb_latency, seconds, callback);
	if (failed || killed)
		vk_metric_add(cb_errors, 1, callback);
	if (killed)
		vk_metric_add(cb_kills, 1, callback);
}

void vk_metrics_reload(bool ok)
{
	READY();
	vk_metric_add(reloads, 1, ok ? "ok" : "failed");
}

void vk_metrics_watch_restart(const char *what)
{
	READY();
	vk_metric_add(restarts, 1, what);
}

void vk_metrics_event_dropped(void)
{
	READY();
	vk_metric_add(events_dropped, 1);
}

void vk_metrics_events_queued(size_t n)
{
	READY();
	vk_metric_set(events_queued, (double)n);
}

void vk_metrics_relist(const char *what)
{
	READY();
	vk_metric_add(relists, 1, what);
}

void vk_metrics_lease_renewal(double seconds, bool ok)
{
	READY();
	vk_metric_observe(lease, seconds);
	if (!ok)
		vk_metric_add(lease_fail, 1);
}

void vk_metrics_store_op(const char *store, const char *op, bool ok)
{
	READY();
	vk_metric_add(store_ops, 1, store, op, ok ? "ok" : "error");
}
