/* Who is asking: kubelet's authenticators, in kubelet's order.
 *   1. a client certificate that verified against --client-ca-file: its CN
 *      is the user and each O a group (tls.c);
 *   2. "Authorization: Bearer TOKEN": the API server says who it is with a
 *      TokenReview (authentication.k8s.io/v1), cached (token_cache.c);
 *   3. neither: system:anonymous with --anonymous-auth, else 401.
 * A token that the review rejects is a 401 even with --anonymous-auth, as
 * kubelet's union authenticator fails on an invalid token rather than
 * falling back to anonymous.  Authenticated users get the group
 * system:authenticated (kubelet's AuthenticatedGroupAdder).  Then
 * authz.c decides and routes.c answers.
 *
 * While the API server cannot be reached at all, a token that was
 * authenticated before stays authenticated (as authz.c keeps an earlier
 * allow): an edge node cut off from its control plane keeps serving the
 * clients it served. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "server_int.h"

#define TOKEN_CACHE_MAX 4096

/* The first path segment, decoded ("" for "/"), malloc'd; NULL when bad. */
static char *first_segment(h2o_req_t *req)
{
	size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	const char *p = req->path.base;
	if (plen == 0 || p[0] != '/')
		return NULL;
	size_t n = 1;
	while (n < plen && p[n] != '/')
		n++;
	return vk_server__unescape(p + 1, n - 1, false);
}

static void add_authenticated_group(cJSON *groups)
{
	const cJSON *g;
	cJSON_ArrayForEach(g, groups)
		if (cJSON_IsString(g) && strcmp(g->valuestring, "system:authenticated") == 0)
			return;
	cJSON_AddItemToArray(groups, cJSON_CreateString("system:authenticated"));
}

/* The user is known: authorize, then serve. */
static void go_on(vk_server *s, h2o_req_t *req, const char *user, const cJSON *groups, const char *how)
{
	vk_debug("server", "%.*s %.*s from %s (%s)", (int)req->method.len, req->method.base, (int)req->path.len,
	         req->path.base, user, how);
	char *seg0 = first_segment(req);
	if (!seg0) {
		vk_server__send_text(req, 400, "bad path");
		return;
	}
	if (vk_server__authorize(s, req, user, groups, seg0) == 1)
		vk_server__dispatch(s, req);
	free(seg0);
}

/* The token of "Authorization: Bearer TOKEN" (its scheme in any case), or
 * an empty iovec when the request carries none. */
static h2o_iovec_t bearer_token(h2o_req_t *req)
{
	h2o_iovec_t none = {NULL, 0};
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	if (i < 0)
		return none;
	h2o_iovec_t v = req->headers.entries[i].value;
	if (v.len < 7 || strncasecmp(v.base, "bearer ", 7) != 0)
		return none;
	size_t b = 7;
	while (b < v.len && v.base[b] == ' ')
		b++;
	size_t e = b;
	while (e < v.len && v.base[e] != ' ')
		e++;
	return h2o_iovec_init(v.base + b, e - b);
}

static void on_token_review(const vk_kube_result *r, void *ud)
{
	vk_server_call *c = ud;
	vk_server *s = c->s;
	c->review = NULL;
	vk_list_remove(&c->link);
	h2o_req_t *req = c->req;
	vk_server__call_detach(c); /* answering may dispose the request */

	const cJSON *st = cJSON_GetObjectItemCaseSensitive(r->json, "status");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(st, "user");
	bool answered = (r->status == 200 || r->status == 201) && cJSON_IsObject(st);
	bool authenticated = false;
	const char *user = NULL;
	cJSON *groups = NULL;
	bool fresh;
	const vk_server_token_entry *was = vk_server__token_cache_get(s->tokens, c->key, vk_now_ms(), &fresh);
	if (answered) {
		authenticated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "authenticated"));
		user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "username"));
		if (authenticated && (!user || !*user)) {
			vk_warn("server", "TokenReview: authenticated without a username; refusing the token");
			authenticated = false;
		}
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(u, "groups");
		groups = cJSON_IsArray(g) ? cJSON_Duplicate(g, 1) : cJSON_CreateArray();
		if (!authenticated)
			vk_debug("server", "TokenReview: not authenticated%s%s",
			         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "error")) ? ": " : "",
			         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "error"))
			                 ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "error"))
			                 : "");
		vk_server__token_cache_put(s->tokens, c->key, authenticated, user, groups, vk_now_ms());
	} else if (r->status == 0 && was && was->authenticated) {
		vk_debug("server", "TokenReview got no answer (%s): the earlier authentication stands",
		         r->error ? r->error : "unreachable");
		authenticated = true;
		user = was->user;
		groups = cJSON_Duplicate(was->groups, 1);
	} else {
		vk_warn("server", "TokenReview failed (%ld): %s", r->status, r->error ? r->error : "no answer");
	}

	if (!req)
		; /* the client left */
	else if (s->closing)
		vk_server__send_text(req, 503, "vk is shutting down");
	else if (!authenticated)
		vk_server__send_text(req, 401, "Unauthorized");
	else {
		add_authenticated_group(groups);
		go_on(s, req, user, groups, "bearer token");
	}
	cJSON_Delete(groups);
	vk_server__call_free(c);
}

