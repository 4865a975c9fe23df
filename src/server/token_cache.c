/* The bearer-token cache of the kubelet API: what a TokenReview said about
 * a token, kept as kubelet keeps it (--authentication-token-webhook-cache-ttl,
 * 2 min by default, for "authenticated" and "not authenticated" alike;
 * errors are not kept).  Tokens are never stored: the key is their SHA-256.
 * Pure logic on a clock the caller passes, so that tests drive time. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "server_int.h"

struct vk_server_token_cache {
	vk_map *m; /* hex SHA-256 -> vk_server_token_entry */
	unsigned ttl_ms;
	size_t max;
};

static void entry_free(vk_server_token_entry *e)
{
	if (!e)
		return;
	free(e->user);
	cJSON_Delete(e->groups);
	free(e);
}

vk_server_token_cache *vk_server__token_cache_new(unsigned ttl_ms, size_t max)
{
	vk_server_token_cache *c = vk_xcalloc(1, sizeof *c);
	c->m = vk_map_new();
	c->ttl_ms = ttl_ms;
	c->max = max ? max : 1;
	return c;
}

void vk_server__token_cache_free(vk_server_token_cache *c)
{
	if (!c)
		return;
	const char *k;
	void *v;
	for (vk_map_iter it = {0}; vk_map_next(c->m, &it, &k, &v);)
		entry_free(v);
	vk_map_free(c->m);
	free(c);
}

void vk_server__token_key(const char *token, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

const vk_server_token_entry *vk_server__token_cache_get(const vk_server_token_cache *c, const char *key,
                                                        uint64_t now_ms, bool *fresh)
{
	const vk_server_token_entry *e = c ? vk_map_get(c->m, key) : NULL;
	*fresh = e && e->until_ms > now_ms;
	return e;
}

/* Drops what has expired; returns how many are left. */
static size_t sweep(vk_server_token_cache *c, uint64_t now_ms)
{
	const char *k;
	void *v;
	for (vk_map_iter it = {0}; vk_map_next(c->m, &it, &k, &v);) {
		vk_server_token_entry *e = v;
		if (e->until_ms <= now_ms)
			entry_free(vk_map_del(c->m, k));
	}
	return vk_map_len(c->m);
}

bool vk_server__token_cache_put(vk_server_token_cache *c, const char *key, bool authenticated, const char *user,
                                const cJSON *groups, uint64_t now_ms)
{
	if (!c || c->ttl_ms == 0)
		return false;
	vk_server_token_entry *e = vk_map_get(c->m, key);
	/* A flood of made-up tokens must not grow memory without bound:
	 * when full, expired answers go; still full, this one is not kept. */
	if (!e && vk_map_len(c->m) >= c->max && sweep(c, now_ms) >= c->max)
		return false;
	if (!e) {
		e = vk_xcalloc(1, sizeof *e);
		vk_map_set(c->m, key, e);
	}
	free(e->user);
	cJSON_Delete(e->groups);
	e->authenticated = authenticated;
	e->user = authenticated ? vk_strdup(user ? user : "") : NULL;
	e->groups = authenticated && groups ? cJSON_Duplicate(groups, 1) : NULL;
	e->until_ms = now_ms + c->ttl_ms;
	return true;
}

size_t vk_server__token_cache_len(const vk_server_token_cache *c) { return c ? vk_map_len(c->m) : 0; }
