/* /stats/summary and /metrics/resource: the provider's Summary (or the
 * minimal one routes.c makes) merged with the machine's own figures
 * (vk/host.h), answered as JSON or as the Prometheus text metrics-server
 * reads.  The host is sampled on libuv's thread pool for each request; the
 * server's sampler keeps the previous sample for the CPU rate. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_int.h"

typedef struct {
	vk_server_call *c; /* holds the server and watches the request */
	cJSON *sum;
	int mode;
} stats_wait;

/* ---- the Prometheus text ---------------------------------------------- */

/* "2026-12-02T10:00:00.123456Z" (or with +hh:mm) -> ms since the epoch;
 * 0 when it is not RFC 3339. */
uint64_t vk_server__rfc3339_ms(const char *s)
{
	struct tm tm = {0};
	int frac_digits = 0;
	long frac = 0;
	int n = 0;
	if (!s ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return 0;
	const char *p = s + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, frac_digits++)
			if (frac_digits < 3)
				frac = frac * 10 + (*p - '0');
		for (int i = frac_digits; i < 3; i++)
			frac *= 10;
	}
	long off = 0;
	if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return 0;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else if (*p == 'Z' || *p == 'z') {
		p++;
	} else {
		return 0;
	}
	if (*p)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t < 0)
		return 0;
	return ((uint64_t)(t - off)) * 1000 + (uint64_t)frac;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* A number member of o's member sub ("cpu", "usageCoreNanoSeconds"). */
static bool num2(const cJSON *o, const char *sub, const char *k, double *v)
{
	const cJSON *x = get(get(o, sub), k);
	if (!cJSON_IsNumber(x))
		return false;
	*v = x->valuedouble;
	return true;
}

/* The ms of o.sub.time, else fallback. */
static uint64_t time_of(const cJSON *o, const char *sub, uint64_t fallback)
{
	const cJSON *t = get(get(o, sub), "time");
	uint64_t ms = cJSON_IsString(t) ? vk_server__rfc3339_ms(t->valuestring) : 0;
	return ms ? ms : fallback;
}

static void label(vk_buf *b, const char *k, const char *v, bool first)
{
	vk_buf_printf(b, "%s%s=\"", first ? "" : ",", k);
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			vk_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			vk_buf_printf(b, "\\n");
		else
			vk_buf_append(b, p, 1);
	}
	vk_buf_append(b, "\"", 1);
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *x = get(o, k);
	return cJSON_IsString(x) ? x->valuestring : "";
}

typedef enum { F_CONTAINER_CPU, F_CONTAINER_MEM, F_CONTAINER_START, F_POD_CPU, F_POD_MEM } family;

/* Every series of one family, from the pods of the summary. */
static void series(vk_buf *b, const cJSON *pods, family f, uint64_t now_ms)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, pods) {
		const cJSON *ref = get(p, "podRef");
		const char *ns = str(ref, "namespace"), *pod = str(ref, "name");
		double v;
		if (f == F_POD_CPU || f == F_POD_MEM) {
			bool cpu = f == F_POD_CPU;
			if (!num2(p, cpu ? "cpu" : "memory", cpu ? "usageCoreNanoSeconds" : "workingSetBytes", &v))
				continue;
			vk_buf_printf(b, cpu ? "pod_cpu_usage_seconds_total{" : "pod_memory_working_set_bytes{");
			label(b, "namespace", ns, true);
			label(b, "pod", pod, false);
			vk_buf_printf(b, "} %.15g %llu\n", cpu ? v / 1e9 : v,
			              (unsigned long long)time_of(p, cpu ? "cpu" : "memory", now_ms));
			continue;
		}
		const cJSON *c;
		cJSON_ArrayForEach(c, get(p, "containers")) {
			const char *name = NULL;
			uint64_t ts = now_ms;
			if (f == F_CONTAINER_CPU && num2(c, "cpu", "usageCoreNanoSeconds", &v)) {
				name = "container_cpu_usage_seconds_total";
				v /= 1e9;
				ts = time_of(c, "cpu", now_ms);
			} else if (f == F_CONTAINER_MEM && num2(c, "memory", "workingSetBytes", &v)) {
				name = "container_memory_working_set_bytes";
				ts = time_of(c, "memory", now_ms);
			} else if (f == F_CONTAINER_START) {
				const cJSON *st = get(c, "startTime");
				uint64_t ms = cJSON_IsString(st) ? vk_server__rfc3339_ms(st->valuestring) : 0;
				if (!ms)
					continue;
				name = "container_start_time_seconds";
				v = (double)ms / 1000.0;
				ts = ms;
			}
			if (!name)
				continue;
			vk_buf_printf(b, "%s{", name);
			label(b, "container", str(c, "name"), true);
			label(b, "namespace", ns, false);
			label(b, "pod", pod, false);
			vk_buf_printf(b, "} %.15g %llu\n", v, (unsigned long long)ts);
		}
	}
}

