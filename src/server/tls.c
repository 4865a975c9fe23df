/* TLS of the kubelet API: the serving certificate (from files, or made in
 * memory like kubelet's self-signed one), client certificate checking,
 * and reading who the client is from an h2o connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "server_int.h"

/* "what: the OpenSSL reason" (malloc'd); empties OpenSSL's error queue. */
static char *ossl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return vk_asprintf("%s: %s", what, buf);
}

void vk_server__add_san(vk_buf *sans, const char *name)
{
	unsigned char bin[16];
	bool ip = inet_pton(AF_INET, name, bin) == 1 || inet_pton(AF_INET6, name, bin) == 1;
	char item[300];
	snprintf(item, sizeof item, "%s:%s", ip ? "IP" : "DNS", name);
	/* skip duplicates: "DNS:x," appears as a whole item */
	if (sans->len) {
		char *dup = vk_asprintf(",%s,", item);
		char *hay = vk_asprintf(",%s,", sans->data);
		bool seen = strstr(hay, dup) != NULL;
		free(dup);
		free(hay);
		if (seen)
			return;
	}
	vk_buf_printf(sans, "%s%s", sans->len ? "," : "", item);
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	int rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* A self-signed serving certificate for the node's name and addresses,
 * like kubelet makes when it is given none: ECDSA P-256, one year. */
static char *self_signed(SSL_CTX *ctx, const vk_server_opts *o)
{
	vk_buf sans = {0};
	vk_server__add_san(&sans, o->nodename);
	const cJSON *a;
	const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o->node, "status"),
	                                                      "addresses");
	cJSON_ArrayForEach(a, addrs) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "address");
		if (cJSON_IsString(v) && v->valuestring[0])
			vk_server__add_san(&sans, v->valuestring);
	}
	vk_server__add_san(&sans, "localhost");
	vk_server__add_san(&sans, "127.0.0.1");
	if (o->address && strcmp(o->address, "0.0.0.0") != 0 && strcmp(o->address, "::") != 0)
		vk_server__add_san(&sans, o->address);

	char *err = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!key || !x) {
		err = ossl_err("self-signed certificate: key");
		goto out;
	}
	unsigned char serial[16];
	RAND_bytes(serial, sizeof serial);
	serial[0] &= 0x7f; /* positive */
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
	X509_set_pubkey(x, key);
	char cn[300];
	/* kubelet's form: HOST@UNIXTIME */
	snprintf(cn, sizeof cn, "%.200s@%llu", o->nodename, (unsigned long long)(vk_wall_ms() / 1000));
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 || add_ext(x, NID_subject_alt_name, sans.data) < 0) {
		err = ossl_err("self-signed certificate: extensions");
		goto out;
	}
	if (!X509_sign(x, key, EVP_sha256()) || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		err = ossl_err("self-signed certificate");
		goto out;
	}
	/* with the bootstrap, serving_cert.c says it in its one line */
	if (!(o->cert_dir && o->api))
		vk_info("server", "serving with a self-signed certificate for %s", sans.data);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	vk_buf_free(&sans);
	return err;
}

