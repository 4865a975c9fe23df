/* The kubelet API: its pure parsing, then a real server on 127.0.0.1 with a
 * provider written in C, called through vk's own curl engine on the same
 * loop (HTTP/1.1 and HTTP/2), with certificates made by openssl(1). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_int.h"
#include "tap.h"
#include "vk/metrics.h"
#include "vk/http.h"
#include "vk/json.h"
#include "vk/server.h"
#include "vk/util.h"

/* ---- pure parts ------------------------------------------------------------ */

static void test_unescape(void)
{
	char *s = vk_server__unescape("a%2Fb+c", 7, false);
	is_str(s, "a/b+c", "a path segment decodes %%2F and keeps +");
	free(s);
	s = vk_server__unescape("a%20b+c", 7, true);
	is_str(s, "a b c", "a query value decodes %%20 and + to spaces");
	free(s);
	ok(vk_server__unescape("a%2", 3, false) == NULL, "a short escape is refused");
	ok(vk_server__unescape("a%zz", 4, false) == NULL, "a non-hex escape is refused");
	ok(vk_server__unescape("a%00", 4, false) == NULL, "an escaped NUL is refused");
}

static void test_split(void)
{
	char *seg[6];
	const char *p = "/containerLogs/default/web-1/main";
	int n = vk_server__split_path(p, strlen(p), seg, 6);
	ok(n == 4 && strcmp(seg[0], "containerLogs") == 0 && strcmp(seg[1], "default") == 0 &&
	           strcmp(seg[2], "web-1") == 0 && strcmp(seg[3], "main") == 0,
	   "a logs path splits into 4 segments");
	for (int i = 0; i < n; i++)
		free(seg[i]);
	n = vk_server__split_path("/runningpods/", 13, seg, 6);
	ok(n == 1 && strcmp(seg[0], "runningpods") == 0, "a trailing slash is allowed");
	for (int i = 0; i < n; i++)
		free(seg[i]);
	is_int(vk_server__split_path("/", 1, seg, 6), 0, "/ has no segment");
	is_int(vk_server__split_path("/a//b", 5, seg, 6), -EINVAL, "an empty segment is refused");
	is_int(vk_server__split_path("/a/b/c", 6, seg, 2), -EINVAL, "too many segments are refused");
	is_int(vk_server__split_path("/a/%zz", 6, seg, 6), -EINVAL, "a bad escape in a segment is refused");
	is_int(vk_server__split_path("x", 1, seg, 6), -EINVAL, "a relative path is refused");
}

static void test_query(void)
{
	bool bad = false;
	const char *q = "tailLines=1&follow&x=a%26b&tailLines=7";
	char *v = vk_server__query_get(q, strlen(q), "tailLines", &bad);
	is_str(v, "7", "the last of repeated query keys wins");
	free(v);
	v = vk_server__query_get(q, strlen(q), "follow", &bad);
	is_str(v, "", "a key without = has an empty value");
	free(v);
	v = vk_server__query_get(q, strlen(q), "x", &bad);
	is_str(v, "a&b", "an escaped & stays in the value");
	free(v);
	ok(vk_server__query_get(q, strlen(q), "tail", &bad) == NULL && !bad, "a missing key is NULL");
	/* Keys are compared unescaped, in place: an escaped letter or a '+'
	 * matches, a prefix or a longer key does not. */
	q = "tail%4Cines=3&tailLinesX=4&tail=5&a+b=6";
	v = vk_server__query_get(q, strlen(q), "tailLines", &bad);
	is_str(v, "3", "an escaped key matches its unescaped name");
	free(v);
	v = vk_server__query_get(q, strlen(q), "a b", &bad);
	is_str(v, "6", "a '+' in a key is a space");
	free(v);
	ok(!bad, "good escapes do not make the query bad");
	q = "x%zz=1&follow=true";
	v = vk_server__query_get(q, strlen(q), "follow", &bad);
	ok(bad, "a bad escape in another key still makes the query bad");
	is_str(v, "true", "and the asked key is still found");
	free(v);
	bad = false;
	q = "fol%00low=1";
	ok(vk_server__query_get(q, strlen(q), "fol", &bad) == NULL && bad,
	   "an escaped NUL in a key is bad, not a prefix");
}

static void test_log_opts(void)
{
	vk_server_log_limits lim;
	char *err = NULL;
	const char *q =
		"tailLines=2&limitBytes=100&timestamps=true&previous=0&sinceSeconds=60&follow=1&sinceTime=2026-12-01T00%3A00%3A00Z";
	cJSON *o = vk_server__log_opts(q, strlen(q), &lim, &err);
	char *js = o ? cJSON_PrintUnformatted(o) : NULL;
	is_str(js,
	       "{\"tailLines\":2,\"limitBytes\":100,\"sinceSeconds\":60,\"timestamps\":true,\"previous\":false,"
	       "\"follow\":true,\"sinceTime\":\"2026-12-01T00:00:00Z\"}",
	       "every PodLogOptions query key becomes a typed opt");
	ok(lim.tail_lines == 2 && lim.limit_bytes == 100 && lim.follow, "tail, limit and follow are kept for the core");
	free(js);
	cJSON_Delete(o);

	o = vk_server__log_opts("", 0, &lim, &err);
	ok(o && !o->child && lim.tail_lines == -1 && lim.limit_bytes == -1 && !lim.follow,
	   "no query gives empty opts and no limits");
	cJSON_Delete(o);

	static const char *const bad[] = {"tailLines=-1", "tailLines=x", "timestamps=yes", "limitBytes=0",
	                                  "tailLines=%zz"};
	for (size_t i = 0; i < VK_ARRAY_LEN(bad); i++) {
		err = NULL;
		o = vk_server__log_opts(bad[i], strlen(bad[i]), &lim, &err);
		ok(!o && err, "'%s' is refused (%s)", bad[i], err ? err : "no message");
		free(err);
	}
}

