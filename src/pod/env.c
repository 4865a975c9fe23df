/* Container environment, resolved the way kubelet does it:
 *   1. service links (the `kubernetes` service always, the namespace's
 *      services unless enableServiceLinks is false),
 *   2. envFrom, in order (ConfigMaps, Secrets, with prefix),
 *   3. env, in order, with $(VAR) expansion over what is defined so far,
 *      valueFrom from ConfigMaps, Secrets, the downward API (fieldRef)
 *      and container resources (resourceFieldRef).
 * for init containers, containers and ephemeral containers alike.  envFrom
 * keys are taken as they are (prefix + key), under kubelet 1.34+'s relaxed
 * name rule: "data-1" is a name.
 * A missing mandatory reference fails the whole pod with kubelet's message;
 * an optional one is skipped. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"
#include "vk/k8s.h"

typedef struct {
	char *path; /* API path fetched */
	long status;
	cJSON *obj; /* the object, or NULL */
} fetch;

typedef struct {
	vk_kube *kube;
	cJSON *pod; /* our copy, rewritten in place */
	char *host_ip;
	cJSON *allocatable; /* the node's status.allocatable, or NULL */
	vk_env_cb cb;
	void *ud;
	vk_map *fetches;  /* path -> fetch */
	bool read_events; /* record virtual-kubelet's FailedToRead* events */
	unsigned pending;
	bool started;
} env_job;

/* ---- $(VAR) expansion ------------------------------------------------------ */

/* The value of name[0..n) in an env list of {name, value}; the last
 * definition wins. */
static const char *lookup(const char *name, size_t n, void *ud)
{
	const cJSON *env = ud, *e;
	const char *found = NULL;
	cJSON_ArrayForEach(e, env) {
		const char *k = vk_json_str(e, "name");
		const char *v = vk_json_str(e, "value");
		if (k && v && strlen(k) == n && memcmp(k, name, n) == 0)
			found = v;
	}
	return found;
}

char *vk_pod_env_expand(const char *s, const cJSON *env) { return vk_k8s_expand(s, lookup, (void *)env, true); }

/* ---- fetching what the pod refers to ---------------------------------------- */

static void compute(env_job *j);

static void fetch_done(const vk_kube_result *r, void *ud)
{
	fetch *f = ud;
	env_job *j = NULL;
	/* find our job: the fetch is registered in exactly one job's map */
	j = *(env_job **)(f + 1);
	f->status = r->status;
	if (r->status == 200 && r->json)
		f->obj = cJSON_Duplicate(r->json, 1);
	if (--j->pending == 0 && j->started)
		compute(j);
}

static void want(env_job *j, const char *fmt, const char *ns, const char *name)
{
	char *path = vk_asprintf(fmt, ns, name);
	if (vk_map_get(j->fetches, path)) {
		free(path);
		return;
	}
	/* The job pointer rides behind the fetch so the callback finds it. */
	fetch *f = vk_xcalloc(1, sizeof *f + sizeof(env_job *));
	*(env_job **)(f + 1) = j;
	f->path = path;
	vk_map_set(j->fetches, path, f);
	j->pending++;
	if (vk_kube_get_cached(j->kube, path, fetch_done, f, NULL) < 0) {
		f->status = 0;
		j->pending--;
	}
}

static const char *pod_ns(const env_job *j) { return vk_json_str(j->pod, "metadata.namespace"); }

static fetch *got(env_job *j, const char *fmt, const char *name)
{
	char *path = vk_asprintf(fmt, pod_ns(j), name);
	fetch *f = vk_map_get(j->fetches, path);
	free(path);
	return f;
}

#define CM_PATH "/api/v1/namespaces/%s/configmaps/%s"
#define SECRET_PATH "/api/v1/namespaces/%s/secrets/%s"

static void collect(env_job *j, const cJSON *containers)
{
	const cJSON *c, *e;
	cJSON_ArrayForEach(c, containers) {
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "envFrom")) {
			const char *cm = vk_json_str(e, "configMapRef.name");
			const char *sec = vk_json_str(e, "secretRef.name");
			if (cm)
				want(j, CM_PATH, pod_ns(j), cm);
			if (sec)
				want(j, SECRET_PATH, pod_ns(j), sec);
		}
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env")) {
			const char *cm = vk_json_str(e, "valueFrom.configMapKeyRef.name");
			const char *sec = vk_json_str(e, "valueFrom.secretKeyRef.name");
			if (cm)
				want(j, CM_PATH, pod_ns(j), cm);
			if (sec)
				want(j, SECRET_PATH, pod_ns(j), sec);
		}
	}
}

