/* Kubernetes Events: what users see in `kubectl describe` and `get events`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vk/kube.h"
#include "vk/util.h"

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void event_done(const vk_kube_result *r, void *ud)
{
	char *what = ud;
	if (r->status < 200 || r->status >= 300)
		vk_warn("event", "could not record event %s: %ld %s", what, r->status,
		        r->error ? r->error : "");
	free(what);
}

void vk_kube_event(vk_kube *k, const cJSON *obj, const char *type, const char *reason,
                   const char *host, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	const char *kind = str_at(obj, "kind", NULL);
	const char *name = str_at(obj, "metadata", "name");
	const char *ns = str_at(obj, "metadata", "namespace");
	const char *uid = str_at(obj, "metadata", "uid");
	if (!kind)
		kind = ns ? "Pod" : "Node";
	if (!name)
		return;
	/* Events about cluster-scoped objects (the Node) live in "default". */
	const char *evns = ns ? ns : "default";

	char ts[40];
	vk_rfc3339(ts, vk_wall_ms(), false);
	cJSON *ev = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
	char *gen = vk_asprintf("%s.", name);
	cJSON_AddStringToObject(md, "generateName", gen);
	free(gen);
	cJSON_AddStringToObject(md, "namespace", evns);
	cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
	cJSON_AddStringToObject(io, "apiVersion", "v1");
	cJSON_AddStringToObject(io, "kind", kind);
	cJSON_AddStringToObject(io, "name", name);
	if (ns)
		cJSON_AddStringToObject(io, "namespace", ns);
	if (uid)
		cJSON_AddStringToObject(io, "uid", uid);
	cJSON_AddStringToObject(ev, "reason", reason);
	cJSON_AddStringToObject(ev, "message", msg);
	cJSON_AddStringToObject(ev, "type", type);
	cJSON *src = cJSON_AddObjectToObject(ev, "source");
	cJSON_AddStringToObject(src, "component", "vk");
	if (host)
		cJSON_AddStringToObject(src, "host", host);
	cJSON_AddStringToObject(ev, "firstTimestamp", ts);
	cJSON_AddStringToObject(ev, "lastTimestamp", ts);
	cJSON_AddNumberToObject(ev, "count", 1);
	cJSON_AddStringToObject(ev, "reportingComponent", "vk");
	if (host)
		cJSON_AddStringToObject(ev, "reportingInstance", host);

	char *path = vk_asprintf("/api/v1/namespaces/%s/events", evns);
	char *what = vk_asprintf("%s on %s %s%s%s", reason, kind, ns ? ns : "", ns ? "/" : "", name);
	if (vk_kube_send_json(k, "POST", path, NULL, ev, event_done, what) < 0) {
		vk_warn("event", "could not record event %s", what);
		free(what);
	}
	free(path);
	cJSON_Delete(ev);
}
