/* pod/env: kubelet's $(VAR) expansion. */
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
	return tap_done();
}
