/* The kubelet API's serving certificate from the cluster, as kubelet's
 * serverTLSBootstrap does it:
 *   - at start, a certificate issued before (CERT_DIR/vk-server-current.pem,
 *     chain and key) that has not expired is served at once;
 *   - else a CertificateSigningRequest (certificates.k8s.io/v1, signer
 *     kubernetes.io/kubelet-serving, CN system:node:NAME, O system:nodes,
 *     the node's name and addresses as SANs, usages "digital signature" and
 *     "server auth" for the ECDSA key) is created and watched; meanwhile the
 *     self-signed certificate is served, which one log line says;
 *   - once someone approves it and the signer issues it, the certificate is
 *     written to CERT_DIR and swapped into the SSL_CTX: new connections get
 *     it, no restart;
 *   - it is renewed the same way at a random 70-90 % of its lifetime (or
 *     cert_rotate_after_ms after it was installed, for tests), the old one
 *     served until the new one arrives.
 * A denied or failed request, or one not issued within 15 minutes (kubelet's
 * wait), is followed by a new one after a backoff (2 s doubling to 32 s).
 * The file is a few KB, written with one write and a rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "server_int.h"

#define SIGNER "kubernetes.io/kubelet-serving"
#define WAIT_MS (15 * 60 * 1000)
#define CSR_PATH "/apis/certificates.k8s.io/v1/certificatesigningrequests"

struct vk_server_cert {
	vk_server *s;
	char *nodename;
	char *sans;
	char *dir, *file;
	unsigned rotate_after_ms;
	uv_timer_t timer;   /* the next CSR: renewal, backoff, or 15 min wait over */
	uv_timer_t rewatch; /* a watch that failed starts again */
	int open_handles;
	vk_backoff backoff;
	vk_kube_call *create;
	vk_kube_watch *watch;
	char *csr;     /* the pending CSR's name */
	char *key_pem; /* its key */
	bool issued;   /* a cluster certificate is being served */
};

static void request_cert(vk_server_cert *c);

static void forget_pending(vk_server_cert *c)
{
	if (c->create)
		vk_kube_cancel(c->create);
	c->create = NULL;
	if (c->watch)
		vk_kube_watch_stop(c->watch);
	c->watch = NULL;
	uv_timer_stop(&c->rewatch);
	free(c->csr);
	c->csr = NULL;
	if (c->key_pem)
		OPENSSL_cleanse(c->key_pem, strlen(c->key_pem));
	free(c->key_pem);
	c->key_pem = NULL;
}

static void on_timer(uv_timer_t *t) { request_cert(t->data); }

static void retry_later(vk_server_cert *c, const char *why)
{
	uint64_t d = vk_backoff_next(&c->backoff);
	vk_warn("server", "serving certificate: %s; a new CSR in %.1f s", why, (double)d / 1000);
	forget_pending(c);
	uv_timer_start(&c->timer, on_timer, d, 0);
}

static int mkdir_p(const char *dir)
{
	char *p = vk_strdup(dir);
	int rc = 0;
	for (char *q = p + 1; rc == 0; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char was = *q;
		*q = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			rc = -errno;
		*q = was;
		if (!was)
			break;
	}
	free(p);
	return rc;
}

/* chain + key, 0600, replaced atomically: a crash leaves the old or the new. */
static int save(vk_server_cert *c, const char *chain, const char *key)
{
	char *tmp = vk_asprintf("%s.tmp", c->file);
	vk_buf b = {0};
	vk_buf_printf(&b, "%s%s%s", chain, chain[0] && chain[strlen(chain) - 1] != '\n' ? "\n" : "", key);
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, c->file) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	OPENSSL_cleanse(b.data, b.len);
	vk_buf_free(&b);
	free(tmp);
	return rc;
}

