/* kubeconfig: find it, parse it (YAML), pick a context, read the files it
 * names, and say in one line what is wrong when something is.
 *
 * Messages name the file and the field path as kubectl users see it in the
 * file, e.g. "config.yaml: users[0].user.client-key-data: not valid base64",
 * so a broken config can be fixed without reading vk's source. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube_int.h"
#include "vk/kube.h"
#include "vk/util.h"
#include "vk/yaml.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct {
	const char *origin;
	const char *base_dir;
	char **err;
} pctx;

static int failf(pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(pctx *p, const char *fmt, ...)
{
	if (p->err && !*p->err) {
		vk_buf b = {0};
		va_list ap;
		va_start(ap, fmt);
		char *msg;
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		vk_buf_printf(&b, "%s: %s", p->origin, msg ? msg : "out of memory");
		free(msg);
		*p->err = vk_buf_steal(&b);
	}
	return -EINVAL;
}

/* Reads an optional string field; a present non-string is an error. */
static int get_str(pctx *p, const cJSON *obj, const char *key, const char *path, const char **out)
{
	*out = NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return failf(p, "%s.%s: expected a string", path, key);
	*out = v->valuestring;
	return 0;
}

static int get_bool(pctx *p, const cJSON *obj, const char *key, const char *path, bool *out)
{
	*out = false;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return failf(p, "%s.%s: expected true or false", path, key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static char *resolve(const char *base_dir, const char *path)
{
	if (path[0] == '/' || !base_dir || !*base_dir)
		return vk_strdup(path);
	return vk_asprintf("%s/%s", base_dir, path);
}

static bool looks_pem(const vk_buf *b) { return b->data && strstr(b->data, "-----BEGIN ") != NULL; }

/* Fills *out with PEM bytes from KEY-data (base64) or KEY (a file path); the
 * -data form wins when both are set, as in client-go. */
static int get_pem(pctx *p, const cJSON *obj, const char *key, const char *path, char **out)
{
	const char *file, *data;
	char data_key[64];
	snprintf(data_key, sizeof data_key, "%s-data", key);
	if (get_str(p, obj, key, path, &file) < 0 || get_str(p, obj, data_key, path, &data) < 0)
		return -EINVAL;
	vk_buf b = {0};
	if (data && *data) {
		if (vk_base64_decode(data, strlen(data), &b) < 0) {
			vk_buf_free(&b);
			return failf(p, "%s.%s: not valid base64", path, data_key);
		}
		if (!looks_pem(&b)) {
			vk_buf_free(&b);
			return failf(p, "%s.%s: not PEM data (no \"-----BEGIN\" line after base64 decoding)", path,
			             data_key);
		}
	} else if (file && *file) {
		char *full = resolve(p->base_dir, file), *ferr = NULL;
		if (vk_read_file(full, &b, &ferr) < 0) {
			failf(p, "%s.%s: %s", path, key, ferr);
			free(ferr);
			free(full);
			vk_buf_free(&b);
			return -EINVAL;
		}
		if (!looks_pem(&b)) {
			failf(p, "%s.%s: %s: not a PEM file", path, key, full);
			free(full);
			vk_buf_free(&b);
			return -EINVAL;
		}
		free(full);
	} else {
		*out = NULL;
		return 0;
	}
	*out = vk_buf_steal(&b);
	return 0;
}

static void trim_right(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* Reads a bearer token file (a service account token, typically). */
static int read_token(pctx *p, const char *field, const char *file, char **out)
{
	vk_buf b = {0};
	char *ferr = NULL;
	if (vk_read_file(file, &b, &ferr) < 0) {
		failf(p, "%s: %s", field, ferr);
		free(ferr);
		vk_buf_free(&b);
		return -EINVAL;
	}
	char *tok = vk_buf_steal(&b);
	trim_right(tok);
	if (!*tok) {
		free(tok);
		return failf(p, "%s: %s: file is empty", field, file);
	}
	*out = tok;
	return 0;
}

/* Finds the entry named `name` in the list `list` ("clusters", "users",
 * "contexts"); returns its inner object (entry[inner]) and its index. */
static int find_named(pctx *p, const cJSON *root, const char *list, const char *inner, const char *name,
                      const char *who, const cJSON **out, int *idx)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, list);
	if (arr && !cJSON_IsNull(arr) && !cJSON_IsArray(arr))
		return failf(p, "%s: expected a list", list);
	int i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, arr) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
			const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, inner);
			if (!cJSON_IsObject(in))
				return failf(p, "%s[%d].%s: missing or not a mapping", list, i, inner);
			*out = in;
			*idx = i;
			return 0;
		}
		i++;
	}
	/* a name may hold any character: keep the message on one line */
	char shown[256];
	size_t k = 0;
	for (const char *c = name; *c && k + 3 < sizeof shown; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t') {
			shown[k++] = '\\';
			shown[k++] = *c == '\n' ? 'n' : *c == '\r' ? 'r' : 't';
		} else {
			shown[k++] = *c;
		}
	shown[k] = '\0';
	return failf(p, "%s \"%s\": no such %.*s", who, shown, (int)strlen(list) - 1, list);
}

