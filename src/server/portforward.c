/* /portForward/NS/POD[/UID]: kubelet's port-forward protocol over SPDY/3.1
 * (portforward.k8s.io).
 *
 * The 101 comes at once (after authorization and the pod check): the
 * client then opens, for each connection it forwards, two streams with the
 * same `requestid` header: `streamtype: error` and `streamtype: data`, each
 * with a `port` header.  Once both are there the provider's
 * port_forward(ns, pod, port, stream) runs with a `stream` whose read and
 * write are the data stream's; when it returns, `nil, err` is written on
 * the error stream (kubectl prints it), and both streams are closed.  The
 * connection lives until the client closes it (kubectl port-forward ends). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream_int.h"

typedef struct {
	char *id;
	vk_server_sst *st;
} pf_pending;

struct vk_server_pf {
	vk_server *s;
	vk_spdy_session *ss;
	char *ns, *pod, *what;
	pf_pending *pairs; /* pairs whose provider call has not returned */
	size_t npairs, cap;
	vk_list link; /* s->pfs */
};

static const char *const pf_protocols[] = {"portforward.k8s.io"};

static void pf_free(vk_server_pf *pf)
{
	vk_server *s = pf->s;
	vk_list_remove(&pf->link);
	free(pf->pairs);
	free(pf->ns);
	free(pf->pod);
	free(pf->what);
	free(pf);
	s->calls--;
	vk_server__maybe_done(s);
}

static void drop_pair(vk_server_pf *pf, vk_server_sst *st)
{
	for (size_t i = 0; i < pf->npairs; i++)
		if (pf->pairs[i].st == st) {
			free(pf->pairs[i].id);
			pf->pairs[i] = pf->pairs[--pf->npairs];
			return;
		}
}

/* Writes msg on the pair's error stream and closes both of its streams;
 * the pair leaves the connection. */
static void end_pair(vk_server_sst *st, const char *msg)
{
	if (st->ss) {
		if (msg && st->s_error && !st->s_error->local_fin && !st->s_error->reset)
			vk_spdy_send(st->ss, st->s_error, msg, strlen(msg), false);
		vk_spdy_stream *ds[2] = {st->s_out, st->s_error};
		for (int i = 0; i < 2; i++)
			if (ds[i] && !ds[i]->local_fin && !ds[i]->reset)
				vk_spdy_send(st->ss, ds[i], NULL, 0, true);
		for (int i = 0; i < 2; i++)
			if (ds[i])
				ds[i]->ud = NULL;
	}
	if (st->pf)
		drop_pair(st->pf, st);
	st->pf = NULL;
	st->ss = NULL;
	st->s_out = st->s_error = NULL;
	st->state = SST_ENDED;
	vk_server__sst_fail_waiters(st);
}

static void pf_on_result(const vk_provider_result *r, void *ud)
{
	vk_server_sst *st = ud;
	st->result_in = true;
	char *msg = NULL;
	const cJSON *v = r->value;
	if (r->err) {
		const char *m = r->errmsg ? r->errmsg : "error";
		const char *nl = strchr(m, '\n');
		msg = vk_asprintf("%s: %.*s", st->what, nl ? (int)(nl - m) : (int)strlen(m), m);
	} else if (cJSON_IsObject(v)) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "error");
		msg = vk_asprintf("%s: %s", st->what, cJSON_IsString(e) ? e->valuestring : "error");
	}
	cJSON_Delete(r->value);
	if (msg)
		vk_debug("server", "%s", msg);
	end_pair(st, msg);
	free(msg);
	vk_server__sst_maybe_free(st);
}

static void start_pair(vk_server_pf *pf, vk_server_sst *st)
{
	const char *port_s = vk_spdy_header_get(st->s_out->hs, st->s_out->nh, "port");
	char *end = NULL;
	long port = port_s ? strtol(port_s, &end, 10) : 0;
	if (!port_s || *end || port < 1 || port > 65535) {
		char *m = vk_asprintf("%s: invalid port header \"%s\": a port number from 1 to 65535 is expected",
		                      pf->what, port_s ? port_s : "");
		st->result_in = true;
		end_pair(st, m);
		free(m);
		vk_server__sst_maybe_free(st);
		return;
	}
	free(st->what);
	st->what = vk_asprintf("%s port %ld", pf->what, port);
	st->state = SST_OPEN;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "port", (double)port);
	st->provider_holds = true;
	int rc = vk_provider_stream(pf->s->provider, VK_CALL_PORT_FORWARD, args, pf->ns, pf->pod, &st->pub,
	                            pf_on_result, st);
	cJSON_Delete(args);
	if (rc < 0) {
		st->provider_holds = false;
		st->result_in = true;
		char *m = vk_asprintf("%s: %s", st->what,
		                      rc == -ENOSYS      ? "the provider has no port_forward callback"
		                      : rc == -ESHUTDOWN ? "the provider is closing"
		                                         : strerror(-rc));
		end_pair(st, m);
		free(m);
		vk_server__sst_maybe_free(st);
	}
}

