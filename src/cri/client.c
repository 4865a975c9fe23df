/* The CRI client: gRPC unary calls as easy handles on the shared curl multi.
 *
 * A gRPC unary call is one HTTP/2 POST to /<package>.<Service>/<Method>
 * whose body is one length-prefixed message (1 flag byte, 4-byte big-endian
 * length) and whose outcome is the grpc-status header or trailer.  curl
 * speaks HTTP/2 over the unix socket with prior knowledge (containerd offers
 * no HTTP/1 upgrade), and the multi handle multiplexes concurrent calls on
 * one connection. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vk/cri.h"
#include "vk/util.h"

struct vk_cri {
	vk_http *http;
	char *endpoint; /* as given, for messages */
	char *socket_path;
};

struct vk_cri_call {
	vk_http_req *req;
	const vk_cri_method *m;
	vk_cri_cb cb;
	void *ud;
	uint32_t timeout_ms;
	bool in_cb;                   /* the callback runs: cancel is a no-op */
	char *endpoint, *socket_path; /* copies: the vk_cri may be gone */
};

int vk_cri_new(vk_http *http, const char *endpoint, vk_cri **out, char **err)
{
	if (!endpoint || !*endpoint)
		endpoint = VK_CRI_DEFAULT_ENDPOINT;
	const char *path = endpoint;
	if (strncmp(endpoint, "unix://", 7) == 0)
		path = endpoint + 7;
	else if (strstr(endpoint, "://")) {
		*err = vk_asprintf("runtime endpoint %s: only unix:// endpoints are supported", endpoint);
		return -EINVAL;
	}
	if (path[0] != '/') {
		*err = vk_asprintf("runtime endpoint %s: the socket path must be absolute "
		                   "(unix:///run/containerd/containerd.sock)",
		                   endpoint);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		*err = vk_asprintf("runtime endpoint %s: socket path too long", endpoint);
		return -EINVAL;
	}
	vk_cri *c = vk_xcalloc(1, sizeof(*c));
	c->http = http;
	c->endpoint = vk_strdup(endpoint);
	c->socket_path = vk_strdup(path);
	*out = c;
	return 0;
}

void vk_cri_free(vk_cri *c)
{
	if (!c)
		return;
	free(c->endpoint);
	free(c->socket_path);
	free(c);
}

const char *vk_cri_endpoint(const vk_cri *c) { return c->endpoint; }

static void call_free(vk_cri_call *call)
{
	free(call->endpoint);
	free(call->socket_path);
	free(call);
}

