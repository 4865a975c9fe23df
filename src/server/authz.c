/* kubelet's Webhook authorization: may this client do VERB on
 * nodes/NODENAME/SUBRESOURCE?  Asked with a SubjectAccessReview, the
 * answer cached as kubelet does (allowed 5 min, denied 30 s).  While the
 * API server cannot be reached (no answer at all), a client allowed before
 * stays allowed: an edge node cut off from its control plane still serves
 * /pods and logs to those it served. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define ALLOWED_TTL_MS (5 * 60 * 1000)
#define DENIED_TTL_MS (30 * 1000)

typedef struct {
	bool allowed;
	uint64_t until_ms;
} authz_entry;

static void forbidden(h2o_req_t *req, const char *key)
{
	/* key: "user\x1fgroups\x1fverb\x1fsubresource" */
	char *k = vk_strdup(key), *f[4] = {0};
	char *p = k;
	for (int i = 0; i < 4 && p; i++) {
		f[i] = p;
		p = strchr(p, '\x1f');
		if (p)
			*p++ = '\0';
	}
	vk_server__send_text(req, 403, "Forbidden (user=%s, verb=%s, resource=nodes, subresource(s)=[%s])",
	                     f[0] ? f[0] : "", f[2] ? f[2] : "", f[3] ? f[3] : "");
	free(k);
}

static void cache_put(vk_server *s, const char *key, bool allowed)
{
	authz_entry *e = vk_map_get(s->authz, key);
	if (!e) {
		e = vk_xcalloc(1, sizeof *e);
		vk_map_set(s->authz, key, e);
	}
	e->allowed = allowed;
	e->until_ms = vk_now_ms() + (allowed ? ALLOWED_TTL_MS : DENIED_TTL_MS);
}

static void on_review(const vk_kube_result *r, void *ud)
{
	vk_server_call *c = ud;
	vk_server *s = c->s;
	c->review = NULL;
	vk_list_remove(&c->link);
	const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "status"),
	                                                        "allowed");
	bool ok = (r->status == 200 || r->status == 201) && r->json;
	authz_entry *was = vk_map_get(s->authz, c->key);
	bool stale_allowed = !ok && r->status == 0 && was && was->allowed;
	if (ok)
		cache_put(s, c->key, cJSON_IsTrue(allowed));
	else if (stale_allowed)
		vk_debug("server", "SubjectAccessReview got no answer (%s): the earlier allow stands",
		         r->error ? r->error : "unreachable");
	else
		vk_warn("server", "SubjectAccessReview failed (%ld): %s", r->status, r->error ? r->error : "no answer");
	if (stale_allowed) {
		ok = true;
		allowed = NULL; /* read below as "allowed" */
	}
	h2o_req_t *req = c->req;
	vk_server__call_detach(c);
	if (!req)
		; /* the client left */
	else if (!ok)
		vk_server__send_text(req, 500, "Authorization error: the SubjectAccessReview failed (%ld: %s)",
		                     r->status, r->error ? r->error : "no answer");
	else if (!stale_allowed && !cJSON_IsTrue(allowed))
		forbidden(req, c->key);
	else if (s->closing)
		vk_server__send_text(req, 503, "vk is shutting down");
	else
		vk_server__dispatch(s, req);
	vk_server__call_free(c);
}

int vk_server__authorize(vk_server *s, h2o_req_t *req, const char *user, const cJSON *groups, const char *seg0)
{
	if (!s->kube)
		return 1;
	const char *verb = vk_server__authz_verb(req->method.base, req->method.len);
	const char *sub = vk_server__authz_subresource(seg0);
	vk_buf key = {0};
	vk_buf_printf(&key, "%s\x1f", user);
	const cJSON *g;
	cJSON_ArrayForEach(g, groups)
		vk_buf_printf(&key, "%s,", cJSON_GetStringValue(g));
	vk_buf_printf(&key, "\x1f%s\x1f%s", verb, sub);
	if (!s->authz)
		s->authz = vk_map_new();
	authz_entry *e = vk_map_get(s->authz, key.data);
	if (e && e->until_ms > vk_now_ms()) {
		int rc = 1;
		if (!e->allowed) {
			forbidden(req, key.data);
			rc = -1;
		}
		vk_buf_free(&key);
		return rc;
	}

	cJSON *sar = cJSON_CreateObject();
	cJSON_AddStringToObject(sar, "apiVersion", "authorization.k8s.io/v1");
	cJSON_AddStringToObject(sar, "kind", "SubjectAccessReview");
	cJSON *spec = cJSON_AddObjectToObject(sar, "spec");
	cJSON_AddStringToObject(spec, "user", user);
	cJSON_AddItemToObject(spec, "groups", cJSON_Duplicate(groups, 1));
	cJSON *ra = cJSON_AddObjectToObject(spec, "resourceAttributes");
	cJSON_AddStringToObject(ra, "verb", verb);
	cJSON_AddStringToObject(ra, "resource", "nodes");
	cJSON_AddStringToObject(ra, "subresource", sub);
	cJSON_AddStringToObject(ra, "name", s->nodename);
	char *body = cJSON_PrintUnformatted(sar);
	cJSON_Delete(sar);

	vk_server_call *c = vk_server__call_new(s, req, VK_SERVER_CALL_AUTHZ, vk_strdup("authorization"));
	c->key = vk_buf_steal(&key);
	int rc = vk_kube_request(s->kube, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", NULL, body,
	                         on_review, c, &c->review);
	free(body);
	if (rc < 0) {
		vk_server__send_text(req, 500, "Authorization error: cannot ask the API server (%s)", strerror(-rc));
		vk_server__call_free(c);
		return -1;
	}
	vk_list_insert_head(&s->reviews, &c->link);
	return 0;
}

void vk_server__authz_close(vk_server *s)
{
	for (vk_list *n; (n = vk_list_first(&s->reviews));) {
		vk_server_call *c = VK_LIST_ENTRY(n, vk_server_call, link);
		vk_list_remove(&c->link);
		if (c->review)
			vk_kube_cancel(c->review);
		h2o_req_t *req = c->req;
		vk_server__call_detach(c);
		if (req)
			vk_server__send_text(req, 503, "vk is shutting down");
		vk_server__call_free(c);
	}
	if (s->authz) {
		const char *k;
		void *v;
		for (vk_map_iter it = {0}; vk_map_next(s->authz, &it, &k, &v);)
			free(v);
		vk_map_free(s->authz);
		s->authz = NULL;
	}
}
