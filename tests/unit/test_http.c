/* http engine: real transfers on a libuv loop against a small HTTP/1.1
 * server that this test starts on 127.0.0.1 (python3, stopped by PID). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyserver.h"
#include "tap.h"
#include "vk/http.h"
#include "vk/json.h"
#include "vk/util.h"

static const char *server_py =
	"import sys, time, http.server, socketserver\n"
	"from urllib.parse import urlparse, parse_qs\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def send_body(self, body):\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Length', str(len(body)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(body)\n"
	"    def chunk(self, b):\n"
	"        self.wfile.write(b'%x\\r\\n' % len(b) + b + b'\\r\\n')\n"
	"        self.wfile.flush()\n"
	"    def do_GET(self):\n"
	"        u = urlparse(self.path); q = parse_qs(u.query)\n"
	"        n = int(q.get('n', ['0'])[0])\n"
	"        if u.path == '/hello':\n"
	"            self.send_body(b'hello world')\n"
	"        elif u.path == '/bytes':\n"
	"            self.send_body(b'x' * n)\n"
	"        elif u.path == '/slow':\n"
	"            time.sleep(30); self.send_body(b'slow')\n"
	"        elif u.path in ('/chunked', '/stream'):\n"
	"            self.send_response(200)\n"
	"            self.send_header('Transfer-Encoding', 'chunked')\n"
	"            self.end_headers()\n"
	"            try:\n"
	"                if u.path == '/chunked':\n"
	"                    for i in range(0, n, 1000): self.chunk(b'y' * min(1000, n - i))\n"
	"                else:\n"
	"                    i = 0\n"
	"                    while n == 0 or i < n:\n"
	"                        self.chunk(b'line %d\\n' % i); i += 1; time.sleep(0.03)\n"
	"                self.wfile.write(b'0\\r\\n\\r\\n')\n"
	"            except (BrokenPipeError, ConnectionResetError):\n"
	"                pass\n"
	"        else:\n"
	"            self.send_response(404); self.send_header('Content-Length', '0'); self.end_headers()\n"
	"    def do_POST(self):\n"
	"        n = int(self.headers.get('Content-Length', '0'))\n"
	"        self.send_body(self.rfile.read(n))\n"
	"class S(socketserver.ThreadingMixIn, http.server.HTTPServer):\n"
	"    daemon_threads = True\n"
	"    request_queue_size = 128\n"
	"    def handle_error(self, *a): pass  # clients that hang up are part of the tests\n"
	"s = S(('127.0.0.1', 0), H)\n"
	"print(s.server_address[1], flush=True)\n"
	"s.serve_forever()\n";

static pid_t server_pid;
static int server_port;
static uv_loop_t *loop;

static int server_start(void)
{
	server_port = pyserver_start(server_py, &server_pid);
	return server_port > 0 ? 0 : -1;
}

static void server_stop(void) { pyserver_stop(server_pid); }

static CURL *easy_for(const char *path)
{
	CURL *e = curl_easy_init();
	char url[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server_port, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	return e;
}

/* ---- a generic per-request record ------------------------------------- */
typedef struct rec_s {
	int done;
	long status;
	CURLcode code;
	char *error;
	size_t body_len;
	char *body;
	bool body_null;
	long connects;
	int chunks;
	vk_buf streamed;
	vk_http_req *req;
	/* actions */
	int cancel_after_chunks;     /* cancel self from on_data */
	int abort_after_chunks;      /* return non-zero from on_data */
	vk_http_req *cancel_other;   /* cancel from on_done */
	vk_http *close_on_data;      /* close the engine from on_data */
	vk_http *close_on_done;      /* close the engine from on_done */
	vk_http_req *cancel_on_data; /* cancel another transfer from on_data */
	vk_http *start_on_data;      /* start another transfer from on_data */
	struct rec_s *started;
} rec;

static void rec_free(rec *r)
{
	free(r->error);
	free(r->body);
	vk_buf_free(&r->streamed);
}

static int start_req(vk_http *h, const char *path, rec *r, bool stream, size_t max_body);

