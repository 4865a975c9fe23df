/* vk/cri.h - a Kubernetes CRI v1 client (containerd) over gRPC.
 *
 * gRPC unary calls over HTTP/2 with prior knowledge on the runtime's unix
 * socket, as easy handles on the shared curl multi (vk/http.h), so a call
 * never blocks the loop.  Messages are protobuf-c messages of the
 * `runtime.v1` subset in src/cri/cri.proto; callers that do not want the
 * generated C types (the Lua binding, tests) reach every RPC through the
 * method table below and walk the descriptors generically.
 *
 * The client knows nothing of Lua or of pods. */
#ifndef VK_CRI_H
#define VK_CRI_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "vk/http.h"

#define VK_CRI_DEFAULT_ENDPOINT "unix:///run/containerd/containerd.sock"
/* gRPC's and the CRI's message cap, in both directions. */
#define VK_CRI_MAX_MESSAGE (16u * 1024 * 1024)
/* kubelet's --runtime-request-timeout default. */
#define VK_CRI_DEFAULT_TIMEOUT_MS 120000u

/* The containerd namespace of the CRI plugin's containers (containerd's
 * constants.K8sContainerdNamespace; not configurable there). */
#define VK_CRI_CONTAINERD_NAMESPACE "k8s.io"

/* ---- the RPCs ----------------------------------------------------------- */
typedef struct {
	const char *name; /* snake_case, the Lua name: "run_pod_sandbox" */
	const char *path; /* "/runtime.v1.RuntimeService/RunPodSandbox" */
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *response;
	const char *metadata; /* one more request header, or NULL: containerd's
	                         task calls name their namespace */
} vk_cri_method;

/* The whole table (RuntimeService, ImageService, then containerd's three
 * task calls), *n set to its size. */
const vk_cri_method *vk_cri_methods(size_t *n);
/* By snake_case name; NULL when vk does not know the RPC. */
const vk_cri_method *vk_cri_method_find(const char *name);

/* gRPC status codes (grpc/status.h numbering). */
enum {
	VK_GRPC_OK = 0,
	VK_GRPC_CANCELLED,
	VK_GRPC_UNKNOWN,
	VK_GRPC_INVALID_ARGUMENT,
	VK_GRPC_DEADLINE_EXCEEDED,
	VK_GRPC_NOT_FOUND,
	VK_GRPC_ALREADY_EXISTS,
	VK_GRPC_PERMISSION_DENIED,
	VK_GRPC_RESOURCE_EXHAUSTED,
	VK_GRPC_FAILED_PRECONDITION,
	VK_GRPC_ABORTED,
	VK_GRPC_OUT_OF_RANGE,
	VK_GRPC_UNIMPLEMENTED,
	VK_GRPC_INTERNAL,
	VK_GRPC_UNAVAILABLE,
	VK_GRPC_DATA_LOSS,
	VK_GRPC_UNAUTHENTICATED,
};
/* "NOT_FOUND"; "UNKNOWN" for a code outside 0..16. */
const char *vk_cri_code_name(int code);

/* Decodes a unary reply's body: one 5-byte gRPC frame header and exactly one
 * uncompressed message of type d, at most VK_CRI_MAX_MESSAGE.  Returns NULL
 * with *msg set (free with protobuf_c_message_free_unpacked), or a message
 * naming endpoint and path (malloc'd) with *code a gRPC code and *msg NULL. */
char *vk_cri_decode_reply(const char *endpoint, const char *path, const ProtobufCMessageDescriptor *d, const void *body,
                          size_t n, int *code, ProtobufCMessage **msg);

/* ---- the client ---------------------------------------------------------
 * A vk_cri is a parsed endpoint plus the engine; it holds no connection of
 * its own (curl's multi handle keeps the HTTP/2 connection alive and reuses
 * it).  Calls in flight copy what they need, so vk_cri_free may be called
 * while calls are pending; they still complete. */
typedef struct vk_cri vk_cri;
typedef struct vk_cri_call vk_cri_call;

/* endpoint: "unix:///path.sock" (crictl's form), a bare "/path.sock", or
 * NULL for VK_CRI_DEFAULT_ENDPOINT.  No I/O happens here: a missing socket
 * is reported by the first call.  Returns 0, or -EINVAL with *err set
 * (malloc'd) to a message naming the endpoint. */
int vk_cri_new(vk_http *http, const char *endpoint, vk_cri **out, char **err);
void vk_cri_free(vk_cri *c);
const char *vk_cri_endpoint(const vk_cri *c); /* as given, e.g. "unix:///x.sock" */

typedef struct {
	int code;               /* VK_GRPC_OK or the failure's gRPC code (a
	                           transport failure maps to UNAVAILABLE, a
	                           timeout to DEADLINE_EXCEEDED) */
	const char *error;      /* NULL on success, else "NOT_FOUND: message";
	                           valid during the callback only */
	ProtobufCMessage *resp; /* on success the decoded response, owned by the
	                           receiver: protobuf_c_message_free_unpacked(resp, NULL) */
} vk_cri_result;

typedef void (*vk_cri_cb)(vk_cri_call *call, vk_cri_result *r, void *ud);

/* Starts one unary call.  `req` must be a message of m->request; it is
 * packed before this returns, so the caller may free it right away.
 * timeout_ms 0 means VK_CRI_DEFAULT_TIMEOUT_MS; it is sent as grpc-timeout
 * and enforced locally too (one second later, so that the runtime's own
 * DEADLINE_EXCEEDED wins).  The callback never runs inside this call.  Returns 0 (cb called exactly once unless
 * cancelled), or a negative errno with *err set (malloc'd) and cb never
 * called: -EMSGSIZE for a request over VK_CRI_MAX_MESSAGE, -EINVAL for a
 * message of the wrong type, -ENOMEM. */
int vk_cri_call_start(vk_cri *c, const vk_cri_method *m, const ProtobufCMessage *req, uint32_t timeout_ms, vk_cri_cb cb,
                      void *ud, vk_cri_call **out, char **err);
/* Stops a call; its callback is not called.  A no-op inside the call's own
 * callback (the call is freed when the callback returns). */
void vk_cri_call_cancel(vk_cri_call *call);

#endif