static int parse_cluster(pctx *p, const cJSON *c, int i, vk_kubeconfig *out)
{
	char path[64];
	snprintf(path, sizeof path, "clusters[%d].cluster", i);
	const char *server;
	if (get_str(p, c, "server", path, &server) < 0)
		return -EINVAL;
	if (!server || !*server)
		return failf(p, "%s.server: missing", path);
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return failf(p, "%s.server: \"%s\" is not an http(s):// URL", path, server);
	out->server = vk_strdup(server);
	size_t n = strlen(out->server);
	while (n > 8 && out->server[n - 1] == '/')
		out->server[--n] = '\0';
	if (get_bool(p, c, "insecure-skip-tls-verify", path, &out->insecure) < 0)
		return -EINVAL;
	return get_pem(p, c, "certificate-authority", path, &out->ca_pem);
}

static char **str_list(const cJSON *arr)
{
	char **v = vk_xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *v);
	size_t n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, arr)
		v[n++] = vk_strdup(e->valuestring);
	return v;
}

/* user.exec, as client-go reads it: apiVersion and command are required,
 * interactiveMode Always cannot work without a terminal (vk has none). */
static int parse_exec(pctx *p, const cJSON *e, const char *upath, vk_kubeconfig *out)
{
	char path[96];
	snprintf(path, sizeof path, "%s.exec", upath);
	if (!cJSON_IsObject(e))
		return failf(p, "%s: expected a mapping", path);
	const char *api, *cmd, *mode, *hint;
	if (get_str(p, e, "apiVersion", path, &api) < 0 || get_str(p, e, "command", path, &cmd) < 0 ||
	    get_str(p, e, "interactiveMode", path, &mode) < 0 || get_str(p, e, "installHint", path, &hint) < 0)
		return -EINVAL;
	if (!api || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
	             strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
		return failf(p, "%s.apiVersion: %s%s%s; vk speaks client.authentication.k8s.io/v1 and v1beta1", path,
		             api ? "'" : "missing", api ? api : "", api ? "' is not supported" : "");
	if (!cmd || !*cmd)
		return failf(p, "%s.command: missing", path);
	if (mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0 && strcmp(mode, "Always") != 0)
		return failf(p, "%s.interactiveMode: '%s' is not Never, IfAvailable or Always", path, mode);
	if (mode && strcmp(mode, "Always") == 0)
		return failf(p, "%s.interactiveMode: Always needs a terminal, and vk runs without one", path);
	if (!mode && strcmp(api, "client.authentication.k8s.io/v1") == 0)
		return failf(p, "%s.interactiveMode: missing (required by client.authentication.k8s.io/v1)", path);
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args"),
		    *env = cJSON_GetObjectItemCaseSensitive(e, "env");
	const cJSON *it;
	int i = 0;
	if (args && !cJSON_IsNull(args)) {
		if (!cJSON_IsArray(args))
			return failf(p, "%s.args: expected a list of strings", path);
		cJSON_ArrayForEach(it, args) {
			if (!cJSON_IsString(it))
				return failf(p, "%s.args[%d]: expected a string", path, i);
			i++;
		}
	}
	i = 0;
	if (env && !cJSON_IsNull(env)) {
		if (!cJSON_IsArray(env))
			return failf(p, "%s.env: expected a list of {name, value}", path);
		cJSON_ArrayForEach(it, env) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "value");
			if (!cJSON_IsString(n) || !*n->valuestring || !cJSON_IsString(v))
				return failf(p, "%s.env[%d]: expected {name: NAME, value: VALUE}", path, i);
			i++;
		}
	}
	bool cluster_info;
	if (get_bool(p, e, "provideClusterInfo", path, &cluster_info) < 0)
		return -EINVAL;

	vk_kube_exec *x = vk_xcalloc(1, sizeof *x);
	x->api_version = vk_strdup(api);
	x->command = strchr(cmd, '/') ? resolve(p->base_dir, cmd) : vk_strdup(cmd);
	x->install_hint = vk_strdup(hint);
	x->args = str_list(cJSON_IsArray(args) ? args : NULL);
	x->env = vk_xcalloc((size_t)cJSON_GetArraySize(env) + 1, sizeof *x->env);
	i = 0;
	cJSON_ArrayForEach(it, (cJSON_IsArray(env) ? env : NULL)) {
		x->env[i++] = vk_asprintf("%s=%s", cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring,
		                          cJSON_GetObjectItemCaseSensitive(it, "value")->valuestring);
	}
	cJSON *info = cJSON_CreateObject();
	cJSON_AddStringToObject(info, "kind", "ExecCredential");
	cJSON_AddStringToObject(info, "apiVersion", api);
	cJSON *spec = cJSON_AddObjectToObject(info, "spec");
	cJSON_AddBoolToObject(spec, "interactive", false);
	if (cluster_info) {
		cJSON *c = cJSON_AddObjectToObject(spec, "cluster");
		cJSON_AddStringToObject(c, "server", out->server);
		if (out->ca_pem) {
			vk_buf b64 = {0};
			vk_base64_encode(out->ca_pem, strlen(out->ca_pem), &b64);
			vk_buf_append(&b64, "", 1);
			cJSON_AddStringToObject(c, "certificate-authority-data", b64.data);
			vk_buf_free(&b64);
		}
		if (out->insecure)
			cJSON_AddBoolToObject(c, "insecure-skip-tls-verify", true);
	}
	x->exec_info = cJSON_PrintUnformatted(info);
	cJSON_Delete(info);
	out->exec = x;
	return 0;
}

