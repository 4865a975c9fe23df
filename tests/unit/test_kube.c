/* kube client: request/response mapping and watch stream framing, against a
 * tiny local HTTP server (python3 on 127.0.0.1).  It only plays back canned
 * answers: the real API server is exercised by tests/e2e/kube_client_test.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <malloc.h>
#include <stdio.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void); /* the runtime's; gcc ships no header for it */
#endif

#include "../../src/kube/kube_int.h" /* to age the token check; to drive the link's clock */
#include "pyserver.h"
#include "tap.h"
#include "vk/json.h"
#include "vk/kube.h"
#include "vk/metrics.h"
#include "vk/util.h"

static const char *server_py =
	"import json, time, http.server, socketserver\n"
	"from urllib.parse import urlparse\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def reply(self, code, body, ctype='application/json'):\n"
	"        b = body.encode() if isinstance(body, str) else body\n"
	"        self.send_response(code)\n"
	"        self.send_header('Content-Type', ctype)\n"
	"        self.send_header('Content-Length', str(len(b)))\n"
	"        self.end_headers(); self.wfile.write(b)\n"
	"    def chunk(self, b):\n"
	"        self.wfile.write(b'%x\\r\\n' % len(b) + b + b'\\r\\n'); self.wfile.flush()\n"
	"    def start_stream(self):\n"
	"        self.send_response(200); self.send_header('Content-Type', 'application/json')\n"
	"        self.send_header('Transfer-Encoding', 'chunked'); self.end_headers()\n"
	"    def ev(self, t, name):\n"
	"        return json.dumps({'type': t, 'object': {'kind': 'ConfigMap', 'metadata': {'name': name},\n"
	"                           'query': urlparse(self.path).query}}).encode()\n"
	"    def status(self, code, reason, msg):\n"
	"        self.reply(code, json.dumps({'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure',\n"
	"                                     'message': msg, 'reason': reason, 'code': code}))\n"
	"    def do_GET(self):\n"
	"        p = urlparse(self.path).path\n"
	"        try:\n"
	"            if p == '/api/v1/namespaces/default/configmaps/cm1':\n"
	"                self.reply(200, json.dumps({'kind': 'ConfigMap', 'metadata': {'name': 'cm1'}}))\n"
	"            elif p == '/api/v1/namespaces/default/configmaps/missing':\n"
	"                self.status(404, 'NotFound', 'configmaps \"missing\" not found')\n"
	"            elif p == '/proxy-error':\n"
	"                self.reply(502, 'bad gateway', 'text/plain')\n"
	"            elif p == '/garbage':\n"
	"                self.reply(200, '{not json', 'application/json')\n"
	"            elif p == '/slow':\n"
	"                time.sleep(30); self.reply(200, '{}')\n"
	"            elif p == '/events-seen':\n"
	"                self.reply(200, json.dumps({'count': len(EVENTS)}))\n"
	"            elif p in ('/hang', '/version'):\n"
	"                time.sleep(3600)  # /version: the link's probe must not bring it back here\n"
	"            elif p == '/watch/silent':\n"
	"                self.start_stream(); self.chunk(self.ev('ADDED', 'first') + b'\\n'); time.sleep(3600)\n"
	"            elif p == '/watch/split':\n"
	"                self.start_stream()\n"
	"                data = self.ev('ADDED', 'a') + b'\\n' + self.ev('MODIFIED', 'b') + b'\\n\\n' + self.ev('DELETED', 'c')\n"
	"                for i in range(0, len(data), 7):\n"
	"                    self.chunk(data[i:i+7]); time.sleep(0.002)\n"
	"                self.wfile.write(b'0\\r\\n\\r\\n')\n"
	"            elif p == '/watch/endless':\n"
	"                self.start_stream(); i = 0\n"
	"                while True:\n"
	"                    self.chunk(self.ev('ADDED', 'n%d' % i) + b'\\n'); i += 1; time.sleep(0.01)\n"
	"            elif p == '/watch/huge':\n"
	"                self.start_stream()\n"
	"                for i in range(17 * 16):\n"
	"                    self.chunk(b'x' * 65536)\n"
	"                self.wfile.write(b'0\\r\\n\\r\\n')\n"
	"            elif p == '/watch/badjson':\n"
	"                self.start_stream(); self.chunk(b'{oops}\\n'); self.wfile.write(b'0\\r\\n\\r\\n')\n"
	"            elif p == '/watch/forbidden':\n"
	"                self.status(403, 'Forbidden', 'configmaps is forbidden: User \"x\" cannot watch')\n"
	"            else:\n"
	"                self.status(404, 'NotFound', 'no route')\n"
	"        except (BrokenPipeError, ConnectionResetError):\n"
	"            pass\n"
	"    def echo(self):\n"
	"        n = int(self.headers.get('Content-Length', '0'))\n"
	"        body = self.rfile.read(n).decode()\n"
	"        if urlparse(self.path).path.endswith('/events'):\n"
	"            EVENTS.append(body)\n"
	"        self.reply(201, json.dumps({'method': self.command, 'body': body,\n"
	"            'auth': self.headers.get('Authorization'), 'ctype': self.headers.get('Content-Type'),\n"
	"            'accept': self.headers.get('Accept')}))\n"
	"    do_POST = do_PUT = do_PATCH = do_DELETE = echo\n"
	"EVENTS = []\n"
	"class S(socketserver.ThreadingMixIn, http.server.HTTPServer):\n"
	"    daemon_threads = True\n"
	"    request_queue_size = 128\n"
	"    def handle_error(self, *a): pass  # clients that hang up are part of the tests\n"
	"s = S(('127.0.0.1', 0), H)\n"
	"print(s.server_address[1], flush=True)\n"
	"s.serve_forever()\n";

