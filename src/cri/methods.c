/* The RPCs vk speaks to the runtime: one row per RPC, its Lua name, its
 * gRPC path and its request/response descriptors.  Everything else (the
 * transport, the Lua codec) is generic over this table.  Most are the CRI;
 * the last three are containerd's own task API (containerd_tasks.proto
 * says why). */
#include <string.h>

#include "containerd_tasks.pb-c.h"
#include "cri.pb-c.h"
#include "vk/cri.h"
#include "vk/util.h"

#define RT "/runtime.v1.RuntimeService/"
#define IM "/runtime.v1.ImageService/"
/* a braced initializer in a macro, kept as written */
/* clang-format off */
#define ROW(lua, svc, rpc, msg) \
	{ lua, svc #rpc, &runtime__v1__##msg##_request__descriptor, \
	  &runtime__v1__##msg##_response__descriptor, NULL }
#define TASK(lua, rpc, req, resp) \
	{ lua, "/containerd.services.tasks.v1.Tasks/" #rpc, \
	  &containerd__services__tasks__v1__##req##__descriptor, \
	  &containerd__services__tasks__v1__##resp##__descriptor, \
	  "containerd-namespace: " VK_CRI_CONTAINERD_NAMESPACE }
/* clang-format on */

static const vk_cri_method methods[] = {
	ROW("version", RT, Version, version),
	ROW("status", RT, Status, status),
	ROW("run_pod_sandbox", RT, RunPodSandbox, run_pod_sandbox),
	ROW("stop_pod_sandbox", RT, StopPodSandbox, stop_pod_sandbox),
	ROW("remove_pod_sandbox", RT, RemovePodSandbox, remove_pod_sandbox),
	ROW("pod_sandbox_status", RT, PodSandboxStatus, pod_sandbox_status),
	ROW("list_pod_sandbox", RT, ListPodSandbox, list_pod_sandbox),
	ROW("create_container", RT, CreateContainer, create_container),
	ROW("start_container", RT, StartContainer, start_container),
	ROW("stop_container", RT, StopContainer, stop_container),
	ROW("remove_container", RT, RemoveContainer, remove_container),
	ROW("list_containers", RT, ListContainers, list_containers),
	ROW("container_status", RT, ContainerStatus, container_status),
	ROW("exec_sync", RT, ExecSync, exec_sync),
	ROW("exec", RT, Exec, exec),
	ROW("attach", RT, Attach, attach),
	ROW("port_forward", RT, PortForward, port_forward),
	ROW("container_stats", RT, ContainerStats, container_stats),
	ROW("list_container_stats", RT, ListContainerStats, list_container_stats),
	ROW("list_pod_sandbox_stats", RT, ListPodSandboxStats, list_pod_sandbox_stats),
	ROW("pull_image", IM, PullImage, pull_image),
	ROW("image_status", IM, ImageStatus, image_status),
	ROW("list_images", IM, ListImages, list_images),
	ROW("remove_image", IM, RemoveImage, remove_image),
	TASK("task_kill", Kill, kill_request, kill_response),
	TASK("task_wait", Wait, wait_request, wait_response),
	TASK("task_delete", Delete, delete_task_request, delete_response),
};

const vk_cri_method *vk_cri_methods(size_t *n)
{
	*n = VK_ARRAY_LEN(methods);
	return methods;
}

const vk_cri_method *vk_cri_method_find(const char *name)
{
	for (size_t i = 0; name && i < VK_ARRAY_LEN(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

static const char *const code_names[] = {
	"OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED",
};

const char *vk_cri_code_name(int code)
{
	if (code < 0 || (size_t)code >= VK_ARRAY_LEN(code_names))
		return "UNKNOWN";
	return code_names[code];
}