/* ---- computing ---------------------------------------------------------------- */

static void add_env(cJSON *env, const char *name, const char *value)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "value", value);
	cJSON_AddItemToArray(env, e);
}

static bool is_true(const cJSON *o, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)); }

/* RelaxedEnvironmentVariableValidation (GA in Kubernetes 1.34): a name is
 * any printable ASCII but '=', and not empty.  kubelet itself checks no
 * envFrom key (the API server validated keys and prefix); this only keeps a
 * name the runtime would misread ("A=B" in KEY=VALUE) out. */
bool vk_pod_env_name_valid(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '=')
			return false;
	return true;
}

/* Value of key in a ConfigMap (data) or Secret (base64 data); malloc'd.
 * Keys are looked up as they are: "app.conf" is one key, not a path. */
static char *object_value(const cJSON *obj, const char *key, bool secret)
{
	const char *v = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "data"), key));
	if (!v && !secret)
		v = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "binaryData"), key));
	if (!v)
		return NULL;
	if (!secret)
		return vk_strdup(v);
	vk_buf out = {0};
	if (vk_base64_decode(v, strlen(v), &out) < 0) {
		vk_buf_free(&out);
		return NULL;
	}
	return vk_buf_steal(&out);
}

/* resourceFieldRef as kubelet computes it: requests and limits as the
 * container sets them, an unset request is 0, an unset limit of cpu,
 * memory or ephemeral-storage is the node's allocatable; the value is
 * divided by `divisor` (default 1) and rounded up, cpu in millicores. */
static char *resource_value(env_job *j, const cJSON *container, const cJSON *ref, char **err)
{
	const char *res = vk_json_str(ref, "resource");
	const char *cname = vk_json_str(ref, "containerName");
	const cJSON *c = container;
	if (cname && *cname) {
		const cJSON *x;
		c = NULL;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j->pod, "spec"),
		                                                       "containers"))
			if (vk_json_str(x, "name") && strcmp(vk_json_str(x, "name"), cname) == 0)
				c = x;
	}
	const char *dot = res ? strchr(res, '.') : NULL;
	if (!c || !dot) {
		*err = vk_asprintf("resourceFieldRef %s: unknown container \"%s\" or resource", res ? res : "",
		                   cname ? cname : "");
		return NULL;
	}
	char kind[32];
	snprintf(kind, sizeof kind, "%.*s", (int)(dot - res), res);
	const char *name = dot + 1;
	if ((strcmp(kind, "limits") != 0 && strcmp(kind, "requests") != 0) ||
	    (strcmp(name, "cpu") != 0 && strcmp(name, "memory") != 0 && strcmp(name, "ephemeral-storage") != 0)) {
		*err = vk_asprintf("resourceFieldRef: unsupported resource \"%s\"", res);
		return NULL;
	}
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "resources");
	const char *q = vk_json_str(cJSON_GetObjectItemCaseSensitive(r, kind), name);
	double v = 0, div = 1;
	if (q && vk_k8s_quantity(q, &v) < 0) {
		*err = vk_asprintf("resourceFieldRef %s: bad quantity \"%s\"", res, q);
		return NULL;
	}
	const char *alloc = vk_json_str(j->allocatable, name);
	if (v == 0 && strcmp(kind, "limits") == 0 && alloc && vk_k8s_quantity(alloc, &v) < 0)
		v = 0; /* a node's allocatable that does not parse: as if unknown */
	const char *d = vk_json_str(ref, "divisor");
	if (d && (vk_k8s_quantity(d, &div) < 0 || div < 0)) {
		*err = vk_asprintf("resourceFieldRef %s: bad divisor \"%s\"", res, d);
		return NULL;
	}
	if (div == 0) /* the API server's default for an unset divisor: 1 */
		div = 1;
	if (strcmp(name, "cpu") == 0) { /* Quantity.MilliValue() rounds up */
		v = ceil(v * 1000 - 1e-9);
		div = ceil(div * 1000 - 1e-9);
	} else { /* Quantity.Value() rounds up */
		v = ceil(v - 1e-9);
		div = ceil(div - 1e-9);
	}
	if (div < 1)
		div = 1;
	double out = ceil(v / div - 1e-9);
	return vk_asprintf("%.0f", out == 0 ? 0.0 : out); /* never "-0" */
}

