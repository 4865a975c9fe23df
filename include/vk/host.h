/* vk/host.h - the machine's own figures, read as kubelet's summary reports
 * them for the node (stats/v1alpha1 NodeStats): CPU, memory, the node's
 * filesystem, network interfaces and process counts.
 *
 * Where they come from (every provider gets them: the core reads them):
 *   cpu      /proc/stat's "cpu" line: every state but idle and iowait,
 *            in USER_HZ ticks, as nanoseconds of CPU time since boot
 *   memory   /proc/meminfo: usage = MemTotal - MemFree, working set =
 *            usage - Inactive(file) (kubelet's rule), available = MemTotal
 *            - working set, rss = AnonPages; page faults from /proc/vmstat
 *   fs       statfs(2) of the node's folder (vk's state dir, else "/")
 *   network  /proc/net/dev; the default interface is the one holding the
 *            default route in /proc/net/route, else the first that is not lo
 *   rlimit   /proc/sys/kernel/pid_max and the running processes (sysinfo)
 * The machine's figures, as the root cgroup's are (cgroup v1 or v2 alike);
 * a tighter cgroup around vk itself is the provider's to report.
 *
 * usageNanoCores needs two samples: a vk_host_sampler keeps the previous
 * one (as kubelet keeps cadvisor's) and takes a rate over at least 1 s. */
#ifndef VK_HOST_H
#define VK_HOST_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define VK_HOST_MAX_IFACES 32

typedef struct {
	char name[32];
	uint64_t rx_bytes, rx_errors, tx_bytes, tx_errors;
} vk_host_iface;

typedef struct {
	uint64_t wall_ms; /* when it was read */
	uint64_t mono_ns; /* the same moment, monotonic: rates use it */
	bool has_cpu;     /* each has_* says the source could be read */
	uint64_t cpu_ns;  /* CPU time used since boot, all cores */
	bool has_memory;
	uint64_t mem_total, mem_usage, mem_working_set, mem_available, mem_rss; /* bytes */
	bool has_faults;
	uint64_t page_faults, major_page_faults;
	bool has_fs;
	uint64_t fs_capacity, fs_available, fs_used, fs_inodes, fs_inodes_free;
	int n_ifaces;
	vk_host_iface ifaces[VK_HOST_MAX_IFACES];
	int default_iface; /* index into ifaces, -1: none */
	bool has_rlimit;
	uint64_t max_pid, cur_proc;
} vk_host_sample;

/* ---- parsing: pure, on a file's text (unit-tested on fixtures) ---------- */

/* /proc/stat -> CPU nanoseconds used (not idle, not iowait); -EINVAL when
 * no "cpu " line.  hz: USER_HZ (sysconf(_SC_CLK_TCK)). */
int vk_host_parse_proc_stat(const char *text, long hz, uint64_t *cpu_ns);
/* /proc/meminfo -> the memory fields of s (has_memory); -EINVAL without
 * MemTotal and MemFree. */
int vk_host_parse_meminfo(const char *text, vk_host_sample *s);
/* /proc/vmstat -> pgfault and pgmajfault (has_faults); -EINVAL without them. */
int vk_host_parse_vmstat(const char *text, vk_host_sample *s);
/* /proc/net/dev -> s->ifaces (at most VK_HOST_MAX_IFACES); the count, or
 * -EINVAL when the text is not that table. */
int vk_host_parse_net_dev(const char *text, vk_host_sample *s);
/* /proc/net/route -> the interface holding the default route into
 * out[outlen], or -ENOENT. */
int vk_host_parse_net_route(const char *text, char *out, size_t outlen);

/* ---- reading ---------------------------------------------------------- */

/* Reads every source under root ("/" on a machine; a folder of fixtures in
 * tests, holding proc/stat, proc/meminfo ...) and statfs of fs_path.  A
 * source that cannot be read leaves its has_* false; never fails.  Blocking:
 * call it off the loop (vk_host_sample_async) unless reading fixtures. */
void vk_host_read(const char *root, const char *fs_path, vk_host_sample *out);

typedef void (*vk_host_sample_cb)(const vk_host_sample *s, void *ud);
/* vk_host_read(root, fs_path) on libuv's thread pool; cb runs on the loop
 * (after uv_cancel too: then with has_* all false).  0 or a negative
 * libuv error, and then cb is never called.  root and fs_path are copied. */
int vk_host_sample_async(uv_loop_t *loop, const char *root, const char *fs_path, vk_host_sample_cb cb, void *ud);

/* ---- the sampler: keeps the previous sample for the CPU rate ------------ */

typedef struct {
	vk_host_sample prev; /* the sample the rate is taken against */
	bool has_prev;
	uint64_t rate_nano_cores; /* the last rate worked out */
	bool has_rate;
} vk_host_sampler;

/* Takes s into the sampler and returns usageNanoCores: the CPU rate since
 * the previous sample when it is at least 1 s older (s then becomes the
 * previous one); otherwise the last rate (a burst of requests does not
 * measure over a few milliseconds).  false when there is none yet. */
bool vk_host_sampler_add(vk_host_sampler *sp, const vk_host_sample *s, uint64_t *nano_cores);

/* The node's stats/v1alpha1 figures as members of node (an object): cpu,
 * memory, fs, network, rlimit, each only when its source was read, each
 * with its "time".  A member node already has is kept (the provider's
 * own figures win). */
void vk_host_node_json(const vk_host_sample *s, bool has_rate, uint64_t nano_cores, cJSON *node);

#endif
