/* `vk test SPEC.lua [SPEC.lua...]`: the provider test kit's command.  Each
 * spec runs in a Lua host of its own (vk_lua_test_run), one after another,
 * with no cluster; the TAP lines of all of them share one numbering and the
 * plan comes last.  Exit 0 when every test passed, 1 otherwise, 2 on a
 * usage error. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/app.h"
#include "vk/http.h"
#include "vk/lua.h"
#include "vk/node.h"
#include "vk/util.h"

static const char test_usage[] = "usage: vk test SPEC.lua [SPEC.lua...] [--log-level LEVEL]\n"
				 "\n"
				 "Runs provider specs without a cluster: each SPEC.lua is Lua written with\n"
				 "describe/it/expect (busted's style) that loads a provider in vk's real Lua\n"
				 "host, creates, updates and deletes pods (tables or YAML), answers the\n"
				 "provider's vk.http, vk.cri and vk.kube calls with scripted responses (or\n"
				 "passes them to real endpoints), moves a virtual clock so that timers and\n"
				 "backoffs run at once, and checks the calls, vk.notify statuses, Events\n"
				 "and log lines.  The spec API is in lua/vk.d.lua (describe, it, expect,\n"
				 "provider, pods, clock, mock).\n"
				 "\n"
				 "Prints TAP on stdout: one line per `it`, a failure followed by\n"
				 "`# FILE:LINE: why`.  A spec that fails to load is a failed test.  Exits 1\n"
				 "when a test failed, 0 when all passed.\n"
				 "\n"
				 "flags:\n"
				 "  --log-level LEVEL   vk's own log on stderr: debug, info, warn (default) or error\n"
				 "  -h, --help          print this help and exit\n";

typedef struct {
	bool done;
	int passed, failed;
} spec_result;

static void on_spec(int passed, int failed, const char *err, void *ud)
{
	spec_result *r = ud;
	r->done = true;
	r->passed = passed;
	r->failed = failed;
	if (err) {
		/* The kit itself failed (its Lua missing or broken): a failed test. */
		printf("not ok %d - vk test ran\n# %.*s\n", passed + failed + 1, (int)strcspn(err, "\n"), err);
		r->failed++;
	}
	fflush(stdout);
}

static int run_specs(char **specs, int n)
{
	uv_loop_t *loop = uv_default_loop();
	vk_http *http = vk_http_new(loop);
	vk_node_opts no = {.loop = loop, .name = "vk-test", .port = 10250};
	cJSON *node = vk_node_template(&no, "provider");
	int passed = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		spec_result r = {0};
		vk_lua_opts lo = {.loop = loop, .http = http, .path = specs[i]};
		if (vk_lua_test_run(&lo, passed + failed + 1, node, on_spec, &r) < 0) {
			printf("not ok %d - %s\n# %s: cannot start a Lua host\n", passed + failed + 1, specs[i],
			       specs[i]);
			failed++;
			continue;
		}
		while (!r.done)
			uv_run(loop, UV_RUN_ONCE);
		passed += r.passed;
		failed += r.failed;
	}
	cJSON_Delete(node);
	vk_http_close(http);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	printf("1..%d\n# %d passed, %d failed\n", passed + failed, passed, failed);
	fflush(stdout);
	return failed || passed + failed == 0 ? 1 : 0;
}

int vk_app_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	vk_log_set_level(VK_LOG_WARN);
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': {
			vk_log_level lvl;
			if (vk_log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr, "vk test: --log-level takes debug, info, warn or error, not '%s'\n",
				        optarg);
				return 2;
			}
			vk_log_set_level(lvl);
			break;
		}
		case 'h': fputs(test_usage, stdout); return 0;
		case ':':
			fprintf(stderr, "vk test: flag '%s' needs a value (see vk test --help)\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "vk test: unknown flag '%s' (see vk test --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "vk test: give at least one SPEC.lua (see vk test --help)\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = run_specs(argv + optind, argc - optind);
	curl_global_cleanup();
	return rc;
}