static int parse_user(pctx *p, const cJSON *u, int i, vk_kubeconfig *out)
{
	char path[64];
	snprintf(path, sizeof path, "users[%d].user", i);
	static const char *const unsupported[][2] = {
		{"auth-provider", "auth-provider plugins are not supported; use a client certificate or a token"},
		{"username", "basic authentication is not supported by Kubernetes any more"},
	};
	for (size_t k = 0; k < VK_ARRAY_LEN(unsupported); k++)
		if (cJSON_GetObjectItemCaseSensitive(u, unsupported[k][0]))
			return failf(p, "%s.%s: %s", path, unsupported[k][0], unsupported[k][1]);
	if (get_pem(p, u, "client-certificate", path, &out->cert_pem) < 0 ||
	    get_pem(p, u, "client-key", path, &out->key_pem) < 0)
		return -EINVAL;
	if (!out->cert_pem != !out->key_pem)
		return failf(p, "%s: %s without %s", path, out->cert_pem ? "client-certificate" : "client-key",
		             out->cert_pem ? "client-key" : "client-certificate");
	const cJSON *exec = cJSON_GetObjectItemCaseSensitive(u, "exec");
	if (exec && !cJSON_IsNull(exec) && parse_exec(p, exec, path, out) < 0)
		return -EINVAL;
	const char *token, *token_file;
	if (get_str(p, u, "token", path, &token) < 0 || get_str(p, u, "tokenFile", path, &token_file) < 0)
		return -EINVAL;
	if (token && *token) {
		out->token = vk_strdup(token); /* wins over tokenFile, as in client-go */
	} else if (token_file && *token_file) {
		char field[80];
		snprintf(field, sizeof field, "%s.tokenFile", path);
		out->token_file = resolve(p->base_dir, token_file);
		if (read_token(p, field, out->token_file, &out->token) < 0)
			return -EINVAL;
	}
	return 0;
}