static void test_authz_attrs(void)
{
	is_str(vk_server__authz_verb("GET", 3), "get", "GET is verb get");
	is_str(vk_server__authz_verb("POST", 4), "create", "POST is verb create (exec)");
	is_str(vk_server__authz_subresource("stats"), "stats", "/stats is nodes/stats");
	is_str(vk_server__authz_subresource("metrics"), "metrics", "/metrics is nodes/metrics");
	is_str(vk_server__authz_subresource("containerLogs"), "proxy", "/containerLogs is nodes/proxy, as in kubelet");
	is_str(vk_server__authz_subresource("pods"), "proxy", "/pods is nodes/proxy");
}

static char *trim(const char *text, long long tail, long long limit)
{
	vk_server_log_limits lim = {.tail_lines = tail, .limit_bytes = limit};
	size_t off, n = vk_server__log_trim(text, strlen(text), &lim, &off);
	return vk_asprintf("%.*s", (int)n, text + off);
}

static void test_trim(void)
{
	struct {
		const char *in;
		long long tail, limit;
		const char *want, *what;
	} c[] = {
		{"a\nb\nc\n", 1, -1, "c\n", "tailLines=1 keeps the last line"},
		{"a\nb\nc\n", 2, -1, "b\nc\n", "tailLines=2 keeps the last two lines"},
		{"a\nb\nc", 1, -1, "c", "an unterminated last line counts as a line"},
		{"a\nb\nc\n", 10, -1, "a\nb\nc\n", "more tailLines than lines keeps everything"},
		{"a\nb\nc\n", 0, -1, "", "tailLines=0 sends nothing"},
		{"a\nb\nc\n", -1, 3, "a\nb", "limitBytes cuts after that many bytes"},
		{"a\nb\nc\n", 2, 3, "b\nc", "tailLines applies before limitBytes"},
		{"", 1, -1, "", "empty logs stay empty"},
		{"\n\n", 1, -1, "\n", "an empty last line is a line"},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(c); i++) {
		char *got = trim(c[i].in, c[i].tail, c[i].limit);
		is_str(got, c[i].want, "%s", c[i].what);
		free(got);
	}
}

/* ---- a provider in C --------------------------------------------------------- */

typedef struct fake_call {
	uv_timer_t t;
	vk_provider_call c;
	vk_provider_cb cb;
	void *ud;
	struct fake_call *next;
} fake_call;

static struct {
	vk_provider p;
	bool hold; /* keep calls until close */
	fake_call *held;
	int logs_calls;
	char *ns, *name, *container;
	cJSON *opts;
	bool has_stats;
	bool stats_fail; /* stats_summary raises */
} fake;

static const char *fake_logs = "line one\nline two\nline three\n";

static void free_call(uv_handle_t *h) { free(h); }

static void answer(fake_call *fc, int err)
{
	vk_provider_result r = {.err = err};
	if (err) {
		r.errmsg = "fake.lua:1: cancelled";
	} else if (fc->c == VK_CALL_CONTAINER_LOGS) {
		if (strcmp(fake.name, "missing") == 0) {
			r.err = -EIO;
			r.errmsg = "fake.lua:9: pod default/missing not found\nstack traceback: ...";
		} else {
			r.value = cJSON_CreateString(fake_logs);
		}
	} else if (fc->c == VK_CALL_GET_PODS) {
		r.value = cJSON_Parse("[{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\",\"uid\":\"u1\"},"
		                      "\"status\":{\"phase\":\"Running\",\"startTime\":\"2026-12-01T06:00:00Z\"}}]");
	} else if (fc->c == VK_CALL_STATS_SUMMARY && fake.stats_fail) {
		r.err = -EIO;
		r.errmsg = "fake.lua:7: the runtime is down";
	} else if (fc->c == VK_CALL_STATS_SUMMARY) {
		r.value = cJSON_Parse("{\"node\":{\"nodeName\":\"from-provider\",\"memory\":{\"workingSetBytes\":7}},"
		                      "\"pods\":[]}");
	}
	fc->cb(&r, fc->ud);
	uv_close((uv_handle_t *)&fc->t, free_call);
}

static void on_fake_timer(uv_timer_t *t) { answer((fake_call *)t, 0); }

static int fake_call_op(vk_provider *p, vk_provider_call c, const cJSON *pod, const char *ns, const char *name,
                        vk_provider_cb cb, void *ud)
{
	if (c != VK_CALL_CONTAINER_LOGS && c != VK_CALL_GET_PODS && !(c == VK_CALL_STATS_SUMMARY && fake.has_stats))
		return -ENOSYS;
	if (c == VK_CALL_CONTAINER_LOGS) {
		fake.logs_calls++;
		free(fake.ns);
		free(fake.name);
		free(fake.container);
		cJSON_Delete(fake.opts);
		fake.ns = vk_strdup(ns);
		fake.name = vk_strdup(name);
		const cJSON *ct = cJSON_GetObjectItemCaseSensitive(pod, "container");
		fake.container = vk_strdup(cJSON_IsString(ct) ? ct->valuestring : NULL);
		fake.opts = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(pod, "opts"), 1);
	}
	fake_call *fc = vk_xcalloc(1, sizeof *fc);
	fc->c = c;
	fc->cb = cb;
	fc->ud = ud;
	uv_timer_init(uv_default_loop(), &fc->t);
	if (fake.hold) {
		fc->next = fake.held;
		fake.held = fc;
	} else {
		uv_timer_start(&fc->t, on_fake_timer, 0, 0);
	}
	return 0;
}

