/* vk.crypto: the digests a cloud API's request signature needs, over
 * OpenSSL (no yield):
 *   sha256(s)            -> 32 raw bytes
 *   hmac_sha256(key, s)  -> 32 raw bytes
 *   hex(s)               -> lower-case hex of any bytes
 * A provider signs a request as its cloud documents, e.g. hex(hmac_sha256(
 * secret, canonical_string)) with the canonical string built in Lua. */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "host.h"

static int l_sha256(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!EVP_Digest(s, n, md, &len, EVP_sha256(), NULL))
		return luaL_error(L, "vk.crypto.sha256: OpenSSL failed");
	lua_pushlstring(L, (const char *)md, len);
	return 1;
}

static int l_hmac_sha256(lua_State *L)
{
	size_t kn, n;
	const char *key = luaL_checklstring(L, 1, &kn);
	const char *s = luaL_checklstring(L, 2, &n);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (kn > (size_t)INT32_MAX)
		return luaL_argerror(L, 1, "a key shorter than 2 GiB");
	if (!HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)s, n, md, &len))
		return luaL_error(L, "vk.crypto.hmac_sha256: OpenSSL failed");
	lua_pushlstring(L, (const char *)md, len);
	return 1;
}

static int l_hex(lua_State *L)
{
	size_t n;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
	static const char digits[] = "0123456789abcdef";
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, n * 2);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[s[i] >> 4];
		out[2 * i + 1] = digits[s[i] & 15];
	}
	luaL_pushresultsize(&b, n * 2);
	return 1;
}

int vk_lua__open_crypto(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"sha256", l_sha256},
		{"hmac_sha256", l_hmac_sha256},
		{"hex", l_hex},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
