/* The CRI client's gRPC transport against tests/unit/fake_grpc.py, a fake
 * endpoint whose every RPC misbehaves in one way: the headers we send, the
 * status in headers or trailers, percent-decoding, the 16 MiB reply cap,
 * framing and decoding errors, replies that are not gRPC, timeouts. */
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cri_codec.h"
#include "tap.h"
#include "vk/cri.h"
#include "vk/json.h"
#include "vk/util.h"

extern char **environ;

#define PYTHON "/usr/bin/python3"

static uv_loop_t *loop;
static vk_http *http;
static vk_cri *cri;
static lua_State *L;

typedef struct {
	bool done;
	int code;
	char *error;
	ProtobufCMessage *resp;
} outcome;

static void on_result(vk_cri_call *call, vk_cri_result *r, void *ud)
{
	outcome *o = ud;
	o->done = true;
	o->code = r->code;
	o->error = vk_strdup(r->error);
	o->resp = r->resp;
}

/* Calls `rpc` with an empty request; returns the outcome (error malloc'd). */
static outcome call(const char *rpc, uint32_t timeout_ms)
{
	const vk_cri_method *m = vk_cri_method_find(rpc);
	ProtobufCMessage *req;
	char *err = NULL;
	lua_newtable(L);
	vk_lua__cri_encode(L, -1, m->request, &req, &err);
	lua_settop(L, 0);
	outcome o = {0};
	if (vk_cri_call_start(cri, m, req, timeout_ms, on_result, &o, NULL, &err) < 0) {
		o.done = true;
		o.code = -1;
		o.error = err;
	}
	protobuf_c_message_free_unpacked(req, NULL);
	while (!o.done)
		uv_run(loop, UV_RUN_ONCE);
	return o;
}

static void forget(outcome *o)
{
	free(o->error);
	protobuf_c_message_free_unpacked(o->resp, NULL);
}

static void sends_grpc_headers_and_reads_the_reply(void)
{
	outcome o = call("version", 7000);
	ok(o.code == 0 && o.resp, "a well-formed reply succeeds (%s)", o.error ? o.error : "ok");
	if (o.resp) {
		vk_lua__cri_push(L, o.resp);
		lua_setglobal(L, "r");
		if (luaL_dostring(L, "return r.runtime_name, r.runtime_version, r.runtime_api_version") != LUA_OK)
			lua_settop(L, 0);
		is_str(lua_tostring(L, 1), "7000m", "grpc-timeout carries the call's timeout in ms");
		is_str(lua_tostring(L, 2), "trailers", "te: trailers is sent");
		is_str(lua_tostring(L, 3), "5", "the body is one 5-byte-framed (empty) message");
		lua_settop(L, 0);
	}
	forget(&o);
}

static void status_comes_from_headers_or_trailers(void)
{
	outcome o = call("status", 0);
	is_int(o.code, VK_GRPC_NOT_FOUND, "a trailers-only reply's grpc-status is read from the headers");
	is_str(o.error, "NOT_FOUND: no such thing: \xe2\x9c\x93 100%",
	       "grpc-message is percent-decoded, a stray %% kept");
	forget(&o);

	o = call("list_images", 0);
	ok(o.code == VK_GRPC_INTERNAL && tap_streq(o.error, "INTERNAL: boom"),
	   "a status in the trailers is read too (%s)", o.error);
	forget(&o);

	o = call("start_container", 0);
	ok(o.code == VK_GRPC_INTERNAL && strstr(o.error, "reply has no message"),
	   "OK without a message is an error, not an empty reply (%s)", o.error);
	forget(&o);
}