static bool fake_has(vk_provider *p, vk_provider_call c)
{
	return c == VK_CALL_CONTAINER_LOGS || c == VK_CALL_GET_PODS;
}

static void fake_close(vk_provider *p)
{
	while (fake.held) {
		fake_call *fc = fake.held;
		fake.held = fc->next;
		answer(fc, -ECANCELED);
	}
}

/* container_logs with follow: a script per test, driven from the loop. */
enum { FL_LINES, FL_FLOOD, FL_WAIT, FL_LIMIT, FL_ERR_FIRST, FL_ERR_LATER };

static struct {
	int mode, step;
	vk_provider_out *out;
	vk_provider_cb cb;
	void *ud;
	uv_timer_t tick;
	bool active, in_write, cb_in_write, saw_closed, last_ok;
	int falses;
	uint64_t t0;
	size_t written;
} fl;

static void fl_finish(const char *value, const char *errmsg)
{
	vk_provider_result r = {.err = errmsg ? -EIO : 0, .errmsg = errmsg};
	r.value = value ? cJSON_CreateString(value) : NULL;
	fl.active = false;
	fl.cb(&r, fl.ud);
}

static void fl_next(void);

static void fl_written(void *arg, bool ok)
{
	(void)arg;
	if (fl.in_write)
		fl.cb_in_write = true;
	fl.last_ok = ok;
	if (!ok)
		fl.falses++;
	fl_next();
}

static bool fl_write(const char *s, size_t n)
{
	fl.in_write = true;
	int rc = fl.out->write(fl.out, s, n, fl_written, NULL);
	fl.in_write = false;
	if (rc == 0)
		fl.written += n;
	return rc == 0;
}

static void fl_on_tick(uv_timer_t *t)
{
	(void)t;
	fl_next();
}

static void fl_next(void)
{
	static char chunk[64 << 10];
	int step = fl.step++;
	switch (fl.mode) {
	case FL_LINES:
		if (step == 0)
			fl_write("a\n", 2);
		else if (step == 1)
			fl_write("b\n", 2);
		else
			fl_finish("c\n", NULL);
		break;
	case FL_FLOOD:
		if (step == 0)
			fl.t0 = vk_now_ms();
		if (step > 0 && (!fl.last_ok || vk_now_ms() - fl.t0 >= 1000)) {
			fl_finish(NULL, NULL);
			break;
		}
		memset(chunk, 'a' + step % 26, sizeof chunk);
		if (!fl_write(chunk, sizeof chunk))
			fl_finish(NULL, NULL);
		break;
	case FL_WAIT: /* one line, then wait for the client to leave */
		if (step == 0) {
			fl_write("first\n", 6);
		} else if (fl.out->closed(fl.out)) {
			fl.saw_closed = true;
			fl_finish(NULL, NULL);
		} else if (step < 1000) {
			uv_timer_start(&fl.tick, fl_on_tick, 20, 0);
		} else {
			fl_finish(NULL, NULL);
		}
		break;
	case FL_LIMIT:
		if (step == 0)
			fl_write("abc\n", 4);
		else if (step == 1 && fl.last_ok)
			fl_write("defgh\n", 6);
		else
			fl_finish(fl.out->write(fl.out, "x", 1, fl_written, NULL) == -EPIPE ? NULL : "more", NULL);
		break;
	case FL_ERR_FIRST: fl_finish(NULL, "fake.lua:3: container x not found\nstack traceback: ..."); break;
	case FL_ERR_LATER:
		if (step == 0)
			fl_write("partial\n", 8);
		else
			fl_finish(NULL, "fake.lua:4: the runtime went away");
		break;
	}
}

static int fake_follow_logs(vk_provider *p, const char *ns, const char *name, const cJSON *args, vk_provider_out *out,
                            vk_provider_cb cb, void *ud)
{
	(void)p;
	(void)ns;
	(void)name;
	(void)args;
	fl.out = out;
	fl.cb = cb;
	fl.ud = ud;
	fl.step = 0;
	fl.written = 0;
	fl.falses = 0;
	fl.active = true;
	fl.saw_closed = fl.cb_in_write = false;
	uv_timer_start(&fl.tick, fl_on_tick, 0, 0); /* never from inside the call */
	return 0;
}

static const vk_provider_iface fake_iface = {
	.call = fake_call_op, .has = fake_has, .close = fake_close, .follow_logs = fake_follow_logs};

/* ---- a client on the same loop --------------------------------------------- */

static uv_loop_t *loop;
static vk_http *http;
static char dir[] = "/tmp/vk-test-server-XXXXXX";
static char path_ca[300], path_ccert[300], path_ckey[300], path_rcert[300], path_rkey[300], path_scert[300],
	path_skey[300];

typedef struct {
	bool done;
	long status;
	CURLcode code;
	char *body;
	long version;
} fetched;

static void on_fetched(vk_http_req *r, const vk_http_resp *resp, void *ud)
{
	fetched *f = ud;
	f->done = true;
	f->status = resp->status;
	f->code = resp->code;
	f->body = vk_strdup(resp->body ? resp->body : "");
	curl_easy_getinfo(resp->easy, CURLINFO_HTTP_VERSION, &f->version);
}

enum { ANON = 0, CLIENT = 1, ROGUE = 2 };

/* Starts a GET; *f is filled when it ends. */
static vk_http_req *last_req;
static curl_off_t recv_speed; /* bytes/s the client reads at most; 0: no limit */
static bool forbid_reuse;     /* the client closes its connection after the request */

static struct curl_slist *extra_headers; /* for the next requests, when set */

