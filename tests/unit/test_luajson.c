/* JSON <-> Lua conversion (vk_lua_push_json / vk_lua_to_json). */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vk/json.h"
#include "vk/kube.h"
#include "vk/lua.h"
#include "vk/yaml.h"

/* Parses, converts to Lua and back, prints unformatted. */
static char *round_trip(lua_State *L, const char *text, char **err)
{
	cJSON *in = cJSON_Parse(text);
	if (!in)
		return NULL;
	vk_lua_push_json(L, in);
	cJSON_Delete(in);
	cJSON *out = vk_lua_to_json(L, -1, err);
	lua_pop(L, 1);
	if (!out)
		return NULL;
	char *s = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	return s;
}

/* Runs a Lua chunk that returns one value and converts it. */
static cJSON *from_lua(lua_State *L, const char *chunk, char **err)
{
	*err = NULL;
	if (luaL_dostring(L, chunk) != LUA_OK) {
		*err = strdup(lua_tostring(L, -1));
		lua_pop(L, 1);
		return NULL;
	}
	cJSON *j = vk_lua_to_json(L, -1, err);
	lua_pop(L, 1);
	return j;
}

static void expect_error(lua_State *L, const char *chunk, const char *want, const char *name)
{
	char *err = NULL;
	cJSON *j = from_lua(L, chunk, &err);
	ok(!j && err && strstr(err, want), "%s: error contains '%s' (got '%s')", name, want, err ? err : "(none)");
	cJSON_Delete(j);
	free(err);
}

static void expect_json(lua_State *L, const char *chunk, const char *want, const char *name)
{
	char *err = NULL;
	cJSON *j = from_lua(L, chunk, &err);
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	is_str(s, want, "%s: %s", name, s ? s : err);
	free(s);
	free(err);
	cJSON_Delete(j);
}

static const char pod[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
	"\"metadata\":{\"annotations\":{\"app.kubernetes.io/name\":\"web\"},\"creationTimestamp\":null,"
	"\"finalizers\":[],\"labels\":{\"app\":\"web\"},\"name\":\"web-1\",\"namespace\":\"default\","
	"\"resourceVersion\":\"123\",\"uid\":\"0b1c\"},"
	"\"spec\":{\"containers\":[{\"args\":[],\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
	"{\"name\":\"B\",\"valueFrom\":{\"configMapKeyRef\":{\"key\":\"k\",\"name\":\"cm\",\"optional\":true}}}],"
	"\"image\":\"busybox:1.35\",\"name\":\"c1\",\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"}],"
	"\"resources\":{}}],\"nodeName\":\"vk\",\"terminationGracePeriodSeconds\":30,"
	"\"tolerations\":[{\"effect\":\"NoSchedule\",\"key\":\"virtual-kubelet.io/provider\",\"operator\":\"Exists\"}]},"
	"\"status\":{\"conditions\":[],\"phase\":\"Pending\",\"qosClass\":\"BestEffort\",\"ratio\":0.25}}";

