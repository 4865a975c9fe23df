/* node: the labels a node may set on itself under NodeRestriction. */
#include <stdlib.h>

#include "tap.h"
#include "vk/json.h"
#include "vk/node.h"

static void kubelet_labels_are_allowed(void)
{
	const char *ok_keys[] = {
		"kubernetes.io/hostname",
		"kubernetes.io/os",
		"kubernetes.io/arch",
		"topology.kubernetes.io/zone",
		"node.kubernetes.io/instance-type",
		"kubelet.kubernetes.io/anything",
		"foo.node.kubernetes.io/bar",
		"type",
		"example.com/edge",
		"virtual-kubelet.io/provider",
	};
	for (size_t i = 0; i < sizeof ok_keys / sizeof *ok_keys; i++)
		ok(vk_node_label_allowed(ok_keys[i]), "%s is allowed", ok_keys[i]);
}

static void restricted_labels_are_refused(void)
{
	const char *bad[] = {
		"kubernetes.io/role", "node-role.kubernetes.io/agent",
		"k8s.io/x",           "node-restriction.kubernetes.io/pool",
		"foo.k8s.io/bar",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(!vk_node_label_allowed(bad[i]), "%s is refused", bad[i]);
}

static void filter_drops_and_names_them(void)
{
	cJSON *l = cJSON_Parse("{\"type\":\"virtual-kubelet\",\"kubernetes.io/role\":\"agent\","
	                       "\"kubernetes.io/hostname\":\"n\",\"node-role.kubernetes.io/edge\":\"\"}");
	char *dropped = NULL;
	is_int(vk_node_filter_labels(l, &dropped), 2, "two labels dropped");
	is_str(dropped, "kubernetes.io/role, node-role.kubernetes.io/edge", "dropped labels are named");
	ok(cJSON_GetObjectItem(l, "type") && cJSON_GetObjectItem(l, "kubernetes.io/hostname"),
	   "allowed labels are kept");
	is_int(cJSON_GetArraySize(l), 2, "two labels remain");
	free(dropped);
	cJSON_Delete(l);
}

static void template_has_kubelet_shape(void)
{
	vk_node_opts o = {.name = "edge-1", .port = 10250};
	cJSON *n = vk_node_template(&o, "mock");
	cJSON *labels = cJSON_GetObjectItem(cJSON_GetObjectItem(n, "metadata"), "labels");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(labels, "kubernetes.io/hostname")), "edge-1", "hostname label");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(labels, "type")), "virtual-kubelet", "type label");
	cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(n, "spec"), "taints"), 0);
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(t, "key")), "virtual-kubelet.io/provider", "taint key");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(t, "value")), "mock", "taint value is the provider");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(t, "effect")), "NoSchedule", "taint effect");
	cJSON_Delete(n);
	o.disable_taint = true;
	n = vk_node_template(&o, "mock");
	ok(!cJSON_GetObjectItem(cJSON_GetObjectItem(n, "spec"), "taints"), "--disable-taint leaves no taint");
	cJSON_Delete(n);
}

int main(void)
{
	vk_json_init();
	kubelet_labels_are_allowed();
	restricted_labels_are_refused();
	filter_drops_and_names_them();
	template_has_kubelet_shape();
	return tap_done();
}
