/* cri codec: Lua tables <-> CRI protobuf messages, without a runtime.
 * Encode a table, pack it, unpack the bytes, decode them back and compare;
 * check a few packings byte for byte against the official field numbers. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "cri_codec.h"
#include "tap.h"
#include "vk/cri.h"
#include "vk/json.h"
#include "vk/lua.h"

static lua_State *L;

static const ProtobufCMessageDescriptor *req_of(const char *rpc) { return vk_cri_method_find(rpc)->request; }
static const ProtobufCMessageDescriptor *resp_of(const char *rpc) { return vk_cri_method_find(rpc)->response; }

/* Evaluates `return <expr>` and leaves the value on the stack. */
static void eval(const char *expr)
{
	char *chunk = malloc(strlen(expr) + 8);
	strcpy(chunk, "return ");
	strcat(chunk, expr);
	if (luaL_dostring(L, chunk) != LUA_OK) {
		fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
		abort();
	}
	free(chunk);
}

/* Encodes expr as d and returns the packed bytes (malloc'd), or NULL with
 * *err set. */
static uint8_t *pack(const ProtobufCMessageDescriptor *d, const char *expr, size_t *n, char **err)
{
	eval(expr);
	ProtobufCMessage *m;
	int rc = vk_lua__cri_encode(L, -1, d, &m, err);
	lua_pop(L, 1);
	if (rc < 0)
		return NULL;
	*n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*n ? *n : 1);
	protobuf_c_message_pack(m, buf);
	protobuf_c_message_free_unpacked(m, NULL);
	return buf;
}

static bool bytes_are(const uint8_t *got, size_t n, const char *hex)
{
	size_t want = strlen(hex) / 2;
	if (n != want)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		if (got[i] != v)
			return false;
	}
	return true;
}

/* Encodes, packs, unpacks and decodes expr; then checks in Lua that every
 * value of the original is in the decoded table.  Returns NULL when equal,
 * else the first difference (static storage until the next call). */
static const char *roundtrip(const ProtobufCMessageDescriptor *d, const char *expr)
{
	static char diff[512];
	size_t n;
	char *err = NULL;
	uint8_t *buf = pack(d, expr, &n, &err);
	if (!buf) {
		snprintf(diff, sizeof(diff), "encode failed: %s", err);
		free(err);
		return diff;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, buf);
	free(buf);
	if (!m)
		return "unpack failed";
	lua_getglobal(L, "subset");
	eval(expr);
	vk_lua__cri_push(L, m);
	protobuf_c_message_free_unpacked(m, NULL);
	lua_pushvalue(L, -1);
	lua_setglobal(L, "decoded");
	lua_call(L, 2, 1);
	const char *r = lua_tostring(L, -1);
	if (r)
		snprintf(diff, sizeof(diff), "%s", r);
	lua_pop(L, 1);
	return r ? diff : NULL;
}

static bool lua_true(const char *expr)
{
	eval(expr);
	bool b = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return b;
}

/* The error text for encoding expr as d (malloc'd), NULL if it encoded. */
static char *encode_error(const ProtobufCMessageDescriptor *d, const char *expr)
{
	size_t n;
	char *err = NULL;
	uint8_t *buf = pack(d, expr, &n, &err);
	free(buf);
	return err;
}

static bool contains(const char *s, const char *part) { return s && strstr(s, part); }

static void method_table_matches_the_proto(void)
{
	size_t n;
	const vk_cri_method *m = vk_cri_methods(&n);
	is_int(n, 27, "27 RPCs: 20 RuntimeService, 4 ImageService and 3 of containerd's task API");
	bool consistent = true, namespaced = true;
	for (size_t i = 0; i < n; i++) {
		const char *rpc = strrchr(m[i].path, '/') + 1;
		bool task = strncmp(m[i].path, "/containerd.services.tasks.v1.Tasks/", 36) == 0;
		if (task) {
			/* containerd names them DeleteTaskRequest/DeleteResponse,
			 * KillRequest/Empty, WaitRequest/WaitResponse */
			if (strncmp(m[i].request->name, "containerd.services.tasks.v1.", 29) != 0 ||
			    strncmp(m[i].request->name + 29, rpc, strlen(rpc)) != 0)
				consistent = false;
			if (!m[i].metadata || strcmp(m[i].metadata, "containerd-namespace: k8s.io") != 0)
				namespaced = false;
			continue;
		}
		char want[128];
		snprintf(want, sizeof(want), "runtime.v1.%sRequest", rpc);
		if (strcmp(m[i].request->name, want) != 0)
			consistent = false;
		snprintf(want, sizeof(want), "runtime.v1.%sResponse", rpc);
		if (strcmp(m[i].response->name, want) != 0)
			consistent = false;
		if (strncmp(m[i].path, "/runtime.v1.", 12) != 0 || m[i].metadata)
			consistent = false;
	}
	ok(consistent, "every row's path names its request and response types");
	ok(namespaced, "containerd's task calls carry the CRI plugin's namespace, k8s.io");
	ok(vk_cri_method_find("exec_sync") && !vk_cri_method_find("ExecSync"),
	   "methods are found by their snake_case name only");
	is_str(vk_cri_code_name(5), "NOT_FOUND", "gRPC code 5 is NOT_FOUND");
	is_str(vk_cri_code_name(99), "UNKNOWN", "an out-of-range code is UNKNOWN");
}

