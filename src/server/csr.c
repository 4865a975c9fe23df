/* The pure parts of the serving-certificate bootstrap (OpenSSL only, no
 * I/O): the key and the PKCS#10 request the kubernetes.io/kubelet-serving
 * signer accepts, a certificate's validity, and when to renew it. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "server_int.h"

static char *bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = vk_xcalloc(1, (size_t)n + 1);
	memcpy(s, data, (size_t)n);
	return s;
}

static char *ossl_reason(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return vk_asprintf("%s: %s", what, buf);
}

char *vk_server__serving_sans(const char *nodename, const cJSON *node)
{
	vk_buf sans = {0};
	vk_server__add_san(&sans, nodename);
	const cJSON *a;
	const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "status"),
	                                                      "addresses");
	cJSON_ArrayForEach(a, addrs) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "address");
		if (cJSON_IsString(v) && v->valuestring[0])
			vk_server__add_san(&sans, v->valuestring);
	}
	return vk_buf_steal(&sans);
}

/* The signer's rules (ValidateKubeletServingCSR in the API's certificates
 * helpers): O exactly system:nodes, CN system:node:NAME, DNS or IP SANs
 * only, and the usages go in the CSR object (csr_usages). */
char *vk_server__csr_make(const char *nodename, const char *sans, char **key_pem, char **err)
{
	*key_pem = NULL;
	*err = NULL;
	char *pem = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	BIO *kb = BIO_new(BIO_s_mem()), *rb = BIO_new(BIO_s_mem());
	if (!key || !req || !exts || !kb || !rb) {
		*err = ossl_reason("CSR: key");
		goto out;
	}
	char cn[300];
	snprintf(cn, sizeof cn, "system:node:%s", nodename);
	X509_NAME *name = X509_REQ_get_subject_name(req);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, NULL, NULL, req, NULL, 0);
	X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, sans);
	if (!san || !sk_X509_EXTENSION_push(exts, san)) {
		X509_EXTENSION_free(san);
		*err = ossl_reason("CSR: subjectAltName");
		goto out;
	}
	if (X509_REQ_set_version(req, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"system:nodes", -1, -1, 0) !=
	            1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_add_extensions(req, exts) != 1 ||
	    !X509_REQ_sign(req, key, EVP_sha256())) {
		*err = ossl_reason("CSR");
		goto out;
	}
	if (PEM_write_bio_X509_REQ(rb, req) != 1 || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1) {
		*err = ossl_reason("CSR: PEM");
		goto out;
	}
	pem = bio_text(rb);
	*key_pem = bio_text(kb);
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	if (kb) {
		/* the key's text was copied out: wipe the BIO's copy */
		char *data;
		long n = BIO_get_mem_data(kb, &data);
		if (n > 0)
			OPENSSL_cleanse(data, (size_t)n);
	}
	BIO_free(kb);
	BIO_free(rb);
	return pem;
}

static int asn1_ms(const ASN1_TIME *t, int64_t *ms)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

int vk_server__cert_validity(const char *pem, int64_t *not_before_ms, int64_t *not_after_ms)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int rc = -EINVAL;
	if (x && asn1_ms(X509_get0_notBefore(x), not_before_ms) == 0 &&
	    asn1_ms(X509_get0_notAfter(x), not_after_ms) == 0 && *not_after_ms > *not_before_ms)
		rc = 0;
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return rc;
}

bool vk_server__cert_covers(const char *pem, const char *sans)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	bool ok = x != NULL;
	char *list = vk_strdup(sans ? sans : "");
	for (char *save = NULL, *item = strtok_r(list, ",", &save); ok && item; item = strtok_r(NULL, ",", &save)) {
		if (strncmp(item, "IP:", 3) == 0)
			ok = X509_check_ip_asc(x, item + 3, 0) == 1;
		else if (strncmp(item, "DNS:", 4) == 0)
			ok = X509_check_host(x, item + 4, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	}
	free(list);
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return ok;
}

/* kubelet's certificate manager: notBefore + a random 70-90 % of the
 * lifetime, so that nodes started together do not renew together. */
int64_t vk_server__rotation_deadline(int64_t not_before_ms, int64_t not_after_ms, double r)
{
	if (r < 0)
		r = 0;
	if (r > 1)
		r = 1;
	return not_before_ms + llround((double)(not_after_ms - not_before_ms) * (0.7 + 0.2 * r));
}
