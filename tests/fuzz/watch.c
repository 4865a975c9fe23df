/* The watch stream (src/kube/watch.c): bytes arrive in chunks that ignore
 * line ends; each complete line is one JSON event {"type", "object"}; an
 * error answer is one Status document.  The harness compiles watch.c itself
 * so that it drives the real static functions (watch_data, watch_done) with
 * no network.  Input: one byte for the HTTP status and the chunking, then
 * the body. */
#include "../../src/kube/watch.c"

#include "vk/json.h"

static int events, closes;
static bool stop_at_modified, stopped;

static void on_event(const char *type, const cJSON *obj, void *ud)
{
	vk_kube_watch *w = ud;
	events++;
	char *s = cJSON_PrintUnformatted(obj);
	free(s);
	if (stop_at_modified && strcmp(type, "MODIFIED") == 0) {
		stopped = true;
		vk_kube_watch_stop(w);
	}
}

static void on_close(long status, const char *err, void *ud) { closes++; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		vk_json_init();
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	data++, size--;
	vk_kube_watch *w = vk_xcalloc(1, sizeof *w);
	w->on_event = on_event;
	w->on_close = on_close;
	w->ud = w;
	w->status = (ctl & 0x80) ? 410 : 200;
	stop_at_modified = ctl & 0x40;
	size_t chunk = (ctl & 0x3f) + 1;
	events = closes = 0;
	stopped = false;
	int rc = 0;
	for (size_t off = 0; off < size && rc == 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		rc = watch_data(NULL, (const char *)data + off, n, w);
	}
	if (stopped)
		return 0; /* stopped inside on_event: watch_data freed it */
	vk_http_resp resp = {.status = w->status, .code = rc ? CURLE_WRITE_ERROR : CURLE_OK};
	resp.error = rc ? "aborted by the write callback" : NULL;
	watch_done(NULL, &resp, w); /* frees w, unless on_event stopped it (then it freed it) */
	return 0;
}