static void packs_with_official_field_numbers(void)
{
	size_t n;
	char *err = NULL;
	uint8_t *b = pack(req_of("version"), "{version = 'v1'}", &n, &err);
	ok(b && bytes_are(b, n, "0a027631"), "VersionRequest.version is field 1");
	free(b);

	b = pack(req_of("pull_image"), "{image = {image = 'x', user_specified_image = 'y'}}", &n, &err);
	ok(b && bytes_are(b, n,
	                  "0a070a0178920101"
	                  "79"),
	   "ImageSpec.user_specified_image is field 18 (two-byte tag)");
	free(b);

	b = pack(req_of("create_container"), "{config = {linux = {security_context = {run_as_group = {value = 7}}}}}",
	         &n, &err);
	/* CreateContainerRequest.config=2 > ContainerConfig.linux=15 >
	 * LinuxContainerConfig.security_context=2 > run_as_group=12 > value=1 */
	ok(b && bytes_are(b, n, "12087a06120462020807"), "ContainerConfig.linux is 15 and run_as_group is 12");
	free(b);

	b = pack(req_of("stop_container"), "{container_id = 'c', timeout = 30}", &n, &err);
	ok(b && bytes_are(b, n, "0a0163101e"), "StopContainerRequest: container_id 1, timeout 2");
	free(b);

	b = pack(req_of("list_pod_sandbox"), "{filter = {state = {state = 'SANDBOX_READY'}}}", &n, &err);
	ok(b && bytes_are(b, n, "0a021200"), "an empty sub-message ({} or all defaults) is still sent as present");
	free(b);

	b = pack(req_of("exec"),
	         "{container_id = 'c', cmd = {'sh', 'x'}, tty = true, stdin = true, stdout = true, stderr = true}", &n,
	         &err);
	ok(b && bytes_are(b, n, "0a0163120273681201781801200128013001"),
	   "ExecRequest: container_id 1, cmd 2, tty 3, stdin 4, stdout 5, stderr 6");
	free(b);

	b = pack(req_of("attach"), "{container_id = 'c', stdin = true, tty = true, stdout = true, stderr = true}", &n,
	         &err);
	ok(b && bytes_are(b, n, "0a01631001180120012801"),
	   "AttachRequest: container_id 1, stdin 2, tty 3, stdout 4, stderr 5");
	free(b);

	b = pack(req_of("port_forward"), "{pod_sandbox_id = 's', port = {80, 8080}}", &n, &err);
	/* repeated int32 is packed in proto3: tag 2, wire type 2, 3 bytes */
	ok(b && bytes_are(b, n, "0a0173120350903f"), "PortForwardRequest: pod_sandbox_id 1, port 2 (packed)");
	free(b);

	b = pack(req_of("status"), "nil", &n, &err);
	ok(b && n == 0, "a nil request is the empty message");
	free(b);
}

