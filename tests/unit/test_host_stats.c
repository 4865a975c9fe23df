/* The node's own figures (vk/host.h) read from fixtures of /proc under
 * tests/unit/data/host, the CPU rate between samples, the NodeStats JSON,
 * and the Prometheus text of /metrics/resource (src/server/stats.c) as
 * metrics-server reads it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_int.h"
#include "tap.h"
#include "vk/host.h"
#include "vk/util.h"

static char root[4096];

static bool find_root(void)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", VK_SOURCE_LUA_DIR);
	size_t n = strlen(p);
	if (n > 4 && strcmp(p + n - 4, "/lua") == 0)
		p[n - 4] = '\0';
	strncat(p, "/tests/unit/data/host", sizeof p - strlen(p) - 1);
	return realpath(p, root) != NULL;
}

static void fixtures(void)
{
	vk_host_sample s;
	vk_host_read(root, "/", &s);
	long hz = sysconf(_SC_CLK_TCK);
	ok(s.has_cpu, "proc/stat is read");
	/* user+nice+system+irq+softirq+steal = 3224324 ticks; not idle,
	 * iowait, guest (already in user). */
	is_int(s.cpu_ns, 3224324ull * (1000000000ull / (unsigned long long)hz), "CPU ns: the busy states in ticks");
	ok(s.has_memory, "proc/meminfo is read");
	is_int(s.mem_total, 24683584ull * 1024, "MemTotal");
	is_int(s.mem_usage, (24683584ull - 21048120ull) * 1024, "usage = MemTotal - MemFree");
	is_int(s.mem_working_set, (24683584ull - 21048120ull - 1418548ull) * 1024,
	       "working set = usage - Inactive(file)");
	is_int(s.mem_available, s.mem_total - s.mem_working_set, "available = MemTotal - working set");
	is_int(s.mem_rss, 310000ull * 1024, "rss = AnonPages");
	ok(s.has_faults, "proc/vmstat is read");
	is_int(s.page_faults, 98765432, "pgfault");
	is_int(s.major_page_faults, 1234, "pgmajfault");
	is_int(s.n_ifaces, 4, "every interface of proc/net/dev");
	ok(s.default_iface >= 0 && strcmp(s.ifaces[s.default_iface].name, "eth0") == 0,
	   "the default route's interface is the default (not veth1234, listed first in proc/net/route)");
	const vk_host_iface *e = &s.ifaces[2];
	ok(strcmp(e->name, "eth0") == 0 && e->rx_bytes == 489852306 && e->rx_errors == 7 && e->tx_bytes == 2026150 &&
	           e->tx_errors == 3,
	   "eth0: rx bytes, rx errors, tx bytes, tx errors from their columns");
	ok(strcmp(s.ifaces[3].name, "veth1234") == 0 && s.ifaces[3].tx_bytes == 2000, "a line without padding");
	ok(s.has_rlimit && s.max_pid == 4194304 && s.cur_proc > 0, "pid_max and running processes");
	ok(s.has_fs && s.fs_capacity > 0 && s.fs_available <= s.fs_capacity && s.fs_used <= s.fs_capacity,
	   "statvfs of / gives capacity >= available, used");

	char missing[4200];
	snprintf(missing, sizeof missing, "%s/nothing-here", root);
	vk_host_read(missing, "/", &s);
	ok(!s.has_cpu && !s.has_memory && !s.has_faults && s.n_ifaces == 0 && !s.has_rlimit && s.default_iface == -1,
	   "a root without /proc files: nothing claimed, no failure");
}

static void bad_text(void)
{
	vk_host_sample s = {0};
	uint64_t ns = 0;
	is_int(vk_host_parse_proc_stat("intr 1 2 3\n", 100, &ns), -EINVAL, "proc/stat without a cpu line");
	is_int(vk_host_parse_proc_stat("cpu  1 2\n", 100, &ns), -EINVAL, "proc/stat with too few columns");
	is_int(vk_host_parse_proc_stat("cpu  100 0 100 500 0 0 0 0\n", 100, &ns), 0, "a 2.6-era line with 8 columns");
	is_int(ns, 2000000000ull, "200 ticks at 100 Hz = 2 s");
	is_int(vk_host_parse_meminfo("MemTotal: 10 kB\n", &s), -EINVAL, "meminfo without MemFree");
	is_int(vk_host_parse_meminfo("MemTotal: 10 kB\nMemFree: 20 kB\n", &s), -EINVAL, "MemFree above MemTotal");
	ok(!s.has_memory, "nothing claimed from bad meminfo");
	is_int(vk_host_parse_meminfo("MemTotal: 100 kB\nMemFree: 10 kB\nInactive(file): 500 kB\n", &s), 0,
	       "Inactive(file) above usage");
	is_int(s.mem_working_set, 0, "the working set does not go below 0");
	is_int(vk_host_parse_vmstat("pgfault 1\n", &s), -EINVAL, "vmstat without pgmajfault");
	is_int(vk_host_parse_net_dev("lo: 1 2 3\n", &s), -EINVAL, "not the net/dev table");
	char ifc[32];
	is_int(vk_host_parse_net_route("Iface\tDestination\n", ifc, sizeof ifc), -ENOENT, "no default route");
}