/* metadata.labels['app'] -> the label's value */
static const char *bracket(const cJSON *map, const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) != 0 || path[n] != '[')
		return NULL;
	const char *k = path + n + 1;
	char q = *k;
	if (q != '\'' && q != '"')
		return NULL;
	k++;
	const char *end = strchr(k, q);
	if (!end)
		return NULL;
	char key[256];
	snprintf(key, sizeof key, "%.*s", (int)(end - k), k);
	return vk_json_str(map, key);
}

/* Returns 1 with *val set, 0 to defer (podIP unknown yet), -1 with *err. */
static int field_value(env_job *j, const char *fp, char **val, char **err)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(j->pod, "metadata");
	const char *v = NULL;
	if (strcmp(fp, "metadata.name") == 0 || strcmp(fp, "metadata.namespace") == 0 ||
	    strcmp(fp, "metadata.uid") == 0 || strcmp(fp, "spec.nodeName") == 0 ||
	    strcmp(fp, "spec.serviceAccountName") == 0) {
		v = vk_json_str(j->pod, fp);
		*val = vk_strdup(v ? v : "");
		return 1;
	}
	if ((v = bracket(cJSON_GetObjectItemCaseSensitive(md, "labels"), fp, "metadata.labels")) ||
	    (v = bracket(cJSON_GetObjectItemCaseSensitive(md, "annotations"), fp, "metadata.annotations"))) {
		*val = vk_strdup(v);
		return 1;
	}
	if (strncmp(fp, "metadata.labels[", 16) == 0 || strncmp(fp, "metadata.annotations[", 21) == 0) {
		*val = vk_strdup("");
		return 1;
	}
	if (strcmp(fp, "status.hostIP") == 0 || strcmp(fp, "status.hostIPs") == 0) {
		*val = vk_strdup(j->host_ip ? j->host_ip : "");
		return 1;
	}
	if (strcmp(fp, "status.podIP") == 0 || strcmp(fp, "status.podIPs") == 0) {
		v = vk_json_str(j->pod, "status.podIP");
		if (v && *v) {
			*val = vk_strdup(v);
			return 1;
		}
		return 0;
	}
	*err = vk_asprintf("unsupported fieldRef \"%s\"", fp);
	return -1;
}

static void service_env(cJSON *env, const cJSON *svc)
{
	const char *name = vk_json_str(svc, "metadata.name");
	const char *ip = vk_json_str(svc, "spec.clusterIP");
	if (!name || !ip || !*ip || strcmp(ip, "None") == 0)
		return;
	char up[256], k[512], v[512];
	size_t i;
	for (i = 0; name[i] && i < sizeof up - 1; i++)
		up[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	up[i] = '\0';
	const cJSON *ports = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(svc, "spec"), "ports");
	const cJSON *first = cJSON_GetArrayItem(ports, 0);
	if (!first)
		return;
	snprintf(k, sizeof k, "%s_SERVICE_HOST", up);
	add_env(env, k, ip);
	const cJSON *p;
	const cJSON *fport = cJSON_GetObjectItemCaseSensitive(first, "port");
	snprintf(k, sizeof k, "%s_SERVICE_PORT", up);
	snprintf(v, sizeof v, "%d", fport ? fport->valueint : 0);
	add_env(env, k, v);
	cJSON_ArrayForEach(p, ports) {
		const char *pname = vk_json_str(p, "name");
		if (pname && *pname) {
			char pup[128];
			for (i = 0; pname[i] && i < sizeof pup - 1; i++)
				pup[i] = pname[i] == '-' ? '_' : (char)toupper((unsigned char)pname[i]);
			pup[i] = '\0';
			snprintf(k, sizeof k, "%s_SERVICE_PORT_%s", up, pup);
			snprintf(v, sizeof v, "%d", cJSON_GetObjectItemCaseSensitive(p, "port")->valueint);
			add_env(env, k, v);
		}
	}
	const char *fproto = vk_json_str(first, "protocol");
	snprintf(k, sizeof k, "%s_PORT", up);
	snprintf(v, sizeof v, "%s://%s:%d", fproto ? fproto : "TCP", ip, fport ? fport->valueint : 0);
	for (char *c = v; *c && *c != ':'; c++)
		*c = (char)tolower((unsigned char)*c);
	add_env(env, k, v);
	cJSON_ArrayForEach(p, ports) {
		const char *proto = vk_json_str(p, "protocol");
		int port = cJSON_GetObjectItemCaseSensitive(p, "port")
		                   ? cJSON_GetObjectItemCaseSensitive(p, "port")->valueint
		                   : 0;
		char PROTO[16], lproto[16];
		snprintf(PROTO, sizeof PROTO, "%s", proto ? proto : "TCP");
		for (i = 0; PROTO[i]; i++)
			lproto[i] = (char)tolower((unsigned char)PROTO[i]);
		lproto[i] = '\0';
		char base[300];
		snprintf(base, sizeof base, "%s_PORT_%d_%s", up, port, PROTO);
		snprintf(v, sizeof v, "%s://%s:%d", lproto, ip, port);
		add_env(env, base, v);
		snprintf(k, sizeof k, "%s_PROTO", base);
		add_env(env, k, lproto);
		snprintf(k, sizeof k, "%s_PORT", base);
		snprintf(v, sizeof v, "%d", port);
		add_env(env, k, v);
		snprintf(k, sizeof k, "%s_ADDR", base);
		add_env(env, k, ip);
	}
}

