/* The Events virtual-kubelet records while it resolves a pod's env from
 * ConfigMaps and Secrets (its podutils reasons), recorded by vk too so that
 * the dashboards and alerts of its users keep working.  They come on top of
 * kubelet's CreateContainerConfigError, which the controller records for a
 * pod that cannot start.  All are Warnings, also for an optional reference
 * that is skipped (the pod goes on to run).  The reasons:
 *   {Mandatory,Optional}{ConfigMap,Secret}NotFound       the object is missing
 *   {Mandatory,Optional}{ConfigMap,Secret}KeyNotFound    the key is missing
 *   FailedToRead{Mandatory,Optional}{ConfigMap,Secret}   the read failed
 * The messages are virtual-kubelet's: an env[] entry that is skipped is
 * named ("skipping optional envvar ..."), an envFrom entry is not. */
#include <stdio.h>

#include "pod_int.h"

static const char *reason(vk_pod_env_outcome what, bool secret, bool optional, char *buf, size_t n)
{
	const char *opt = optional ? "Optional" : "Mandatory";
	const char *kind = secret ? "Secret" : "ConfigMap";
	switch (what) {
	case VK_POD_ENV_NOT_FOUND: snprintf(buf, n, "%s%sNotFound", opt, kind); break;
	case VK_POD_ENV_KEY_NOT_FOUND: snprintf(buf, n, "%s%sKeyNotFound", opt, kind); break;
	default: snprintf(buf, n, "FailedToRead%s%s", opt, kind); break;
	}
	return buf;
}

void vk_pod__env_event(vk_kube *k, const cJSON *pod, vk_pod_env_outcome what, bool secret, bool optional,
                       const char *env_name, const char *obj, const char *key)
{
	char why[64], pre[300] = "";
	const char *kind = secret ? "secret" : "configmap";
	/* Only an optional env[] entry says which variable it skipped. */
	if (optional && env_name)
		snprintf(pre, sizeof pre, "skipping optional envvar \"%.200s\": ", env_name);
	reason(what, secret, optional, why, sizeof why);
	const char *host = vk_json_str(pod, "spec.nodeName");
	switch (what) {
	case VK_POD_ENV_NOT_FOUND:
		vk_kube_event(k, "Pod", pod, "Warning", why, host, "%s%s \"%s\" not found", pre, kind, obj);
		break;
	case VK_POD_ENV_KEY_NOT_FOUND:
		vk_kube_event(k, "Pod", pod, "Warning", why, host, "%skey \"%s\" does not exist in %s \"%s\"", pre,
		              key ? key : "", kind, obj);
		break;
	default:
		vk_kube_event(k, "Pod", pod, "Warning", why, host, "%sfailed to read %s \"%s\"", pre, kind, obj);
		break;
	}
}
