/* The Node vk proposes before the provider's init edits it. */
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vk/node.h"
#include "vk/util.h"

/* Kubernetes' GOARCH spelling of the machine. */
static const char *go_arch(const char *m)
{
	if (strcmp(m, "x86_64") == 0)
		return "amd64";
	if (strcmp(m, "aarch64") == 0)
		return "arm64";
	if (strncmp(m, "armv7", 5) == 0 || strncmp(m, "armv6", 5) == 0)
		return "arm";
	if (strcmp(m, "i686") == 0 || strcmp(m, "i386") == 0)
		return "386";
	return m;
}

/* The first up, non-loopback IPv4 address; 127.0.0.1 when there is none. */
static void primary_ip(char out[INET_ADDRSTRLEN])
{
	snprintf(out, INET_ADDRSTRLEN, "127.0.0.1");
	struct ifaddrs *ifa = NULL;
	if (getifaddrs(&ifa) != 0)
		return;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, INET_ADDRSTRLEN);
		break;
	}
	freeifaddrs(ifa);
}

static cJSON *condition(const char *type, const char *status, const char *reason, const char *msg, const char *now)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status);
	cJSON_AddStringToObject(c, "lastHeartbeatTime", now);
	cJSON_AddStringToObject(c, "lastTransitionTime", now);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", msg);
	return c;
}

cJSON *vk_node_template(const vk_node_opts *o, const char *provider_name)
{
	struct utsname un;
	uname(&un);
	const char *arch = go_arch(un.machine);
	char now[40], ip[INET_ADDRSTRLEN], buf[64];
	vk_rfc3339(now, vk_wall_ms(), false);
	primary_ip(ip);

	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "apiVersion", "v1");
	cJSON_AddStringToObject(n, "kind", "Node");
	cJSON *md = cJSON_AddObjectToObject(n, "metadata");
	cJSON_AddStringToObject(md, "name", o->name);
	cJSON *labels = cJSON_AddObjectToObject(md, "labels");
	cJSON_AddStringToObject(labels, "type", "virtual-kubelet");
	cJSON_AddStringToObject(labels, "kubernetes.io/hostname", o->name);
	cJSON_AddStringToObject(labels, "kubernetes.io/os", "linux");
	cJSON_AddStringToObject(labels, "kubernetes.io/arch", arch);
	cJSON_AddStringToObject(labels, "beta.kubernetes.io/os", "linux");
	cJSON_AddStringToObject(labels, "beta.kubernetes.io/arch", arch);

	cJSON *spec = cJSON_AddObjectToObject(n, "spec");
	if (!o->disable_taint) {
		cJSON *taints = cJSON_AddArrayToObject(spec, "taints");
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "key", "virtual-kubelet.io/provider");
		cJSON_AddStringToObject(t, "value", provider_name);
		cJSON_AddStringToObject(t, "effect", "NoSchedule");
		cJSON_AddItemToArray(taints, t);
	}

	cJSON *st = cJSON_AddObjectToObject(n, "status");
	struct sysinfo si;
	sysinfo(&si);
	cJSON *cap = cJSON_AddObjectToObject(st, "capacity");
	snprintf(buf, sizeof buf, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	cJSON_AddStringToObject(cap, "cpu", buf);
	snprintf(buf, sizeof buf, "%lluKi", (unsigned long long)si.totalram * si.mem_unit / 1024);
	cJSON_AddStringToObject(cap, "memory", buf);
	cJSON_AddStringToObject(cap, "pods", "110");
	cJSON_AddItemToObject(st, "allocatable", cJSON_Duplicate(cap, 1));

	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	cJSON_AddItemToArray(conds, condition("Ready", "True", "KubeletReady", "vk is posting ready status", now));
	cJSON_AddItemToArray(conds, condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
	                                      "vk has sufficient memory available", now));
	cJSON_AddItemToArray(
		conds, condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "vk has no disk pressure", now));
	cJSON_AddItemToArray(conds, condition("PIDPressure", "False", "KubeletHasSufficientPID",
	                                      "vk has sufficient PID available", now));
	cJSON_AddItemToArray(
		conds, condition("NetworkUnavailable", "False", "RouteCreated", "vk does not manage routes", now));

	cJSON *addrs = cJSON_AddArrayToObject(st, "addresses");
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "type", "InternalIP");
	cJSON_AddStringToObject(a, "address", ip);
	cJSON_AddItemToArray(addrs, a);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "type", "Hostname");
	cJSON_AddStringToObject(a, "address", o->name);
	cJSON_AddItemToArray(addrs, a);

	cJSON *de = cJSON_AddObjectToObject(st, "daemonEndpoints");
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(de, "kubeletEndpoint"), "Port", o->port);

	cJSON *ni = cJSON_AddObjectToObject(st, "nodeInfo");
	cJSON_AddStringToObject(ni, "machineID", "");
	cJSON_AddStringToObject(ni, "systemUUID", "");
	cJSON_AddStringToObject(ni, "bootID", "");
	cJSON_AddStringToObject(ni, "kernelVersion", un.release);
	cJSON_AddStringToObject(ni, "osImage", "vk");
	cJSON_AddStringToObject(ni, "containerRuntimeVersion", provider_name);
	cJSON_AddStringToObject(ni, "kubeletVersion", "v1.35.0-vk." VK_VERSION);
	cJSON_AddStringToObject(ni, "kubeProxyVersion", "");
	cJSON_AddStringToObject(ni, "operatingSystem", "linux");
	cJSON_AddStringToObject(ni, "architecture", arch);
	return n;
}