static uv_loop_t *loop;
static vk_http *http;
static vk_kube *kube;

typedef struct {
	int calls;
	long status;
	bool cached;
	char *error, *reason, *json;
} res;

static void on_res(const vk_kube_result *r, void *ud)
{
	res *x = ud;
	x->calls++;
	x->status = r->status;
	x->cached = r->cached;
	x->error = vk_strdup(r->error);
	x->reason = vk_strdup(r->reason);
	x->json = r->json ? cJSON_PrintUnformatted(r->json) : NULL;
}

static void res_free(res *x)
{
	free(x->error);
	free(x->reason);
	free(x->json);
}

static const char *jstr(const char *json, const char *key, char *out, size_t n)
{
	cJSON *j = cJSON_Parse(json ? json : "");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	snprintf(out, n, "%s", cJSON_IsString(v) ? v->valuestring : "(none)");
	cJSON_Delete(j);
	return out;
}

static void get_parses_json_and_maps_status_errors(void)
{
	res ok200 = {0}, nf = {0}, proxy = {0}, garbage = {0};
	vk_kube_get(kube, "/api/v1/namespaces/default/configmaps/cm1", on_res, &ok200);
	vk_kube_get(kube, "/api/v1/namespaces/default/configmaps/missing", on_res, &nf);
	vk_kube_get(kube, "/proxy-error", on_res, &proxy);
	vk_kube_get(kube, "/garbage", on_res, &garbage);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(ok200.status == 200 && ok200.json && strstr(ok200.json, "\"name\":\"cm1\"") && !ok200.error,
	   "200 gives the parsed object and no error");
	is_int(nf.status, 404, "404 status");
	is_str(nf.reason, "NotFound", "reason from the Status object");
	is_str(nf.error, "configmaps \"missing\" not found", "error is Status.message");
	is_str(proxy.error, "HTTP 502: bad gateway", "a non-Status error body is shown as text");
	ok(proxy.reason == NULL && proxy.json == NULL, "and has no reason or json");
	is_str(garbage.error, "response is not valid JSON", "invalid JSON on 200 is reported");
	res_free(&ok200);
	res_free(&nf);
	res_free(&proxy);
	res_free(&garbage);
}

static void send_json_sets_method_body_and_headers(void)
{
	res post = {0}, patch = {0}, del = {0};
	cJSON *body = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}");
	vk_kube_send_json(kube, "POST", "/api/v1/namespaces/default/configmaps", NULL, body, on_res, &post);
	vk_kube_send_json(kube, "PATCH", "/api/v1/namespaces/default/configmaps/x", "application/merge-patch+json",
	                  body, on_res, &patch);
	vk_kube_request(kube, "DELETE", "/api/v1/namespaces/default/configmaps/x", NULL, NULL, on_res, &del, NULL);
	cJSON_Delete(body);
	uv_run(loop, UV_RUN_DEFAULT);
	char b[256];
	is_int(post.status, 201, "POST answered");
	is_str(jstr(post.json, "method", b, sizeof b), "POST", "method POST");
	is_str(jstr(post.json, "body", b, sizeof b), "{\"metadata\":{\"name\":\"x\"}}", "body sent as compact JSON");
	is_str(jstr(post.json, "ctype", b, sizeof b), "application/json", "default content type");
	is_str(jstr(post.json, "auth", b, sizeof b), "Bearer test-token", "bearer token sent");
	is_str(jstr(post.json, "accept", b, sizeof b), "application/json", "Accept: application/json");
	is_str(jstr(patch.json, "method", b, sizeof b), "PATCH", "method PATCH");
	is_str(jstr(patch.json, "ctype", b, sizeof b), "application/merge-patch+json", "given content type");
	is_str(jstr(patch.json, "body", b, sizeof b), "{\"metadata\":{\"name\":\"x\"}}", "PATCH carries the body");
	is_str(jstr(del.json, "method", b, sizeof b), "DELETE", "method DELETE");
	is_str(jstr(del.json, "body", b, sizeof b), "", "DELETE without body");
	res_free(&post);
	res_free(&patch);
	res_free(&del);
}