int vk_kubeconfig_parse(const char *yaml, size_t len, const char *origin, const char *base_dir, const char *context,
                        vk_kubeconfig *out, char **err)
{
	pctx p = {.origin = origin ? origin : "kubeconfig", .base_dir = base_dir, .err = err};
	memset(out, 0, sizeof *out);
	if (err)
		*err = NULL;
	char *yerr = NULL;
	cJSON *root = vk_yaml_parse(yaml, len, &yerr);
	if (!root) {
		failf(&p, "%s", yerr ? yerr : "invalid YAML");
		free(yerr);
		return -EINVAL;
	}
	int rc = -EINVAL;
	if (!cJSON_IsObject(root)) {
		failf(&p, "not a kubeconfig (expected a mapping with clusters, users and contexts)");
		goto out;
	}
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(root, "current-context");
	if (cc && !cJSON_IsNull(cc) && !cJSON_IsString(cc)) {
		failf(&p, "current-context: expected a string");
		goto out;
	}
	const char *current = cJSON_IsString(cc) ? cc->valuestring : NULL;
	const char *name = context ? context : current;
	if (!name || !*name) {
		failf(&p, "current-context: not set, and no context was given");
		goto out;
	}
	const cJSON *ctx, *cluster, *user = NULL;
	int ci, cli, ui = -1;
	if (find_named(&p, root, "contexts", "context", name, context ? "context" : "current-context", &ctx, &ci) < 0)
		goto out;
	char path[64];
	snprintf(path, sizeof path, "contexts[%d].context", ci);
	const char *cluster_name, *user_name, *ns;
	if (get_str(&p, ctx, "cluster", path, &cluster_name) < 0 || get_str(&p, ctx, "user", path, &user_name) < 0 ||
	    get_str(&p, ctx, "namespace", path, &ns) < 0)
		goto out;
	if (!cluster_name || !*cluster_name) {
		failf(&p, "%s.cluster: missing", path);
		goto out;
	}
	char who[96];
	snprintf(who, sizeof who, "%s.cluster", path);
	if (find_named(&p, root, "clusters", "cluster", cluster_name, who, &cluster, &cli) < 0)
		goto out;
	if (user_name && *user_name) {
		snprintf(who, sizeof who, "%s.user", path);
		if (find_named(&p, root, "users", "user", user_name, who, &user, &ui) < 0)
			goto out;
	}
	if (parse_cluster(&p, cluster, cli, out) < 0)
		goto out;
	if (user && parse_user(&p, user, ui, out) < 0)
		goto out;
	out->namespace_ = ns && *ns ? vk_strdup(ns) : NULL;
	out->origin = vk_asprintf("%s (context %s)", p.origin, name);
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc < 0)
		vk_kubeconfig_free(out);
	return rc;
}

static int load_file(const char *path, const char *context, vk_kubeconfig *out, char **err)
{
	vk_buf b = {0};
	int rc = vk_read_file(path, &b, err);
	if (rc < 0)
		return rc;
	/* Relative paths inside resolve against the kubeconfig's folder, made
	 * absolute so that token_file stays valid whatever the cwd becomes. */
	char *copy = vk_strdup(path), *slash = strrchr(copy, '/');
	char dir[PATH_MAX];
	const char *base;
	if (slash) {
		if (slash == copy)
			slash[1] = '\0';
		else
			*slash = '\0';
		base = realpath(copy, dir) ? dir : copy;
	} else {
		base = getcwd(dir, sizeof dir) ? dir : ".";
	}
	rc = vk_kubeconfig_parse(b.data, b.len, path, base, context, out, err);
	free(copy);
	vk_buf_free(&b);
	return rc;
}

/* The service account mounted into every pod.  VK_SERVICE_ACCOUNT_DIR
 * overrides the folder (tests; unusual mounts). */