static int container_env(env_job *j, cJSON *c, char **err)
{
	cJSON *out = cJSON_CreateArray();
	/* 1. service links */
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(j->pod, "spec");
	const cJSON *links = cJSON_GetObjectItemCaseSensitive(spec, "enableServiceLinks");
	bool svc_links = !cJSON_IsFalse(links);
	fetch *all = vk_map_get(j->fetches, "svc");
	fetch *master = vk_map_get(j->fetches, "master");
	const cJSON *s;
	if (svc_links && all && all->obj)
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(all->obj, "items")) {
			const char *n = vk_json_str(s, "metadata.name");
			if (!(strcmp(pod_ns(j), "default") == 0 && n && strcmp(n, "kubernetes") == 0))
				service_env(out, s);
		}
	if (master && master->obj)
		service_env(out, master->obj);

	/* 2. envFrom */
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "envFrom")) {
		const char *prefix = vk_json_str(e, "prefix");
		const char *cm = vk_json_str(e, "configMapRef.name");
		const char *sec = vk_json_str(e, "secretRef.name");
		const cJSON *ref = cJSON_GetObjectItemCaseSensitive(e, cm ? "configMapRef" : "secretRef");
		fetch *f = got(j, cm ? CM_PATH : SECRET_PATH, cm ? cm : sec);
		if (!f || !f->obj) {
			vk_pod__env_event(j->kube, j->pod, VK_POD_ENV_NOT_FOUND, cm == NULL, is_true(ref, "optional"),
			                  NULL, cm ? cm : sec, NULL);
			if (is_true(ref, "optional"))
				continue;
			*err = vk_asprintf("%s \"%s\" not found", cm ? "configmap" : "secret", cm ? cm : sec);
			cJSON_Delete(out);
			return -1;
		}
		const cJSON *kv;
		cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(f->obj, "data")) {
			char *name = vk_asprintf("%s%s", prefix ? prefix : "", kv->string);
			if (vk_pod_env_name_valid(name)) {
				char *val = object_value(f->obj, kv->string, sec != NULL && cm == NULL);
				add_env(out, name, val ? val : "");
				free(val);
			} else {
				vk_warn(SUB,
				        "%s/%s: envFrom %s \"%s\": \"%s\" is not an environment variable name "
				        "(printable ASCII but '='); skipped",
				        pod_ns(j), vk_json_str(j->pod, "metadata.name"), cm ? "configmap" : "secret",
				        cm ? cm : sec, name);
			}
			free(name);
		}
	}

	/* 3. env */
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env")) {
		const char *name = vk_json_str(e, "name");
		if (!name)
			continue;
		const cJSON *vf = cJSON_GetObjectItemCaseSensitive(e, "valueFrom");
		if (!vf) {
			const char *v = vk_json_str(e, "value");
			char *x = vk_pod_env_expand(v ? v : "", out);
			add_env(out, name, x);
			free(x);
			continue;
		}
		const cJSON *cmk = cJSON_GetObjectItemCaseSensitive(vf, "configMapKeyRef");
		const cJSON *sk = cJSON_GetObjectItemCaseSensitive(vf, "secretKeyRef");
		if (cmk || sk) {
			const cJSON *ref = cmk ? cmk : sk;
			const char *on = vk_json_str(ref, "name");
			const char *key = vk_json_str(ref, "key");
			fetch *f = got(j, cmk ? CM_PATH : SECRET_PATH, on ? on : "");
			char *val = f && f->obj && key ? object_value(f->obj, key, sk != NULL) : NULL;
			if (!val) {
				vk_pod__env_event(j->kube, j->pod,
				                  f && f->obj ? VK_POD_ENV_KEY_NOT_FOUND : VK_POD_ENV_NOT_FOUND,
				                  sk != NULL, is_true(ref, "optional"), name, on ? on : "", key);
				if (is_true(ref, "optional"))
					continue;
				if (!f || !f->obj)
					*err = vk_asprintf("%s \"%s\" not found", cmk ? "configmap" : "secret",
					                   on ? on : "");
				else
					*err = vk_asprintf("couldn't find key %s in %s %s/%s", key ? key : "",
					                   cmk ? "ConfigMap" : "Secret", pod_ns(j), on);
				cJSON_Delete(out);
				return -1;
			}
			add_env(out, name, val);
			free(val);
			continue;
		}
		const char *fp = vk_json_str(vf, "fieldRef.fieldPath");
		if (fp) {
			char *val = NULL;
			int rc = field_value(j, fp, &val, err);
			if (rc < 0) {
				cJSON_Delete(out);
				return -1;
			}
			if (rc == 0)
				cJSON_AddItemToArray(out, cJSON_Duplicate(e, 1)); /* deferred until the pod has an IP */
			else
				add_env(out, name, val);
			free(val);
			continue;
		}
		const cJSON *rf = cJSON_GetObjectItemCaseSensitive(vf, "resourceFieldRef");
		if (rf) {
			char *val = resource_value(j, c, rf, err);
			if (!val) {
				cJSON_Delete(out);
				return -1;
			}
			add_env(out, name, val);
			free(val);
			continue;
		}
		*err = vk_asprintf("env %s: unsupported valueFrom", name);
		cJSON_Delete(out);
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(c, "envFrom");
	if (cJSON_GetObjectItemCaseSensitive(c, "env"))
		cJSON_ReplaceItemInObjectCaseSensitive(c, "env", out);
	else
		cJSON_AddItemToObject(c, "env", out);
	return 0;
}