static void cancelled_call_never_calls_back(void)
{
	res slow = {0}, fast = {0};
	vk_kube_call *c = NULL;
	is_int(vk_kube_request(kube, "GET", "/slow", NULL, NULL, on_res, &slow, &c), 0, "slow call started");
	vk_kube_get(kube, "/api/v1/namespaces/default/configmaps/cm1", on_res, &fast);
	vk_kube_cancel(c);
	uint64_t t0 = vk_now_ms();
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(slow.calls, 0, "cancelled call: no callback");
	is_int(fast.calls, 1, "the other call completes");
	ok(vk_now_ms() - t0 < 15000, "loop did not wait for the cancelled call (30 s)");
	is_int(vk_kube_request(kube, "GET", "api/v1", NULL, NULL, on_res, &slow, NULL), -22,
	       "a path without a leading / is -EINVAL");
	res_free(&slow);
	res_free(&fast);
}

/* ---- watches ---------------------------------------------------------- */
typedef struct {
	vk_kube_watch *w;
	int events, closes, stop_after;
	vk_buf log; /* "TYPE name;" per event */
	long status;
	char *error;
	char *query;
} wrec;

static void on_event(const char *type, cJSON *obj, void *ud)
{
	wrec *r = ud;
	r->events++;
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(obj, "query");
	vk_buf_printf(&r->log, "%s %s;", type, cJSON_IsString(name) ? name->valuestring : "?");
	if (!r->query && cJSON_IsString(q))
		r->query = vk_strdup(q->valuestring);
	if (r->stop_after && r->events == r->stop_after)
		vk_kube_watch_stop(r->w);
}

static void on_close(long status, const char *error, void *ud)
{
	wrec *r = ud;
	r->closes++;
	r->status = status;
	r->error = vk_strdup(error);
}

static void wrec_free(wrec *r)
{
	vk_buf_free(&r->log);
	free(r->error);
	free(r->query);
}

static void watch_events_split_across_chunks(void)
{
	wrec r = {0};
	is_int(vk_kube_watch_start(kube, "/watch/split?resourceVersion=5", on_event, on_close, &r, &r.w), 0,
	       "watch started");
	uv_run(loop, UV_RUN_DEFAULT);
	is_str(r.log.data, "ADDED a;MODIFIED b;DELETED c;",
	       "events cut in 7-byte chunks arrive whole, in order, blank line skipped, last without newline");
	is_str(r.query, "resourceVersion=5&watch=true", "watch=true added to the query");
	is_int(r.closes, 1, "on_close once");
	ok(r.status == 200 && r.error == NULL, "clean end: 200 and no error");
	wrec_free(&r);
}

static void watch_stop_inside_on_event(void)
{
	wrec r = {.stop_after = 3};
	vk_kube_watch_start(kube, "/watch/endless", on_event, on_close, &r, &r.w);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(r.events, 3, "no event after stop");
	is_int(r.closes, 0, "no on_close after stop");
	wrec_free(&r);
}

