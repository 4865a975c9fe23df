/* The kubelet API's request path and query (src/server/query.c).  Input:
 * the request target, "PATH[?QUERY]", as h2o hands it over; the log body
 * trimming gets the same bytes as text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "vk/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		vk_json_init();
	const char *s = (const char *)data;
	const char *qm = memchr(s, '?', size);
	size_t plen = qm ? (size_t)(qm - s) : size;
	const char *q = qm ? qm + 1 : "";
	size_t qlen = qm ? size - plen - 1 : 0;

	char *segs[8];
	int n = vk_server__split_path(s, plen, segs, 8);
	if (n > 0) {
		vk_server__authz_subresource(segs[0]);
		for (int i = 0; i < n; i++)
			free(segs[i]);
	}
	vk_server__authz_verb(s, plen < 16 ? plen : 16);
	free(vk_server__unescape(s, size, true));
	free(vk_server__unescape(s, size, false));

	static const char *keys[] = {"command", "container", "tailLines", "follow", "limitBytes", "", "a"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		bool bad = false;
		free(vk_server__query_get(q, qlen, keys[i], &bad));
	}
	vk_server_log_limits lim;
	char *err = NULL;
	cJSON *opts = vk_server__log_opts(q, qlen, &lim, &err);
	if (opts) {
		size_t off = 0, len = vk_server__log_trim(s, size, &lim, &off);
		if (off > size || len > size - off)
			abort(); /* the part to send lies outside the text */
	} else if (!err) {
		abort();
	}
	cJSON_Delete(opts);
	free(err);
	return 0;
}
