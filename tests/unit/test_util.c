/* util: buffers, backoff, timestamps, packed text, the intrusive list, JSON paths
 * and spans. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "vk/json.h"
#include "vk/list.h"
#include "vk/util.h"

static void buffers_grow_and_stay_terminated(void)
{
	vk_buf b = {0};
	for (int i = 0; i < 1000; i++)
		vk_buf_append(&b, "abc", 3);
	is_int(b.len, 3000, "1000 appends of 3 bytes give 3000 bytes");
	ok(b.data[b.len] == '\0', "buffer stays NUL-terminated");
	vk_buf_consume(&b, 2998);
	is_str(b.data, "bc", "consume drops the front");
	vk_buf_printf(&b, "-%d-%s", 42, "x");
	is_str(b.data, "bc-42-x", "printf appends");
	char *s = vk_buf_steal(&b);
	ok(b.data == NULL && b.len == 0, "steal empties the buffer");
	free(s);
}

static void backoff_doubles_with_jitter_and_caps(void)
{
	vk_backoff b = {.base_ms = 100, .max_ms = 1000};
	bool in_range = true;
	uint64_t expect[] = {100, 200, 400, 800, 1000, 1000, 1000};
	for (size_t i = 0; i < VK_ARRAY_LEN(expect); i++) {
		uint64_t d = vk_backoff_next(&b);
		if (d < expect[i] / 2 || d > expect[i])
			in_range = false;
	}
	ok(in_range, "each delay lies in [d/2, d] of a doubling series capped at max");
	vk_backoff_reset(&b);
	uint64_t d = vk_backoff_next(&b);
	ok(d >= 50 && d <= 100, "reset starts again from base (%llu)", (unsigned long long)d);
}

static void rfc3339_formats_utc(void)
{
	char ts[40];
	vk_rfc3339(ts, 1764568800123ull, false);
	is_str(ts, "2025-12-01T06:00:00Z", "seconds form");
	vk_rfc3339(ts, 1764568800123ull, true);
	is_str(ts, "2025-12-01T06:00:00.123000Z", "micro form");
}

static void map_sets_gets_deletes_and_iterates(void)
{
	vk_map *m = vk_map_new();
	char key[32];
	static int vals[5000];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "ns/pod-%d", i);
		vals[i] = i;
		vk_map_set(m, key, &vals[i]);
	}
	is_int(vk_map_len(m), 5000, "5000 keys stored");
	int *v = vk_map_get(m, "ns/pod-4321");
	ok(v && *v == 4321, "lookup after growth finds the value");
	ok(vk_map_get(m, "ns/pod-5000") == NULL, "absent key gives NULL");
	/* delete every odd key while iterating */
	const char *k;
	void *val;
	size_t seen = 0;
	for (vk_map_iter it = {0}; vk_map_next(m, &it, &k, &val);) {
		seen++;
		if (*(int *)val % 2)
			vk_map_del(m, k);
	}
	is_int(seen, 5000, "iteration visits every entry even while deleting");
	is_int(vk_map_len(m), 2500, "odd keys deleted");
	ok(vk_map_set(m, "ns/pod-2", &vals[7]) == &vals[2], "set returns the previous value");
	vk_map_free(m);
}

/* A pod as the API server sends it (trimmed), with a varying name and uid. */
static char *pod_text(int i)
{
	return vk_asprintf(
		"{\"metadata\":{\"name\":\"web-%05d\",\"namespace\":\"default\",\"uid\":\"%08x-1f2e-4d3c-8b7a-%012d\","
		"\"resourceVersion\":\"%d\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"main\","
		"\"image\":\"docker.io/library/busybox:1.35\",\"command\":[\"sleep\",\"3600\"],\"terminationMessagePath\":"
		"\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"IfNotPresent\"}],"
		"\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\","
		"\"serviceAccountName\":\"default\",\"nodeName\":\"edge-1\",\"schedulerName\":\"default-scheduler\","
		"\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":"
		"\"NoExecute\",\"tolerationSeconds\":300}],\"priority\":0,\"enableServiceLinks\":true}}",
		i, (unsigned)(i * 2654435761u), i, 1000 + i);
}

