/* vk.http.request{method=, url=, headers=, body=, timeout_ms=, insecure=,
 *                 http2=, netns=}
 *   -> {status=, headers={lower-case name = value}, body=}, or nil, err
 * on a transport failure.  The transfer runs on the shared curl multi
 * handle (vk/http.h); the coroutine yields until it ends.  Trailers (a
 * gRPC answer's grpc-status) are in headers too.  http2=true speaks
 * HTTP/2 from the first byte (prior knowledge, as gRPC over cleartext
 * does).  netns=PATH makes the connection inside that network namespace
 * (vk/net.h): the url's host must then be an IP address, and the
 * connection is used for this request only. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "vk/net.h"
#include "vk/util.h"

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_BODY (64u << 20)

typedef struct {
	vk_lua_op *op;
	vk_http_req *req;
	vk_http_opts opts;
	vk_http *http;
	/* while the socket is being made in the namespace (netns=) */
	vk_net_req *nreq;
	CURL *easy;
	struct curl_slist *headers;
	char *url; /* for messages */
} http_call;

static void call_free(http_call *c)
{
	free(c->url);
	free(c);
}

static int push_response(lua_State *L, void *ud)
{
	const vk_http_resp *r = ud;
	if (r->code != CURLE_OK) {
		lua_pushnil(L);
		lua_pushfstring(L, "vk.http.request: %s", r->error ? r->error : curl_easy_strerror(r->code));
		return 2;
	}
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, r->status);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
	lua_setfield(L, -2, "body");
	lua_newtable(L);
	struct curl_header *hd = NULL;
	while (r->easy && (hd = curl_easy_nextheader(r->easy, CURLH_HEADER | CURLH_TRAILER, -1, hd))) {
		luaL_Buffer b;
		luaL_buffinit(L, &b);
		for (const char *c = hd->name; *c; c++)
			luaL_addchar(&b, (char)tolower((unsigned char)*c));
		luaL_pushresult(&b);
		lua_pushvalue(L, -1);
		if (lua_rawget(L, -3) == LUA_TSTRING) { /* repeated: join as HTTP does */
			lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), hd->value);
			lua_remove(L, -2);
		} else {
			lua_pop(L, 1);
			lua_pushstring(L, hd->value);
		}
		lua_rawset(L, -3);
	}
	lua_setfield(L, -2, "headers");
	return 1;
}

static void on_done(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	http_call *c = ud;
	vk_lua_op *op = c->op;
	call_free(c);
	vk_lua_op_finish(op, push_response, (void *)resp);
}

static void on_cancel(void *ud)
{
	http_call *c = ud;
	vk_lua_op *op = c->op;
	if (c->nreq) {
		vk_net_socket_cancel(c->nreq);
		curl_easy_cleanup(c->easy);
		curl_slist_free_all(c->headers);
	} else {
		vk_http_cancel(c->req);
	}
	call_free(c);
	vk_lua_op_finish(op, NULL, NULL);
}

static int push_msg(lua_State *L, void *ud)
{
	lua_pushnil(L);
	lua_pushstring(L, ud);
	return 2;
}

/* The socket made in the namespace: now the transfer starts on it. */
static void on_socket(int fd, int err, void *ud)
{
	http_call *c = ud;
	c->nreq = NULL;
	int rc = err;
	if (fd >= 0) {
		c->opts.use_socket = true;
		c->opts.socket = fd;
		rc = vk_http_start(c->http, c->easy, c->headers, &c->opts, &c->req);
		if (rc == 0)
			return;
		close(fd);
	}
	char *msg = vk_asprintf("vk.http.request %s: network namespace: %s", c->url, strerror(-rc));
	vk_lua_op *op = c->op;
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	call_free(c);
	vk_lua_op_finish(op, push_msg, msg);
	free(msg);
}

/* The address family of the url's host, which must be an IP address. */
static int url_family(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int family = -1;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		unsigned char a[sizeof(struct in6_addr)];
		size_t n = strlen(host);
		if (inet_pton(AF_INET, host, a) == 1) {
			family = AF_INET;
		} else if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
			host[n - 1] = '\0';
			if (inet_pton(AF_INET6, host + 1, a) == 1)
				family = AF_INET6;
		}
	}
	curl_free(host);
	curl_url_cleanup(u);
	return family;
}