SSL_CTX *vk_server__tls_new(const vk_server_opts *o, char **err)
{
	*err = NULL;
	if (!o->tls_cert_file != !o->tls_key_file) {
		*err = vk_strdup("--tls-cert-file and --tls-private-key-file go together");
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		*err = ossl_err("TLS");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (o->tls_cert_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file) != 1) {
			char *what = vk_asprintf("--tls-cert-file %s", o->tls_cert_file);
			*err = ossl_err(what);
			free(what);
		} else if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file, SSL_FILETYPE_PEM) != 1) {
			bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
			char *what = vk_asprintf("--tls-private-key-file %s%s", o->tls_key_file,
			                         mismatch ? " does not match --tls-cert-file" : "");
			*err = ossl_err(what);
			free(what);
		} else if (SSL_CTX_check_private_key(ctx) != 1) {
			*err = ossl_err("--tls-private-key-file does not match --tls-cert-file");
		}
	} else {
		*err = self_signed(ctx, o);
	}
	if (!*err && o->client_ca_file) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->client_ca_file);
		if (!names || SSL_CTX_load_verify_locations(ctx, o->client_ca_file, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			char *what = vk_asprintf("--client-ca-file %s", o->client_ca_file);
			*err = ossl_err(what);
			free(what);
		} else {
			SSL_CTX_set_client_CA_list(ctx, names);
			/* Asked for, not required: anonymous clients still reach
			 * /healthz; a certificate that does not verify ends the
			 * handshake. */
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
			/* Sessions resumed with a client certificate need an id
			 * context, or OpenSSL refuses the resumption. */
			static const unsigned char sid[] = "vk-kubelet-api";
			SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
		}
	}
	if (*err) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
	return ctx;
}

/* A certificate issued while vk runs (serving_cert.c).  SSL_new copies
 * the context's certificate, so connections already open keep the one they
 * were accepted with, and the next handshake gets this one. */
int vk_server__tls_install(SSL_CTX *ctx, const char *chain_pem, const char *key_pem, char **err)
{
	*err = NULL;
	BIO *cb = BIO_new_mem_buf(chain_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *leaf = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	for (X509 *x; cb && chain && (x = PEM_read_bio_X509(cb, NULL, NULL, NULL));)
		sk_X509_push(chain, x);
	ERR_clear_error(); /* the end of the PEM is an "error" */
	if (!leaf || !key)
		*err = vk_strdup(!leaf ? "no certificate in the PEM" : "no private key in the PEM");
	else if (X509_check_private_key(leaf, key) != 1)
		*err = ossl_err("the certificate does not match the key");
	else if (SSL_CTX_use_cert_and_key(ctx, leaf, key, chain, 1) != 1)
		*err = ossl_err("cannot serve the certificate");
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	EVP_PKEY_free(key);
	BIO_free(cb);
	BIO_free(kb);
	return *err ? -EINVAL : 0;
}

/* h2o 2.2 keeps the OpenSSL handle in a private struct whose first two
 * members are the SSL_CTX and the SSL (lib/common/socket.c) and has no
 * accessor for the peer certificate.  We read those two members, and only
 * trust them when the first is our own SSL_CTX and the SSL agrees. */
struct h2o_ssl_prefix {
	SSL_CTX *ssl_ctx;
	SSL *ossl;
};

bool vk_server__tls_peer(vk_server *s, h2o_req_t *req, char **user, cJSON **groups)
{
	*user = NULL;
	*groups = NULL;
	if (!s->client_auth || !req->conn->callbacks->get_socket)
		return false;
	h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
	if (!sock || !sock->ssl)
		return false;
	const struct h2o_ssl_prefix *pre = (const void *)sock->ssl;
	if (pre->ssl_ctx != s->ssl || !pre->ossl || SSL_get_SSL_CTX(pre->ossl) != s->ssl)
		return false;
	X509 *peer = SSL_get0_peer_certificate(pre->ossl);
	if (!peer || SSL_get_verify_result(pre->ossl) != X509_V_OK)
		return false;
	/* The API server's x509 authenticator: CN is the user, each O a group. */
	X509_NAME *name = X509_get_subject_name(peer);
	*groups = cJSON_CreateArray();
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		if (nid != NID_commonName && nid != NID_organizationName)
			continue;
		unsigned char *utf8 = NULL;
		if (ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e)) < 0)
			continue;
		if (nid == NID_commonName) {
			free(*user);
			*user = vk_strdup((char *)utf8);
		} else {
			cJSON_AddItemToArray(*groups, cJSON_CreateString((char *)utf8));
		}
		OPENSSL_free(utf8);
	}
	if (!*user)
		*user = vk_strdup("");
	return true;
}
