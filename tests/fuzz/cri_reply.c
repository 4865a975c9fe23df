/* CRI responses: the gRPC frame of a unary reply and its protobuf decoding
 * (vk_cri_decode_reply), then the message as the Lua table vk.cri returns
 * (vk_lua__cri_push), encoded back (vk_lua__cri_encode) as a provider's
 * table would be.  Input: one byte choosing the RPC (its low 7 bits), then
 * the message; with the byte's top bit set the rest is the whole reply body
 * as it came, frame header included, else the harness frames it: a frame
 * whose length is off is refused before any decoding, and a mutation that
 * adds or drops a byte would rarely get past that. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cri_codec.h"
#include "vk/cri.h"
#include "vk/json.h"
#include "host.h"
#include "vk/lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lua_State *L;
	if (!L) {
		vk_json_init();
		L = luaL_newstate();
		luaL_openlibs(L);
		vk_lua__json_init(L);
	}
	if (size < 1)
		return 0;
	size_t nm;
	const vk_cri_method *ms = vk_cri_methods(&nm);
	const vk_cri_method *m = &ms[(data[0] & 0x7f) % nm];
	const uint8_t *body = data + 1;
	size_t n = size - 1;
	uint8_t *framed = NULL;
	if (!(data[0] & 0x80)) {
		framed = malloc(n + 5);
		if (!framed)
			abort();
		framed[0] = 0;
		for (int i = 0; i < 4; i++)
			framed[1 + i] = (uint8_t)(n >> (24 - 8 * i));
		memcpy(framed + 5, body, n);
		body = framed, n += 5;
	}
	int code = -1;
	ProtobufCMessage *msg = NULL;
	char *err = vk_cri_decode_reply("unix:///fuzz.sock", m->path, m->response, body, n, &code, &msg);
	free(framed);
	if (!err != (msg != NULL) || (msg && code != VK_GRPC_OK) || (err && code == VK_GRPC_OK))
		abort(); /* a result is either a message or an error, never both */
	free(err);
	if (!msg)
		return 0;
	vk_lua__cri_push(L, msg);
	protobuf_c_message_free_unpacked(msg, NULL);
	ProtobufCMessage *back = NULL;
	char *e2 = NULL;
	if (vk_lua__cri_encode(L, -1, m->response, &back, &e2) == 0)
		protobuf_c_message_free_unpacked(back, NULL);
	free(e2);
	lua_settop(L, 0);
	if (lua_gc(L, LUA_GCCOUNT, 0) > 64 * 1024)
		lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