static void packed_text_round_trips_and_shrinks(void)
{
	vk_ztext *z = vk_ztext_new();
	void *blobs[200];
	size_t text_bytes = 0, blob_bytes = 0;
	bool same = true;
	for (int i = 0; i < 200; i++) {
		char *t = pod_text(i);
		text_bytes += strlen(t);
		blobs[i] = vk_ztext_pack(z, t, strlen(t));
		blob_bytes += vk_ztext_size(blobs[i]);
		free(t);
	}
	for (int i = 0; i < 200; i++) {
		char *t = pod_text(i), *back = vk_ztext_unpack(z, blobs[i]);
		if (!back || strcmp(back, t) != 0 || vk_ztext_len(blobs[i]) != strlen(t))
			same = false;
		free(t);
		free(back);
	}
	ok(same, "200 pods unpack to the very texts packed");
	/* the dictionary (the first pod) leaves little more than what differs */
	ok(blob_bytes * 4 < text_bytes, "packed with the dictionary: %zu bytes for %zu of text", blob_bytes,
	   text_bytes);

	void *tiny = vk_ztext_pack(z, "{}", 2);
	char *back = vk_ztext_unpack(z, tiny);
	is_str(back, "{}", "a text too short to gain is stored as it is");
	ok(vk_ztext_size(tiny) < 2 + 16, "and costs only its header more");
	free(back);
	free(tiny);

	char *t = pod_text(7);
	char *bad = vk_ztext_pack(z, t, strlen(t));
	size_t n = vk_ztext_size(bad);
	memset(bad + n - 8, 0x5a, 8); /* damage the deflate stream's tail */
	char *broken = vk_ztext_unpack(z, bad);
	ok(broken == NULL || strcmp(broken, t) != 0, "a damaged blob does not unpack to the original");
	free(broken);
	free(bad);
	free(t);

	/* Found by tests/fuzz/json_unpack: a header claiming 4 GiB of text for
	 * one packed byte made unpack allocate 4 GiB. */
	static const unsigned char huge[13] = {0xf0, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 3};
	ok(!vk_ztext_check(huge, sizeof huge), "a blob claiming more text than deflate can make is refused");

	vk_ztext *other = vk_ztext_new(); /* no dictionary yet: plain deflate */
	char *big = pod_text(3);
	void *b2 = vk_ztext_pack(other, "short text, no dictionary", 26);
	char *b2back = vk_ztext_unpack(other, b2);
	is_str(b2back, "short text, no dictionary", "a store without a dictionary round-trips");
	free(b2back);
	free(b2);
	free(big);
	vk_ztext_free(other);

	for (int i = 0; i < 200; i++)
		free(blobs[i]);
	vk_ztext_free(z);
}

typedef struct {
	int v;
	vk_list link;
} node;

static void list_keeps_order_and_removes_safely(void)
{
	vk_list head;
	vk_list_init(&head);
	ok(vk_list_empty(&head) && !vk_list_first(&head) && !vk_list_last(&head), "a new list is empty");
	node n[4] = {{.v = 1}, {.v = 2}, {.v = 3}, {.v = 0}};
	ok(!vk_list_linked(&n[0].link), "a zeroed link is not linked");
	vk_list_insert_tail(&head, &n[1].link);
	vk_list_insert_tail(&head, &n[2].link);
	vk_list_insert_head(&head, &n[0].link);
	char seen[8] = "";
	vk_list *p, *tmp;
	VK_LIST_FOREACH_SAFE(p, tmp, &head)
	seen[strlen(seen)] = (char)('0' + VK_LIST_ENTRY(p, node, link)->v);
	is_str(seen, "123", "head insert goes first, tail inserts keep their order");
	VK_LIST_FOREACH_SAFE(p, tmp, &head)
	if (VK_LIST_ENTRY(p, node, link)->v == 2)
		vk_list_remove(p);
	ok(!vk_list_linked(&n[1].link), "a removed link reads as not linked");
	vk_list_remove(&n[1].link); /* twice: no effect */
	vk_list_remove(&n[3].link); /* never linked: no effect */
	ok(VK_LIST_ENTRY(vk_list_first(&head), node, link)->v == 1 &&
	           VK_LIST_ENTRY(vk_list_last(&head), node, link)->v == 3 && head.next->next == head.prev,
	   "removal while iterating leaves the others linked in order");
	vk_list_remove(&n[0].link);
	vk_list_remove(&n[2].link);
	ok(vk_list_empty(&head), "the list is empty after removing every element");
}

static void json_paths_find_strings_and_objects(void)
{
	cJSON *o = cJSON_Parse(
		"{\"metadata\": {\"name\": \"web\", \"namespace\": \"default\", \"labels\": {\"a.b/c\": \"x\"}},"
		" \"spec\": {\"nodeName\": 7, \"containers\": [{\"name\": \"c\"}]}}");
	is_str(vk_json_str(o, "metadata.name"), "web", "a two-key path finds the string");
	is_str(vk_json_str(o, "metadata.namespace"), "default", "a sibling key is found");
	ok(vk_json_str(o, "spec.nodeName") == NULL, "a number is not a string");
	ok(vk_json_str(o, "metadata.uid") == NULL, "a missing key gives NULL");
	ok(vk_json_str(o, "metadata.name.more") == NULL, "a path through a string gives NULL");
	ok(vk_json_at(o, "spec.containers.name") == NULL, "a path does not go through an array");
	ok(cJSON_IsObject(vk_json_at(o, "metadata.labels")), "vk_json_at returns objects");
	ok(vk_json_at(o, "metadata") == cJSON_GetObjectItemCaseSensitive(o, "metadata"), "one key is one lookup");
	ok(vk_json_str(NULL, "metadata.name") == NULL, "a NULL object gives NULL");
	cJSON_Delete(o);
}