/* Asks the API server who the token is; answers the request later. */
static void review_token(vk_server *s, h2o_req_t *req, h2o_iovec_t token, const char *key)
{
	cJSON *tr = cJSON_CreateObject();
	cJSON_AddStringToObject(tr, "apiVersion", "authentication.k8s.io/v1");
	cJSON_AddStringToObject(tr, "kind", "TokenReview");
	cJSON *spec = cJSON_AddObjectToObject(tr, "spec");
	char *t = vk_xcalloc(1, token.len + 1);
	memcpy(t, token.base, token.len);
	cJSON_AddStringToObject(spec, "token", t);
	free(t);
	char *body = cJSON_PrintUnformatted(tr);
	cJSON_Delete(tr);

	vk_server_call *c = vk_server__call_new(s, req, VK_SERVER_CALL_AUTHZ, vk_strdup("authentication"));
	c->key = vk_strdup(key);
	/* kubelet gives a TokenReview 10 s (TokenAccessReviewTimeout) */
	int rc = vk_kube_request_within(s->api, 10000, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", NULL,
	                                body, on_token_review, c, &c->review);
	/* the body held the token: wipe it before it goes back to malloc */
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (rc < 0) {
		vk_warn("server", "TokenReview: cannot ask the API server (%s)", strerror(-rc));
		vk_server__send_text(req, 401, "Unauthorized");
		vk_server__call_free(c);
		return;
	}
	vk_list_insert_head(&s->reviews, &c->link);
}

void vk_server__authenticate(vk_server *s, h2o_req_t *req)
{
	char *user = NULL;
	cJSON *groups = NULL;
	if (vk_server__tls_peer(s, req, &user, &groups)) {
		add_authenticated_group(groups);
		go_on(s, req, user, groups, "client certificate");
		free(user);
		cJSON_Delete(groups);
		return;
	}
	h2o_iovec_t token = bearer_token(req);
	if (token.len && s->api && s->token_webhook) {
		if (s->closing) {
			vk_server__send_text(req, 503, "vk is shutting down");
			return;
		}
		if (!s->tokens)
			s->tokens = vk_server__token_cache_new(s->token_ttl_ms, TOKEN_CACHE_MAX);
		char key[65];
		vk_server__token_key(token.base, token.len, key);
		bool fresh;
		const vk_server_token_entry *e = vk_server__token_cache_get(s->tokens, key, vk_now_ms(), &fresh);
		if (!fresh) {
			review_token(s, req, token, key);
		} else if (!e->authenticated) {
			vk_server__send_text(req, 401, "Unauthorized");
		} else {
			cJSON *g = cJSON_Duplicate(e->groups, 1);
			if (!g)
				g = cJSON_CreateArray();
			add_authenticated_group(g);
			char *u = vk_strdup(e->user);
			go_on(s, req, u, g, "bearer token, cached");
			free(u);
			cJSON_Delete(g);
		}
		return;
	}
	if (!s->anonymous_auth) {
		vk_server__send_text(req, 401, "Unauthorized");
		return;
	}
	/* kubelet's anonymous authenticator */
	groups = cJSON_CreateArray();
	cJSON_AddItemToArray(groups, cJSON_CreateString("system:unauthenticated"));
	go_on(s, req, "system:anonymous", groups, "anonymous");
	cJSON_Delete(groups);
}

void vk_server__authn_close(vk_server *s)
{
	vk_server__token_cache_free(s->tokens);
	s->tokens = NULL;
}