static int on_data(vk_http_req *req, const char *d, size_t n, void *ud)
{
	rec *r = ud;
	r->chunks++;
	vk_buf_append(&r->streamed, d, n);
	if (r->close_on_data) {
		vk_http_close(r->close_on_data);
		return 0;
	}
	if (r->cancel_on_data && r->chunks == 1)
		vk_http_cancel(r->cancel_on_data);
	if (r->start_on_data && r->chunks == 1)
		start_req(r->start_on_data, "/hello", r->started, false, 0);
	if (r->cancel_after_chunks && r->chunks == r->cancel_after_chunks)
		vk_http_cancel(req);
	if (r->abort_after_chunks && r->chunks == r->abort_after_chunks)
		return 1;
	return 0;
}

static void on_done(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	rec *r = ud;
	r->done++;
	r->status = resp->status;
	r->code = resp->code;
	r->error = vk_strdup(resp->error);
	r->body_null = resp->body == NULL;
	r->body_len = resp->body_len;
	if (resp->body)
		r->body = vk_strdup(resp->body);
	curl_easy_getinfo(resp->easy, CURLINFO_NUM_CONNECTS, &r->connects);
	if (r->cancel_other)
		vk_http_cancel(r->cancel_other);
	if (r->close_on_done)
		vk_http_close(r->close_on_done);
}

static int start_req(vk_http *h, const char *path, rec *r, bool stream, size_t max_body)
{
	vk_http_opts o = {.on_data = stream ? on_data : NULL, .on_done = on_done, .ud = r, .max_body = max_body};
	return vk_http_start(h, easy_for(path), NULL, &o, &r->req);
}

/* ---- tests ------------------------------------------------------------ */