int main(void)
{
	vk_json_init();
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);

	/* A realistic Pod survives JSON -> Lua -> JSON byte for byte (its keys
	 * are already sorted, as vk_lua_to_json emits them). */
	char *err = NULL;
	char *s = round_trip(L, pod, &err);
	is_str(s, pod, "pod_round_trips_without_loss");
	if (!tap_streq(s, pod))
		printf("# got %s\n", s ? s : err);
	free(s);
	free(err);

	/* Shapes seen from Lua. */
	cJSON *in = cJSON_Parse(pod);
	vk_lua_push_json(L, in);
	cJSON_Delete(in);
	lua_setglobal(L, "pod");
	(void)luaL_dostring(L, "return math.type(pod.spec.terminationGracePeriodSeconds)");
	is_str(lua_tostring(L, -1), "integer", "integral_numbers_are_lua_integers");
	lua_pop(L, 1);
	(void)luaL_dostring(L, "return math.type(pod.status.ratio)");
	is_str(lua_tostring(L, -1), "float", "fractions_stay_floats");
	lua_pop(L, 1);
	(void)luaL_dostring(L, "return type(pod.metadata.creationTimestamp)");
	is_str(lua_tostring(L, -1), "userdata", "json_null_is_a_light_userdata");
	lua_pop(L, 1);
	(void)luaL_dostring(
		L, "return pod.spec.containers[1].env[2].valueFrom.configMapKeyRef.optional == true "
		   "and #pod.spec.containers[1].args == 0 and pod.spec.containers[1].ports[1].containerPort == 8080");
	ok(lua_toboolean(L, -1), "nested_fields_read_like_the_kubernetes_json");
	lua_pop(L, 1);

	/* Edits made in Lua come back, arrays stay arrays. */
	expect_json(
		L,
		"pod.status.conditions[1] = {type='Ready', status='True'}; "
		"pod.spec.containers[1].args = {}; return {c = pod.status.conditions, a = pod.spec.containers[1].args}",
		"{\"a\":{},\"c\":[{\"status\":\"True\",\"type\":\"Ready\"}]}", "a_new_plain_empty_table_is_an_object");
	expect_json(L, "local t = pod.metadata.finalizers; t[1] = 'x'; t[1] = nil; return t", "[]",
	            "an_emptied_json_array_stays_an_array");
	expect_json(L, "return {1, 2.5, 'x', true}", "[1,2.5,\"x\",true]", "a_plain_sequence_is_an_array");
	expect_json(L, "return {}", "{}", "an_empty_plain_table_is_an_object");
	expect_json(L, "return {b = 1, a = {n = 1 << 40}, c = false}",
	            "{\"a\":{\"n\":1099511627776},\"b\":1,\"c\":false}", "object_keys_come_out_sorted");
	lua_pushlightuserdata(L, NULL);
	lua_pop(L, 1);
	in = cJSON_Parse("[null, 1, null]");
	vk_lua_push_json(L, in);
	cJSON_Delete(in);
	lua_setglobal(L, "arr");
	expect_json(L, "return arr", "[null,1,null]", "nulls_inside_arrays_survive");
	expect_json(L, "return math.tointeger(2^40) + 0.5", "1099511627776.5", "floats_stay_floats");

	/* Values with no JSON form are refused, naming the path. */
	expect_error(L, "return {spec = {containers = {{name='a'}, {env = {f = print}}}}}",
	             "spec.containers[2].env.f: a function has no JSON form", "function_rejected_with_path");
	expect_error(L, "local t = {}; t.self = t; return {a = t}", "a.self: cycle", "cycle_rejected");
	expect_error(L, "return {x = 0/0}", "x: NaN has no JSON form", "nan_rejected");
	expect_error(L, "return {x = {1/0}}", "x[1]: an infinite number", "inf_rejected");
	expect_error(L, "return {metadata = {labels = {1, a = 'b'}}}", "metadata.labels: mixed table",
	             "mixed_table_rejected");
	expect_error(L, "return {[1] = 'a', [3] = 'c'}", "array has holes", "sparse_array_rejected");
	expect_error(L, "return {[true] = 1}", "key of type boolean", "boolean_key_rejected");
	expect_error(L, "return {['a.b'] = {co = coroutine.create(print)}}", "[\"a.b\"].co: a thread",
	             "odd_keys_are_quoted_in_the_path");

	/* YAML */
	const char *yaml = "cpu: \"20\"\nmemory: 100Gi\npods: 110\nratio: 0.5\nflag: true\nnothing: ~\n"
			   "list: []\nbase: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\nitems:\n  - a\n  - 'b'\n";
	cJSON *y = vk_yaml_parse(yaml, strlen(yaml), &err);
	s = y ? cJSON_PrintUnformatted(y) : NULL;
	is_str(s,
	       "{\"cpu\":\"20\",\"memory\":\"100Gi\",\"pods\":110,\"ratio\":0.5,\"flag\":true,\"nothing\":null,"
	       "\"list\":[],\"base\":{\"x\":1},\"derived\":{\"y\":2,\"x\":1},\"items\":[\"a\",\"b\"]}",
	       "yaml_core_schema_anchors_and_merge_keys");
	free(s);
	cJSON_Delete(y);
	y = vk_yaml_parse("a: [1, 2\n", 9, &err);
	ok(!y && err && strstr(err, "line "), "yaml_error_names_the_line (%s)", err ? err : "");
	free(err);
	const char *js = "{\"a\": [1, {\"b\": null}]}";
	y = vk_yaml_parse(js, strlen(js), &err);
	s = y ? cJSON_PrintUnformatted(y) : NULL;
	is_str(s, "{\"a\":[1,{\"b\":null}]}", "json_text_is_yaml_too");
	free(s);
	cJSON_Delete(y);

	lua_close(L);
	return tap_done();
}