static int load_in_cluster(const char *host, const char *port, vk_kubeconfig *out, char **err)
{
	const char *dir = getenv("VK_SERVICE_ACCOUNT_DIR");
	if (!dir || !*dir)
		dir = SA_DIR;
	char *origin = vk_asprintf("in-cluster service account (%s)", dir);
	pctx p = {.origin = origin, .err = err};
	memset(out, 0, sizeof *out);
	out->server = strchr(host, ':') ? vk_asprintf("https://[%s]:%s", host, port)
	                                : vk_asprintf("https://%s:%s", host, port);
	out->token_file = vk_asprintf("%s/token", dir);
	int rc = read_token(&p, "token", out->token_file, &out->token);
	if (rc == 0) {
		char *ca = vk_asprintf("%s/ca.crt", dir), *ferr = NULL;
		vk_buf b = {0};
		if (vk_read_file(ca, &b, &ferr) < 0) {
			rc = failf(&p, "ca.crt: %s", ferr);
			vk_buf_free(&b);
		} else {
			out->ca_pem = vk_buf_steal(&b);
		}
		free(ferr);
		free(ca);
	}
	if (rc == 0) {
		char *nsf = vk_asprintf("%s/namespace", dir);
		vk_buf b = {0};
		if (vk_read_file(nsf, &b, NULL) == 0 && b.data) {
			trim_right(b.data);
			if (*b.data)
				out->namespace_ = vk_strdup(b.data);
		}
		vk_buf_free(&b);
		free(nsf);
		out->origin = origin;
		return 0;
	}
	free(origin);
	vk_kubeconfig_free(out);
	return rc;
}

int vk_kubeconfig_load(const char *path, const char *context, vk_kubeconfig *out, char **err)
{
	if (err)
		*err = NULL;
	memset(out, 0, sizeof *out);
	if (path && *path)
		return load_file(path, context, out, err);
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		/* kubectl merges every file of the list; vk takes the first one. */
		char *list = vk_strdup(env), *save = NULL, *first = strtok_r(list, ":", &save);
		int rc = first ? load_file(first, context, out, err) : -ENOENT;
		if (!first && err)
			*err = vk_strdup("$KUBECONFIG names no file");
		free(list);
		return rc;
	}
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	if (host && *host && port && *port && !context)
		return load_in_cluster(host, port, out, err);
	const char *home = getenv("HOME");
	char *def = vk_asprintf("%s/.kube/config", home && *home ? home : "");
	struct stat st;
	int rc;
	if (stat(def, &st) < 0) {
		rc = -ENOENT;
		if (err)
			*err = vk_asprintf("no kubeconfig: give --kubeconfig, set $KUBECONFIG or run in a "
			                   "pod (%s: %s)",
			                   def, strerror(errno));
	} else {
		rc = load_file(def, context, out, err);
	}
	free(def);
	return rc;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void vk_kube_exec_free(vk_kube_exec *x)
{
	if (!x)
		return;
	free(x->api_version);
	free(x->command);
	free_strv(x->args);
	free_strv(x->env);
	cJSON_free(x->exec_info);
	free(x->install_hint);
	free(x);
}

vk_kube_exec *vk_kube_exec_dup(const vk_kube_exec *x)
{
	if (!x)
		return NULL;
	vk_kube_exec *d = vk_xcalloc(1, sizeof *d);
	d->api_version = vk_strdup(x->api_version);
	d->command = vk_strdup(x->command);
	d->exec_info = vk_strdup(x->exec_info);
	d->install_hint = vk_strdup(x->install_hint);
	char **const src[2] = {x->args, x->env};
	char ***dst[2] = {&d->args, &d->env};
	for (int k = 0; k < 2; k++) {
		size_t n = 0;
		while (src[k] && src[k][n])
			n++;
		*dst[k] = vk_xcalloc(n + 1, sizeof **dst[k]);
		for (size_t i = 0; i < n; i++)
			(*dst[k])[i] = vk_strdup(src[k][i]);
	}
	return d;
}

void vk_kubeconfig_free(vk_kubeconfig *kc)
{
	if (!kc)
		return;
	free(kc->server);
	free(kc->ca_pem);
	free(kc->cert_pem);
	if (kc->key_pem) /* private key: do not leave it in freed memory */
		explicit_bzero(kc->key_pem, strlen(kc->key_pem));
	free(kc->key_pem);
	if (kc->token)
		explicit_bzero(kc->token, strlen(kc->token));
	free(kc->token);
	free(kc->token_file);
	vk_kube_exec_free(kc->exec);
	free(kc->namespace_);
	free(kc->origin);
	memset(kc, 0, sizeof *kc);
}