static void sandbox_config_survives_a_roundtrip(void)
{
	const char *cfg = "{config = {"
			  "  metadata = {name = 'web', uid = 'u-1', namespace = 'default', attempt = 2},"
			  "  hostname = 'web', log_directory = '/var/log/pods/default_web_u-1',"
			  "  dns_config = {servers = {'10.0.0.10'}, searches = {'svc.cluster.local', 'cluster.local'},"
			  "                options = {'ndots:5'}},"
			  "  port_mappings = {{protocol = 'UDP', container_port = 53, host_port = 5353},"
			  "                   {container_port = 80, host_ip = '127.0.0.1'}},"
			  "  labels = {['vk.io/pod-uid'] = 'u-1', ['vk.io/namespace'] = 'default', app = 'web'},"
			  "  annotations = {note = 'a b c'},"
			  "  linux = {cgroup_parent = '/vk/u-1', sysctls = {['net.ipv4.ip_forward'] = '1'},"
			  "           security_context = {namespace_options = {network = 'NODE', pid = 'CONTAINER'}}},"
			  "}, runtime_handler = ''}";
	const char *d = roundtrip(req_of("run_pod_sandbox"), cfg);
	ok(d == NULL, "RunPodSandboxRequest round-trips (%s)", d ? d : "equal");
	ok(lua_true("decoded.config.linux.security_context.namespace_options.network == 'NODE'"),
	   "enums come back by name");
	ok(lua_true("decoded.config.port_mappings[2].protocol == 'TCP'"), "an unset enum decodes as its zero name");
	ok(lua_true("decoded.config.labels.app == 'web' and decoded.config.labels['vk.io/pod-uid'] == 'u-1'"),
	   "maps come back as key = value tables");
	ok(lua_true("next(decoded.config.linux.security_context.namespace_options) ~= nil and "
	            "decoded.config.linux.security_context.run_as_user == nil"),
	   "absent sub-messages stay nil");
	roundtrip(req_of("list_pod_sandbox"), "{filter = {state = {state = 1}}}");
	ok(lua_true("decoded.filter.state.state == 'SANDBOX_NOTREADY'"), "an enum given by number comes back by name");
	roundtrip(resp_of("list_pod_sandbox"), "{items = {{state = 7}}}");
	ok(lua_true("decoded.items[1].state == 7"), "an enum number the proto lacks stays a number");
}

static void container_config_survives_a_roundtrip(void)
{
	const char *d = roundtrip(
		req_of("create_container"),
		"{pod_sandbox_id = 'abc', config = {"
		"  metadata = {name = 'app'}, image = {image = 'docker.io/library/busybox:1.35'},"
		"  command = {'/bin/sh', '-c'}, args = {'echo hi; sleep 1'}, working_dir = '/tmp',"
		"  envs = {{key = 'A', value = '1'}, {key = 'B', value = 'x=y'}},"
		"  mounts = {{container_path = '/data', host_path = '/tmp/d', readonly = true,"
		"             propagation = 'PROPAGATION_HOST_TO_CONTAINER'}},"
		"  labels = {}, log_path = 'app/0.log',"
		"  linux = {resources = {cpu_period = 100000, cpu_quota = 50000, cpu_shares = 512,"
		"                        memory_limit_in_bytes = 1099511627776, oom_score_adj = -997}}}}");
	ok(d == NULL, "CreateContainerRequest round-trips (%s)", d ? d : "equal");
	ok(lua_true("decoded.config.linux.resources.memory_limit_in_bytes == 1 << 40 and "
	            "math.type(decoded.config.linux.resources.memory_limit_in_bytes) == 'integer'"),
	   "int64 values stay Lua integers");
	ok(lua_true("#decoded.config.devices == 0 and decoded.config.tty == false and "
	            "decoded.config.stdin_once == false"),
	   "unset repeated fields are empty arrays and unset scalars their defaults");
	lua_getglobal(L, "decoded");
	lua_getfield(L, -1, "config");
	lua_getfield(L, -1, "devices");
	char *jerr = NULL;
	cJSON *j = vk_lua_to_json(L, -1, &jerr);
	char *printed = j ? cJSON_PrintUnformatted(j) : NULL;
	is_str(printed, "[]", "an empty repeated field stays [] in JSON");
	free(printed);
	cJSON_Delete(j);
	free(jerr);
	lua_settop(L, 0);
}

static void responses_decode_with_defaults(void)
{
	const char *d = roundtrip(
		resp_of("container_status"),
		"{status = {id = 'c1', state = 'CONTAINER_EXITED', exit_code = 137, reason = 'OOMKilled',"
		"           created_at = 1764568800123456789, finished_at = -1,"
		"           metadata = {name = 'app', attempt = 4294967295}}}");
	ok(d == NULL, "ContainerStatusResponse round-trips (%s)", d ? d : "equal");
	ok(lua_true("decoded.status.started_at == 0 and decoded.status.message == '' and "
	            "next(decoded.status.labels) == nil and #decoded.status.mounts == 0 and "
	            "next(decoded.info) == nil"),
	   "unset fields come back as proto3 defaults, maps and arrays empty");

	d = roundtrip(resp_of("exec_sync"), "{stdout = 'a\\0b\\255', stderr = '', exit_code = 3}");
	ok(d == NULL, "bytes keep NUL and high bytes (%s)", d ? d : "equal");

	d = roundtrip(resp_of("exec"), "{url = 'http://127.0.0.1:35001/exec/AbCd'}");
	ok(d == NULL && lua_true("decoded.url == 'http://127.0.0.1:35001/exec/AbCd'"),
	   "ExecResponse gives the streaming URL (%s)", d ? d : "equal");
	d = roundtrip(req_of("port_forward"), "{pod_sandbox_id = 's', port = {1, 65535}}");
	ok(d == NULL, "PortForwardRequest's ports round-trip (%s)", d ? d : "equal");

	d = roundtrip(resp_of("container_stats"),
	              "{stats = {memory = {working_set_bytes = {value = 9223372036854775807},"
	              "                    usage_bytes = {value = 2.0^63 + 4096}}}}");
	ok(d == NULL, "uint64 above 2^63-1 travels as a float (%s)", d ? d : "equal");
}