static vk_host_sample at(uint64_t mono_ms, uint64_t cpu_ms)
{
	vk_host_sample s = {0};
	s.has_cpu = true;
	s.mono_ns = mono_ms * 1000000ull;
	s.cpu_ns = cpu_ms * 1000000ull;
	s.wall_ms = 1764669600000ull + mono_ms;
	s.default_iface = -1;
	return s;
}

static void sampler(void)
{
	vk_host_sampler sp = {0};
	uint64_t nc = 0;
	vk_host_sample s = at(1000, 5000);
	ok(!vk_host_sampler_add(&sp, &s, &nc), "one sample: no rate yet");
	s = at(1500, 5400);
	ok(!vk_host_sampler_add(&sp, &s, &nc), "a second sample 0.5 s later: still none (1 s at least)");
	s = at(3000, 9000);
	ok(vk_host_sampler_add(&sp, &s, &nc), "2 s after the first: a rate");
	is_int(nc, 2000000000ull, "4 s of CPU in 2 s = 2 cores = 2e9 nanocores");
	s = at(3010, 9020);
	ok(vk_host_sampler_add(&sp, &s, &nc), "10 ms later: the last rate");
	is_int(nc, 2000000000ull, "a burst of requests does not measure over 10 ms");
	s = at(4000, 9500);
	vk_host_sampler_add(&sp, &s, &nc);
	is_int(nc, 500000000ull, "0.5 s of CPU over 1 s since the kept sample = 0.5 cores");
	s = at(5000, 100);
	vk_host_sampler_add(&sp, &s, &nc);
	is_int(nc, 0, "a counter that went back (reboot of a fixture) gives 0, not a wrap");

	cJSON *node = cJSON_Parse("{\"nodeName\":\"n\",\"memory\":{\"workingSetBytes\":7}}");
	vk_host_sample h;
	vk_host_read(root, "/", &h);
	vk_host_node_json(&h, true, 1500000000ull, node);
	const cJSON *cpu = cJSON_GetObjectItem(node, "cpu");
	ok(cJSON_GetObjectItem(cpu, "usageNanoCores")->valuedouble == 1.5e9, "cpu.usageNanoCores");
	ok(cJSON_GetObjectItem(cpu, "usageCoreNanoSeconds")->valuedouble == (double)h.cpu_ns,
	   "cpu.usageCoreNanoSeconds");
	ok(cJSON_IsString(cJSON_GetObjectItem(cpu, "time")), "cpu.time");
	is_int(cJSON_GetObjectItem(cJSON_GetObjectItem(node, "memory"), "workingSetBytes")->valuedouble, 7,
	       "the provider's own node.memory is kept");
	const cJSON *net = cJSON_GetObjectItem(node, "network");
	is_str(cJSON_GetObjectItem(net, "name")->valuestring, "eth0", "network.name: the default interface");
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(net, "interfaces")), 4, "network.interfaces: all of them");
	const cJSON *fs = cJSON_GetObjectItem(node, "fs");
	ok(cJSON_GetObjectItem(fs, "capacityBytes") && cJSON_GetObjectItem(fs, "inodesUsed"), "fs with inodes");
	is_int(cJSON_GetObjectItem(cJSON_GetObjectItem(node, "rlimit"), "maxpid")->valuedouble, 4194304,
	       "rlimit.maxpid");
	cJSON_Delete(node);
	node = cJSON_CreateObject();
	vk_host_node_json(&h, false, 0, node);
	ok(!cJSON_GetObjectItem(cJSON_GetObjectItem(node, "cpu"), "usageNanoCores"), "no rate: no usageNanoCores");
	cJSON_Delete(node);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void resource_metrics(void)
{
	is_int(vk_server__rfc3339_ms("2026-12-02T10:00:00Z"), 1796205600000ull, "RFC 3339 in UTC");
	is_int(vk_server__rfc3339_ms("2026-12-02T10:00:00.123456789Z"), 1796205600123ull, "with nanoseconds");
	is_int(vk_server__rfc3339_ms("2026-12-02T11:00:00+01:00"), 1796205600000ull, "with an offset");
	is_int(vk_server__rfc3339_ms("2026-12-02 10:00:00"), 0, "not RFC 3339");
	cJSON *sum = cJSON_Parse(
		"{\"node\":{\"nodeName\":\"n\",\"cpu\":{\"time\":\"2026-12-02T10:00:01Z\",\"usageCoreNanoSeconds\":"
		"32243240000000},\"memory\":{\"time\":\"2026-12-02T10:00:01Z\",\"workingSetBytes\":2270121984}},"
		"\"pods\":[{\"podRef\":{\"name\":\"busy\",\"namespace\":\"ns1\",\"uid\":\"u\"},"
		"\"cpu\":{\"time\":\"2026-12-02T10:00:02Z\",\"usageCoreNanoSeconds\":1500000000},"
		"\"memory\":{\"time\":\"2026-12-02T10:00:02Z\",\"workingSetBytes\":409600},"
		"\"containers\":[{\"name\":\"spin\",\"startTime\":\"2026-12-02T09:00:00Z\","
		"\"cpu\":{\"time\":\"2026-12-02T10:00:02Z\",\"usageCoreNanoSeconds\":1500000000},"
		"\"memory\":{\"time\":\"2026-12-02T10:00:02Z\",\"workingSetBytes\":409600}},"
		"{\"name\":\"idle\"}]},"
		"{\"podRef\":{\"name\":\"q\\\"x\",\"namespace\":\"ns2\"},\"containers\":[]}]}");
	size_t len;
	char *t = vk_server__resource_metrics(sum, false, 1796205605000ull, &len);
	ok(has_line(t, "node_cpu_usage_seconds_total 32243.24 1796205601000"),
	   "node CPU in seconds with the ms timestamp of node.cpu.time");
	ok(has_line(t, "node_memory_working_set_bytes 2270121984 1796205601000"), "node working set");
	ok(has_line(t, "container_cpu_usage_seconds_total{container=\"spin\",namespace=\"ns1\",pod=\"busy\"} 1.5 "
	               "1796205602000"),
	   "container CPU with the labels metrics-server looks for");
	ok(has_line(t, "container_memory_working_set_bytes{container=\"spin\",namespace=\"ns1\",pod=\"busy\"} 409600 "
	               "1796205602000"),
	   "container working set");
	ok(has_line(t, "container_start_time_seconds{container=\"spin\",namespace=\"ns1\",pod=\"busy\"} 1796202000 "
	               "1796202000000"),
	   "container start time in seconds");
	ok(!strstr(t, "container=\"idle\""), "a container without figures has no series");
	ok(has_line(t, "pod_cpu_usage_seconds_total{namespace=\"ns1\",pod=\"busy\"} 1.5 1796205602000"), "pod CPU");
	ok(has_line(t, "pod_memory_working_set_bytes{namespace=\"ns1\",pod=\"busy\"} 409600 1796205602000"),
	   "pod working set");
	ok(has_line(t, "# TYPE node_cpu_usage_seconds_total counter"), "TYPE lines");
	ok(has_line(t, "resource_scrape_error 0") && has_line(t, "scrape_error 0"), "no scrape error");
	if (access("/usr/bin/promtool", X_OK) == 0) {
		char path[] = "/tmp/vk-test-resource.XXXXXX";
		int fd = mkstemp(path);
		ok(fd >= 0 && write(fd, t, len) == (ssize_t)len, "wrote the text for promtool");
		close(fd);
		char cmd[256];
		snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
		int rc = system(cmd);
		snprintf(cmd, sizeof cmd, "%s.out", path);
		vk_buf out = {0};
		vk_read_file(cmd, &out, NULL);
		ok(rc == 0 || (out.data && !strstr(out.data, "error while linting") && !strstr(out.data, "parse")),
		   "promtool check metrics accepts it (%s)", out.data ? out.data : "");
		vk_buf_free(&out);
		unlink(path);
		unlink(cmd);
	} else {
		tap_skip("promtool is not installed (Debian: prometheus)");
	}
	free(t);
	t = vk_server__resource_metrics(sum, true, 1796205605000ull, &len);
	ok(has_line(t, "resource_scrape_error 1") && has_line(t, "scrape_error 1"),
	   "a provider failure: scrape_error 1");
	free(t);
	cJSON_Delete(sum);
	sum = cJSON_Parse("{\"node\":{\"nodeName\":\"n\"}}");
	t = vk_server__resource_metrics(sum, false, 1796205605000ull, &len);
	ok(!strstr(t, "\nnode_cpu_usage_seconds_total ") && strstr(t, "# TYPE pod_cpu_usage_seconds_total counter"),
	   "a node without figures: the families, no series");
	free(t);
	cJSON_Delete(sum);
}

int main(void)
{
	if (!find_root()) {
		tap_skip("tests/unit/data/host not found");
		return tap_done();
	}
	fixtures();
	bad_text();
	sampler();
	resource_metrics();
	return tap_done();
}
