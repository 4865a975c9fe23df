/* The registry: families of series keyed by their label values, and the
 * collectors that refresh gauges before a scrape.  Cardinalities are small
 * (a few dozen series per family), so a family's series are a list. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

static vk_metric *families, **families_tail = &families;

typedef struct collector {
	vk_metrics_collect_fn fn;
	void *ud;
	struct collector *next;
} collector;
static collector *collectors;

static const double default_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

vk_metric *vk_metrics__first(void) { return families; }

static vk_metric *find(const char *name)
{
	for (vk_metric *m = families; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static vk_metric *make(vk_metric_type type, const char *name, const char *help, const char *labels, const double *le,
                       size_t n)
{
	vk_metric *m = find(name);
	if (m)
		return m;
	m = vk_xcalloc(1, sizeof *m);
	m->type = type;
	m->name = vk_strdup(name);
	m->help = vk_strdup(help);
	for (const char *p = labels; p && *p && m->n_labels < VK_METRIC_MAX_LABELS;) {
		size_t k = strcspn(p, ",");
		m->labels[m->n_labels++] = vk_memdupz(p, k);
		p += k;
		if (*p == ',')
			p++;
	}
	if (type == VK_METRIC_HISTOGRAM) {
		m->le = vk_xmalloc(n * sizeof *m->le);
		memcpy(m->le, le, n * sizeof *m->le);
		m->n_le = n;
	}
	*families_tail = m;
	families_tail = &m->next;
	return m;
}

vk_metric *vk_metric_new(vk_metric_type type, const char *name, const char *help, const char *labels)
{
	return make(type, name, help, labels, default_le, VK_ARRAY_LEN(default_le));
}

vk_metric *vk_metric_histogram(const char *name, const char *help, const char *labels, const double *le, size_t n)
{
	return make(VK_METRIC_HISTOGRAM, name, help, labels, le, n);
}

/* The series with these label values, made when `create`. */
static vk_metric_series *series(vk_metric *m, va_list ap, bool create)
{
	const char *vals[VK_METRIC_MAX_LABELS];
	for (size_t i = 0; i < m->n_labels; i++) {
		vals[i] = va_arg(ap, const char *);
		if (!vals[i])
			vals[i] = "";
	}
	vk_metric_series **tail = &m->series;
	for (vk_metric_series *s = m->series; s; tail = &s->next, s = s->next) {
		size_t i = 0;
		while (i < m->n_labels && strcmp(s->values[i], vals[i]) == 0)
			i++;
		if (i == m->n_labels)
			return s;
	}
	if (!create)
		return NULL;
	vk_metric_series *s = vk_xcalloc(1, sizeof *s);
	for (size_t i = 0; i < m->n_labels; i++)
		s->values[i] = vk_strdup(vals[i]);
	if (m->type == VK_METRIC_HISTOGRAM)
		s->buckets = vk_xcalloc(m->n_le, sizeof *s->buckets);
	*tail = s;
	return s;
}

void vk_metric_add(vk_metric *m, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	series(m, ap, true)->value += v;
	va_end(ap);
}

void vk_metric_set(vk_metric *m, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	series(m, ap, true)->value = v;
	va_end(ap);
}

void vk_metric_observe(vk_metric *m, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	vk_metric_series *s = series(m, ap, true);
	va_end(ap);
	/* Buckets are kept non-cumulative; the exposition sums them. */
	size_t i = 0;
	while (i < m->n_le && v > m->le[i])
		i++;
	if (i < m->n_le)
		s->buckets[i]++;
	s->count++;
	s->value += v;
}

double vk_metric_get(vk_metric *m, ...)
{
	va_list ap;
	va_start(ap, m);
	vk_metric_series *s = series(m, ap, false);
	va_end(ap);
	if (!s)
		return 0;
	return m->type == VK_METRIC_HISTOGRAM ? (double)s->count : s->value;
}

static void free_series(vk_metric *m, vk_metric_series *s)
{
	for (size_t i = 0; i < m->n_labels; i++)
		free(s->values[i]);
	free(s->buckets);
	free(s);
}

void vk_metric_clear(vk_metric *m)
{
	while (m->series) {
		vk_metric_series *s = m->series;
		m->series = s->next;
		free_series(m, s);
	}
}

void vk_metrics_on_collect(vk_metrics_collect_fn fn, void *ud)
{
	collector **tail = &collectors;
	while (*tail)
		tail = &(*tail)->next;
	*tail = vk_xcalloc(1, sizeof **tail);
	(*tail)->fn = fn;
	(*tail)->ud = ud;
}

void vk_metrics_off_collect(vk_metrics_collect_fn fn, void *ud)
{
	for (collector **c = &collectors; *c; c = &(*c)->next) {
		if ((*c)->fn == fn && (*c)->ud == ud) {
			collector *dead = *c;
			*c = dead->next;
			free(dead);
			return;
		}
	}
}

void vk_metrics__collect(void)
{
	vk_metrics__vk_collect();
	for (collector *c = collectors; c; c = c->next)
		c->fn(c->ud);
}

void vk_metrics_reset(void)
{
	while (families) {
		vk_metric *m = families;
		families = m->next;
		vk_metric_clear(m);
		for (size_t i = 0; i < m->n_labels; i++)
			free(m->labels[i]);
		free(m->le);
		free(m->name);
		free(m->help);
		free(m);
	}
	families_tail = &families;
	while (collectors) {
		collector *c = collectors;
		collectors = c->next;
		free(c);
	}
	vk_metrics__vk_reset();
}