/* Serves chain+key and plans the renewal.  0, or -EINVAL (logged). */
static int use_cert(vk_server_cert *c, const char *chain, const char *key, const char *from)
{
	char *err = NULL;
	int64_t nb, na;
	int64_t now = (int64_t)vk_wall_ms();
	if (vk_server__cert_validity(chain, &nb, &na) < 0) {
		vk_warn("server", "serving certificate from %s: cannot read its validity", from);
		return -EINVAL;
	}
	if (na <= now) {
		vk_info("server", "serving certificate from %s has expired", from);
		return -EINVAL;
	}
	if (vk_server__tls_install(c->s->ssl, chain, key, &err) < 0) {
		vk_warn("server", "serving certificate from %s: %s", from, err);
		free(err);
		return -EINVAL;
	}
	c->issued = true;
	unsigned char r[4];
	RAND_bytes(r, sizeof r);
	double rf = (double)((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3]) / 4294967295.0;
	int64_t at = c->rotate_after_ms ? now + c->rotate_after_ms : vk_server__rotation_deadline(nb, na, rf);
	uint64_t delay = at > now ? (uint64_t)(at - now) : 0;
	char until[40], renew[40];
	vk_rfc3339(until, (uint64_t)na, false);
	vk_rfc3339(renew, (uint64_t)at, false);
	vk_info("server", "serving the certificate the cluster issued (%s, %s), valid until %s; renewed at %s", from,
	        c->sans, until, renew);
	uv_timer_start(&c->timer, on_timer, delay, 0);
	return 0;
}

static void watch_start(vk_server_cert *c);

static void on_rewatch(uv_timer_t *t) { watch_start(t->data); }

/* What the CSR's status says: issued (use it), denied/failed (retry). */
static void on_csr(vk_server_cert *c, const cJSON *obj)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *cond;
	cJSON_ArrayForEach(cond, cJSON_GetObjectItemCaseSensitive(st, "conditions")) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cond, "type"));
		if (type && (strcmp(type, "Denied") == 0 || strcmp(type, "Failed") == 0)) {
			const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cond, "message"));
			char *why = vk_asprintf("CSR %s was %s%s%s", c->csr,
			                        strcmp(type, "Denied") == 0 ? "denied" : "failed",
			                        msg && *msg ? ": " : "", msg && *msg ? msg : "");
			retry_later(c, why);
			free(why);
			return;
		}
	}
	const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "certificate"));
	if (!b64 || !*b64 || !c->key_pem)
		return; /* not yet issued (or already taken) */
	vk_buf pem = {0};
	if (vk_base64_decode(b64, strlen(b64), &pem) < 0) {
		vk_buf_free(&pem);
		char *why = vk_asprintf("CSR %s: status.certificate is not base64", c->csr);
		retry_later(c, why);
		free(why);
		return;
	}
	vk_buf_append(&pem, "", 1); /* NUL */
	char *from = vk_asprintf("CSR %s", c->csr);
	char *key = c->key_pem;
	c->key_pem = NULL;
	int rc = use_cert(c, pem.data, key, from);
	if (rc == 0) {
		int src = save(c, pem.data, key);
		if (src < 0)
			vk_warn("server", "serving certificate: cannot keep it in %s (%s); a restart asks again",
			        c->file, strerror(-src));
		vk_backoff_reset(&c->backoff);
		forget_pending(c);
	} else {
		char *why = vk_asprintf("%s: the issued certificate cannot be served", from);
		retry_later(c, why);
		free(why);
	}
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(from);
	vk_buf_free(&pem);
}

static void watch_event(const char *type, cJSON *object, void *ud)
{
	vk_server_cert *c = ud;
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
		on_csr(c, object);
	else if (strcmp(type, "DELETED") == 0)
		retry_later(c, "the CSR was deleted before it was issued");
}

static void watch_closed(long status, const char *err, void *ud)
{
	vk_server_cert *c = ud;
	c->watch = NULL;
	if (!c->csr)
		return;
	/* a clean end (the server's timeout) resumes at once; a failure later */
	uv_timer_start(&c->rewatch, on_rewatch, status == 200 && !err ? 0 : 2000, 0);
}

/* A watch on the one CSR: its first event is its current state. */
static void watch_start(vk_server_cert *c)
{
	if (!c->csr || c->watch)
		return;
	char *q = vk_asprintf("metadata.name=%s", c->csr);
	char *eq = vk_kube_escape(q);
	char *path = vk_asprintf(CSR_PATH "?timeoutSeconds=300&fieldSelector=%s", eq);
	if (vk_kube_watch_start(c->s->api, path, watch_event, watch_closed, c, &c->watch) < 0)
		uv_timer_start(&c->rewatch, on_rewatch, 2000, 0);
	free(path);
	free(eq);
	free(q);
}

static void on_created(const vk_kube_result *r, void *ud)
{
	vk_server_cert *c = ud;
	c->create = NULL;
	const char *name = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "metadata"), "name"));
	if (r->status != 201 || !name) {
		char *why = vk_asprintf("cannot create a CSR (%ld: %s)", r->status, r->error ? r->error : "no name");
		retry_later(c, why);
		free(why);
		return;
	}
	c->csr = vk_strdup(name);
	if (c->issued)
		vk_info("server",
		        "serving certificate: renewing it with CSR %s (signer " SIGNER "), waiting for approval",
		        c->csr);
	else
		vk_info("server",
		        "serving a self-signed certificate until CSR %s (signer " SIGNER ", %s) is approved and issued",
		        c->csr, c->sans);
	uv_timer_start(&c->timer, on_timer, WAIT_MS, 0); /* kubelet's wait, then a new CSR */
	watch_start(c);
}