static void watch_failures_close_with_a_reason(void)
{
	wrec huge = {0}, bad = {0}, forb = {0};
	vk_kube_watch_start(kube, "/watch/huge", on_event, on_close, &huge, NULL);
	vk_kube_watch_start(kube, "/watch/badjson", on_event, on_close, &bad, NULL);
	vk_kube_watch_start(kube, "/watch/forbidden", on_event, on_close, &forb, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(huge.closes == 1 && huge.events == 0 && tap_streq(huge.error, "watch: event larger than 16 MiB"),
	   "a line over 16 MiB ends the watch (%s)", huge.error ? huge.error : "null");
	ok(bad.closes == 1 && tap_streq(bad.error, "watch: event is not valid JSON"),
	   "an invalid event ends the watch (%s)", bad.error ? bad.error : "null");
	is_int(forb.status, 403, "403 reaches on_close");
	is_str(forb.error, "configmaps is forbidden: User \"x\" cannot watch", "with the Status message");
	is_int(forb.events, 0, "and no event");
	wrec_free(&huge);
	wrec_free(&bad);
	wrec_free(&forb);
}

static void free_client_with_work_in_flight(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k2 = vk_kube_new(loop, http, &kc, &err);
	res a = {0};
	wrec w = {0};
	vk_kube_get(k2, "/slow", on_res, &a);
	vk_kube_watch_start(k2, "/watch/endless", on_event, on_close, &w, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	vk_kube_free(k2);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(a.calls == 0 && w.closes == 0, "vk_kube_free cancels calls and watches without callbacks");
	is_int(vk_http_active(http), 0, "nothing left in the engine");
	res_free(&a);
	wrec_free(&w);
}

static void token_file_is_re_read_when_it_changes(void)
{
	char path[] = "/tmp/vk-test-token-XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0 && write(fd, "tok-1\n", 6) == 6, "token file written");
	close(fd);
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "tok-1", .token_file = path};
	char *err = NULL, b[128];
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	res r1 = {0}, r2 = {0}, r3 = {0};
	vk_kube_request(k, "POST", "/echo", NULL, "{}", on_res, &r1, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	is_str(jstr(r1.json, "auth", b, sizeof b), "Bearer tok-1", "token from the file");
	usleep(20000); /* a visibly different mtime */
	FILE *f = fopen(path, "w");
	fputs("tok-2\n", f);
	fclose(f);
	vk_kube_request(k, "POST", "/echo", NULL, "{}", on_res, &r2, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	is_str(jstr(r2.json, "auth", b, sizeof b), "Bearer tok-1", "not re-read within the minute");
	k->token_checked_ms -= 61000; /* pretend a minute went by */
	vk_kube_request(k, "POST", "/echo", NULL, "{}", on_res, &r3, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	is_str(jstr(r3.json, "auth", b, sizeof b), "Bearer tok-2", "rotated token picked up after a minute");
	res_free(&r1);
	res_free(&r2);
	res_free(&r3);
	vk_kube_free(k);
	unlink(path);
}

/* ---- the link ---------------------------------------------------------- */
static void on_link(bool up, void *ud) { vk_buf_printf(ud, "%s;", up ? "up" : "down"); }
static void tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag is set or 20 s passed; a ticking timer makes
 * sure uv_run returns to look, even when only a silent socket is left. */
static bool run_until(const int *flag)
{
	uv_timer_t t;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, tick, 50, 50);
	uint64_t deadline = vk_now_ms() + 20000;
	while (!*flag && vk_now_ms() < deadline)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return *flag;
}

/* A black hole: the server accepted, then went silent.  A call that runs out
 * of time ends every connection to it, so a watch on another connection
 * ends too (TCP alone would have waited for many minutes), the link is
 * down, and the next call opens a fresh connection and brings it back. */
/* A GET the test server never answers, with MS to answer: it comes back
 * as a timeout. */
static void hang_call(vk_kube *k, long ms, res *hang)
{
	is_int(vk_kube_request_within(k, ms, "GET", "/hang", NULL, NULL, on_res, hang, NULL), 0,
	       "a call with %ld ms to answer started", ms);
	ok(run_until(&hang->calls), "the call came back");
	ok(hang->status == 0 && hang->error && strstr(hang->error, "timed out"), "with a timeout (%s)",
	   hang->error ? hang->error : "null");
}

static void silent_server_ends_connections_and_link_returns(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	vk_buf told = {0};
	vk_kube_link_listen(k, on_link, &told);
	ok(vk_kube_link_up(k), "a new client takes the link as up");
	wrec w = {0};
	vk_kube_watch_start(k, "/watch/silent", on_event, on_close, &w, &w.w);
	ok(run_until(&w.events), "the watch got its first event, then the server went silent");
	res hang = {0};
	hang_call(k, 300, &hang);
	ok(!vk_kube_link_up(k), "the link is down");
	ok(run_until(&w.closes), "the silent watch was ended too");
	ok(w.error != NULL, "with a transport error (%s)", w.error ? w.error : "null");
	int told_down = 0;
	for (uint64_t end = vk_now_ms() + 5000; !told_down && vk_now_ms() < end;) {
		uv_run(loop, UV_RUN_NOWAIT);
		told_down = told.data && strstr(told.data, "down;") != NULL;
	}
	is_str(told.data, "down;", "listeners were told once, after the call's own callback");
	res again = {0};
	vk_kube_get(k, "/api/v1/namespaces/default/configmaps/cm1", on_res, &again);
	ok(run_until(&again.calls) && again.status == 200, "the next call opens a fresh connection and is answered");
	ok(vk_kube_link_up(k), "the link is up again");
	int told_up = 0;
	for (uint64_t end = vk_now_ms() + 5000; !told_up && vk_now_ms() < end;) {
		uv_run(loop, UV_RUN_NOWAIT);
		told_up = strstr(told.data, "up;") != NULL;
	}
	is_str(told.data, "down;up;", "and listeners were told it is back");
	vk_kube_link_unlisten(k, on_link, &told);
	vk_kube_free(k);
	uv_run(loop, UV_RUN_DEFAULT);
	res_free(&hang);
	res_free(&again);
	wrec_free(&w);
	vk_buf_free(&told);
}

/* A slow server, not a silent one: a call runs out of time while a watch
 * keeps streaming.  Its connections stay (the watch goes on, nothing else
 * in flight is thrown away) and the link stays up; only the call fails. */
static void slow_call_while_the_server_streams_keeps_connections(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	vk_buf told = {0};
	vk_kube_link_listen(k, on_link, &told);
	wrec w = {0};
	vk_kube_watch_start(k, "/watch/endless", on_event, on_close, &w, &w.w);
	ok(run_until(&w.events), "the watch streams events");
	res hang = {0};
	/* 2 s: the server streams every 10 ms, so it speaks within the call's
	 * time even on a busy machine. */
	hang_call(k, 2000, &hang);
	ok(vk_kube_link_up(k), "the link stays up: the server spoke meanwhile");
	int before = w.events;
	for (uint64_t end = vk_now_ms() + 5000; w.events < before + 5 && !w.closes && vk_now_ms() < end;)
		uv_run(loop, UV_RUN_ONCE);
	is_int(w.closes, 0, "the watch was not ended");
	ok(w.events >= before + 5, "and its events go on (%d after the timeout)", w.events - before);
	for (uint64_t end = vk_now_ms() + 200; vk_now_ms() < end;)
		uv_run(loop, UV_RUN_NOWAIT);
	ok(told.data == NULL, "listeners heard nothing (%s)", told.data ? told.data : "");
	vk_kube_watch_stop(w.w);
	vk_kube_link_unlisten(k, on_link, &told);
	vk_kube_free(k);
	uv_run(loop, UV_RUN_DEFAULT);
	res_free(&hang);
	wrec_free(&w);
	vk_buf_free(&told);
}

/* The idle probe on a driven clock: with a watch open and nothing heard,
 * GET /version goes out after 20 s, not before, one at a time. */
static void idle_watch_is_probed_when_due(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	wrec w = {0};
	vk_kube_watch_start(k, "/watch/silent", on_event, on_close, &w, &w.w);
	ok(run_until(&w.events), "a watch got its first event, then silence");
	size_t base = vk_http_active(http);
	uint64_t t0 = vk_now_ms();
	vk_kube__link_tick(k, t0 + 5000);
	is_int((int)vk_http_active(http), (int)base, "5 s of silence: no probe");
	vk_kube__link_tick(k, t0 + 21000);
	is_int((int)vk_http_active(http), (int)base + 1, "over 20 s of silence with a watch open: a probe goes out");
	vk_kube__link_tick(k, t0 + 42000);
	is_int((int)vk_http_active(http), (int)base + 1, "one probe at a time");
	vk_kube_free(k);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int((int)vk_http_active(http), 0, "freeing the client cancels the probe and the watch");
	wrec_free(&w);
}

/* How many events the server got, asked by a client of its own (so that
 * asking does not bring the other client's link back). */
static int events_seen(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	res r = {0};
	vk_kube_get(k, "/events-seen", on_res, &r);
	run_until(&r.calls);
	cJSON *j = cJSON_Parse(r.json ? r.json : "");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "count");
	int count = cJSON_IsNumber(n) ? n->valueint : -1;
	cJSON_Delete(j);
	res_free(&r);
	vk_kube_free(k);
	return count;
}

static void events_wait_while_the_link_is_down(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	int before = events_seen();
	res hang = {0};
	vk_kube_request_within(k, 300, "GET", "/hang", NULL, NULL, on_res, &hang, NULL);
	run_until(&hang.calls);
	ok(!vk_kube_link_up(k), "the link is down");
	cJSON *pod = cJSON_Parse(
		"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u\"}}");
	for (int i = 0; i < 5; i++)
		vk_kube_event(k, "Pod", pod, "Normal", "Test", "node", "event %d", i);
	/* Long enough for the event queue to send, were it to. */
	for (uint64_t end = vk_now_ms() + 500; vk_now_ms() < end;)
		uv_run(loop, UV_RUN_NOWAIT);
	is_int(events_seen() - before, 0, "events recorded while the link is down wait");
	res again = {0};
	vk_kube_get(k, "/api/v1/namespaces/default/configmaps/cm1", on_res, &again);
	run_until(&again.calls);
	int sent = 0;
	for (uint64_t end = vk_now_ms() + 10000; sent < 5 && vk_now_ms() < end;) {
		for (uint64_t t = vk_now_ms() + 100; vk_now_ms() < t;)
			uv_run(loop, UV_RUN_NOWAIT);
		sent = events_seen() - before;
	}
	is_int(sent, 5, "and all go out once it is back");
	cJSON_Delete(pod);
	res_free(&hang);
	res_free(&again);
	vk_kube_free(k);
	uv_run(loop, UV_RUN_DEFAULT);
}

/* While the link is down, at most 1000 Events wait (client-go's broadcaster
 * keeps 1000): the oldest beyond are dropped and counted. */
static double metric_value(const char *name)
{
	char *t = vk_metrics_render(NULL);
	char *at = t;
	double v = -1;
	size_t n = strlen(name);
	while ((at = strstr(at, name))) {
		if ((at == t || at[-1] == '\n') && at[n] == ' ') {
			v = strtod(at + n + 1, NULL);
			break;
		}
		at += n;
	}
	free(t);
	return v;
}

static void events_beyond_the_bound_are_dropped_and_counted(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	double dropped0 = metric_value("vk_events_dropped_total");
	res hang = {0};
	vk_kube_request_within(k, 300, "GET", "/hang", NULL, NULL, on_res, &hang, NULL);
	run_until(&hang.calls);
	ok(!vk_kube_link_up(k), "the link is down");
	/* Distinct objects: neither merged as repeats nor combined as similar. */
	for (int i = 0; i < 1010; i++) {
		char *j = vk_asprintf(
			"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\",\"namespace\":\"default\",\"uid\":\"u%d\"}}",
			i, i);
		cJSON *pod = cJSON_Parse(j);
		vk_kube_event(k, "Pod", pod, "Normal", "Test", "node", "event %d", i);
		cJSON_Delete(pod);
		free(j);
	}
	is_int((long long)metric_value("vk_events_queued"), 1000, "1010 Events while the link is down: 1000 wait");
	is_int((long long)(metric_value("vk_events_dropped_total") - (dropped0 < 0 ? 0 : dropped0)), 10,
	       "the 10 beyond are dropped and counted in vk_events_dropped_total");
	res_free(&hang);
	vk_kube_free(k);
	uv_run(loop, UV_RUN_DEFAULT);
}

/* The correlator remembers Events by key (and similar ones by object):
 * once the object is gone for good, what is remembered about it goes too,
 * those still being written once written.  Memory follows live objects. */
static void events_about_a_gone_object_are_forgotten(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	int before = events_seen();
	cJSON *a = cJSON_Parse("{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"uid\":\"ua\"}}");
	cJSON *b = cJSON_Parse("{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\",\"uid\":\"ub\"}}");
	is_int((int)vk_kube_events_remembered(k), 0, "nothing remembered before the first event");
	for (int i = 0; i < 3; i++)
		vk_kube_event(k, "Pod", a, "Normal", "Test", "node", "about a %d", i);
	for (int i = 0; i < 2; i++)
		vk_kube_event(k, "Pod", b, "Normal", "Test", "node", "about b %d", i);
	is_int((int)vk_kube_events_remembered(k), 7, "5 events and 2 similar-keys remembered");
	vk_kube_events_forget(k, "ua");
	is_int((int)vk_kube_events_remembered(k), 6,
	       "a forgotten at once where idle (its similar-key); its events wait to be written");
	int sent = 0;
	for (uint64_t end = vk_now_ms() + 10000; sent < 5 && vk_now_ms() < end;) {
		for (uint64_t t = vk_now_ms() + 100; vk_now_ms() < t;)
			uv_run(loop, UV_RUN_NOWAIT);
		sent = events_seen() - before;
	}
	is_int(sent, 5, "all 5 events written, a's too");
	is_int((int)vk_kube_events_remembered(k), 3, "once written, a's events are forgotten; b's 2 and its key stay");
	vk_kube_events_forget(k, "nobody");
	vk_kube_events_forget(k, "");
	vk_kube_events_forget(k, NULL);
	is_int((int)vk_kube_events_remembered(k), 3, "an unknown, empty or missing uid forgets nothing");
	vk_kube_events_forget(k, "ub");
	is_int((int)vk_kube_events_remembered(k), 0, "b gone: nothing remembered");
	vk_kube_event(k, "Pod", b, "Normal", "Test", "node", "about b %d", 0);
	is_int((int)vk_kube_events_remembered(k), 2, "an event after that is remembered afresh");
	cJSON_Delete(a);
	cJSON_Delete(b);
	vk_kube_free(k);
	uv_run(loop, UV_RUN_DEFAULT);
}

/* Heap bytes in use, as the allocator counts them: AddressSanitizer's own
 * (what was asked for) in the sanitizer build, glibc's (with its headers)
 * otherwise. */
static size_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
#endif
}

/* A node with thousands of pods has an Event about each remembered (4096
 * at most, as client-go's LRU): what the correlator holds for one is part
 * of what vk costs per pod.  Budget: 800 bytes per object, the event waiting
 * to be sent included (about 650 measured with glibc; it was 1300 when keys
 * were kept as text). */
static void remembered_events_stay_small(void)
{
	char *err = NULL;
	vk_kubeconfig kc = {.server = (char *)vk_kube_server(kube), .token = "t"};
	vk_kube *k = vk_kube_new(loop, http, &kc, &err);
	res hang = {0};
	vk_kube_request_within(k, 300, "GET", "/hang", NULL, NULL, on_res, &hang, NULL);
	run_until(&hang.calls);
	ok(!vk_kube_link_up(k), "the link is down: the events wait, none is sent");
	enum { PODS = 4096 };
	cJSON *one = cJSON_Parse("{\"metadata\":{\"name\":\"p\",\"namespace\":\"bench\",\"uid\":\"u\"}}");
	vk_kube_event(k, "Pod", one, "Normal", "ProviderCreateSuccess", "edge-node-1", "warm-up");
	cJSON_Delete(one);
	size_t before = heap_in_use();
	for (int i = 0; i < PODS; i++) {
		char *j = vk_asprintf("{\"metadata\":{\"name\":\"web-7d4b9c6f5-%05d\",\"namespace\":\"bench\","
		                      "\"uid\":\"%08x-1b2c-4d5e-8f90-a1b2c3d4e5f6\"}}",
		                      i, (unsigned)i);
		cJSON *pod = cJSON_Parse(j);
		vk_kube_event(k, "Pod", pod, "Normal", "ProviderCreateSuccess", "edge-node-1",
		              "Create pod in provider successfully");
		cJSON_Delete(pod);
		free(j);
	}
	size_t after = heap_in_use();
	is_int((int)vk_kube_events_remembered(k), 2 * PODS,
	       "an Event and a similar-key remembered per object (4096 each at most)");
	double per = after > before ? (double)(after - before) / PODS : 0;
	ok(per > 100 && per <= 800, "%.0f bytes held per object with an Event (budget 800)", per);
	res_free(&hang);
	vk_kube_free(k);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void escape_encodes_selectors(void)
{
	char *s = vk_kube_escape("spec.nodeName=n1,status.phase!=Failed a/b~");
	is_str(s, "spec.nodeName%3Dn1%2Cstatus.phase%21%3DFailed%20a%2Fb~", "query values are percent-encoded");
	free(s);
}

/* ---- the read-through cache ------------------------------------------------ */

typedef struct {
	int puts, dels;
	char *last_path, *last_rv;
} hooks_seen;

static void hook_put(const char *path, const char *json, size_t len, const char *rv, void *ud)
{
	hooks_seen *h = ud;
	h->puts++;
	free(h->last_path);
	free(h->last_rv);
	h->last_path = vk_strdup(path);
	h->last_rv = vk_strdup(rv);
}

static void hook_del(const char *path, void *ud)
{
	hooks_seen *h = ud;
	h->dels++;
	free(h->last_path);
	h->last_path = vk_strdup(path);
}

/* ---- an informer started from stored objects, its API server unreachable ---- */

typedef struct {
	int upserts, deletes, synced;
} inf_seen;

static void inf_upsert(const char *key, const cJSON *obj, void *ud) { ((inf_seen *)ud)->upserts++; }
static void inf_delete(const char *key, const cJSON *old, void *ud) { ((inf_seen *)ud)->deletes++; }
static void inf_synced(void *ud) { ((inf_seen *)ud)->synced++; }
static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

static void seeded_informer_serves_stored_objects_while_unreachable(vk_kube *off)
{
	inf_seen seen = {0};
	vk_informer_opts o = {.what = "pods",
	                      .path = "/api/v1/pods",
	                      .selector = "spec.nodeName=n1",
	                      .on_upsert = inf_upsert,
	                      .on_delete = inf_delete,
	                      .on_synced = inf_synced,
	                      .ud = &seen};
	vk_informer *inf = vk_informer_new(loop, off, &o);
	const char *p1 = "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"41\"}}";
	const char *p2 = "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"b\",\"resourceVersion\":\"42\"}}";
	is_int(vk_informer_seed(inf, p1, strlen(p1)), 0, "a stored object seeds the informer");
	vk_informer_seed(inf, p2, strlen(p2));
	is_int(vk_informer_seed(inf, "{\"kind\":\"Pod\"}", 14), -EINVAL, "an object without a name is refused");
	vk_informer_seed_rv(inf, "42");
	vk_informer_start(inf);
	uv_timer_t t;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, stop_loop, 600, 0); /* a few reconnect attempts */
	uv_run(loop, UV_RUN_DEFAULT);
	cJSON *a = vk_informer_get(inf, "ns/a");
	ok(a && vk_informer_len(inf) == 2, "the stored objects are served while the API server cannot be reached");
	cJSON_Delete(a);
	is_str(vk_informer_rv(inf), "42", "the stored resourceVersion is reported until a list confirms the state");
	ok(vk_informer_seeded(inf) && !vk_informer_synced(inf), "the state is not taken as confirmed");
	ok(seen.synced == 0 && seen.deletes == 0 && seen.upserts == 0,
	   "no on_synced (nothing is deleted for being absent) and no events");
	vk_informer_close(inf);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void cached_get_remembers_forgets_and_answers_when_unreachable(int port)
{
	hooks_seen h = {0};
	vk_kube_cache_hooks hk = {.on_put = hook_put, .on_del = hook_del, .ud = &h};
	vk_kube_cache_set_hooks(kube, &hk);
	const char *cm = "/api/v1/namespaces/default/configmaps/cm1";
	const char *missing = "/api/v1/namespaces/default/configmaps/missing";

	res a = {0};
	vk_kube_get_cached(kube, cm, on_res, &a, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(a.status == 200 && !a.cached, "a cached GET that is answered is the server's answer");
	ok(h.puts == 1 && tap_streq(h.last_path, cm) && vk_kube_cache_has(kube, cm),
	   "its 200 is kept and the owner told");
	res a2 = {0};
	vk_kube_get_cached(kube, cm, on_res, &a2, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(h.puts, 1, "the same answer again tells the owner nothing (no store write)");

	res p = {0};
	vk_kube_get_cached(kube, "/proxy-error", on_res, &p, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(p.status == 502 && !p.cached, "a 5xx for a path never cached stays the 5xx");
	vk_kube_cache_seed(kube, "/proxy-error", "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kept\"}}", 48);
	res p2 = {0};
	vk_kube_get_cached(kube, "/proxy-error", on_res, &p2, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(p2.status == 200 && p2.cached && p2.json && strstr(p2.json, "\"kept\"") && !p2.error,
	   "a 5xx for a cached path is answered from the cache, marked cached");
	is_int(h.puts, 1, "a seed is not reported to the owner");

	vk_kube_cache_seed(kube, missing, "{\"kind\":\"ConfigMap\"}", 19);
	res m = {0};
	vk_kube_get_cached(kube, missing, on_res, &m, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	ok(m.status == 404 && !m.cached, "a 404 is the answer even with a cached copy");
	ok(!vk_kube_cache_has(kube, missing) && h.dels == 1 && tap_streq(h.last_path, missing),
	   "and the copy is forgotten, the owner told");
	vk_kube_cache_set_hooks(kube, NULL);

	/* A client whose API server cannot be reached at all (nothing listens). */
	int dead = port;
	for (int i = 0; i < 3; i++) /* a port next to the server's, checked free by a refused GET */
		dead = dead > 60000 ? dead - 7 : dead + 7;
	char url[64], *err = NULL;
	snprintf(url, sizeof url, "http://127.0.0.1:%d", dead);
	vk_kubeconfig kc = {.server = url};
	vk_kube *off = vk_kube_new(loop, http, &kc, &err);
	vk_kube_cache_seed(off, cm, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm1\"}}", 47);
	res o1 = {0}, o2 = {0};
	vk_kube_get_cached(off, cm, on_res, &o1, NULL);
	vk_kube_get_cached(off, missing, on_res, &o2, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	if (o2.status != 0) {
		tap_skip("something listens on the port picked as unreachable");
	} else {
		ok(o1.status == 200 && o1.cached && o1.json && strstr(o1.json, "\"cm1\""),
		   "unreachable API server: a cached path is answered from the cache");
		ok(o2.status == 0 && o2.error && !o2.cached, "and one never cached fails with the transport error");
		seeded_informer_serves_stored_objects_while_unreachable(off);
	}
	vk_kube_free(off);
	res *all[] = {&a, &a2, &p, &p2, &m, &o1, &o2};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		res_free(all[i]);
	free(h.last_path);
	free(h.last_rv);
}

int main(void)
{
	vk_json_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = uv_default_loop();
	pid_t pid;
	int port = pyserver_start(server_py, &pid);
	if (port < 0) {
		tap_skip("python3 test server did not start");
		pyserver_stop(pid);
		return tap_done();
	}
	http = vk_http_new(loop);
	char server[64], *err = NULL;
	snprintf(server, sizeof server, "http://127.0.0.1:%d/", port);
	vk_kubeconfig kc = {.server = server, .token = "test-token"};
	kube = vk_kube_new(loop, http, &kc, &err);
	server[strlen(server) - 1] = '\0';
	is_str(vk_kube_server(kube), server, "server URL kept without its trailing slash");
	get_parses_json_and_maps_status_errors();
	send_json_sets_method_body_and_headers();
	cancelled_call_never_calls_back();
	watch_events_split_across_chunks();
	watch_stop_inside_on_event();
	watch_failures_close_with_a_reason();
	free_client_with_work_in_flight();
	token_file_is_re_read_when_it_changes();
	silent_server_ends_connections_and_link_returns();
	slow_call_while_the_server_streams_keeps_connections();
	events_wait_while_the_link_is_down();
	events_beyond_the_bound_are_dropped_and_counted();
	events_about_a_gone_object_are_forgotten();
	remembered_events_stay_small();
	idle_watch_is_probed_when_due();
	escape_encodes_selectors();
	cached_get_remembers_forgets_and_answers_when_unreachable(port);
	vk_kube_free(kube);
	vk_http_close(http);
	uv_run(loop, UV_RUN_DEFAULT);
	pyserver_stop(pid);
	uv_loop_close(loop);
	curl_global_cleanup();
	return tap_done();
}