static void start_get(int port, const char *path, int who, bool h2, const char *cainfo, fetched *f)
{
	char url[512];
	snprintf(url, sizeof url, "https://127.0.0.1:%d%s", port, path);
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	if (cainfo) {
		curl_easy_setopt(e, CURLOPT_CAINFO, cainfo);
	} else {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, h2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
	if (extra_headers)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, extra_headers);
	if (h2) /* not the HTTP/1.1 connection of the last request */
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	if (who == CLIENT) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, path_ccert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, path_ckey);
	} else if (who == ROGUE) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, path_rcert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, path_rkey);
	}
	if (recv_speed)
		curl_easy_setopt(e, CURLOPT_MAX_RECV_SPEED_LARGE, recv_speed);
	if (forbid_reuse)
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	memset(f, 0, sizeof *f);
	vk_http_opts o = {.on_done = on_fetched, .ud = f};
	if (vk_http_start(http, e, NULL, &o, &last_req) < 0) {
		curl_easy_cleanup(e);
		f->done = true;
	}
}

static void run_until(bool *flag)
{
	uint64_t t0 = vk_now_ms();
	while (!*flag && vk_now_ms() - t0 < 15000)
		uv_run(loop, UV_RUN_ONCE);
}

static fetched get(int port, const char *path, int who, bool h2)
{
	fetched f;
	start_get(port, path, who, h2, NULL, &f);
	run_until(&f.done);
	return f;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int make_certs(void)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(path_ca, sizeof path_ca, "%s/ca.crt", dir);
	snprintf(path_ccert, sizeof path_ccert, "%s/client.crt", dir);
	snprintf(path_ckey, sizeof path_ckey, "%s/client.key", dir);
	snprintf(path_rcert, sizeof path_rcert, "%s/rogue.crt", dir);
	snprintf(path_rkey, sizeof path_rkey, "%s/rogue.key", dir);
	snprintf(path_scert, sizeof path_scert, "%s/serving.crt", dir);
	snprintf(path_skey, sizeof path_skey, "%s/serving.key", dir);
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
	return sh("cd %s && exec >/dev/null 2>&1 && "
	          "printf 'extendedKeyUsage=clientAuth\\n' >client.ext && "
	          "printf 'extendedKeyUsage=serverAuth\\nsubjectAltName=IP:127.0.0.1\\n' >server.ext && "
	          "openssl req -x509 %s -keyout ca.key -out ca.crt -subj /CN=test-ca -days 1 "
	          "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
	          "openssl req %s -keyout client.key -out client.csr "
	          "-subj '/O=system:masters/CN=kube-apiserver-kubelet-client' && "
	          "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 1 "
	          "-extfile client.ext -out client.crt && "
	          "openssl req %s -keyout serving.key -out serving.csr -subj /CN=node-0 && "
	          "openssl x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -set_serial 3 -days 1 "
	          "-extfile server.ext -out serving.crt && "
	          "openssl req -x509 %s -keyout rogue.key -out rogue.crt -subj /CN=rogue -days 1",
	          dir, ec, ec, ec, ec);
}

static bool anonymous_auth; /* start_server's --anonymous-auth */

static vk_server *start_server(const char *cert, const char *key, const char *ca, char **err)
{
	cJSON *node = cJSON_Parse("{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"},"
	                          "{\"type\":\"Hostname\",\"address\":\"node-0\"}]}}");
	vk_server_opts o = {
		.loop = loop,
		.provider = &fake.p,
		.nodename = "node-0",
		.address = "127.0.0.1",
		.port = 0,
		.tls_cert_file = cert,
		.tls_key_file = key,
		.client_ca_file = ca,
		.node = node,
		.anonymous_auth = anonymous_auth,
	};
	vk_server *s = vk_server_new(&o, err);
	cJSON_Delete(node);
	return s;
}

static void count_tcp(uv_handle_t *h, void *arg)
{
	if (h->type == UV_TCP && !uv_is_closing(h))
		(*(int *)arg)++;
}

/* The server's listener and connections (curl's sockets are uv_poll). */
static int tcp_handles(void)
{
	int n = 0;
	uv_walk(loop, count_tcp, &n);
	return n;
}