static void request_cert(vk_server_cert *c)
{
	if (c->csr) { /* the 15 minutes are over */
		vk_warn("server", "serving certificate: CSR %s was not issued within 15 minutes; asking again", c->csr);
		forget_pending(c);
	}
	char *err = NULL, *key = NULL;
	char *pem = vk_server__csr_make(c->nodename, c->sans, &key, &err);
	if (!pem) {
		retry_later(c, err);
		free(err);
		return;
	}
	c->key_pem = key;
	vk_buf b64 = {0};
	vk_base64_encode(pem, strlen(pem), &b64);
	free(pem);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "apiVersion", "certificates.k8s.io/v1");
	cJSON_AddStringToObject(o, "kind", "CertificateSigningRequest");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "generateName", "csr-");
	cJSON *spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(spec, "request", b64.data);
	cJSON_AddStringToObject(spec, "signerName", SIGNER);
	cJSON *usages = cJSON_AddArrayToObject(spec, "usages");
	cJSON_AddItemToArray(usages, cJSON_CreateString("digital signature"));
	cJSON_AddItemToArray(usages, cJSON_CreateString("server auth"));
	char *body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	vk_buf_free(&b64);
	int rc = vk_kube_request(c->s->api, "POST", CSR_PATH, NULL, body, on_created, c, &c->create);
	free(body);
	if (rc < 0) {
		c->create = NULL;
		char *why = vk_asprintf("cannot create a CSR (%s)", strerror(-rc));
		retry_later(c, why);
		free(why);
	}
}

int vk_server__cert_start(vk_server *s, const vk_server_opts *o, char **err)
{
	*err = NULL;
	/* Not fatal: the certificate is still asked for and served, only not
	 * kept for the next run (each failed write says so). */
	int rc = mkdir_p(o->cert_dir);
	if (rc < 0)
		vk_warn("server", "--cert-dir %s: %s; an issued serving certificate cannot be kept across restarts",
		        o->cert_dir, strerror(-rc));
	vk_server_cert *c = vk_xcalloc(1, sizeof *c);
	c->s = s;
	c->nodename = vk_strdup(o->nodename);
	c->sans = vk_server__serving_sans(o->nodename, o->node);
	c->dir = vk_strdup(o->cert_dir);
	c->file = vk_asprintf("%s/vk-server-current.pem", o->cert_dir);
	c->rotate_after_ms = o->cert_rotate_after_ms;
	c->backoff = (vk_backoff){.base_ms = 2000, .max_ms = 32000};
	uv_timer_init(s->loop, &c->timer);
	uv_timer_init(s->loop, &c->rewatch);
	c->timer.data = c->rewatch.data = c;
	c->open_handles = 2;
	s->cert = c;

	/* A certificate kept by an earlier run (start-up: a small local file). */
	vk_buf kept = {0};
	char *rerr = NULL;
	if (vk_read_file(c->file, &kept, &rerr) == 0) {
		vk_buf_append(&kept, "", 1);
		if (use_cert(c, kept.data, kept.data, c->file) == 0) {
			/* kubelet renews at once when its certificate no longer
			 * fits the template: here, the node's names changed */
			bool fits = vk_server__cert_covers(kept.data, c->sans);
			OPENSSL_cleanse(kept.data, kept.len);
			vk_buf_free(&kept);
			if (!fits) {
				vk_info("server",
				        "the kept serving certificate does not name all of %s: asking for a new one",
				        c->sans);
				uv_timer_stop(&c->timer);
				request_cert(c);
			}
			return 0;
		}
		OPENSSL_cleanse(kept.data, kept.len);
	}
	free(rerr);
	vk_buf_free(&kept);
	request_cert(c);
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	vk_server_cert *c = h->data;
	if (--c->open_handles > 0)
		return;
	free(c->nodename);
	free(c->sans);
	free(c->dir);
	free(c->file);
	free(c);
}

void vk_server__cert_close(vk_server *s)
{
	vk_server_cert *c = s->cert;
	if (!c)
		return;
	s->cert = NULL;
	forget_pending(c);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->rewatch, on_handle_closed);
}
