/* vk.http and vk.kube from Lua callbacks, against a local python3 server
 * on 127.0.0.1 and the real engine (vk/http.h) and client (vk/kube.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyserver.h"
#include "provider_wait.h"
#include "tap.h"
#include "vk/json.h"
#include "vk/lua.h"
#include "vk/util.h"

static const char *server_py =
	"import json, time, http.server, socketserver\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def reply(self, code, body, extra=()):\n"
	"        b = body.encode()\n"
	"        self.send_response(code)\n"
	"        self.send_header('Content-Type', 'application/json')\n"
	"        for k, v in extra: self.send_header(k, v)\n"
	"        self.send_header('Content-Length', str(len(b)))\n"
	"        self.end_headers(); self.wfile.write(b)\n"
	"    def echo(self):\n"
	"        n = int(self.headers.get('Content-Length', '0'))\n"
	"        body = self.rfile.read(n).decode()\n"
	"        self.reply(200, '%s %s %s %s' % (self.command, body, self.headers.get('X-A'),\n"
	"                   self.headers.get('Content-Type')), [('X-Reply', 'yes')])\n"
	"    def do_GET(self):\n"
	"        try:\n"
	"            if self.path == '/slow':\n"
	"                time.sleep(5); self.reply(200, '{}')\n"
	"            elif self.path == '/api/v1/namespaces/default/configmaps/cm1':\n"
	"                self.reply(200, json.dumps({'kind': 'ConfigMap', 'metadata': {'name': 'cm1'}, 'data': {'k': 'v'}}))\n"
	"            elif self.path == '/echo':\n"
	"                self.echo()\n"
	"            else:\n"
	"                self.reply(404, json.dumps({'kind': 'Status', 'status': 'Failure', 'reason': 'NotFound',\n"
	"                                            'message': 'not here', 'code': 404}))\n"
	"        except (BrokenPipeError, ConnectionResetError):\n"
	"            pass\n"
	"    do_POST = echo\n"
	"class S(socketserver.ThreadingMixIn, http.server.HTTPServer):\n"
	"    daemon_threads = True\n"
	"    def handle_error(self, *a): pass\n"
	"s = S(('127.0.0.1', 0), H)\n"
	"print(s.server_address[1], flush=True)\n"
	"s.serve_forever()\n";

static uv_loop_t *loop;

static void spin(bool *flag) { spin_until(loop, flag); }

static void call(vk_provider *p, const char *action, result *r, bool wait)
{
	char buf[256];
	snprintf(buf, sizeof buf, "{\"metadata\":{\"namespace\":\"default\",\"name\":\"%s\"},\"spec\":{}}", action);
	cJSON *pod = cJSON_Parse(buf);
	memset(r, 0, sizeof *r);
	if (vk_provider_create_pod(p, pod, on_result, r) < 0)
		r->done = true;
	cJSON_Delete(pod);
	if (wait)
		spin(&r->done);
}

static void result_free(result *r)
{
	free(r->errmsg);
	free(r->value);
}

static const char *line1(const char *m)
{
	static char b[400];
	snprintf(b, sizeof b, "%s", m ? m : "(null)");
	b[strcspn(b, "\n")] = '\0';
	return b;
}

int main(void)
{
	vk_json_init();
	if (chdir(VK_SOURCE_LUA_DIR "/..") != 0) {
		tap_skip("cannot chdir to the source tree");
		return tap_done();
	}
	alarm(240);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = uv_default_loop();
	pid_t pid;
	int port = pyserver_start(server_py, &pid);
	if (port < 0) {
		tap_skip("python3 test server did not start");
		pyserver_stop(pid);
		return tap_done();
	}
	char url[64], *err = NULL, cfgtext[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	snprintf(cfgtext, sizeof cfgtext, "{\"url\":\"%s\"}", url);
	vk_http *http = vk_http_new(loop);
	vk_kubeconfig kc = {.server = url, .token = "t"};
	vk_kube *kube = vk_kube_new(loop, http, &kc, &err);
	free(err);
	cJSON *cfg = cJSON_Parse(cfgtext);
	vk_lua_opts o = {.loop = loop, .http = http, .kube = kube, .path = "tests/lua/providers/io.lua", .config = cfg};
	opened op = {0};
	vk_lua_provider_open(&o, NULL, on_open, &op);
	spin(&op.done);
	cJSON_Delete(cfg);
	vk_provider *p = op.p;
	ok(p != NULL, "io_provider_opens (%s)", line1(op.err));
	free(op.err);
	if (!p)
		goto out;

	result r;
	call(p, "post", &r, true);
	is_str(r.value, "{\"body\":\"POST hi there b text/plain\",\"reply\":\"yes\",\"status\":200}",
	       "http_request_sends_method_body_headers_and_reads_the_reply (%s)", line1(r.errmsg));
	result_free(&r);
	call(p, "get", &r, true);
	is_str(r.value, "{\"body\":\"GET  None None\",\"status\":200}", "http_get_without_a_body");
	result_free(&r);
	call(p, "refused", &r, true);
	ok(r.value && strstr(r.value, "\"err\":\"vk.http.request: ") && !strstr(r.value, "\"r\""),
	   "a_transport_failure_is_nil_and_a_message (%s)", r.value ? r.value : line1(r.errmsg));
	result_free(&r);
	call(p, "configmap", &r, true);
	is_str(r.value, "{\"err\":\"not found\",\"name\":\"cm1\",\"value\":\"v\"}",
	       "kube_get_configmap_yields_and_404_is_nil_not_found (%s)", line1(r.errmsg));
	result_free(&r);
	call(p, "badname", &r, true);
	ok(r.err == -EIO && r.errmsg && strstr(r.errmsg, "bad argument #2 to 'get_secret' (a Kubernetes name"),
	   "a_bad_object_name_is_refused (%s)", line1(r.errmsg));
	result_free(&r);

	/* Closing the provider cancels its transfer on the shared engine. */
	call(p, "slow", &r, false);
	for (int i = 0; i < 20 && vk_http_active(http) == 0; i++)
		uv_run(loop, UV_RUN_NOWAIT);
	is_int(vk_http_active(http), 1, "a_slow_request_is_in_flight");
	vk_provider_close(p);
	ok(r.done && r.err == -ECANCELED, "close_cancels_the_callback (%d)", r.err);
	is_int(vk_http_active(http), 0, "close_cancels_the_transfer");
	result_free(&r);

out:
	vk_kube_free(kube);
	vk_http_close(http);
	uv_run(loop, UV_RUN_DEFAULT);
	pyserver_stop(pid);
	curl_global_cleanup();
	return tap_done();
}
