/* The node's stats/v1alpha1 figures (kubelet's NodeStats) from a host
 * sample, and the CPU rate between two samples. */
#include <string.h>

#include "vk/host.h"
#include "vk/util.h"

#define RATE_MIN_NS 1000000000ull /* a rate is taken over at least 1 s */

bool vk_host_sampler_add(vk_host_sampler *sp, const vk_host_sample *s, uint64_t *nano_cores)
{
	if (!s->has_cpu)
		return false;
	if (!sp->has_prev) {
		sp->prev = *s;
		sp->has_prev = true;
	} else if (s->mono_ns >= sp->prev.mono_ns + RATE_MIN_NS) {
		uint64_t dt = s->mono_ns - sp->prev.mono_ns;
		uint64_t used = s->cpu_ns >= sp->prev.cpu_ns ? s->cpu_ns - sp->prev.cpu_ns : 0;
		/* used/dt cores, in nanocores: used * 1e9 / dt without overflow
		 * for any realistic figure (used < 2^64 / 1e9 ns is 584 years). */
		sp->rate_nano_cores = (uint64_t)((long double)used * 1e9L / (long double)dt);
		sp->has_rate = true;
		sp->prev = *s;
	}
	if (sp->has_rate && nano_cores)
		*nano_cores = sp->rate_nano_cores;
	return sp->has_rate;
}

static void add_u64(cJSON *o, const char *k, uint64_t v) { cJSON_AddNumberToObject(o, k, (double)v); }

/* A member named k of node, unless node has it already (then NULL). */
static cJSON *member(cJSON *node, const char *k, const char *t)
{
	if (cJSON_GetObjectItemCaseSensitive(node, k))
		return NULL;
	cJSON *o = cJSON_AddObjectToObject(node, k);
	cJSON_AddStringToObject(o, "time", t);
	return o;
}

void vk_host_node_json(const vk_host_sample *s, bool has_rate, uint64_t nano_cores, cJSON *node)
{
	char t[40];
	vk_rfc3339(t, s->wall_ms, false);
	cJSON *o;
	if (s->has_cpu && (o = member(node, "cpu", t))) {
		if (has_rate)
			add_u64(o, "usageNanoCores", nano_cores);
		add_u64(o, "usageCoreNanoSeconds", s->cpu_ns);
	}
	if (s->has_memory && (o = member(node, "memory", t))) {
		add_u64(o, "availableBytes", s->mem_available);
		add_u64(o, "usageBytes", s->mem_usage);
		add_u64(o, "workingSetBytes", s->mem_working_set);
		add_u64(o, "rssBytes", s->mem_rss);
		if (s->has_faults) {
			add_u64(o, "pageFaults", s->page_faults);
			add_u64(o, "majorPageFaults", s->major_page_faults);
		}
	}
	if (s->has_fs && (o = member(node, "fs", t))) {
		add_u64(o, "availableBytes", s->fs_available);
		add_u64(o, "capacityBytes", s->fs_capacity);
		add_u64(o, "usedBytes", s->fs_used);
		add_u64(o, "inodesFree", s->fs_inodes_free);
		add_u64(o, "inodes", s->fs_inodes);
		add_u64(o, "inodesUsed", s->fs_inodes >= s->fs_inodes_free ? s->fs_inodes - s->fs_inodes_free : 0);
	}
	if (s->n_ifaces > 0 && (o = member(node, "network", t))) {
		/* kubelet repeats the default interface's figures at the top. */
		if (s->default_iface >= 0) {
			const vk_host_iface *d = &s->ifaces[s->default_iface];
			cJSON_AddStringToObject(o, "name", d->name);
			add_u64(o, "rxBytes", d->rx_bytes);
			add_u64(o, "rxErrors", d->rx_errors);
			add_u64(o, "txBytes", d->tx_bytes);
			add_u64(o, "txErrors", d->tx_errors);
		}
		cJSON *arr = cJSON_AddArrayToObject(o, "interfaces");
		for (int i = 0; i < s->n_ifaces; i++) {
			const vk_host_iface *f = &s->ifaces[i];
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "name", f->name);
			add_u64(x, "rxBytes", f->rx_bytes);
			add_u64(x, "rxErrors", f->rx_errors);
			add_u64(x, "txBytes", f->tx_bytes);
			add_u64(x, "txErrors", f->tx_errors);
			cJSON_AddItemToArray(arr, x);
		}
	}
	if (s->has_rlimit && (o = member(node, "rlimit", t))) {
		add_u64(o, "maxpid", s->max_pid);
		add_u64(o, "curproc", s->cur_proc);
	}
}
