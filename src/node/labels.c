/* Which labels a node may set on itself.
 *
 * The NodeRestriction admission plugin rejects a Node whose labels use the
 * kubernetes.io or k8s.io namespaces unless the key is one kubelet itself
 * sets, or lies under kubelet.kubernetes.io/ or node.kubernetes.io/.
 * Upstream virtual-kubelet sets kubernetes.io/role and so cannot register
 * under the Node authorizer; vk drops such labels and says so instead. */
#include <stdlib.h>
#include <string.h>

#include "vk/node.h"
#include "vk/util.h"

static const char *const kubelet_labels[] = {
	"kubernetes.io/hostname",
	"kubernetes.io/os",
	"kubernetes.io/arch",
	"beta.kubernetes.io/os",
	"beta.kubernetes.io/arch",
	"beta.kubernetes.io/instance-type",
	"node.kubernetes.io/instance-type",
	"failure-domain.beta.kubernetes.io/region",
	"failure-domain.beta.kubernetes.io/zone",
	"topology.kubernetes.io/region",
	"topology.kubernetes.io/zone",
};

static const char *const kubelet_namespaces[] = {"kubelet.kubernetes.io", "node.kubernetes.io"};

/* true when ns is `base` or a subdomain of it */
static bool in_domain(const char *ns, size_t len, const char *base)
{
	size_t bl = strlen(base);
	if (len == bl)
		return memcmp(ns, base, len) == 0;
	return len > bl && ns[len - bl - 1] == '.' && memcmp(ns + len - bl, base, bl) == 0;
}

bool vk_node_label_allowed(const char *key)
{
	const char *slash = strchr(key, '/');
	if (!slash)
		return true; /* no prefix: the user's own namespace */
	size_t len = (size_t)(slash - key);
	if (!in_domain(key, len, "kubernetes.io") && !in_domain(key, len, "k8s.io"))
		return true;
	for (size_t i = 0; i < VK_ARRAY_LEN(kubelet_labels); i++)
		if (strcmp(key, kubelet_labels[i]) == 0)
			return true;
	for (size_t i = 0; i < VK_ARRAY_LEN(kubelet_namespaces); i++)
		if (in_domain(key, len, kubelet_namespaces[i]))
			return true;
	return false;
}

int vk_node_filter_labels(cJSON *labels, char **dropped)
{
	int n = 0;
	vk_buf names = {0};
	cJSON *l = labels ? labels->child : NULL;
	while (l) {
		cJSON *next = l->next;
		if (!vk_node_label_allowed(l->string)) {
			vk_buf_printf(&names, "%s%s", n ? ", " : "", l->string);
			cJSON_Delete(cJSON_DetachItemViaPointer(labels, l));
			n++;
		}
		l = next;
	}
	if (dropped)
		*dropped = n ? vk_buf_steal(&names) : NULL;
	vk_buf_free(&names);
	return n;
}
