/* The Prometheus text format, version 0.0.4: HELP and TYPE lines, then one
 * line per series; a histogram's buckets are cumulative and end with
 * le="+Inf", then _sum and _count. */
#include <math.h>
#include <stdio.h>

#include "metrics_int.h"

static const char *type_name(vk_metric_type t)
{
	return t == VK_METRIC_COUNTER ? "counter" : t == VK_METRIC_GAUGE ? "gauge" : "histogram";
}

/* HELP escapes \ and newline; label values also escape ". */
static void escaped(vk_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			vk_buf_append(b, "\\\\", 2);
		else if (*s == '\n')
			vk_buf_append(b, "\\n", 2);
		else if (quote && *s == '"')
			vk_buf_append(b, "\\\"", 2);
		else
			vk_buf_append(b, s, 1);
	}
}

static void number(vk_buf *b, double v)
{
	if (isnan(v))
		vk_buf_printf(b, "NaN");
	else if (isinf(v))
		vk_buf_printf(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(long long)v && fabs(v) < 1e15)
		vk_buf_printf(b, "%lld", (long long)v);
	else
		vk_buf_printf(b, "%.17g", v);
}

/* {a="x",b="y"} with an extra le="..." for buckets (le may be NULL). */
static void labels(vk_buf *b, const vk_metric *m, const vk_metric_series *s, const char *le)
{
	if (!m->n_labels && !le)
		return;
	vk_buf_append(b, "{", 1);
	for (size_t i = 0; i < m->n_labels; i++) {
		vk_buf_printf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
		escaped(b, s->values[i], true);
		vk_buf_append(b, "\"", 1);
	}
	if (le)
		vk_buf_printf(b, "%sle=\"%s\"", m->n_labels ? "," : "", le);
	vk_buf_append(b, "}", 1);
}

static void histogram(vk_buf *b, const vk_metric *m, const vk_metric_series *s)
{
	uint64_t cum = 0;
	char le[64];
	for (size_t i = 0; i < m->n_le; i++) {
		cum += s->buckets[i];
		snprintf(le, sizeof le, "%g", m->le[i]);
		vk_buf_printf(b, "%s_bucket", m->name);
		labels(b, m, s, le);
		vk_buf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	vk_buf_printf(b, "%s_bucket", m->name);
	labels(b, m, s, "+Inf");
	vk_buf_printf(b, " %llu\n%s_sum", (unsigned long long)s->count, m->name);
	labels(b, m, s, NULL);
	vk_buf_append(b, " ", 1);
	number(b, s->value);
	vk_buf_printf(b, "\n%s_count", m->name);
	labels(b, m, s, NULL);
	vk_buf_printf(b, " %llu\n", (unsigned long long)s->count);
}

char *vk_metrics_render(size_t *len)
{
	vk_metrics__collect();
	vk_buf b = {0};
	for (const vk_metric *m = vk_metrics__first(); m; m = m->next) {
		vk_buf_printf(&b, "# HELP %s ", m->name);
		escaped(&b, m->help ? m->help : "", false);
		vk_buf_printf(&b, "\n# TYPE %s %s\n", m->name, type_name(m->type));
		/* A family without labels shows 0 before its first event. */
		if (!m->series && !m->n_labels) {
			if (m->type == VK_METRIC_HISTOGRAM) {
				vk_metric_series zero = {.buckets = (uint64_t[64]){0}};
				if (m->n_le <= 64)
					histogram(&b, m, &zero);
			} else {
				vk_buf_printf(&b, "%s 0\n", m->name);
			}
		}
		for (const vk_metric_series *s = m->series; s; s = s->next) {
			if (m->type == VK_METRIC_HISTOGRAM) {
				histogram(&b, m, s);
				continue;
			}
			vk_buf_printf(&b, "%s", m->name);
			labels(&b, m, s, NULL);
			vk_buf_append(&b, " ", 1);
			number(&b, s->value);
			vk_buf_append(&b, "\n", 1);
		}
	}
	if (len)
		*len = b.len;
	if (!b.data)
		return vk_strdup("");
	return vk_buf_steal(&b);
}
