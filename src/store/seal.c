/* seal.c - Secrets at rest: AES-256-GCM through OpenSSL's EVP interface.
 * A blob is "vk1:" + base64(nonce[12] | ciphertext | tag[16]); the nonce
 * is random for every seal, so sealing the same Secret twice gives two
 * different blobs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store_int.h"

#define NONCE 12
#define TAG 16
#define MAGIC "vk1:"

static int hexdecode(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n / 2; i++) {
		int hi = vk_hexval(s[2 * i]), lo = vk_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int vk_store_key_load(const char *path, uint8_t key[VK_STORE_KEY_LEN], char **err)
{
	vk_buf b = {0};
	int rc = vk_read_file(path, &b, err);
	if (rc)
		return rc;
	size_t n = b.len;
	if (n != VK_STORE_KEY_LEN) /* text forms may end with a newline */
		while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
			n--;
	rc = 0;
	if (n == VK_STORE_KEY_LEN) {
		memcpy(key, b.data, VK_STORE_KEY_LEN);
	} else if (n == 2 * VK_STORE_KEY_LEN && hexdecode(b.data, n, key) == 0) {
		/* hex */
	} else {
		vk_buf raw = {0};
		if (n == 44 && vk_base64_decode(b.data, n, &raw) == 0 && raw.len == VK_STORE_KEY_LEN)
			memcpy(key, raw.data, VK_STORE_KEY_LEN);
		else
			rc = -EINVAL;
		vk_buf_free(&raw);
	}
	if (rc)
		*err = vk_asprintf("%s: not a 256-bit key (want 32 raw bytes, 64 hex digits or 44 "
		                   "base64 characters; e.g. 'head -c 32 /dev/urandom > FILE')",
		                   path);
	OPENSSL_cleanse(b.data, b.len);
	vk_buf_free(&b);
	return rc;
}

char *vk_store_seal(const uint8_t key[VK_STORE_KEY_LEN], const void *plain, size_t len)
{
	if (len > INT32_MAX - NONCE - TAG)
		return NULL;
	uint8_t *buf = vk_xmalloc(NONCE + len + TAG);
	int outl = 0, fin = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c || RAND_bytes(buf, NONCE) != 1 || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, key, buf) != 1 ||
	    EVP_EncryptUpdate(c, buf + NONCE, &outl, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, buf + NONCE + outl, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, buf + NONCE + len) != 1) {
		EVP_CIPHER_CTX_free(c);
		free(buf);
		return NULL;
	}
	EVP_CIPHER_CTX_free(c);
	char *b64 = vk_store__b64(buf, NONCE + len + TAG);
	free(buf);
	char *out = vk_asprintf(MAGIC "%s", b64);
	free(b64);
	return out;
}

char *vk_store_unseal(const uint8_t key[VK_STORE_KEY_LEN], const char *blob, size_t blob_len, size_t *len)
{
	size_t m = strlen(MAGIC);
	if (!blob || blob_len < m || memcmp(blob, MAGIC, m) != 0)
		return NULL;
	vk_buf raw = {0};
	if (vk_base64_decode(blob + m, blob_len - m, &raw) != 0 || raw.len < NONCE + TAG) {
		vk_buf_free(&raw);
		return NULL;
	}
	const uint8_t *in = (const uint8_t *)raw.data;
	size_t n = raw.len - NONCE - TAG;
	char *out = vk_xmalloc(n + 1);
	int outl = 0, fin = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	bool ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	          EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1 &&
	          EVP_DecryptInit_ex(c, NULL, NULL, key, in) == 1 &&
	          EVP_DecryptUpdate(c, (uint8_t *)out, &outl, in + NONCE, (int)n) == 1 &&
	          EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, (void *)(in + NONCE + n)) == 1 &&
	          EVP_DecryptFinal_ex(c, (uint8_t *)out + outl, &fin) == 1;
	EVP_CIPHER_CTX_free(c);
	vk_buf_free(&raw);
	if (!ok) {
		OPENSSL_cleanse(out, n);
		free(out);
		return NULL;
	}
	out[n] = 0;
	if (len)
		*len = n;
	return out;
}