static void test_serving(void)
{
	char *err = NULL;
	vk_server *s = start_server(NULL, NULL, path_ca, &err);
	ok(s != NULL, "a server with a self-signed certificate starts (%s)", err ? err : "no error");
	if (!s) {
		free(err);
		return;
	}
	int port = vk_server_port(s);
	ok(port > 0, "it listens on a free port (%d)", port);

	fetched f = get(port, "/healthz", ANON, false);
	ok(f.status == 200 && strcmp(f.body, "ok") == 0, "/healthz answers ok to an anonymous client (%ld)", f.status);
	free(f.body);
	f = get(port, "/pods", ANON, false);
	is_int(f.status, 401, "an anonymous /pods is 401");
	free(f.body);
	f = get(port, "/containerLogs/default/web-1/main", ANON, false);
	ok(f.status == 401 && fake.logs_calls == 0, "anonymous logs are 401 and never reach the provider");
	free(f.body);
	f = get(port, "/pods", ROGUE, false);
	ok(f.status == 0 && f.code != CURLE_OK, "a client certificate from another CA fails the handshake (%s)",
	   curl_easy_strerror(f.code));
	free(f.body);

	f = get(port, "/pods", CLIENT, false);
	cJSON *j = cJSON_Parse(f.body);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
	ok(f.status == 200 && cJSON_IsArray(items) && cJSON_GetArraySize(items) == 1 &&
	           strcmp(cJSON_GetObjectItemCaseSensitive(j, "kind")->valuestring, "PodList") == 0,
	   "/pods with the client certificate is a PodList of the provider's pods");
	cJSON_Delete(j);
	free(f.body);

	f = get(port, "/containerLogs/default/web-1/main?tailLines=1&timestamps=true", CLIENT, false);
	is_str(f.body, "line three\n", "tailLines=1 sends the last line of the provider's logs");
	ok(f.status == 200 && tap_streq(fake.ns, "default") && tap_streq(fake.name, "web-1") &&
	           tap_streq(fake.container, "main"),
	   "container_logs got namespace, pod and container");
	char *js = fake.opts ? cJSON_PrintUnformatted(fake.opts) : NULL;
	is_str(js, "{\"tailLines\":1,\"timestamps\":true}", "container_logs got the options");
	free(js);
	free(f.body);

	f = get(port, "/containerLogs/default/web-1/main", CLIENT, true);
	ok(f.status == 200 && f.version == CURL_HTTP_VERSION_2_0 && strcmp(f.body, fake_logs) == 0,
	   "logs over HTTP/2 with the client certificate are the provider's text (version %ld)", f.version);
	free(f.body);
	f = get(port, "/pods", ANON, true);
	is_int(f.status, 401, "an anonymous /pods over HTTP/2 is 401 too");
	free(f.body);

	f = get(port, "/containerLogs/default/missing/main", CLIENT, false);
	ok(f.status == 404 && strstr(f.body, "pod default/missing not found") && !strstr(f.body, "traceback"),
	   "a provider's 'not found' error is a 404 with its first line (%.*s)", (int)strcspn(f.body, "\n"), f.body);
	free(f.body);
	f = get(port, "/containerLogs/default/web-1/main?tailLines=x", CLIENT, false);
	ok(f.status == 400 && strstr(f.body, "tailLines"), "a bad tailLines is a 400 that names it");
	free(f.body);

	f = get(port, "/stats/summary", CLIENT, false);
	j = cJSON_Parse(f.body);
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(j, "node");
	const cJSON *pods = cJSON_GetObjectItemCaseSensitive(j, "pods");
	ok(f.status == 200 &&
	           tap_streq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(node, "nodeName")), "node-0") &&
	           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(node, "startTime")) &&
	           cJSON_GetArraySize(pods) == 1,
	   "without stats_summary, /stats/summary is a minimal summary with the node and its pods");
	cJSON_Delete(j);
	free(f.body);
	fake.has_stats = true;
	f = get(port, "/stats/summary", CLIENT, false);
	ok(f.status == 200 && strstr(f.body, "from-provider"), "with stats_summary, /stats/summary is the provider's");
	j = cJSON_Parse(f.body);
	node = cJSON_GetObjectItemCaseSensitive(j, "node");
	ok(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "memory"),
	                                                         "workingSetBytes")) == 7 &&
	           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "cpu"),
	                                                                 "usageCoreNanoSeconds")) > 0 &&
	           cJSON_GetObjectItemCaseSensitive(node, "fs") && cJSON_GetObjectItemCaseSensitive(node, "startTime"),
	   "... with the host's cpu, fs and startTime added, and the provider's own node.memory kept");
	cJSON_Delete(j);
	free(f.body);
	f = get(port, "/metrics/resource", CLIENT, false);
	ok(f.status == 200 && strstr(f.body, "\nnode_cpu_usage_seconds_total ") && strstr(f.body, "\nscrape_error 0\n"),
	   "/metrics/resource is the Prometheus text of the same summary");
	free(f.body);
	fake.stats_fail = true;
	f = get(port, "/metrics/resource", CLIENT, false);
	ok(f.status == 200 && strstr(f.body, "\nnode_cpu_usage_seconds_total ") &&
	           strstr(f.body, "\nscrape_error 1\n") && strstr(f.body, "\nresource_scrape_error 1\n"),
	   "a failing stats_summary: /metrics/resource still has the node's series, with scrape_error 1");
	free(f.body);
	f = get(port, "/stats/summary", CLIENT, false);
	ok(f.status == 500 && strstr(f.body, "the runtime is down"),
	   "... and /stats/summary is a 500 with its message");
	free(f.body);
	fake.stats_fail = false;
	fake.has_stats = false;

	f = get(port, "/exec/default/web-1/main?command=ls&output=1", CLIENT, false);
	ok(f.status == 400 && strstr(f.body, "\"status\":\"Failure\"") && strstr(f.body, "Upgrade request required"),
	   "exec without an upgrade is a 400 Status that says an upgrade is required");
	free(f.body);
	extra_headers = curl_slist_append(NULL, "Connection: Upgrade");
	extra_headers = curl_slist_append(extra_headers, "Upgrade: SPDY/3.1");
	extra_headers = curl_slist_append(extra_headers, "X-Stream-Protocol-Version: v4.channel.k8s.io");
	extra_headers = curl_slist_append(extra_headers, "X-Stream-Protocol-Version: portforward.k8s.io");
	f = get(port, "/exec/default/web-1/main?command=ls&output=1", CLIENT, false);
	ok(f.status == 501 && strstr(f.body, "\"reason\":\"NotImplemented\"") && strstr(f.body, "has no exec callback"),
	   "an exec upgrade to a provider without exec is a 501 Status that says so (%ld)", f.status);
	free(f.body);
	f = get(port, "/portForward/default/web-1", CLIENT, false);
	ok(f.status == 501 && strstr(f.body, "has no port_forward callback"),
	   "a portForward upgrade to a provider without port_forward is a 501 Status that says so (%ld)", f.status);
	curl_slist_free_all(extra_headers);
	extra_headers = NULL;
	free(f.body);
	vk_metrics_init();
	f = get(port, "/metrics", CLIENT, false);
	ok(f.status == 200 && strstr(f.body, "# TYPE "), "/metrics is Prometheus text");
	free(f.body);

	/* A client that leaves while its call waits at the provider: the late
	 * answer finds no request (HTTP/2 resets the stream) or a dead
	 * connection (HTTP/1.1), and nothing breaks. */
	for (int h2 = 0; h2 < 2; h2++) {
		fake.hold = true;
		int n0 = fake.logs_calls;
		start_get(port, "/containerLogs/default/web-1/main", CLIENT, h2, NULL, &f);
		uint64_t t1 = vk_now_ms();
		while (fake.logs_calls == n0 && vk_now_ms() - t1 < 5000)
			uv_run(loop, UV_RUN_ONCE);
		vk_http_cancel(last_req);
		t1 = vk_now_ms();
		while (vk_now_ms() - t1 < 200)
			uv_run(loop, UV_RUN_NOWAIT);
		fake.hold = false;
		fake_close(&fake.p); /* answers the held call (as cancelled) */
		t1 = vk_now_ms();
		while (vk_now_ms() - t1 < 200)
			uv_run(loop, UV_RUN_NOWAIT);
		fetched g = get(port, "/healthz", CLIENT, h2);
		ok(g.status == 200, "after a client left mid-call over %s, the server still answers",
		   h2 ? "HTTP/2" : "HTTP/1.1");
		free(g.body);
	}

	/* Close while a logs call waits at the provider: the client gets 503
	 * once the provider closes, and every handle goes away. */
	fake.hold = true;
	int before = fake.logs_calls;
	start_get(port, "/containerLogs/default/web-1/main", CLIENT, false, NULL, &f);
	uint64_t t0 = vk_now_ms();
	while (fake.logs_calls == before && vk_now_ms() - t0 < 5000)
		uv_run(loop, UV_RUN_ONCE);
	vk_server_close(s);
	fake_close(&fake.p);
	run_until(&f.done);
	ok(f.status == 503, "a call pending at close is answered 503 when the provider closes (%ld)", f.status);
	free(f.body);
	fake.hold = false;

	/* curl still keeps idle HTTP/1.1 and HTTP/2 connections to it: the
	 * server closes them itself. */
	t0 = vk_now_ms();
	while (tcp_handles() > 0 && vk_now_ms() - t0 < 30000)
		uv_run(loop, UV_RUN_ONCE);
	uint64_t ms = vk_now_ms() - t0;
	/* curl would keep them for minutes; a busy machine takes seconds */
	ok(tcp_handles() == 0 && ms < 20000, "a closed server drops the idle connections clients keep (%llu ms)",
	   (unsigned long long)ms);
}

