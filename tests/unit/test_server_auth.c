/* The kubelet API's authentication parts that need no server: the bearer
 * token cache on a driven clock, and the serving certificate's request,
 * validity, renewal time and installation into an SSL_CTX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "server_int.h"
#include "tap.h"

static void test_token_cache(void)
{
	vk_server_token_cache *c = vk_server__token_cache_new(120000, 3);
	char k1[65], k2[65], k3[65], k4[65];
	vk_server__token_key("tok-1", 5, k1);
	vk_server__token_key("tok-2", 5, k2);
	vk_server__token_key("tok-3", 5, k3);
	vk_server__token_key("tok-4", 5, k4);
	is_int(strlen(k1), 64, "a token's key is 64 hex digits (SHA-256)");
	ok(strcmp(k1, k2) != 0 && !strstr(k1, "tok"), "keys differ per token and do not hold the token");
	char again[65];
	vk_server__token_key("tok-1", 5, again);
	is_str(again, k1, "the same token has the same key");

	bool fresh = true;
	ok(vk_server__token_cache_get(c, k1, 0, &fresh) == NULL && !fresh, "an unknown token is not cached");
	cJSON *groups = cJSON_CreateArray();
	cJSON_AddItemToArray(groups, cJSON_CreateString("system:serviceaccounts"));
	ok(vk_server__token_cache_put(c, k1, true, "system:serviceaccount:ns:sa", groups, 1000), "an answer is kept");
	cJSON_Delete(groups); /* the cache has its own copy */
	const vk_server_token_entry *e = vk_server__token_cache_get(c, k1, 1000 + 119999, &fresh);
	ok(e && fresh && e->authenticated, "authenticated: still valid 1 ms before 2 min have passed");
	is_str(e ? e->user : NULL, "system:serviceaccount:ns:sa", "the user is kept");
	is_str(e ? cJSON_GetStringValue(cJSON_GetArrayItem(e->groups, 0)) : NULL, "system:serviceaccounts",
	       "the groups are kept (a copy)");
	e = vk_server__token_cache_get(c, k1, 1000 + 120000, &fresh);
	ok(e && !fresh, "after 2 min it is expired, and still returned for the caller to judge");

	ok(vk_server__token_cache_put(c, k2, false, NULL, NULL, 5000), "a 'not authenticated' answer is kept");
	e = vk_server__token_cache_get(c, k2, 5000 + 60000, &fresh);
	ok(e && fresh && !e->authenticated && !e->user, "not authenticated: valid for the same TTL (kubelet's)");
	ok(vk_server__token_cache_put(c, k1, false, NULL, NULL, 200000) &&
	           (e = vk_server__token_cache_get(c, k1, 200000, &fresh)) && fresh && !e->authenticated,
	   "a new answer replaces the old one");

	/* full: 3 entries (k1 at 200000, k2 at 5000, k3 now) */
	ok(vk_server__token_cache_put(c, k3, true, "u3", NULL, 100000), "a third token fills the cache");
	is_int(vk_server__token_cache_len(c), 3, "three entries");
	ok(vk_server__token_cache_put(c, k4, true, "u4", NULL, 130000),
	   "when full, a new token is kept after the expired ones are dropped");
	ok(vk_server__token_cache_get(c, k2, 130000, &fresh) == NULL, "the expired entry went");
	is_int(vk_server__token_cache_len(c), 3, "still three entries");
	char k5[65];
	vk_server__token_key("tok-5", 5, k5);
	ok(!vk_server__token_cache_put(c, k5, true, "u5", NULL, 130001),
	   "full of valid answers: a new token is not kept (memory stays bounded)");
	is_int(vk_server__token_cache_len(c), 3, "the cache did not grow");
	vk_server__token_cache_free(c);

	c = vk_server__token_cache_new(0, 10);
	ok(!vk_server__token_cache_put(c, k1, true, "u", NULL, 0) && vk_server__token_cache_len(c) == 0,
	   "a TTL of 0 keeps nothing: every request is reviewed");
	vk_server__token_cache_free(c);
}

static void test_deadline(void)
{
	int64_t nb = 1000000, na = nb + 1000000;
	is_int(vk_server__rotation_deadline(nb, na, 0), nb + 700000,
	       "renewal at 70 %% of the lifetime at the earliest");
	is_int(vk_server__rotation_deadline(nb, na, 1), nb + 900000, "and at 90 %% at the latest");
	is_int(vk_server__rotation_deadline(nb, na, 0.5), nb + 800000, "80 %% in the middle");
	is_int(vk_server__rotation_deadline(nb, na, 7), nb + 900000, "r above 1 is 1");
	is_int(vk_server__rotation_deadline(nb, na, -1), nb + 700000, "r below 0 is 0");
}