static void head(vk_buf *b, const char *name, const char *type, const char *help)
{
	vk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *vk_server__resource_metrics(const cJSON *sum, bool scrape_error, uint64_t now_ms, size_t *len)
{
	vk_buf b = {0};
	const cJSON *node = get(sum, "node"), *pods = get(sum, "pods");
	double v;
	head(&b, "container_cpu_usage_seconds_total", "counter",
	     "[STABLE] Cumulative cpu time consumed by the container in core-seconds");
	series(&b, pods, F_CONTAINER_CPU, now_ms);
	head(&b, "container_memory_working_set_bytes", "gauge",
	     "[STABLE] Current working set of the container in bytes");
	series(&b, pods, F_CONTAINER_MEM, now_ms);
	head(&b, "container_start_time_seconds", "gauge",
	     "[STABLE] Start time of the container since unix epoch in seconds");
	series(&b, pods, F_CONTAINER_START, now_ms);
	head(&b, "node_cpu_usage_seconds_total", "counter",
	     "[STABLE] Cumulative cpu time consumed by the node in core-seconds");
	if (num2(node, "cpu", "usageCoreNanoSeconds", &v))
		vk_buf_printf(&b, "node_cpu_usage_seconds_total %.15g %llu\n", v / 1e9,
		              (unsigned long long)time_of(node, "cpu", now_ms));
	head(&b, "node_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the node in bytes");
	if (num2(node, "memory", "workingSetBytes", &v))
		vk_buf_printf(&b, "node_memory_working_set_bytes %.15g %llu\n", v,
		              (unsigned long long)time_of(node, "memory", now_ms));
	head(&b, "pod_cpu_usage_seconds_total", "counter",
	     "[STABLE] Cumulative cpu time consumed by the pod in core-seconds");
	series(&b, pods, F_POD_CPU, now_ms);
	head(&b, "pod_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the pod in bytes");
	series(&b, pods, F_POD_MEM, now_ms);
	head(&b, "resource_scrape_error", "gauge",
	     "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise");
	vk_buf_printf(&b, "resource_scrape_error %d\n", scrape_error ? 1 : 0);
	head(&b, "scrape_error", "gauge",
	     "[ALPHA] 1 if there was an error while getting container metrics, 0 otherwise");
	vk_buf_printf(&b, "scrape_error %d\n", scrape_error ? 1 : 0);
	*len = b.len;
	return vk_buf_steal(&b);
}

/* ---- answering ----------------------------------------------------------- */

static void on_sample(const vk_host_sample *hs, void *ud)
{
	stats_wait *w = ud;
	vk_server_call *c = w->c;
	vk_server *s = c->s;
	uint64_t nano;
	bool rate = vk_host_sampler_add(&s->host, hs, &nano);
	cJSON *node = cJSON_GetObjectItemCaseSensitive(w->sum, "node");
	if (!cJSON_IsObject(node)) {
		cJSON_DeleteItemFromObjectCaseSensitive(w->sum, "node");
		node = cJSON_AddObjectToObject(w->sum, "node");
	}
	if (!cJSON_GetObjectItemCaseSensitive(node, "nodeName"))
		cJSON_AddStringToObject(node, "nodeName", s->nodename);
	if (!cJSON_GetObjectItemCaseSensitive(node, "startTime")) {
		char t[40];
		vk_rfc3339(t, s->start_wall_ms, false);
		cJSON_AddStringToObject(node, "startTime", t);
	}
	vk_host_node_json(hs, rate, nano, node);
	h2o_req_t *req = c->req;
	vk_server__call_detach(c);
	if (!req) {
		vk_debug("server", "%s: the client left before the host was read", c->what);
	} else if (w->mode == VK_SERVER_STATS_JSON) {
		char *body = cJSON_PrintUnformatted(w->sum);
		if (body)
			vk_server__send_body(req, 200, "application/json", body, strlen(body));
		else
			vk_server__send_text(req, 500, "cannot print the answer as JSON");
		free(body);
	} else {
		size_t len;
		char *text = vk_server__resource_metrics(w->sum, w->mode == VK_SERVER_STATS_PROM_ERROR, vk_wall_ms(),
		                                         &len);
		vk_server__send_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
		free(text);
	}
	cJSON_Delete(w->sum);
	free(w);
	vk_server__call_free(c);
}

void vk_server__stats_answer(vk_server *s, h2o_req_t *req, cJSON *sum, int mode)
{
	stats_wait *w = vk_xcalloc(1, sizeof *w);
	w->sum = sum;
	w->mode = mode;
	w->c = vk_server__call_new(s, req, VK_SERVER_CALL_HOST,
	                           vk_strdup(mode == VK_SERVER_STATS_JSON ? "stats/summary" : "metrics/resource"));
	int rc = vk_host_sample_async(s->loop, "/", s->fs_path, on_sample, w);
	if (rc < 0) {
		vk_server__send_text(req, 500, "%s: cannot read the host: %s", w->c->what, uv_strerror(rc));
		vk_server__call_free(w->c);
		cJSON_Delete(sum);
		free(w);
	}
}

/* The first sample, at start, so that the first request has a rate. */
static void on_prime(const vk_host_sample *hs, void *ud)
{
	vk_server *s = ud;
	vk_host_sampler_add(&s->host, hs, NULL);
	s->calls--;
	vk_server__maybe_done(s);
}

void vk_server__stats_start(vk_server *s)
{
	if (vk_host_sample_async(s->loop, "/", s->fs_path, on_prime, s) == 0)
		s->calls++;
}