/* --anonymous-auth with AlwaysAllow (no kube): a request without a client
 * certificate is served as system:anonymous; a bad certificate still fails. */
static void test_anonymous(void)
{
	char *err = NULL;
	anonymous_auth = true;
	vk_server *s = start_server(NULL, NULL, path_ca, &err);
	anonymous_auth = false;
	ok(s != NULL, "a server with anonymous_auth starts (%s)", err ? err : "no error");
	free(err);
	if (!s)
		return;
	int port = vk_server_port(s);
	int calls = fake.logs_calls;
	fetched f = get(port, "/pods", ANON, false);
	cJSON *j = cJSON_Parse(f.body);
	ok(f.status == 200 && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "items")),
	   "with anonymous_auth and AlwaysAllow, an anonymous /pods is a PodList (%ld)", f.status);
	cJSON_Delete(j);
	free(f.body);
	f = get(port, "/containerLogs/default/web-1/main", ANON, true);
	ok(f.status == 200 && fake.logs_calls == calls + 1 && strcmp(f.body, fake_logs) == 0,
	   "an anonymous request over HTTP/2 reaches the provider's container_logs (%ld)", f.status);
	free(f.body);
	f = get(port, "/pods", ROGUE, false);
	ok(f.status == 0 && f.code != CURLE_OK,
	   "a client certificate from another CA still fails the handshake, it is not anonymous (%s)",
	   curl_easy_strerror(f.code));
	free(f.body);
	f = get(port, "/pods", CLIENT, false);
	is_int(f.status, 200, "a good client certificate is served as before");
	free(f.body);
	vk_server_close(s);
}

static double follows_now(void)
{
	return vk_metric_get(vk_metric_new(VK_METRIC_GAUGE, "vk_server_log_follows", "", NULL));
}

/* follow=true: the provider writes through `out` while the response stays
 * open, over HTTP/1.1 and HTTP/2. */
