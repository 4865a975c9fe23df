/* The store's record decoding: what etcd's JSON gateway returns for a key
 * (base64 key and value, the value led by the 20-digit version: add_kv in
 * src/store/etcd.c, compiled here so that the static decoder is driven
 * directly), a sealed Secret (vk_store_unseal: "vk1:" base64 of nonce,
 * AES-256-GCM text and tag), a stored version (vk_store_rv) and the --store
 * URL.  Input: one range-response kv object as JSON, and the same bytes as
 * the other forms. */
#include "../../src/store/etcd.c"

#include "vk/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		vk_json_init();
	const char *s = (const char *)data;
	cJSON *kv = cJSON_ParseWithLength(s, size);
	if (kv) {
		vk_store_req r = {0};
		add_kv(&r, kv);
		for (size_t i = 0; i < r.nrecs; i++) {
			if (r.recs[i].value[r.recs[i].len] != '\0')
				abort(); /* readers use values as C strings */
			free((char *)r.recs[i].key);
			free((char *)r.recs[i].value);
		}
		free(r.recs);
		cJSON_Delete(kv);
	}
	static const uint8_t key[VK_STORE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	size_t n = 0;
	char *plain = vk_store_unseal(key, s, size, &n);
	free(plain);
	char *z = strndup(s, size);
	vk_store_rv(z);
	vk_store_url u;
	char *err = NULL;
	if (vk_store_url_parse(z, &u, &err) == 0)
		vk_store_url_free(&u);
	else if (!err)
		abort();
	free(err);
	free(z);
	return 0;
}