/* grpc-message is percent-encoded (gRPC over HTTP/2, "Responses"). */
static char *percent_decode(const char *s)
{
	char *out = vk_xmalloc(strlen(s) + 1), *o = out;
	while (*s) {
		int hi, lo;
		if (s[0] == '%' && (hi = vk_hexval(s[1])) >= 0 && (lo = vk_hexval(s[2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static const char *header(CURL *easy, const char *name)
{
	struct curl_header *h = NULL;
	if (!easy || curl_easy_header(easy, name, 0, CURLH_HEADER | CURLH_TRAILER, -1, &h) != CURLHE_OK)
		return NULL;
	return h->value;
}

/* The gRPC spec's mapping for a reply that is not gRPC at all. */
static int http_status_code(long status)
{
	switch (status) {
	case 400: return VK_GRPC_INTERNAL;
	case 401: return VK_GRPC_UNAUTHENTICATED;
	case 403: return VK_GRPC_PERMISSION_DENIED;
	case 404: return VK_GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504: return VK_GRPC_UNAVAILABLE;
	default: return VK_GRPC_UNKNOWN;
	}
}

/* A transfer that failed below gRPC: say which endpoint and why, in words a
 * user can act on (the usual cause is a wrong runtime_endpoint). */
static char *transport_error(const vk_cri_call *call, const vk_http_resp *resp, int *code)
{
	const char *ep = call->endpoint;
	*code = VK_GRPC_UNAVAILABLE;
	switch (resp->code) {
	case CURLE_COULDNT_CONNECT: {
		struct stat st;
		if (stat(call->socket_path, &st) < 0 && errno == ENOENT)
			return vk_asprintf("runtime endpoint %s: no such socket", ep);
		if (stat(call->socket_path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return vk_asprintf("runtime endpoint %s: not a socket", ep);
		return vk_asprintf("runtime endpoint %s: cannot connect (%s): is the runtime running?", ep,
		                   resp->error ? resp->error : curl_easy_strerror(resp->code));
	}
	case CURLE_OPERATION_TIMEDOUT:
		*code = VK_GRPC_DEADLINE_EXCEEDED;
		return vk_asprintf("runtime endpoint %s: no reply to %s within %u ms", ep, call->m->path,
		                   call->timeout_ms);
	case CURLE_FILESIZE_EXCEEDED:
		*code = VK_GRPC_RESOURCE_EXHAUSTED;
		return vk_asprintf("runtime endpoint %s: %s reply exceeds the %u MiB message cap", ep, call->m->path,
		                   VK_CRI_MAX_MESSAGE >> 20);
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_GOT_NOTHING:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_SEND_ERROR: /* it hung up on the HTTP/2 preface */
	case CURLE_RECV_ERROR:
		return vk_asprintf("runtime endpoint %s: %s: is this a CRI endpoint?", ep,
		                   resp->error ? resp->error : curl_easy_strerror(resp->code));
	default:
		return vk_asprintf("runtime endpoint %s: %s", ep,
		                   resp->error ? resp->error : curl_easy_strerror(resp->code));
	}
}

/* Turns a finished transfer into a result.  Returns the message to report
 * (malloc'd) or NULL with *msg set to the decoded response. */
static char *interpret(const vk_cri_call *call, const vk_http_resp *resp, int *code, ProtobufCMessage **msg)
{
	const char *ep = call->endpoint, *path = call->m->path;
	const char *st = header(resp->easy, "grpc-status");

	/* A status is authoritative even when the stream then broke. */
	if (resp->code != CURLE_OK && !st)
		return transport_error(call, resp, code);
	if (!st && resp->status != 200) {
		*code = http_status_code(resp->status);
		return vk_asprintf("runtime endpoint %s answered HTTP %ld to %s: is this a CRI endpoint?", ep,
		                   resp->status, path);
	}
	const char *ct = header(resp->easy, "content-type");
	if (!ct || strncmp(ct, "application/grpc", 16) != 0) {
		*code = VK_GRPC_UNKNOWN;
		return vk_asprintf("runtime endpoint %s answered %s with content-type '%s', not gRPC: "
		                   "is this a CRI endpoint?",
		                   ep, path, ct ? ct : "");
	}
	if (!st) {
		*code = VK_GRPC_INTERNAL;
		return vk_asprintf("runtime endpoint %s: %s ended without grpc-status", ep, path);
	}
	char *end;
	long sv = strtol(st, &end, 10);
	if (end == st || *end || sv < 0 || sv > 16) {
		*code = VK_GRPC_UNKNOWN;
		return vk_asprintf("runtime endpoint %s: %s: bad grpc-status '%s'", ep, path, st);
	}
	if (sv != VK_GRPC_OK) {
		const char *gm = header(resp->easy, "grpc-message");
		char *text = percent_decode(gm ? gm : "");
		char *m;
		*code = (int)sv;
		if (sv == VK_GRPC_UNIMPLEMENTED)
			m = vk_asprintf("%s (runtime endpoint %s, %s): is this a CRI v1 endpoint?",
			                *text ? text : "unimplemented", ep, path);
		else
			m = vk_strdup(*text ? text : "(no message)");
		free(text);
		return m;
	}

	return vk_cri_decode_reply(ep, path, call->m->response, resp->body, resp->body_len, code, msg);
}

static void on_done(vk_http_req *req, const vk_http_resp *resp, void *ud)
{
	vk_cri_call *call = ud;
	vk_cri_result r = {0};
	char *msg = interpret(call, resp, &r.code, &r.resp);
	char *error = NULL;
	if (msg) {
		error = vk_asprintf("%s: %s", vk_cri_code_name(r.code), msg);
		free(msg);
	}
	r.error = error;
	call->in_cb = true;
	call->cb(call, &r, call->ud);
	free(error);
	call_free(call);
}

/* grpc-timeout: at most 8 digits and a unit. */
static void format_timeout(char out[32], uint32_t ms)
{
	if (ms <= 99999999u)
		snprintf(out, 32, "grpc-timeout: %um", ms);
	else
		snprintf(out, 32, "grpc-timeout: %uS", ms / 1000);
}

static struct curl_slist *grpc_headers(uint32_t timeout_ms, const char *metadata)
{
	char to[32];
	format_timeout(to, timeout_ms);
	const char *lines[] = {
		"content-type: application/grpc",
		"te: trailers", /* gRPC servers reject requests without it */
		to,
		"user-agent: vk/" VK_VERSION,
		"Expect:", /* no 100-continue round trip */
		"Accept:",
		metadata ? metadata : "",
	};
	struct curl_slist *h = NULL;
	for (size_t i = 0; i < VK_ARRAY_LEN(lines); i++) {
		if (!*lines[i])
			continue;
		struct curl_slist *n = curl_slist_append(h, lines[i]);
		if (!n) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = n;
	}
	return h;
}

/* libcurl before 7.89.0 breaks a reused HTTP/2 prior-knowledge connection
 * ("Error in the HTTP2 framing layer" on the second request: curl issue
 * #10634, fixed by PR #10643); Debian 12 ships 7.88.1.  There, every call
 * gets a connection of its own: on a unix socket that costs well under a
 * millisecond. */
static bool reuse_is_safe(void) { return curl_version_info(CURLVERSION_NOW)->version_num >= 0x075900; }

int vk_cri_call_start(vk_cri *c, const vk_cri_method *m, const ProtobufCMessage *req, uint32_t timeout_ms, vk_cri_cb cb,
                      void *ud, vk_cri_call **out, char **err)
{
	if (!req || req->descriptor != m->request) {
		*err = vk_asprintf("vk.cri.%s: the request must be a %s", m->name, m->request->name);
		return -EINVAL;
	}
	size_t size = protobuf_c_message_get_packed_size(req);
	if (size > VK_CRI_MAX_MESSAGE) {
		*err = vk_asprintf("vk.cri.%s: request of %zu bytes exceeds the %u MiB message cap", m->name, size,
		                   VK_CRI_MAX_MESSAGE >> 20);
		return -EMSGSIZE;
	}
	if (timeout_ms == 0)
		timeout_ms = VK_CRI_DEFAULT_TIMEOUT_MS;

	unsigned char *frame = vk_xmalloc(size + 5);
	CURL *easy = curl_easy_init();
	struct curl_slist *headers = grpc_headers(timeout_ms, m->metadata);
	char *url = vk_asprintf("http://localhost%s", m->path);
	int rc = -EIO;
	if (!easy || !headers) /* libcurl's own allocations */
		goto fail;
	frame[0] = 0;
	frame[1] = (unsigned char)(size >> 24);
	frame[2] = (unsigned char)(size >> 16);
	frame[3] = (unsigned char)(size >> 8);
	frame[4] = (unsigned char)size;
	protobuf_c_message_pack(req, frame + 5);

	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(size + 5));
	curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, (char *)frame);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (reuse_is_safe()) {
		/* Wait for the existing HTTP/2 connection rather than open a second. */
		curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
	} else {
		curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	}
	/* The server enforces grpc-timeout and answers DEADLINE_EXCEEDED; the
	 * local limit, a little later, catches a runtime that hangs. */
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms + 1000L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	free(frame);
	frame = NULL;

	vk_cri_call *call = vk_xcalloc(1, sizeof(*call));
	call->m = m;
	call->cb = cb;
	call->ud = ud;
	call->timeout_ms = timeout_ms;
	call->endpoint = vk_strdup(c->endpoint);
	call->socket_path = vk_strdup(c->socket_path);
	vk_http_opts o = {.on_done = on_done, .ud = call, .max_body = VK_CRI_MAX_MESSAGE + 5};
	rc = vk_http_start(c->http, easy, headers, &o, &call->req);
	if (rc < 0) {
		call_free(call);
		*err = vk_asprintf("vk.cri.%s: cannot start the call: %s", m->name, strerror(-rc));
		goto fail_quiet;
	}
	free(url);
	if (out)
		*out = call;
	return 0;

fail:
	*err = vk_asprintf("vk.cri.%s: libcurl could not set up the transfer", m->name);
fail_quiet:
	free(frame);
	free(url);
	if (easy)
		curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	return rc;
}

void vk_cri_call_cancel(vk_cri_call *call)
{
	if (!call || call->in_cb) /* inside its own callback it is freed right after */
		return;
	vk_http_cancel(call->req);
	call_free(call);
}