static void test_follow(void)
{
	char *err = NULL;
	vk_server *s = start_server(NULL, NULL, path_ca, &err);
	ok(s != NULL, "a server for the follows starts (%s)", err ? err : "no error");
	free(err);
	if (!s)
		return;
	int port = vk_server_port(s);
	uv_timer_init(loop, &fl.tick);
	for (int h2 = 0; h2 < 2; h2++) {
		const char *v = h2 ? "HTTP/2" : "HTTP/1.1";
		fl.mode = FL_LINES;
		fetched f = get(port, "/containerLogs/default/web-1/main?follow=true", CLIENT, h2);
		ok(f.status == 200 && tap_streq(f.body, "a\nb\nc\n") && !fl.cb_in_write,
		   "%s: what the provider writes, then what it returns, in order; each write's answer comes from the "
		   "loop, not from inside write (%ld '%s')",
		   v, f.status, f.body);
		free(f.body);

		/* A client that reads 512 KiB/s: the provider's writes wait for it. */
		fl.mode = FL_FLOOD;
		recv_speed = 2 << 20;
		start_get(port, "/containerLogs/default/web-1/main?follow=true", CLIENT, h2, NULL, &f);
		recv_speed = 0;
		run_until(&f.done);
		size_t got = f.body ? strlen(f.body) : 0;
		/* 1 s at 2 MiB/s, plus what the sockets hold; without backpressure
		 * the provider would write gigabytes meanwhile. */
		ok(f.status == 200 && got == fl.written && fl.written >= (64u << 10) && fl.written < (24u << 20),
		   "%s: a slow client slows the provider: %zu bytes written in 1 s to a client reading 2 MiB/s, "
		   "all %zu received (%ld)",
		   v, fl.written, got, f.status);
		free(f.body);

		/* The client leaves mid-follow, closing its connection (HTTP/1.1
		 * has no other way; curl would keep an HTTP/2 connection whose
		 * stream it resets, without sending the reset until it next uses
		 * the connection): the provider is told (closed). */
		fl.mode = FL_WAIT;
		fl.step = 0;
		forbid_reuse = true;
		start_get(port, "/containerLogs/default/web-1/main?follow=true", CLIENT, h2, NULL, &f);
		forbid_reuse = false;
		uint64_t t0 = vk_now_ms();
		while (!(fl.active && fl.step >= 3) && vk_now_ms() - t0 < 10000)
			uv_run(loop, UV_RUN_ONCE);
		ok(follows_now() == 1,
		   "%s: /metrics counts the follow being streamed (%g; step %d, active %d, written %zu)", v,
		   follows_now(), fl.step, fl.active, fl.written);
		vk_http_cancel(last_req);
		t0 = vk_now_ms();
		while (fl.active && vk_now_ms() - t0 < 15000)
			uv_run(loop, UV_RUN_ONCE);
		ok(fl.saw_closed && !fl.active, "%s: a client that leaves closes out, and the provider returns", v);
		t0 = vk_now_ms();
		while (follows_now() != 0 && vk_now_ms() - t0 < 5000)
			uv_run(loop, UV_RUN_ONCE);
		is_int((int)follows_now(), 0, "%s: and the follow is gone from /metrics", v);

		fl.mode = FL_LIMIT;
		f = get(port, "/containerLogs/default/web-1/main?follow=true&limitBytes=5", CLIENT, h2);
		ok(f.status == 200 && tap_streq(f.body, "abc\nd") && fl.falses == 1,
		   "%s: limitBytes cuts the write that reaches it, which returns false, and refuses the next (%s)", v,
		   f.body);
		free(f.body);

		fl.mode = FL_ERR_FIRST;
		f = get(port, "/containerLogs/default/web-1/main?follow=true", CLIENT, h2);
		ok(f.status == 404 && strstr(f.body, "container x not found") && !strstr(f.body, "traceback"),
		   "%s: an error before the first write is an answer with its status (%ld)", v, f.status);
		free(f.body);
		fl.mode = FL_ERR_LATER;
		f = get(port, "/containerLogs/default/web-1/main?follow=true", CLIENT, h2);
		ok(f.status == 200 && tap_streq(f.body, "partial\n"),
		   "%s: an error after it ends the response after what was written (%ld)", v, f.status);
		free(f.body);
	}
	uv_close((uv_handle_t *)&fl.tick, NULL);
	vk_server_close(s);
}

static void test_files(void)
{
	char *err = NULL;
	vk_server *s = start_server(path_scert, path_skey, path_ca, &err);
	ok(s != NULL, "a server with --tls-cert-file/--tls-private-key-file starts (%s)", err ? err : "no error");
	free(err);
	if (!s)
		return;
	fetched f;
	start_get(vk_server_port(s), "/healthz", ANON, false, path_ca, &f);
	run_until(&f.done);
	ok(f.status == 200, "its certificate verifies against the CA (%s)", curl_easy_strerror(f.code));
	free(f.body);
	vk_server_close(s);

	err = NULL;
	s = start_server(path_scert, NULL, NULL, &err);
	ok(!s && err && strstr(err, "go together"), "a certificate without a key is refused (%s)", err);
	free(err);
	err = NULL;
	s = start_server("/nonexistent.crt", path_skey, NULL, &err);
	ok(!s && err && strstr(err, "/nonexistent.crt"), "a missing certificate file is named (%s)", err);
	free(err);
	err = NULL;
	s = start_server(path_ccert, path_skey, NULL, &err);
	ok(!s && err && strstr(err, "does not match"), "a key that does not match is refused (%s)", err);
	free(err);
}

/* ---- /pods from the pod controller, streamed (pod_list.c) -------------- */

#define LIST_PODS 3000
static struct {
	int built;     /* pods get_fn built */
	int gone;      /* this one is gone since the names were taken */
	char pad[600]; /* an annotation, so that a pod is some 700 bytes */
} pl;

static size_t pl_names(void *ud, vk_server_pod_name_cb cb, void *arg)
{
	(void)ud;
	char name[32];
	for (int i = 0; i < LIST_PODS; i++) {
		snprintf(name, sizeof name, "p-%d", i);
		cb(i % 2 ? "ns-b" : "ns-a", name, arg);
	}
	return LIST_PODS;
}

static cJSON *pl_get(void *ud, const char *ns, const char *name)
{
	(void)ud;
	if (atoi(name + 2) == pl.gone)
		return NULL;
	pl.built++;
	cJSON *pod = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), "pad", pl.pad);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(pod, "status"), "phase", "Running");
	return pod;
}

