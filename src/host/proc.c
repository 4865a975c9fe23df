/* Parsers of the /proc files vk/host.h reads: pure functions on a file's
 * text, so the unit test runs them on fixtures. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/host.h"

/* The line of text that starts with key (followed by a space, a tab or a
 * colon), or NULL. */
static const char *line_of(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, key, n) == 0)
			return p + n;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

int vk_host_parse_proc_stat(const char *text, long hz, uint64_t *cpu_ns)
{
	const char *p = line_of(text, "cpu ");
	if (!p || hz <= 0)
		return -EINVAL;
	/* user nice system idle iowait irq softirq steal guest guest_nice:
	 * guest time is already counted in user and nice. */
	uint64_t v[8] = {0};
	int n = 0;
	while (n < 8) {
		char *end;
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		v[n++] = strtoull(p, &end, 10);
		p = end;
	}
	if (n < 4)
		return -EINVAL;
	uint64_t ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	*cpu_ns = ticks * (1000000000ull / (uint64_t)hz);
	return 0;
}

/* "Key:   123 kB" -> bytes; false when the key is missing. */
static bool meminfo_kb(const char *text, const char *key, uint64_t *bytes)
{
	const char *p = line_of(text, key);
	if (!p || *p != ':')
		return false;
	char *end;
	unsigned long long kb = strtoull(p + 1, &end, 10);
	if (end == p + 1)
		return false;
	*bytes = (uint64_t)kb * 1024;
	return true;
}

int vk_host_parse_meminfo(const char *text, vk_host_sample *s)
{
	uint64_t total, free_, inactive_file = 0, anon = 0;
	if (!meminfo_kb(text, "MemTotal", &total) || !meminfo_kb(text, "MemFree", &free_) || free_ > total)
		return -EINVAL;
	meminfo_kb(text, "Inactive(file)", &inactive_file);
	meminfo_kb(text, "AnonPages", &anon);
	s->mem_total = total;
	s->mem_usage = total - free_;
	s->mem_working_set = s->mem_usage > inactive_file ? s->mem_usage - inactive_file : 0;
	s->mem_available = total - s->mem_working_set;
	s->mem_rss = anon;
	s->has_memory = true;
	return 0;
}

static bool vmstat_value(const char *text, const char *key, uint64_t *v)
{
	const char *p = line_of(text, key);
	if (!p || *p != ' ')
		return false;
	char *end;
	*v = strtoull(p + 1, &end, 10);
	return end != p + 1;
}

int vk_host_parse_vmstat(const char *text, vk_host_sample *s)
{
	if (!vmstat_value(text, "pgfault", &s->page_faults) || !vmstat_value(text, "pgmajfault", &s->major_page_faults))
		return -EINVAL;
	s->has_faults = true;
	return 0;
}

int vk_host_parse_net_dev(const char *text, vk_host_sample *s)
{
	/* Two header lines, then "  name: rx_bytes packets errs drop fifo
	 * frame compressed multicast tx_bytes packets errs ...". */
	if (!strstr(text, "|bytes"))
		return -EINVAL;
	s->n_ifaces = 0;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *colon = strchr(p, ':'), *nl = strchr(p, '\n');
		if (!colon || (nl && colon > nl))
			continue;
		const char *name = p;
		while (*name == ' ')
			name++;
		size_t len = (size_t)(colon - name);
		if (len == 0 || len >= sizeof s->ifaces[0].name)
			continue;
		unsigned long long f[16];
		int n = 0;
		const char *q = colon + 1;
		while (n < 16) {
			char *end;
			unsigned long long v = strtoull(q, &end, 10);
			if (end == q)
				break;
			f[n++] = v;
			q = end;
		}
		if (n < 11)
			return -EINVAL;
		if (s->n_ifaces == VK_HOST_MAX_IFACES)
			break;
		vk_host_iface *i = &s->ifaces[s->n_ifaces++];
		memcpy(i->name, name, len);
		i->name[len] = '\0';
		i->rx_bytes = f[0];
		i->rx_errors = f[2];
		i->tx_bytes = f[8];
		i->tx_errors = f[10];
	}
	return s->n_ifaces;
}

int vk_host_parse_net_route(const char *text, char *out, size_t outlen)
{
	/* "Iface Destination Gateway Flags ...", hex; the default route has
	 * destination 00000000 and mask 00000000. */
	const char *p = strchr(text, '\n');
	for (p = p ? p + 1 : NULL; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char iface[32], dest[16], gw[16], mask[16];
		unsigned flags, refcnt, use, metric;
		if (sscanf(p, "%31s %15s %15s %x %u %u %u %15s", iface, dest, gw, &flags, &refcnt, &use, &metric,
		           mask) != 8)
			continue;
		if (strcmp(dest, "00000000") == 0 && strcmp(mask, "00000000") == 0 && (flags & 1) /* RTF_UP */) {
			if (strlen(iface) >= outlen)
				return -ENOENT;
			strcpy(out, iface);
			return 0;
		}
	}
	return -ENOENT;
}