static const char *opt_string(lua_State *L, const char *field, size_t *len)
{
	lua_getfield(L, 1, field);
	const char *s = NULL;
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "vk.http.request: %s must be a string", field);
		s = lua_tolstring(L, -1, len);
	}
	lua_pop(L, 1); /* the string stays alive in the argument table */
	return s;
}

static int l_request(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	size_t blen = 0;
	const char *url = opt_string(L, "url", NULL);
	const char *method = opt_string(L, "method", NULL);
	const char *body = opt_string(L, "body", &blen);
	if (!url)
		return luaL_error(L, "vk.http.request: url is required");
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return luaL_error(L, "vk.http.request: url must start with http:// or https://");
	lua_getfield(L, 1, "timeout_ms");
	lua_Integer timeout = luaL_optinteger(L, -1, DEFAULT_TIMEOUT_MS);
	lua_pop(L, 1);
	lua_getfield(L, 1, "insecure");
	bool insecure = lua_toboolean(L, -1);
	lua_getfield(L, 1, "http2");
	bool http2 = lua_toboolean(L, -1);
	lua_pop(L, 2);
	const char *netns = opt_string(L, "netns", NULL);
	int family = 0;
	if (netns && !*netns)
		return luaL_error(L, "vk.http.request: netns must be a path, not empty");
	if (netns && (family = url_family(url)) < 0)
		return luaL_error(L, "vk.http.request: with netns, the url's host must be an IP address: %s", url);
	vk_http *http = vk_lua_http(L);
	if (!http)
		return luaL_error(L, "vk.http.request: no HTTP engine");

	/* Headers first: a bad one raises before anything is allocated in C. */
	lua_getfield(L, 1, "headers");
	int hidx = lua_gettop(L);
	if (!lua_isnil(L, hidx))
		luaL_checktype(L, hidx, LUA_TTABLE);
	struct curl_slist *hl = NULL;
	if (lua_istable(L, hidx)) {
		lua_pushnil(L);
		while (lua_next(L, hidx)) {
			if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1)) {
				curl_slist_free_all(hl);
				return luaL_error(L, "vk.http.request: headers must map names to strings");
			}
			char *line = vk_asprintf("%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
			struct curl_slist *n = curl_slist_append(hl, line);
			free(line);
			if (!n) {
				curl_slist_free_all(hl);
				return luaL_error(L, "vk.http.request: out of memory");
			}
			hl = n;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);

	vk_lua_op *op = vk_lua_op_new(L, "vk.http.request");
	CURL *e = curl_easy_init();
	if (!e) {
		curl_slist_free_all(hl);
		vk_lua_op_finish(op, NULL, NULL);
		return luaL_error(L, "vk.http.request: out of memory");
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
	if (insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
	}
	if (http2)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	if (method && !strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (method && strcmp(method, body ? "POST" : "GET"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);

	http_call *c = vk_xcalloc(1, sizeof *c);
	c->op = op;
	c->opts.on_done = on_done;
	c->opts.ud = c;
	c->opts.max_body = MAX_BODY;
	c->http = http;
	if (netns) {
		c->easy = e;
		c->headers = hl;
		c->url = vk_strdup(url);
		int rc = vk_net_socket(vk_lua_loop(L), netns, family, on_socket, c, &c->nreq);
		if (rc < 0) {
			curl_easy_cleanup(e);
			curl_slist_free_all(hl);
			call_free(c);
			vk_lua_op_finish(op, NULL, NULL);
			return luaL_error(L, "vk.http.request: %s", strerror(-rc));
		}
		vk_lua_op_on_cancel(op, on_cancel, c);
		return vk_lua_op_yield(L, op);
	}
	int rc = vk_http_start(http, e, hl, &c->opts, &c->req);
	if (rc < 0) {
		curl_easy_cleanup(e);
		curl_slist_free_all(hl);
		call_free(c);
		vk_lua_op_finish(op, NULL, NULL);
		return luaL_error(L, "vk.http.request: %s", strerror(-rc));
	}
	vk_lua_op_on_cancel(op, on_cancel, c);
	return vk_lua_op_yield(L, op);
}

int vk_lua__open_http(lua_State *L)
{
	static const luaL_Reg fns[] = {{"request", l_request}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
