/* frame.c - one unary gRPC reply body: a 5-byte frame header (compressed
 * flag, 4-byte big-endian length) and exactly one protobuf message.  Pure:
 * no I/O, so the fuzzer (tests/fuzz/cri_reply.c) drives it directly. */
#include <stdlib.h>

#include "vk/cri.h"
#include "vk/util.h"

char *vk_cri_decode_reply(const char *endpoint, const char *path, const ProtobufCMessageDescriptor *d, const void *body,
                          size_t n, int *code, ProtobufCMessage **msg)
{
	const unsigned char *b = body;
	*msg = NULL;
	*code = VK_GRPC_INTERNAL;
	/* Exactly one uncompressed message (we never offer grpc-encoding). */
	if (n < 5)
		return vk_asprintf("runtime endpoint %s: %s: reply has no message", endpoint, path);
	if (b[0] != 0)
		return vk_asprintf("runtime endpoint %s: %s: compressed reply not supported", endpoint, path);
	uint32_t len = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
	if (len > VK_CRI_MAX_MESSAGE) {
		*code = VK_GRPC_RESOURCE_EXHAUSTED;
		return vk_asprintf("runtime endpoint %s: %s reply exceeds the %u MiB message cap", endpoint, path,
		                   VK_CRI_MAX_MESSAGE >> 20);
	}
	if ((size_t)len + 5 != n)
		return vk_asprintf("runtime endpoint %s: %s: reply framing is %zu bytes for a %u-byte "
		                   "message",
		                   endpoint, path, n, len);
	*msg = protobuf_c_message_unpack(d, NULL, len, b + 5);
	if (!*msg)
		return vk_asprintf("runtime endpoint %s: %s: cannot decode the %s reply", endpoint, path, d->name);
	*code = VK_GRPC_OK;
	return NULL;
}