/* Collects each element span as text, joined by '|'. */
static int collect(const char *p, size_t n, void *ud)
{
	vk_buf_printf(ud, "%s%.*s", ((vk_buf *)ud)->len ? "|" : "", (int)n, p);
	return 0;
}

static int stop_at_second(const char *p, size_t n, void *ud)
{
	(void)p;
	(void)n;
	return ++*(int *)ud == 2 ? 7 : 0;
}

static void json_spans_find_members_and_elements(void)
{
	const char *list =
		" {\"kind\": \"PodList\", \"x\\\"items\": 1, \"metadata\": {\"continue\": \"a}\\\"]\"},\n"
		"  \"items\": [ {\"a\": [1, {\"b\": \"]}\"}]}, 2.5e3 ,\"s\\\\\", true, null, [] ], \"z\": {} } ";
	size_t at = 0, n = 0;
	ok(vk_json_member_span(list, strlen(list), "items", &at, &n) == 0, "the member is found past nested objects");
	is_int(list[at], '[', "its span starts at the value");
	is_int(list[at + n - 1], ']', "and ends at the value's last byte");
	vk_buf b = {0};
	ok(vk_json_each_element(list + at, n, collect, &b) == 0, "every element is handed over");
	is_str(b.data, "{\"a\": [1, {\"b\": \"]}\"}]}|2.5e3|\"s\\\\\"|true|null|[]",
	       "elements come whole and in order: brackets and quotes inside strings are skipped");
	vk_buf_free(&b);
	ok(vk_json_member_span(list, strlen(list), "metadata", &at, &n) == 0 &&
	           n == strlen("{\"continue\": \"a}\\\"]\"}"),
	   "an object member's span covers the object");
	ok(vk_json_member_span(list, strlen(list), "kind", &at, &n) == 0 && n == 9 &&
	           memcmp(list + at, "\"PodList\"", 9) == 0,
	   "a string member's span keeps its quotes");
	ok(vk_json_member_span(list, strlen(list), "missing", &at, &n) == -ENOENT, "a missing member is -ENOENT");
	ok(vk_json_member_span("{}", 2, "items", &at, &n) == -ENOENT, "an empty object has no members");
	ok(vk_json_member_span(list, strlen(list) - 30, "z", &at, &n) == -EINVAL, "text that ends early is -EINVAL");
	ok(vk_json_member_span("[1]", 3, "items", &at, &n) == -EINVAL, "an array is not an object");
	ok(vk_json_member_span("{\"a\" 1}", 7, "b", &at, &n) == -EINVAL, "a member without ':' is -EINVAL");
	int calls = 0;
	ok(vk_json_each_element("[1,2,3]", 7, stop_at_second, &calls) == 7 && calls == 2,
	   "fn's nonzero return stops the walk and is returned");
	b = (vk_buf){0};
	ok(vk_json_each_element("[1,{\"a\":2}", 10, collect, &b) == -EINVAL && b.data && strcmp(b.data, "1") == 0,
	   "an array that ends early is -EINVAL after the whole elements before");
	vk_buf_free(&b);
	b = (vk_buf){0};
	ok(vk_json_each_element(" [ ] ", 5, collect, &b) == 0 && b.len == 0, "an empty array hands nothing");
	ok(vk_json_each_element("[1 2]", 5, collect, &b) == -EINVAL, "elements without a comma are -EINVAL");
	ok(vk_json_each_element("{}", 2, collect, &b) == -EINVAL, "an object is not an array");
	vk_buf_free(&b);
	/* Each element of a real list parses alone to what the whole parse has. */
	const char *pods = "{\"items\":[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\\u0022]\"}}]}";
	ok(vk_json_member_span(pods, strlen(pods), "items", &at, &n) == 0, "a list's items are found");
	b = (vk_buf){0};
	vk_json_each_element(pods + at, n, collect, &b);
	cJSON *whole = cJSON_Parse(pods);
	char *joined = vk_asprintf("[%s]", b.data);
	for (char *c = joined; *c; c++) /* '|' is not in the test's strings */
		if (*c == '|')
			*c = ',';
	cJSON *parts = cJSON_Parse(joined);
	ok(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(whole, "items"), parts, true),
	   "the elements parsed one by one equal the whole parse's items");
	cJSON_Delete(whole);
	cJSON_Delete(parts);
	free(joined);
	vk_buf_free(&b);
}

int main(void)
{
	vk_json_init();
	json_paths_find_strings_and_objects();
	json_spans_find_members_and_elements();
	list_keeps_order_and_removes_safely();
	packed_text_round_trips_and_shrinks();
	map_sets_gets_deletes_and_iterates();
	buffers_grow_and_stay_terminated();
	backoff_doubles_with_jitter_and_caps();
	rfc3339_formats_utc();
	return tap_done();
}