static void fifty_parallel_gets_all_complete(void)
{
	vk_http *h = vk_http_new(loop);
	rec r[50] = {0};
	for (int i = 0; i < 50; i++) {
		char path[64];
		snprintf(path, sizeof path, "/bytes?n=%d", i * 1000);
		start_req(h, path, &r[i], false, 0);
	}
	is_int(vk_http_active(h), 50, "50 transfers in flight");
	uv_run(loop, UV_RUN_DEFAULT);
	int good = 0;
	for (int i = 0; i < 50; i++)
		good += r[i].done == 1 && r[i].status == 200 && r[i].code == CURLE_OK &&
		        r[i].body_len == (size_t)i * 1000 && r[i].body && strlen(r[i].body) == r[i].body_len;
	is_int(good, 50, "all 50 parallel GETs completed once with the right body");
	is_int(vk_http_active(h), 0, "nothing in flight afterwards");
	for (int i = 0; i < 50; i++)
		rec_free(&r[i]);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

typedef struct {
	vk_http *h;
	rec first, second;
} chain;

static void on_first_done(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	chain *c = ud;
	on_done(req, resp, &c->first);
	start_req(c->h, "/hello", &c->second, false, 0); /* from inside on_done */
}

static void keepalive_connection_is_reused(void)
{
	chain c = {.h = vk_http_new(loop)};
	vk_http_opts o = {.on_done = on_first_done, .ud = &c};
	vk_http_start(c.h, easy_for("/hello"), NULL, &o, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	is_str(c.first.body, "hello world", "first GET answered");
	is_str(c.second.body, "hello world", "second GET, started from on_done, answered");
	is_int(c.first.connects, 1, "first GET opened a connection");
	is_int(c.second.connects, 0, "second GET reused it (no new connect)");
	rec_free(&c.first);
	rec_free(&c.second);
	vk_http_close(c.h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void post_with_headers_echoes_body(void)
{
	vk_http *h = vk_http_new(loop);
	rec r = {0};
	CURL *e = easy_for("/echo");
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "{\"a\":1}");
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	vk_http_opts o = {.on_done = on_done, .ud = &r};
	is_int(vk_http_start(h, e, hd, &o, NULL), 0, "POST started");
	uv_run(loop, UV_RUN_DEFAULT);
	is_str(r.body, "{\"a\":1}", "POST body echoed");
	rec_free(&r);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void streamed_body_arrives_in_chunks(void)
{
	vk_http *h = vk_http_new(loop);
	rec r = {0};
	start_req(h, "/stream?n=5", &r, true, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(r.done, 1, "on_done called once");
	ok(r.body_null, "no buffered body when on_data is used");
	is_str(r.streamed.data, "line 0\nline 1\nline 2\nline 3\nline 4\n", "on_data saw the whole stream");
	ok(r.chunks >= 2, "the stream came in several on_data calls (%d)", r.chunks);
	rec_free(&r);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void cancel_inside_on_data_stops_everything(void)
{
	vk_http *h = vk_http_new(loop);
	rec r = {.cancel_after_chunks = 2};
	start_req(h, "/stream", &r, true, 0); /* endless stream */
	uv_run(loop, UV_RUN_DEFAULT);         /* returns only if nothing is left */
	is_int(r.done, 0, "cancelled transfer never calls on_done");
	is_int(r.chunks, 2, "no on_data after the cancel");
	is_int(vk_http_active(h), 0, "nothing in flight");
	rec_free(&r);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void on_data_abort_reports_write_error(void)
{
	vk_http *h = vk_http_new(loop);
	rec r = {.abort_after_chunks = 1};
	start_req(h, "/stream", &r, true, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(r.done, 1, "aborted transfer calls on_done");
	is_int(r.code, CURLE_WRITE_ERROR, "with CURLE_WRITE_ERROR");
	ok(r.error != NULL, "and a message (%s)", r.error ? r.error : "null");
	rec_free(&r);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void cancel_from_another_on_done(void)
{
	vk_http *h = vk_http_new(loop);
	rec slow = {0}, fast = {0};
	start_req(h, "/slow", &slow, false, 0);
	fast.cancel_other = slow.req;
	start_req(h, "/hello", &fast, false, 0);
	uint64_t t0 = vk_now_ms();
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(fast.done, 1, "fast request completed");
	is_int(slow.done, 0, "slow request, cancelled from the other's on_done, never completes");
	ok(vk_now_ms() - t0 < 15000, "loop did not wait for the cancelled transfer (30 s)");
	rec_free(&slow);
	rec_free(&fast);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void max_body_caps_buffered_and_streamed_bodies(void)
{
	vk_http *h = vk_http_new(loop);
	rec known = {0}, chunked = {0}, streamed = {0}, fits = {0};
	start_req(h, "/bytes?n=10000", &known, false, 1000);
	start_req(h, "/chunked?n=10000", &chunked, false, 1000);
	start_req(h, "/chunked?n=10000", &streamed, true, 1000);
	start_req(h, "/bytes?n=1000", &fits, false, 1000);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(known.code, CURLE_FILESIZE_EXCEEDED, "Content-Length over the cap fails");
	is_int(chunked.code, CURLE_FILESIZE_EXCEEDED, "chunked body over the cap fails");
	is_int(streamed.code, CURLE_FILESIZE_EXCEEDED, "streamed body over the cap fails");
	ok(streamed.streamed.len <= 1000, "no more than the cap reached on_data (%zu)", streamed.streamed.len);
	ok(known.error && strstr(known.error, "1000"), "message names the cap (%s)", known.error);
	is_int(fits.code, CURLE_OK, "a body exactly at the cap is fine");
	is_int(fits.body_len, 1000, "and complete");
	rec_free(&known);
	rec_free(&chunked);
	rec_free(&streamed);
	rec_free(&fits);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	bind(fd, (struct sockaddr *)&a, sizeof a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd); /* nobody listens there now */
	return ntohs(a.sin_port);
}

static void connection_refused_is_reported(void)
{
	vk_http *h = vk_http_new(loop);
	rec r = {0};
	CURL *e = curl_easy_init();
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", free_port());
	curl_easy_setopt(e, CURLOPT_URL, url);
	vk_http_opts o = {.on_done = on_done, .ud = &r};
	vk_http_start(h, e, NULL, &o, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(r.done, 1, "refused transfer completes once");
	is_int(r.code, CURLE_COULDNT_CONNECT, "with CURLE_COULDNT_CONNECT");
	is_int(r.status, 0, "and status 0");
	ok(r.error && *r.error, "and a message (%s)", r.error ? r.error : "null");
	rec_free(&r);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void start_error_never_calls_back(void)
{
	vk_http *h = vk_http_new(loop);
	CURL *e = curl_easy_init();
	vk_http_opts o = {0}; /* no on_done */
	is_int(vk_http_start(h, e, NULL, &o, NULL), -EINVAL, "start without on_done is -EINVAL");
	curl_easy_cleanup(e); /* still ours */
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void close_with_transfers_in_flight_calls_nothing(void)
{
	vk_http *h = vk_http_new(loop);
	rec r[5] = {0};
	for (int i = 0; i < 5; i++)
		start_req(h, i % 2 ? "/slow" : "/stream", &r[i], i % 2 == 0, 0);
	/* Let the requests get going, then close. */
	uv_run(loop, UV_RUN_NOWAIT);
	uv_run(loop, UV_RUN_NOWAIT);
	vk_http_close(h);
	CURL *late = easy_for("/hello");
	vk_http_opts lo = {.on_done = on_done, .ud = &r[0]};
	is_int(vk_http_start(h, late, NULL, &lo, NULL), -ESHUTDOWN, "start after close is -ESHUTDOWN");
	curl_easy_cleanup(late);
	uint64_t t0 = vk_now_ms();
	uv_run(loop, UV_RUN_DEFAULT);
	int calls = 0;
	for (int i = 0; i < 5; i++)
		calls += r[i].done;
	is_int(calls, 0, "closing the engine calls no on_done");
	ok(vk_now_ms() - t0 < 15000, "and the loop ends without waiting for them (30 s)");
	for (int i = 0; i < 5; i++)
		rec_free(&r[i]);
}

static void close_from_inside_on_data(void)
{
	vk_http *h = vk_http_new(loop);
	rec a = {0}, b = {0};
	a.close_on_data = h;
	start_req(h, "/stream", &a, true, 0);
	start_req(h, "/slow", &b, false, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(a.chunks, 1, "on_data ran once, closed the engine");
	is_int(a.done + b.done, 0, "no on_done after the close");
	rec_free(&a);
	rec_free(&b);
}

static void start_and_cancel_from_inside_on_data(void)
{
	vk_http *h = vk_http_new(loop);
	rec a = {.cancel_after_chunks = 3}, slow = {0}, hello = {0};
	start_req(h, "/slow", &slow, false, 0);
	a.cancel_on_data = slow.req;
	a.start_on_data = h;
	a.started = &hello;
	start_req(h, "/stream", &a, true, 0);
	uint64_t t0 = vk_now_ms();
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(slow.done, 0, "a transfer cancelled from another's on_data never completes");
	is_str(hello.body, "hello world", "a transfer started from inside on_data runs");
	ok(vk_now_ms() - t0 < 15000, "nothing waited for the cancelled transfer (30 s)");
	rec_free(&a);
	rec_free(&slow);
	rec_free(&hello);
	vk_http_close(h);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void close_from_inside_on_done(void)
{
	vk_http *h = vk_http_new(loop);
	rec a = {.close_on_done = h}, b = {0};
	start_req(h, "/hello", &a, false, 0);
	start_req(h, "/slow", &b, false, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(a.done, 1, "on_done ran and closed the engine");
	is_int(b.done, 0, "the other transfer gets no callback");
	rec_free(&a);
	rec_free(&b);
}

int main(void)
{
	vk_json_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = uv_default_loop();
	if (server_start() < 0) {
		tap_skip("python3 HTTP test server did not start");
		server_stop();
		return tap_done();
	}
	fifty_parallel_gets_all_complete();
	keepalive_connection_is_reused();
	post_with_headers_echoes_body();
	streamed_body_arrives_in_chunks();
	cancel_inside_on_data_stops_everything();
	on_data_abort_reports_write_error();
	cancel_from_another_on_done();
	max_body_caps_buffered_and_streamed_bodies();
	connection_refused_is_reported();
	start_error_never_calls_back();
	close_with_transfers_in_flight_calls_nothing();
	close_from_inside_on_data();
	start_and_cancel_from_inside_on_data();
	close_from_inside_on_done();
	server_stop();
	uv_loop_close(loop);
	curl_global_cleanup();
	return tap_done();
}
