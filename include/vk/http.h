/* vk/http.h - the one curl multi handle of the process, driven by libuv.
 *
 * Every HTTP exchange of vk (Kubernetes REST and watches, gRPC to the CRI,
 * the Lua vk.http module) is an easy handle added here.  Sockets are watched
 * with uv_poll and curl's timeout with a uv_timer (curl_multi_socket_action),
 * so nothing ever blocks the loop.
 *
 * Ownership: the caller builds and configures a CURL easy handle (URL,
 * method, TLS, headers...) and passes it to vk_http_start() together with its
 * header list.  On success the engine owns both and frees them after
 * on_done returns.  As in libuv, a call that returns an error never invokes
 * its callback, and the caller still owns what it passed.
 *
 * The engine sets these options itself, so callers must leave them alone:
 * CURLOPT_PRIVATE, CURLOPT_WRITEFUNCTION/WRITEDATA, CURLOPT_ERRORBUFFER,
 * CURLOPT_NOSIGNAL, CURLOPT_OPENSOCKETFUNCTION/DATA and
 * CURLOPT_CLOSESOCKETFUNCTION/DATA (the engine knows every socket),
 * CURLOPT_UPLOAD_BUFFERSIZE and CURLOPT_BUFFERSIZE (small:
 * 16 KiB and 8 KiB), CURLOPT_HTTPHEADER (when `headers` is given) and
 * CURLOPT_MAXFILESIZE_LARGE (when max_body is set).  A vk_http_req pointer
 * is valid until its on_done returns or it is cancelled.  Everything here is
 * safe to call from inside on_data and on_done (work that libcurl forbids in
 * its callbacks is deferred until curl returns). */
#ifndef VK_HTTP_H
#define VK_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct vk_http vk_http;
typedef struct vk_http_req vk_http_req;

typedef struct {
	long status;       /* HTTP status code, 0 when no response came */
	CURLcode code;     /* CURLE_OK or the transport failure */
	const char *error; /* NULL or a human message for code != CURLE_OK */
	const char *body;  /* buffered body, NUL-terminated ("" when empty);
	                      NULL when on_data was used */
	size_t body_len;
	CURL *easy; /* valid during the callback: curl_easy_header() */
} vk_http_resp;

/* Streaming body: called with each chunk as it arrives.  Return 0 to go on,
 * non-zero to abort the transfer (on_done then gets CURLE_WRITE_ERROR). */
typedef int (*vk_http_data_cb)(vk_http_req *req, const char *data, size_t len, void *ud);
typedef void (*vk_http_done_cb)(vk_http_req *req, const vk_http_resp *resp, void *ud);

typedef struct {
	vk_http_data_cb on_data; /* optional */
	vk_http_done_cb on_done; /* required; called exactly once unless cancelled */
	void *ud;
	size_t max_body; /* 0: no cap; a larger body fails with CURLE_FILESIZE_EXCEEDED */
	/* use_socket: the transfer connects and uses `socket`, a socket the
	 * caller made (vk/net.h: inside a pod's network namespace), instead of
	 * one of its own; it must be of the URL's address family (give an IP
	 * literal).  The engine owns it once vk_http_start succeeds.  Such a
	 * transfer never shares a connection with another (same address,
	 * another namespace), and one connection attempt is all it gets. */
	bool use_socket;
	int socket;
} vk_http_opts;

/* Also initialises libcurl (curl_global_init; libcurl counts the calls and
 * the matching cleanup runs when the engine's memory is released). */
vk_http *vk_http_new(uv_loop_t *loop);
/* Cancels every transfer (no callbacks) and closes the uv handles; the
 * memory is released from the handles' close callbacks. */
void vk_http_close(vk_http *h);

/* Starts a transfer.  Returns 0, or a negative errno (callback not called). */
int vk_http_start(vk_http *h, CURL *easy, struct curl_slist *headers, const vk_http_opts *opts, vk_http_req **out);
/* Stops a transfer; its on_done is not called.  Safe from inside on_data. */
void vk_http_cancel(vk_http_req *req);

/* Ends every connection to the peer `ip`:`port` (as a transfer reports it
 * in CURLINFO_PRIMARY_IP and CURLINFO_PRIMARY_PORT), in use or idle: the
 * transfers on them fail (on_done with a transport error) and the next
 * transfer to that peer opens a fresh connection.  For a peer that went
 * silent (a black hole, where TCP takes many minutes to give up).  Returns
 * how many connections it ended. */
int vk_http_drop_peer(vk_http *h, const char *ip, long port);

/* Number of transfers in flight (for tests and metrics). */
size_t vk_http_active(const vk_http *h);

/* The HTTP stack vk was built with, as libcurl names it: "libcurl/7.88.1
 * OpenSSL/3.0.19 zlib/1.2.13 nghttp2/1.52.0" (for the start-up log line). */
const char *vk_http_version(void);

#endif