static void pf_on_stream(vk_spdy_session *ss, vk_spdy_stream *ds, void *ud)
{
	vk_server_pf *pf = ud;
	const char *type = vk_spdy_header_get(ds->hs, ds->nh, "streamtype");
	const char *id = vk_spdy_header_get(ds->hs, ds->nh, "requestid");
	bool data = type && strcmp(type, "data") == 0, error = type && strcmp(type, "error") == 0;
	if (!id || (!data && !error)) {
		vk_debug("server", "%s: a stream without requestid or with streamtype %s: reset", pf->what,
		         type ? type : "(none)");
		vk_spdy_reset(ss, ds, VK_SPDY_RST_PROTOCOL_ERROR);
		return;
	}
	vk_server_sst *st = NULL;
	for (size_t i = 0; i < pf->npairs && !st; i++)
		if (strcmp(pf->pairs[i].id, id) == 0)
			st = pf->pairs[i].st;
	if (!st) {
		st = vk_server__sst_new(pf->s, SST_PF, vk_strdup(pf->what));
		st->pub.in = st->pub.out = true;
		st->state = SST_WAITING;
		st->proto = pf_protocols[0];
		st->pf = pf;
		st->ss = ss;
		if (pf->npairs == pf->cap) {
			pf->cap = pf->cap ? pf->cap * 2 : 8;
			pf->pairs = vk_xrealloc(pf->pairs, pf->cap * sizeof *pf->pairs);
		}
		pf->pairs[pf->npairs++] = (pf_pending){vk_strdup(id), st};
	}
	vk_spdy_stream **slot = data ? &st->s_out : &st->s_error;
	if (*slot) {
		vk_spdy_reset(ss, ds, VK_SPDY_RST_PROTOCOL_ERROR);
		return;
	}
	*slot = ds;
	ds->ud = st;
	if (st->s_out && st->s_error && st->state == SST_WAITING)
		start_pair(pf, st);
}

static void pf_on_data(vk_spdy_session *ss, vk_spdy_stream *ds, const uint8_t *data, size_t len, bool fin, void *ud)
{
	vk_server_sst *st = ds->ud;
	if (st && ds == st->s_out)
		vk_server__sst_on_data(st, data, len, fin);
}

static void pf_on_reset(vk_spdy_session *ss, vk_spdy_stream *ds, void *ud)
{
	vk_server_sst *st = ds->ud;
	if (st && ds == st->s_out)
		vk_server__sst_on_data(st, NULL, 0, true);
}

static void pf_on_drain(vk_spdy_session *ss, void *ud)
{
	vk_server_pf *pf = ud;
	for (size_t i = 0; i < pf->npairs; i++)
		vk_server__sst_drain(pf->pairs[i].st);
}

static void pf_on_close(vk_spdy_session *ss, const char *err, void *ud)
{
	vk_server_pf *pf = ud;
	if (err)
		vk_debug("server", "%s: connection ended: %s", pf->what, err);
	pf->ss = NULL;
	while (pf->npairs > 0) {
		vk_server_sst *st = pf->pairs[0].st;
		if (st->state == SST_WAITING)
			st->result_in = true; /* half a pair: the provider never saw it */
		st->ss = NULL;
		end_pair(st, NULL);
		vk_server__sst_maybe_free(st);
	}
	pf_free(pf);
}

static const vk_spdy_callbacks pf_callbacks = {
	.on_stream = pf_on_stream,
	.on_data = pf_on_data,
	.on_reset = pf_on_reset,
	.on_drain = pf_on_drain,
	.on_close = pf_on_close,
};

static void pf_upgraded(void *ud, h2o_socket_t *sock, size_t reqsize)
{
	vk_server_pf *pf = ud;
	if (!sock) {
		pf_free(pf);
		return;
	}
	h2o_buffer_consume(&sock->input, reqsize);
	pf->ss = vk_spdy_session_new(sock, &pf_callbacks, pf, pf->what);
	vk_spdy_kick(pf->ss);
}

void vk_server__pf_start(vk_server *s, h2o_req_t *req, const char *ns, const char *pod)
{
	char *what = vk_asprintf("portForward %s/%s", ns, pod);
	bool offered;
	const char *proto = vk_server__negotiate(req, pf_protocols, VK_ARRAY_LEN(pf_protocols), &offered);
	if (!vk_server__upgrade_ok(req, what))
		goto out;
	if (!proto) {
		vk_server__send_status(
			req, 403, "Forbidden",
			"%s: unable to upgrade: unable to negotiate protocol: vk speaks portforward.k8s.io", what);
		goto out;
	}
	if (s->closing) {
		vk_server__send_status(req, 503, "ServiceUnavailable", "%s: vk is shutting down", what);
		goto out;
	}
	if (vk_server__check_pod(s, req, what, ns, pod, NULL) < 0)
		goto out;
	if (!vk_provider_has(s->provider, VK_CALL_PORT_FORWARD)) {
		vk_server__send_status(
			req, 501, "NotImplemented",
			"%s: the provider has no port_forward callback, so vk cannot forward ports to it", what);
		goto out;
	}
	vk_server_pf *pf = vk_xcalloc(1, sizeof *pf);
	pf->s = s;
	pf->ns = vk_strdup(ns);
	pf->pod = vk_strdup(pod);
	pf->what = what;
	what = NULL;
	vk_list_insert_tail(&s->pfs, &pf->link);
	s->calls++;
	req->res.status = 101;
	req->res.reason = "Switching Protocols";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("SPDY/3.1"));
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-stream-protocol-version"), 0, NULL, proto,
	                      strlen(proto));
	h2o_http1_upgrade(req, NULL, 0, pf_upgraded, pf);
out:
	free(what);
}

void vk_server__pfs_close(vk_server *s)
{
	vk_list *pos, *tmp;
	VK_LIST_FOREACH_SAFE(pos, tmp, &s->pfs)
	{
		vk_server_pf *pf = VK_LIST_ENTRY(pos, vk_server_pf, link);
		if (pf->ss)
			vk_spdy_abort(pf->ss);
	}
}
