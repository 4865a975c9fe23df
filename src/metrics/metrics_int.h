/* Private to src/metrics: a family and its series. */
#ifndef VK_METRICS_INT_H
#define VK_METRICS_INT_H

#include <stdint.h>

#include "vk/metrics.h"
#include "vk/util.h"

#define VK_METRIC_MAX_LABELS 4

typedef struct vk_metric_series {
	char *values[VK_METRIC_MAX_LABELS];
	double value;      /* counter, gauge; a histogram's sum */
	uint64_t count;    /* a histogram's observations */
	uint64_t *buckets; /* a histogram's, one per bound, not cumulative */
	struct vk_metric_series *next;
} vk_metric_series;

struct vk_metric {
	vk_metric_type type;
	char *name, *help;
	char *labels[VK_METRIC_MAX_LABELS];
	size_t n_labels;
	double *le; /* a histogram's upper bounds */
	size_t n_le;
	vk_metric_series *series;
	struct vk_metric *next;
};

vk_metric *vk_metrics__first(void);
void vk_metrics__collect(void);
void vk_metrics__vk_reset(void);   /* vk.c: forgets its family handles */
void vk_metrics__vk_collect(void); /* vk.c: the process's gauges, first */

#endif
