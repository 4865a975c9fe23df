/* vk/metrics.h - counters, gauges and histograms with labels, and their
 * Prometheus text exposition (version 0.0.4), for /metrics.
 *
 * One registry per process, used from the loop thread only.  Depends on
 * util only: any subsystem may count.  A family is made once with its
 * label names ("verb,resource,code"); each call names the label values in
 * the same order, as many as there are names:
 *
 *   vk_metric *m = vk_metric_new(VK_METRIC_COUNTER, "x_total", "Xs.", "verb,code");
 *   vk_metric_add(m, 1, "GET", "200");
 *
 * The second half of this header is vk's own metrics (src/metrics/vk.c):
 * small calls made at the points that count. */
#ifndef VK_METRICS_H
#define VK_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { VK_METRIC_COUNTER, VK_METRIC_GAUGE, VK_METRIC_HISTOGRAM } vk_metric_type;
typedef struct vk_metric vk_metric;

/* Finds the family `name`, or makes it (labels: comma-separated names, or
 * NULL).  A histogram made here has buckets for seconds from 1 ms to 30 s. */
vk_metric *vk_metric_new(vk_metric_type type, const char *name, const char *help, const char *labels);
/* A histogram with its own upper bounds (ascending; +Inf is implied). */
vk_metric *vk_metric_histogram(const char *name, const char *help, const char *labels, const double *le, size_t n);

/* The label values follow `v`, as const char *, one per label name. */
void vk_metric_add(vk_metric *m, double v, ...);     /* counter or gauge */
void vk_metric_set(vk_metric *m, double v, ...);     /* gauge */
void vk_metric_observe(vk_metric *m, double v, ...); /* histogram */
/* A series' value (a histogram's count); 0 when it does not exist yet. */
double vk_metric_get(vk_metric *m, ...);
/* Drops every series of the family (a gauge recomputed at each scrape). */
void vk_metric_clear(vk_metric *m);

/* Called before each exposition, in the order added, to refresh gauges
 * (pods by phase, heap sizes).  Remove before `ud` goes away. */
typedef void (*vk_metrics_collect_fn)(void *ud);
void vk_metrics_on_collect(vk_metrics_collect_fn fn, void *ud);
void vk_metrics_off_collect(vk_metrics_collect_fn fn, void *ud);

/* Runs the collectors, then writes every family in the text format.
 * Caller frees. */
char *vk_metrics_render(size_t *len);
/* Frees every family and collector (tests; the end of the process). */
void vk_metrics_reset(void);

/* ---- vk's metrics ----------------------------------------------------------
 * Families are made at the first call (vk_metrics_init makes them all, so
 * that a scrape shows every family from the start). */
void vk_metrics_init(void);
/* An API server call ended: verb GET/LIST/WATCH/POST/PUT/PATCH/DELETE and
 * resource ("pods", "pods/status", "leases") from vk_metrics_api_labels,
 * code the HTTP status (0: no answer). */
void vk_metrics_api_request(const char *verb, const char *resource, long code);
/* A provider callback ended: its latency, and whether it failed or was
 * killed by its budget. */
void vk_metrics_callback(const char *callback, double seconds, bool failed, bool killed);
void vk_metrics_reload(bool ok);
/* An informer's watch ended and is started again, or it lists again. */
void vk_metrics_watch_restart(const char *what);
void vk_metrics_relist(const char *what);
/* The Event queue (src/kube/event.c): one Event dropped, how many wait. */
void vk_metrics_event_dropped(void);
void vk_metrics_events_queued(size_t n);
void vk_metrics_lease_renewal(double seconds, bool ok);
/* A local store operation (get, put, delete, list, commit...). */
void vk_metrics_store_op(const char *store, const char *op, bool ok);
/* The method and path as vk_metrics_api_request labels them; pure. */
void vk_metrics_api_labels(const char *method, const char *path, char *verb, size_t vn, char *resource, size_t rn);

#endif