static void bad_requests_name_the_field(void)
{
	char *e = encode_error(req_of("run_pod_sandbox"), "{config = {metadata = {nmae = 'x'}}}");
	ok(contains(e, "config.metadata.nmae: unknown field of runtime.v1.PodSandboxMetadata") &&
	           contains(e, "name, uid, namespace, attempt"),
	   "an unknown field is named with its path and the valid fields (%s)", e);
	free(e);

	e = encode_error(req_of("run_pod_sandbox"),
	                 "{config = {port_mappings = {{container_port = 1}, {protocol = 'TPC'}}}}");
	ok(contains(e, "config.port_mappings[2].protocol: 'TPC' is not a runtime.v1.Protocol "
	               "(one of TCP, UDP, SCTP)"),
	   "an unknown enum name lists the valid ones (%s)", e);
	free(e);

	e = encode_error(req_of("run_pod_sandbox"), "{config = {port_mappings = {protocol = 'TCP'}}}");
	ok(contains(e, "config.port_mappings: expected an array"), "a table where an array belongs is refused (%s)", e);
	free(e);

	e = encode_error(req_of("run_pod_sandbox"), "{config = {port_mappings = {{container_port = 1 << 40}}}}");
	ok(contains(e, "config.port_mappings[1].container_port: 1099511627776 is out of range"),
	   "an int32 out of range is refused (%s)", e);
	free(e);

	e = encode_error(req_of("container_status"), "{container_id = 'c', verbose = 'yes'}");
	ok(contains(e, "verbose: expected a boolean, got string"), "a bool must be a boolean (%s)", e);
	free(e);

	e = encode_error(req_of("stop_container"), "{timeout = 1.5}");
	ok(contains(e, "timeout: expected an integer, got a number with a fraction"),
	   "an integer field refuses fractions (%s)", e);
	free(e);

	e = encode_error(req_of("create_container"), "{config = {command = {'a', nil, 'c'}}}");
	ok(contains(e, "config.command: expected an array"), "an array with holes is refused (%s)", e);
	free(e);

	e = encode_error(req_of("create_container"), "{config = {labels = {a = {}}}}");
	ok(contains(e, "config.labels[\"a\"]: expected a string, got table"),
	   "a map value of the wrong type names its key (%s)", e);
	free(e);

	e = encode_error(req_of("version"), "{'v1'}");
	ok(contains(e, "request: expected a table of fields (runtime.v1.VersionRequest)"),
	   "a positional table is refused at the root (%s)", e);
	free(e);

	e = encode_error(req_of("create_container"), "{config = {working_dir = 'a\\0b'}}");
	ok(contains(e, "config.working_dir: string contains a NUL byte"), "a string with NUL is refused (%s)", e);
	free(e);

	e = encode_error(req_of("create_container"), "{config = {working_dir = 7, image = {}}}");
	ok(e == NULL, "a number is accepted for a string field");
	free(e);
}

int main(void)
{
	vk_json_init();
	L = luaL_newstate();
	luaL_openlibs(L);
	if (luaL_dostring(L, "function subset(a, b, path)\n"
	                     "  path = path or 'value'\n"
	                     "  if type(a) ~= 'table' then\n"
	                     "    if a == b then return nil end\n"
	                     "    return path .. ': ' .. tostring(a) .. ' ~= ' .. tostring(b)\n"
	                     "  end\n"
	                     "  if type(b) ~= 'table' then return path .. ': missing' end\n"
	                     "  for k, v in pairs(a) do\n"
	                     "    local d = subset(v, b[k], path .. '.' .. tostring(k))\n"
	                     "    if d then return d end\n"
	                     "  end\n"
	                     "end\n") != LUA_OK)
		return 1;
	method_table_matches_the_proto();
	packs_with_official_field_numbers();
	sandbox_config_survives_a_roundtrip();
	container_config_survives_a_roundtrip();
	responses_decode_with_defaults();
	bad_requests_name_the_field();
	lua_close(L);
	return tap_done();
}