static void job_free(env_job *j)
{
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(j->fetches, &i, &k, &v);) {
		fetch *f = v;
		free(f->path);
		cJSON_Delete(f->obj);
		free(f);
	}
	vk_map_free(j->fetches);
	free(j->host_ip);
	cJSON_Delete(j->allocatable);
	free(j);
}

/* virtual-kubelet's FailedToRead* events, one per reference to an object
 * whose read failed (not a 404). */
static void unreadable_events(env_job *j)
{
	static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(j->pod, "spec"), *c, *e;
	for (size_t l = 0; l < VK_ARRAY_LEN(lists); l++)
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l])) {
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "envFrom")) {
				const char *cm = vk_json_str(e, "configMapRef.name");
				const char *sec = vk_json_str(e, "secretRef.name");
				const cJSON *ref = cJSON_GetObjectItemCaseSensitive(e,
				                                                    cm ? "configMapRef" : "secretRef");
				fetch *f = (cm || sec) ? got(j, cm ? CM_PATH : SECRET_PATH, cm ? cm : sec) : NULL;
				if (f && f->status != 200 && f->status != 404)
					vk_pod__env_event(j->kube, j->pod, VK_POD_ENV_UNREADABLE, cm == NULL,
					                  is_true(ref, "optional"), NULL, cm ? cm : sec, NULL);
			}
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env")) {
				const cJSON *vf = cJSON_GetObjectItemCaseSensitive(e, "valueFrom");
				const cJSON *cmk = cJSON_GetObjectItemCaseSensitive(vf, "configMapKeyRef");
				const cJSON *ref = cmk ? cmk : cJSON_GetObjectItemCaseSensitive(vf, "secretKeyRef");
				const char *on = vk_json_str(ref, "name");
				fetch *f = on ? got(j, cmk ? CM_PATH : SECRET_PATH, on) : NULL;
				if (f && f->status != 200 && f->status != 404)
					vk_pod__env_event(j->kube, j->pod, VK_POD_ENV_UNREADABLE, cmk == NULL,
					                  is_true(ref, "optional"), vk_json_str(e, "name"), on, NULL);
			}
		}
}