/* A certificate for the request's key, signed by a throw-away CA key. */
static char *sign(const char *csr_pem, long from_s, long days)
{
	BIO *b = BIO_new_mem_buf(csr_pem, -1);
	X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	EVP_PKEY *ca = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), from_s + days * 86400);
	X509_set_subject_name(x, X509_REQ_get_subject_name(req));
	X509_set_issuer_name(x, X509_REQ_get_subject_name(req));
	EVP_PKEY *pub = X509_REQ_get_pubkey(req);
	X509_set_pubkey(x, pub);
	/* the signer copies the request's subjectAltName */
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_sign(x, ca, EVP_sha256());
	BIO *out = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(out, x);
	char *data;
	long n = BIO_get_mem_data(out, &data);
	char *pem = vk_memdupz(data, (size_t)n);
	BIO_free(out);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ca);
	X509_free(x);
	X509_REQ_free(req);
	return pem;
}

static void test_csr(void)
{
	cJSON *node = cJSON_Parse(
		"{\"status\": {\"addresses\": [{\"type\": \"InternalIP\", \"address\": \"127.0.0.1\"},"
		"{\"type\": \"Hostname\", \"address\": \"edge-1\"},"
		"{\"type\": \"ExternalIP\", \"address\": \"fd00::5\"}]}}");
	char *sans = vk_server__serving_sans("edge-1", node);
	is_str(sans, "DNS:edge-1,IP:127.0.0.1,IP:fd00::5",
	       "the SANs are the node's name and addresses, IPs as IP entries, each once");
	cJSON_Delete(node);

	char *key = NULL, *err = NULL;
	char *pem = vk_server__csr_make("edge-1", sans, &key, &err);
	ok(pem && key && !err, "a request and its key are made");
	BIO *b = BIO_new_mem_buf(pem ? pem : "", -1);
	X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	ok(req != NULL, "the request is a PEM CERTIFICATE REQUEST");
	EVP_PKEY *pub = req ? X509_REQ_get_pubkey(req) : NULL;
	ok(pub && X509_REQ_verify(req, pub) == 1, "its signature verifies with its own key");
	ok(pub && EVP_PKEY_is_a(pub, "EC"), "the key is ECDSA (usages: digital signature, server auth)");
	char subject[256] = "";
	if (req)
		X509_NAME_oneline(X509_REQ_get_subject_name(req), subject, sizeof subject);
	is_str(subject, "/O=system:nodes/CN=system:node:edge-1",
	       "subject: O system:nodes, CN system:node:NAME (the kubelet-serving signer's rule)");
	STACK_OF(X509_EXTENSION) *exts = req ? X509_REQ_get_extensions(req) : NULL;
	GENERAL_NAMES *names = NULL;
	for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name)
			names = X509V3_EXT_d2i(ext);
	}
	int dns = 0, ip = 0, other = 0;
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		int t = sk_GENERAL_NAME_value(names, i)->type;
		dns += t == GEN_DNS;
		ip += t == GEN_IPADD;
		other += t != GEN_DNS && t != GEN_IPADD;
	}
	ok(dns == 1 && ip == 2 && other == 0, "the request's subjectAltName has 1 DNS and 2 IP names, nothing else");
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);

	/* issued: validity, installation */
	char *cert = sign(pem, -300, 365);
	int64_t nb = 0, na = 0;
	ok(vk_server__cert_validity(cert, &nb, &na) == 0, "the validity of an issued certificate is read");
	int64_t now = (int64_t)vk_wall_ms();
	ok(nb <= now - 299000 && nb >= now - 302000 && na - nb == 365LL * 86400 * 1000,
	   "notBefore and notAfter in ms since the epoch");
	ok(vk_server__cert_validity("not a pem", &nb, &na) < 0, "no certificate: -EINVAL");

	ok(vk_server__cert_covers(cert, sans), "the certificate names every SAN it was asked for");
	ok(!vk_server__cert_covers(cert, "DNS:edge-1,IP:10.1.2.3"), "a new address is not covered (a new CSR is due)");
	ok(!vk_server__cert_covers(cert, "DNS:edge-2"), "nor another name");
	ok(!vk_server__cert_covers("junk", "DNS:edge-1"), "no certificate covers nothing");

	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	ok(vk_server__tls_install(ctx, cert, key, &err) == 0 && !err,
	   "the issued certificate and its key are installed");
	X509 *leaf = SSL_CTX_get0_certificate(ctx);
	ok(leaf && ASN1_INTEGER_get(X509_get0_serialNumber(leaf)) == 7, "new connections get it");
	char *key2 = NULL;
	char *pem2 = vk_server__csr_make("edge-1", sans, &key2, &err);
	ok(pem2 && strcmp(key2, key) != 0, "each request has a key of its own");
	ok(vk_server__tls_install(ctx, cert, key2, &err) < 0 && err && strstr(err, "does not match"),
	   "a certificate with another request's key is refused, saying why");
	free(err);
	err = NULL;
	leaf = SSL_CTX_get0_certificate(ctx);
	ok(leaf && ASN1_INTEGER_get(X509_get0_serialNumber(leaf)) == 7, "and the one served stays");
	ok(vk_server__tls_install(ctx, "", key, &err) < 0 && err && strstr(err, "no certificate"),
	   "no certificate in the PEM is refused");
	free(err);
	SSL_CTX_free(ctx);
	free(pem2);
	free(key2);
	free(cert);
	free(pem);
	free(key);
	free(sans);
}

int main(void)
{
	test_token_cache();
	test_deadline();
	test_csr();
	return tap_done();
}