/* Every pod but the gone one, in the names' order, each whole. */
static bool pl_list_ok(const char *body, char *why, size_t n)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
	bool good = cJSON_IsArray(items) && tap_streq(vk_json_str(j, "kind"), "PodList") &&
	            tap_streq(vk_json_str(j, "apiVersion"), "v1");
	int i = 0, want = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, items) {
		if (want == pl.gone)
			want++;
		char name[32];
		snprintf(name, sizeof name, "p-%d", want);
		if (!tap_streq(vk_json_str(it, "metadata.name"), name) ||
		    !tap_streq(vk_json_str(it, "metadata.namespace"), want % 2 ? "ns-b" : "ns-a") ||
		    strlen(vk_json_str(it, "metadata.annotations.pad") ? vk_json_str(it, "metadata.annotations.pad")
		                                                       : "") != sizeof pl.pad - 1) {
			snprintf(why, n, "item %d is not %s, whole", i, name);
			good = false;
			break;
		}
		i++, want++;
	}
	if (good && i != LIST_PODS - 1) {
		snprintf(why, n, "%d items", i);
		good = false;
	}
	cJSON_Delete(j);
	return good;
}

static void test_pod_list(void)
{
	char *err = NULL;
	vk_server *s = start_server(NULL, NULL, path_ca, &err);
	ok(s != NULL, "a server for /pods starts (%s)", err ? err : "no error");
	free(err);
	if (!s)
		return;
	int port = vk_server_port(s);
	memset(pl.pad, 'x', sizeof pl.pad - 1);
	pl.gone = 1500;
	vk_server_set_pods(s, pl_names, pl_get, NULL);
	for (int h2 = 0; h2 < 2; h2++) {
		const char *v = h2 ? "HTTP/2" : "HTTP/1.1";
		char why[128] = "";
		pl.built = 0;
		fetched f = get(port, "/pods", CLIENT, h2);
		ok(f.status == 200 && f.code == CURLE_OK && pl_list_ok(f.body, why, sizeof why),
		   "%s: /pods is a PodList of every pod, in order, the one gone since the names were taken left out "
		   "(%ld, %s, %s)",
		   v, f.status, curl_easy_strerror(f.code), why);
		is_int(pl.built, LIST_PODS - 1, "%s: each pod is built once", v);
		size_t max = vk_server__pod_list_max_chunk();
		ok(max >= (32u << 10) && max < (64u << 10) + 1024,
		   "%s: it went out in chunks of 64 KiB at most, plus one pod (largest %zu bytes), not all at once", v,
		   max);
		free(f.body);

		/* The pod controller goes away mid-listing (vk stops): the answer
		 * is cut, not ended as a shorter list that looks whole. */
		pl.built = 0;
		recv_speed = 256 << 10;
		start_get(port, "/pods", CLIENT, h2, NULL, &f);
		recv_speed = 0;
		uint64_t t0 = vk_now_ms();
		while (pl.built < 200 && !f.done && vk_now_ms() - t0 < 10000)
			uv_run(loop, UV_RUN_ONCE);
		vk_server_set_pods(s, NULL, NULL, NULL);
		int at_cut = pl.built;
		run_until(&f.done);
		cJSON *j = f.body ? cJSON_Parse(f.body) : NULL;
		ok(at_cut >= 200 && at_cut < LIST_PODS - 1 && pl.built == at_cut,
		   "%s: pods are built as the client takes them (%d of %d built when the controller went away)", v,
		   at_cut, LIST_PODS - 1);
		ok(f.done && (f.code != CURLE_OK || !j), "%s: the cut answer fails at the client (%s)", v,
		   curl_easy_strerror(f.code));
		cJSON_Delete(j);
		free(f.body);
		vk_server_set_pods(s, pl_names, pl_get, NULL);

		/* The client leaves mid-listing: the listing is freed (LeakSanitizer
		 * would tell), and the next one is whole. */
		pl.built = 0;
		recv_speed = 256 << 10;
		forbid_reuse = true;
		start_get(port, "/pods", CLIENT, h2, NULL, &f);
		recv_speed = 0;
		forbid_reuse = false;
		t0 = vk_now_ms();
		while (pl.built < 200 && !f.done && vk_now_ms() - t0 < 10000)
			uv_run(loop, UV_RUN_ONCE);
		ok(!f.done, "%s: a slow client is still reading after 200 pods", v);
		vk_http_cancel(last_req);
		t0 = vk_now_ms();
		while (vk_now_ms() - t0 < 300)
			uv_run(loop, UV_RUN_NOWAIT);
		f = get(port, "/pods", CLIENT, h2);
		ok(f.status == 200 && pl_list_ok(f.body, why, sizeof why),
		   "%s: after a client left mid-listing, the next /pods is whole (%ld, %s)", v, f.status, why);
		free(f.body);
	}
	vk_server_close(s);
}

int main(void)
{
	vk_json_init();
	signal(SIGPIPE, SIG_IGN); /* as vk does: a client that resets must not kill us */
	test_unescape();
	test_split();
	test_query();
	test_log_opts();
	test_trim();
	test_authz_attrs();

	if (system("openssl version >/dev/null 2>&1") != 0) {
		tap_skip("no openssl(1) to make certificates");
		return tap_done();
	}
	if (make_certs() != 0) {
		ok(false, "openssl made the test certificates in %s", dir);
		return tap_done();
	}
	loop = uv_default_loop();
	http = vk_http_new(loop);
	fake.p.iface = &fake_iface;
	fake.p.name = "fake";
	test_serving();
	test_anonymous();
	test_follow();
	test_files();
	test_pod_list();
	vk_http_close(http);
	uint64_t t0 = vk_now_ms();
	uv_run(loop, UV_RUN_DEFAULT);
	uint64_t ms = vk_now_ms() - t0;
	ok(ms < 20000, "after close, the loop ends once the connections drained (%llu ms)", (unsigned long long)ms);
	is_int(uv_loop_close(loop), 0, "no handle is left on the loop");
	free(fake.ns);
	free(fake.name);
	free(fake.container);
	cJSON_Delete(fake.opts);
	sh("rm -rf %s", dir);
	return tap_done();
}