static void compute(env_job *j)
{
	/* A fetch that failed for another reason than 404 is not "missing": retry. */
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(j->fetches, &i, &k, &v);) {
		fetch *f = v;
		if (f->status != 200 && f->status != 404 && strcmp(k, "master") != 0) {
			char *err = vk_asprintf("reading %s failed (HTTP %ld)", f->path, f->status);
			if (j->read_events)
				unreadable_events(j);
			cJSON *pod = j->pod;
			j->cb(NULL, -EAGAIN, err, j->ud);
			free(err);
			cJSON_Delete(pod);
			job_free(j);
			return;
		}
	}
	char *err = NULL;
	static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(j->pod, "spec");
	for (size_t l = 0; l < VK_ARRAY_LEN(lists) && !err; l++) {
		cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l])) {
			if (container_env(j, c, &err) < 0)
				break;
		}
	}
	if (err) {
		j->cb(NULL, -ENOENT, err, j->ud);
		free(err);
		cJSON_Delete(j->pod);
	} else {
		j->cb(j->pod, 0, NULL, j->ud);
	}
	job_free(j);
}

static void special(env_job *j, const char *name, const char *path)
{
	fetch *f = vk_xcalloc(1, sizeof *f + sizeof(env_job *));
	*(env_job **)(f + 1) = j;
	f->path = vk_strdup(path);
	vk_map_set(j->fetches, name, f);
	j->pending++;
	if (vk_kube_get_cached(j->kube, path, fetch_done, f, NULL) < 0)
		j->pending--;
}

/* The service links from the informer's store, as if fetched: "svc" holds
 * the pod namespace's services as a list, "master" default/kubernetes. */
static void services_from_cache(env_job *j, vk_informer *services, bool links)
{
	fetch *all = vk_xcalloc(1, sizeof *all + sizeof(env_job *));
	fetch *master = vk_xcalloc(1, sizeof *master + sizeof(env_job *));
	all->path = vk_strdup("(cache) services");
	master->path = vk_strdup("(cache) default/kubernetes");
	all->status = master->status = 200;
	all->obj = cJSON_CreateObject();
	cJSON *items = cJSON_AddArrayToObject(all->obj, "items");
	size_t nslen = strlen(pod_ns(j));
	const char *k;
	for (vk_map_iter i = {0}; links && vk_informer_next(services, &i, &k);) {
		cJSON *svc;
		if (strncmp(k, pod_ns(j), nslen) == 0 && k[nslen] == '/' && (svc = vk_informer_get(services, k)))
			cJSON_AddItemToArray(items, svc);
	}
	master->obj = vk_informer_get(services, "default/kubernetes");
	if (!master->obj)
		master->status = 404;
	/* What a GET would have answered, for the read-through cache: a pod
	 * created while the API is unreachable resolves its links from it. */
	if (links) {
		char *p = vk_asprintf("/api/v1/namespaces/%s/services", pod_ns(j));
		vk_kube_cache_put(j->kube, p, all->obj);
		free(p);
	}
	if (master->obj)
		vk_kube_cache_put(j->kube, "/api/v1/namespaces/default/services/kubernetes", master->obj);
	vk_map_set(j->fetches, "svc", all);
	vk_map_set(j->fetches, "master", master);
}

int vk_pod_resolve_env(vk_kube *k, const cJSON *pod, const char *host_ip, const cJSON *allocatable,
                       vk_informer *services, bool read_events, vk_env_cb cb, void *ud)
{
	env_job *j = vk_xcalloc(1, sizeof *j);
	j->allocatable = allocatable ? cJSON_Duplicate(allocatable, 1) : NULL;
	j->read_events = read_events;
	j->kube = k;
	j->pod = cJSON_Duplicate(pod, 1);
	j->host_ip = vk_strdup(host_ip);
	j->cb = cb;
	j->ud = ud;
	j->fetches = vk_map_new();
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	collect(j, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"));
	collect(j, cJSON_GetObjectItemCaseSensitive(spec, "containers"));
	collect(j, cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers"));
	bool links = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(spec, "enableServiceLinks"));
	if (services && vk_informer_synced(services)) {
		services_from_cache(j, services, links);
	} else {
		if (links) {
			char *p = vk_asprintf("/api/v1/namespaces/%s/services", pod_ns(j));
			special(j, "svc", p);
			free(p);
		}
		special(j, "master", "/api/v1/namespaces/default/services/kubernetes");
	}
	j->started = true;
	if (j->pending == 0)
		compute(j);
	return 0;
}
