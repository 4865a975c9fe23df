/* Runs a "check provider" through the real Lua host and prints its results
 * as TAP:  lua_checks PROVIDER.lua [KEY=VALUE...]
 * The provider's init(config) runs its checks (it may yield on I/O) and
 * get_pods() returns them as {{name=, ok=, err=}, ...}.  KEY=VALUE pairs
 * become the config table (tests/lua/task_check.lua, store_check.lua).
 * Built with LUA_CHECK_STORE, vk's own store is an embedded one in the
 * fresh dir (tests/lua/store_check.lua). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/tap.h"
#include "vk/json.h"
#include "vk/lua.h"
#include "vk/util.h"

static uv_loop_t *loop;

typedef struct {
	bool done;
	vk_provider *p;
	char *err;
	cJSON *value;
} outcome;

static void on_open(vk_provider *p, const char *err, void *ud)
{
	outcome *o = ud;
	o->done = true;
	o->p = p;
	o->err = vk_strdup(err);
}

static void on_result(const vk_provider_result *r, void *ud)
{
	outcome *o = ud;
	o->done = true;
	o->err = vk_strdup(r->errmsg);
	o->value = r->value;
}

int main(int argc, char **argv)
{
	vk_json_init();
	char tmpdir[] = "/tmp/vk-luacheck.XXXXXX";
	char *dir_arg = NULL;
#ifdef LUA_CHECK_FILE
	/* Built as a unit test: the check file is fixed and gets a fresh dir=. */
	if (argc < 2) {
		if (!mkdtemp(tmpdir))
			return 1;
		dir_arg = vk_asprintf("dir=%s", tmpdir);
		static char *fixed[4];
		fixed[0] = argv[0];
		fixed[1] = (char *)LUA_CHECK_FILE;
		fixed[2] = dir_arg;
		argv = fixed;
		argc = 3;
	}
#endif
	if (argc < 2) {
		fprintf(stderr, "usage: lua_checks PROVIDER.lua [KEY=VALUE...]\n");
		return 2;
	}
	loop = uv_default_loop();
	vk_http *http = vk_http_new(loop);
	cJSON *cfg = cJSON_CreateObject();
	for (int i = 2; i < argc; i++) {
		char *kv = vk_strdup(argv[i]), *eq = strchr(kv, '=');
		if (eq) {
			*eq = '\0';
			cJSON_AddStringToObject(cfg, kv, eq + 1);
		}
		free(kv);
	}
	cJSON *node = cJSON_CreateObject();

	vk_lua_opts o = {.loop = loop, .http = http, .path = argv[1], .config = cfg};
#ifdef LUA_CHECK_MAX_MS
	o.max_run_ms = LUA_CHECK_MAX_MS; /* a check that provokes the budget waits this long */
#endif
	vk_store *store = NULL;
#ifdef LUA_CHECK_STORE
	if (dir_arg) {
		char *err = NULL;
		store = vk_store_open_startup(loop, http, "embedded", tmpdir, &err);
		ok(store != NULL, "vk's store opens (%s)", err ? err : "ok");
		free(err);
		o.store = store;
	}
#endif
	outcome op = {0};
	if (vk_lua_provider_open(&o, node, on_open, &op) < 0)
		return 1;
	while (!op.done)
		uv_run(loop, UV_RUN_ONCE);
	ok(op.p != NULL, "the check provider loads and its init runs (%s)", op.err ? op.err : "ok");
	free(op.err);
	if (op.p) {
		outcome g = {0};
		vk_provider_get_pods(op.p, on_result, &g);
		while (!g.done)
			uv_run(loop, UV_RUN_ONCE);
		int n = 0;
		cJSON *r;
		cJSON_ArrayForEach(r, g.value) {
			const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(r, "name"));
			const char *err = cJSON_GetStringValue(cJSON_GetObjectItem(r, "err"));
			ok(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "lua: %s%s%s", name, err ? ": " : "",
			   err ? err : "");
			n++;
		}
		ok(n > 0, "%d Lua checks ran", n);
		cJSON_Delete(g.value);
		free(g.err);
		vk_provider_close(op.p);
	}
	cJSON_Delete(cfg);
	cJSON_Delete(node);
	if (store)
		vk_store_close(store);
	vk_http_close(http);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(uv_loop_close(loop) == 0, "every uv handle is closed at the end");
	if (dir_arg) {
		char *rm = vk_asprintf("rm -rf '%s'", tmpdir);
		if (system(rm) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
		free(rm);
		free(dir_arg);
	}
	return tap_done();
}
