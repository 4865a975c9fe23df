/* vk's /metrics from the program's side: the families, the pods-by-phase
 * collector, and --metrics-addr's plain HTTP listener. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "vk/json.h"
#include "vk/metrics.h"
#include "vk/util.h"

static void count_phase(const cJSON *pod, void *ud)
{
	const char *phase = vk_json_str(pod, "status.phase");
	vk_metric_add(ud, 1, phase && *phase ? phase : "Pending");
}

/* One pod at a time (vk_pods_each): a scrape must not take a tree of every
 * pod (13 MiB for a thousand) for a moment. */
static void pods_collect(void *ud)
{
	vk_app *a = ud;
	vk_metric *m = vk_metric_new(VK_METRIC_GAUGE, "vk_pods", "", "phase");
	vk_metric_clear(m);
	static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
	for (size_t i = 0; i < VK_ARRAY_LEN(phases); i++)
		vk_metric_set(m, 0, phases[i]);
	if (a->pods)
		vk_pods_each(a->pods, count_phase, m);
}

/* Writes the local store has not committed yet: a burst's backlog, or
 * everything kept in memory while the store is down. */
static void store_collect(void *ud)
{
	vk_app *a = ud;
	vk_metric *m = vk_metric_new(VK_METRIC_GAUGE, "vk_store_pending_writes",
	                             "Writes queued for the local store and not yet committed.", NULL);
	vk_metric_set(m, a->wb ? (double)vk_store_wb_len(a->wb) : 0);
}

/* "HOST:PORT", ":PORT" (every address) or "[V6]:PORT". */
static int split_addr(const char *s, char *host, size_t n, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon)
		return -1;
	size_t hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']')
		snprintf(host, n, "%.*s", (int)(hl - 2), s + 1);
	else if (hl)
		snprintf(host, n, "%.*s", (int)hl, s);
	else
		snprintf(host, n, "0.0.0.0");
	*port = atoi(colon + 1);
	return 0;
}

int vk_app__metrics_start(vk_app *a)
{
	vk_metrics_init();
	vk_metrics_on_collect(pods_collect, a);
	vk_metrics_on_collect(store_collect, a);
	if (!a->o.metrics_addr || a->o.check)
		return 0;
	char host[256];
	int port;
	if (split_addr(a->o.metrics_addr, host, sizeof host, &port) < 0)
		return -1; /* cli.c checked the form */
	vk_server_opts so = {
		.loop = a->loop,
		.provider = a->provider,
		.nodename = a->o.nodename,
		.address = host,
		.port = port,
		.metrics_only = true,
	};
	char *err = NULL;
	a->metrics_server = vk_server_new(&so, &err);
	if (!a->metrics_server) {
		vk_error(SUB, "%s", err ? err : "--metrics-addr: cannot serve");
		free(err);
		return -1;
	}
	return 0;
}

void vk_app__metrics_close(vk_app *a)
{
	vk_metrics_off_collect(pods_collect, a);
	vk_metrics_off_collect(store_collect, a);
	vk_server_close(a->metrics_server);
	a->metrics_server = NULL;
}
