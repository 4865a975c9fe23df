/* CRI responses: the gRPC frame of a unary reply and its protobuf decoding
 * (vk_cri_decode_reply), then the message as the Lua table vk.cri returns
 * (vk_lua__cri_push), encoded back (vk_lua__cri_encode) as a provider's
 * table would be.  Input: one byte choosing the RPC, then the reply body. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>

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
	const vk_cri_method *m = &ms[data[0] % nm];
	int code = -1;
	ProtobufCMessage *msg = NULL;
	char *err = vk_cri_decode_reply("unix:///fuzz.sock", m->path, m->response, data + 1, size - 1, &code, &msg);
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