static void malformed_replies_are_errors(void)
{
	outcome o = call("exec_sync", 0);
	ok(o.code == VK_GRPC_RESOURCE_EXHAUSTED && strstr(o.error, "16 MiB message cap"),
	   "a reply over 16 MiB is cut and RESOURCE_EXHAUSTED (%s)", o.error);
	forget(&o);

	o = call("container_stats", 0);
	ok(o.code == VK_GRPC_INTERNAL && strstr(o.error, "compressed reply not supported"),
	   "a compressed frame is refused (%s)", o.error);
	forget(&o);

	o = call("list_containers", 0);
	ok(o.code == VK_GRPC_INTERNAL && strstr(o.error, "framing is 8 bytes for a 10-byte message"),
	   "a short frame is refused (%s)", o.error);
	forget(&o);

	o = call("stop_container", 0);
	ok(o.code == VK_GRPC_INTERNAL && strstr(o.error, "cannot decode the runtime.v1.StopContainerResponse"),
	   "bytes that are no protobuf message are refused (%s)", o.error);
	forget(&o);
}

static void non_grpc_endpoints_are_named(void)
{
	outcome o = call("image_status", 0);
	ok(o.code == VK_GRPC_UNKNOWN && strstr(o.error, "content-type 'text/html', not gRPC") &&
	           strstr(o.error, "is this a CRI endpoint?"),
	   "a reply that is not application/grpc says so (%s)", o.error);
	forget(&o);

	o = call("remove_image", 0);
	ok(o.code == VK_GRPC_UNAVAILABLE && strstr(o.error, "answered HTTP 503"),
	   "HTTP 503 maps to UNAVAILABLE as gRPC specifies (%s)", o.error);
	forget(&o);

	o = call("run_pod_sandbox", 0);
	ok(o.code == VK_GRPC_UNIMPLEMENTED && strstr(o.error, "unknown method RunPodSandbox") &&
	           strstr(o.error, "is this a CRI v1 endpoint?"),
	   "UNIMPLEMENTED keeps the server's words and adds a hint (%s)", o.error);
	forget(&o);
}

static void a_silent_endpoint_times_out(void)
{
	uint64_t t0 = vk_now_ms();
	outcome o = call("pull_image", 300);
	uint64_t took = vk_now_ms() - t0;
	ok(o.code == VK_GRPC_DEADLINE_EXCEEDED && strstr(o.error, "no reply") && took < 15000,
	   "no answer within the timeout is DEADLINE_EXCEEDED (%s, %llu ms)", o.error, (unsigned long long)took);
	forget(&o);
}

int main(void)
{
	vk_json_init();
	if (system(PYTHON " -c 'import h2' 2>/dev/null") != 0) {
		printf("1..0 # SKIP " PYTHON " has no h2 module (Debian python3-h2)\n");
		return 77;
	}
	char dir[] = "/tmp/vk-grpc.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char *sock = vk_asprintf("%s/fake.sock", dir);
	char *script = vk_asprintf("%s/fake_grpc.py", getenv("FAKE_GRPC_DIR") ? getenv("FAKE_GRPC_DIR") : "tests/unit");
	char *argv[] = {PYTHON, script, sock, NULL};
	pid_t pid;
	if (posix_spawn(&pid, PYTHON, NULL, NULL, argv, environ) != 0)
		return 1;
	struct stat st;
	for (int i = 0; i < 600 && stat(sock, &st) != 0; i++) /* 30 s: python3 on a busy machine */
		usleep(50 * 1000);

	loop = uv_default_loop();
	http = vk_http_new(loop);
	L = luaL_newstate();
	char *ep = vk_asprintf("unix://%s", sock), *err = NULL;
	vk_cri_new(http, ep, &cri, &err);

	sends_grpc_headers_and_reads_the_reply();
	status_comes_from_headers_or_trailers();
	malformed_replies_are_errors();
	non_grpc_endpoints_are_named();
	a_silent_endpoint_times_out();

	vk_cri_free(cri);
	vk_http_close(http);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	lua_close(L);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(sock);
	rmdir(dir);
	free(ep);
	free(sock);
	free(script);
	return tap_done();
}
