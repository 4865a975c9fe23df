/* pod/env: kubelet's $(VAR) expansion; env names under the relaxed rule. */
#include <stdlib.h>

#include "tap.h"
#include "vk/json.h"
#include "vk/pod.h"

int main(void)
{
	vk_json_init();
	cJSON *env = cJSON_Parse("[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"two\"},"
	                         "{\"name\":\"A\",\"value\":\"3\"}]");
	struct {
		const char *in, *out, *what;
	} cases[] = {
		{"$(B)", "two", "a defined variable is replaced"},
		{"x$(A)y", "x3y", "the last definition wins"},
		{"$(C)", "$(C)", "an undefined variable stays as written"},
		{"$$(B)", "$(B)", "$$ escapes a reference"},
		{"a$$b", "a$b", "$$ becomes $"},
		{"$(B", "$(B", "an unterminated reference stays"},
		{"", "", "empty stays empty"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *got = vk_pod_env_expand(cases[i].in, env);
		is_str(got, cases[i].out, "%s: '%s' -> '%s'", cases[i].what, cases[i].in, got);
		free(got);
	}
	cJSON_Delete(env);

	/* RelaxedEnvironmentVariableValidation (GA in 1.34): printable ASCII but '='. */
	const char *valid[] = {"data-1", "a.b", "1x", "MY_VAR", "with space", "CFG_key-2.x", "~!@#$%^&*()", "x"};
	for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
		ok(vk_pod_env_name_valid(valid[i]), "'%s' is a valid env name", valid[i]);
	const char *invalid[] = {"", "A=B", "=", "tab\there", "nl\n", "caf\xc3\xa9", "del\x7f"};
	for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
		ok(!vk_pod_env_name_valid(invalid[i]), "invalid env name #%zu is refused", i);
	ok(!vk_pod_env_name_valid(NULL), "NULL is refused");
	return tap_done();
}
