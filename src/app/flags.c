/* vk's flags: one table that the command line, the config file and the
 * environment share, each flag's check, and --help made from the table. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_int.h"
#include "vk/store.h"
#include "vk/util.h"

#define OFF(field) offsetof(vk_app_options, field)

static int set_string(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	if (!*v) {
		*why = vk_strdup("takes a value, not an empty string");
		return -1;
	}
	*(const char **)((char *)o + f->off) = v;
	return 0;
}

static int parse_bool(const char *v, bool *out, char **why)
{
	if (!v || strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0)
		*out = false;
	else {
		*why = vk_asprintf("takes true or false, not '%s'", v);
		return -1;
	}
	return 0;
}

static int set_bool(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	return parse_bool(v, (bool *)((char *)o + f->off), why);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

int vk_app__parse_duration(const char *s, unsigned *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	double total = 0;
	const char *p = s;
	if (!*p)
		return -EINVAL;
	while (*p) {
		char *end;
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return -EINVAL;
		double v = strtod(p, &end);
		if (end == p)
			return -EINVAL;
		p = end;
		size_t i = 0;
		for (; i < VK_ARRAY_LEN(units); i++) {
			size_t n = strlen(units[i].unit);
			/* "m" must not take the "m" of "ms" */
			if (strncmp(p, units[i].unit, n) == 0 && !(n == 1 && p[0] == 'm' && p[1] == 's'))
				break;
		}
		if (i == VK_ARRAY_LEN(units))
			return -EINVAL;
		total += v * units[i].ms;
		p += strlen(units[i].unit);
	}
	if (total > 4294967295.0)
		return -ERANGE;
	*ms = (unsigned)total;
	return 0;
}

static int set_duration(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	if (vk_app__parse_duration(v, (unsigned *)((char *)o + f->off)) < 0) {
		*why = vk_asprintf("takes a duration such as 30s, 2m or 1m30s, not '%s'", v);
		return -1;
	}
	return 0;
}

static int set_status_interval(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	unsigned long n;
	if (parse_uint(v, 3600000, &n) < 0 || n < 100) {
		*why = vk_asprintf("takes milliseconds from 100 to 3600000, not '%s'", v);
		return -1;
	}
	o->status_interval_ms = (unsigned)n;
	return 0;
}

/* virtual-kubelet's worker count: how many pods' callbacks run at once. */
static int set_pod_sync_workers(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	unsigned long n;
	if (parse_uint(v, 4096, &n) < 0 || n == 0) {
		*why = vk_asprintf("takes a number of pods from 1 to 4096, not '%s'", v);
		return -1;
	}
	o->pod_sync_workers = (unsigned)n;
	return 0;
}

static int set_port(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	unsigned long n;
	if (parse_uint(v, 65535, &n) < 0) {
		*why = vk_asprintf("takes a port number from 0 to 65535, not '%s'", v);
		return -1;
	}
	o->port = (int)n;
	return 0;
}

static int set_store(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	if (strcmp(v, "none") == 0) { /* no local store: nothing kept across restarts */
		o->store = NULL;
		return 0;
	}
	vk_store_url u;
	char *err = NULL;
	if (vk_store_url_parse(v, &u, &err) != 0) {
		/* its message starts with "--store '...'": keep what follows */
		const char *rest = err ? strstr(err, "': ") : NULL;
		*why = vk_asprintf("'%s': %s", v, rest ? rest + 3 : "not a store URL");
		free(err);
		return -1;
	}
	vk_store_url_free(&u);
	o->store = v;
	return 0;
}

static int set_authz(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	if (strcmp(v, "Webhook") != 0 && strcmp(v, "AlwaysAllow") != 0) {
		*why = vk_asprintf("takes Webhook or AlwaysAllow, not '%s'", v);
		return -1;
	}
	o->authz_always_allow = strcmp(v, "AlwaysAllow") == 0;
	return 0;
}

static int set_log_level(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	vk_log_level lvl;
	if (vk_log_parse_level(v, &lvl) < 0) {
		*why = vk_asprintf("takes debug, info, warn or error, not '%s'", v);
		return -1;
	}
	vk_log_set_level(lvl);
	return 0;
}

static int set_log_format(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0) {
		*why = vk_asprintf("takes text or json, not '%s'", v);
		return -1;
	}
	o->log_json = strcmp(v, "json") == 0;
	vk_log_set_json(o->log_json);
	return 0;
}

static int set_os(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	/* virtual-kubelet's help said "Linux/Windows"; the API wants GOOS names. */
	if (strcasecmp(v, "linux") == 0)
		o->os = "linux";
	else if (strcasecmp(v, "windows") == 0)
		o->os = "windows";
	else {
		*why = vk_asprintf("takes linux or windows, not '%s'", v);
		return -1;
	}
	return 0;
}

static int set_ip(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	unsigned char buf[16];
	if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1) {
		*why = vk_asprintf("takes an IPv4 or IPv6 address, not '%s'", v);
		return -1;
	}
	o->node_ip = v;
	return 0;
}

static int set_host_port(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	const char *colon = strrchr(v, ':');
	unsigned long n;
	if (!colon || parse_uint(colon + 1, 65535, &n) < 0 || n == 0) {
		*why = vk_asprintf("takes HOST:PORT or :PORT (e.g. 127.0.0.1:10255), not '%s'", v);
		return -1;
	}
	*(const char **)((char *)o + f->off) = v;
	return 0;
}

/* virtual-kubelet's flags that mean nothing to vk: the value is checked for
 * its type, then dropped with one warning saying why. */
static int set_ignored(const vk_flag *f, vk_app_options *o, const char *v, char **why)
{
	unsigned long n;
	unsigned ms;
	bool b;
	if (f->type == VK_FLAG_BOOL && parse_bool(v, &b, why) < 0)
		return -1;
	if (f->type == VK_FLAG_UINT && parse_uint(v, 1000000, &n) < 0) {
		*why = vk_asprintf("takes a whole number, not '%s'", v);
		return -1;
	}
	if (f->type == VK_FLAG_DURATION && vk_app__parse_duration(v, &ms) < 0)
		return set_duration(f, o, v, why);
	vk_app__ignored(f);
	return 0;
}

/* Kept in the order --help shows them. */
/* Positional, then the booleans by name (.ignored, .cli_only). */
#define FLAG(n, t, a, s, o, e, h, ...)                                                               \
	{                                                                                            \
		.name = n, .type = t, .arg = a, .set = s, .off = o, .env = e, .help = h, __VA_ARGS__ \
	}

const vk_flag vk_app__flags[] = {
	FLAG("config", VK_FLAG_STRING, "FILE", set_string, OFF(config), NULL,
             "a YAML file whose keys are these flags' names without\n"
             "'--' (e.g. `nodename: edge1`); see \"precedence\" above",
             .cli_only = true),
	FLAG("provider", VK_FLAG_STRING, "FILE", set_string, OFF(provider), NULL,
             "the provider script (required), e.g. providers/mynode.lua; a bare name (mynode, mock, "
             "redis, cloud) is a provider shipped with vk"),
	FLAG("provider-config", VK_FLAG_STRING, "FILE", set_string, OFF(provider_config), NULL,
             "YAML or JSON handed to the provider's init(config, node)"),
	FLAG("kubeconfig", VK_FLAG_STRING, "FILE", set_string, OFF(kubeconfig), NULL,
             "credentials; default $KUBECONFIG, the in-cluster\n"
             "service account, then ~/.kube/config"),
	FLAG("context", VK_FLAG_STRING, "NAME", set_string, OFF(context), NULL,
             "kubeconfig context (default: current-context)"),
	FLAG("nodename", VK_FLAG_STRING, "NAME", set_string, OFF(nodename), NULL,
             "the Node name (default: the host name)"),
	FLAG("node-ip", VK_FLAG_STRING, "IP", set_ip, 0, "VKUBELET_POD_IP",
             "the node's InternalIP (default: the first non-loopback IPv4\n"
             "address; a provider's init may set its own)"),
	FLAG("os", VK_FLAG_STRING, "OS", set_os, 0, NULL, "the node's operating system: linux (default) or windows"),
	FLAG("namespace", VK_FLAG_STRING, "NS", set_string, OFF(namespace_), NULL,
             "handle only the pods of this namespace (default: all)"),
	FLAG("disable-taint", VK_FLAG_BOOL, NULL, set_bool, OFF(disable_taint), NULL,
             "do not taint the node virtual-kubelet.io/provider=NAME:NoSchedule"),
	FLAG("pod-sync-workers", VK_FLAG_UINT, "N", set_pod_sync_workers, 0, NULL,
             "how many pods' create, update and delete callbacks run at\n"
             "once, as coroutines on one loop (default 64); the others wait"),
	FLAG("status-interval", VK_FLAG_UINT, "MS", set_status_interval, 0, NULL,
             "how often pod statuses are polled from the provider (default 5000)"),
	FLAG("full-resync-period", VK_FLAG_DURATION, "DURATION", set_duration, OFF(full_resync_ms), NULL,
             "re-read every pod's status from the provider and compare it\n"
             "with the API's this often, e.g. 1m (default 0: only after a reload)"),
	FLAG("startup-timeout", VK_FLAG_DURATION, "DURATION", set_duration, OFF(startup_timeout_ms), NULL,
             "exit 1 if the node is not registered within it, e.g. 2m\n"
             "(default 0: keep trying, working from the local store meanwhile)"),
	FLAG("store", VK_FLAG_STRING, "URL", set_store, 0, NULL,
             "the local store: embedded (default: SQLite in the state dir),\n"
             "redis://[:PASSWORD@]HOST:PORT[/DB] or etcd://HOST:PORT; vk keeps\n"
             "its pods and what they reference there, and starts from it\n"
             "when the API server cannot be reached; `none`: no store"),
	FLAG("state-dir", VK_FLAG_STRING, "DIR", set_string, OFF(state_dir), NULL,
             "the embedded store's folder (default /var/lib/vk/NODENAME)"),
	FLAG("state-key-file", VK_FLAG_STRING, "FILE", set_string, OFF(state_key_file), NULL,
             "a 256-bit key (32 bytes, 64 hex digits or base64) to encrypt\n"
             "Secrets at rest; without it Secrets are not persisted"),
	FLAG("listen-address", VK_FLAG_STRING, "ADDR", set_string, OFF(listen), NULL,
             "kubelet API address (default 0.0.0.0)"),
	FLAG("port", VK_FLAG_UINT, "N", set_port, 0, "KUBELET_PORT",
             "kubelet API port (default 10250; 0: do not serve it)"),
	FLAG("tls-cert-file", VK_FLAG_STRING, "FILE", set_string, OFF(tls_cert), "APISERVER_CERT_LOCATION",
             "kubelet API serving certificate (default: one the cluster\n"
             "issues, see --rotate-server-certificates)"),
	FLAG("tls-private-key-file", VK_FLAG_STRING, "FILE", set_string, OFF(tls_key), "APISERVER_KEY_LOCATION",
             "its key"),
	FLAG("client-ca-file", VK_FLAG_STRING, "FILE", set_string, OFF(client_ca), "APISERVER_CA_CERT_LOCATION",
             "CA for client certificates (the API server's); without\n"
             "it the kubelet API answers only /healthz, bearer tokens\n"
             "(and anonymous requests, with --anonymous-auth)"),
	FLAG("client-verify-ca", VK_FLAG_STRING, "FILE", set_string, OFF(client_ca), NULL,
             "virtual-kubelet's name for --client-ca-file"),
	FLAG("authorization-mode", VK_FLAG_STRING, "M", set_authz, 0, NULL,
             "Webhook (default: SubjectAccessReviews) or AlwaysAllow"),
	FLAG("anonymous-auth", VK_FLAG_BOOL, NULL, set_bool, OFF(anonymous_auth), NULL,
             "a kubelet API request without a client certificate is the\n"
             "user system:anonymous (group system:unauthenticated), then\n"
             "authorized like any other (default false: 401)"),
	FLAG("authentication-token-webhook", VK_FLAG_BOOL, NULL, set_bool, OFF(token_webhook), NULL,
             "check bearer tokens (Authorization: Bearer) with a TokenReview\n"
             "to the API server, as kubelet's config does (default true)"),
	FLAG("authentication-token-webhook-cache-ttl", VK_FLAG_DURATION, "DURATION", set_duration, OFF(token_ttl_ms),
             NULL, "how long a TokenReview's answer is kept, yes or no\n(default 2m, kubelet's; 0: ask every time)"),
	FLAG("rotate-server-certificates", VK_FLAG_BOOL, NULL, set_bool, OFF(rotate_server_certs), NULL,
             "without --tls-cert-file, ask the cluster for a serving\n"
             "certificate (a kubernetes.io/kubelet-serving CSR) and renew it\n"
             "before it expires; self-signed until issued (default true)"),
	FLAG("cert-dir", VK_FLAG_STRING, "DIR", set_string, OFF(cert_dir), NULL,
             "where the issued serving certificate and its key are kept\n(default STATE_DIR/pki)"),
	FLAG("server-cert-renew-after", VK_FLAG_DURATION, "DURATION", set_duration, OFF(cert_renew_after_ms), NULL,
             "renew the issued certificate this long after it is served\n"
             "(default 0: at a random 70-90% of its lifetime, as kubelet)"),
	FLAG("metrics-addr", VK_FLAG_STRING, "HOST:PORT", set_host_port, OFF(metrics_addr), NULL,
             "also serve /metrics there, without TLS or authentication\n"
             "(it is always on the kubelet port, behind its authentication)"),
	FLAG("no-reload", VK_FLAG_BOOL, NULL, set_bool, OFF(no_reload), NULL,
             "do not watch the provider for changes (SIGHUP still reloads)"),
	FLAG("log-level", VK_FLAG_STRING, "LEVEL", set_log_level, 0, NULL, "debug, info, warn or error (default info)"),
	FLAG("log-format", VK_FLAG_STRING, "FORMAT", set_log_format, 0, NULL,
             "text (default) or json: one object per line with time, level,\n"
             "message, and pod and callback where there are any"),
	FLAG("version", VK_FLAG_BOOL, NULL, NULL, 0, NULL, "print the version and exit", .cli_only = true),
	FLAG("help", VK_FLAG_BOOL, NULL, NULL, 0, NULL, "print this help and exit", .cli_only = true),
	/* virtual-kubelet's, accepted so that its command lines keep working */
	FLAG("enable-node-lease", VK_FLAG_BOOL, NULL, set_ignored, 0, NULL,
             "vk always renews its Lease in kube-node-lease", .ignored = true),
	FLAG("no-verify-clients", VK_FLAG_BOOL, NULL, set_ignored, 0, NULL,
             "vk verifies client certificates against --client-ca-file, or asks for none without it", .ignored = true),
	FLAG("authorization-webhook-cache-authorized-ttl", VK_FLAG_DURATION, "DURATION", set_ignored, 0, NULL,
             "vk keeps allowed SubjectAccessReviews 5 min, as kubelet does", .ignored = true),
	FLAG("authorization-webhook-cache-unauthorized-ttl", VK_FLAG_DURATION, "DURATION", set_ignored, 0, NULL,
             "vk keeps denied SubjectAccessReviews 30 s, as kubelet does", .ignored = true),
	FLAG("trace-exporter", VK_FLAG_STRING, "NAME", set_ignored, 0, NULL, "vk exports no traces", .ignored = true),
	FLAG("trace-service-name", VK_FLAG_STRING, "NAME", set_ignored, 0, NULL, "vk exports no traces",
             .ignored = true),
	FLAG("trace-sample-rate", VK_FLAG_STRING, "RATE", set_ignored, 0, NULL, "vk exports no traces",
             .ignored = true),
	FLAG("klog.v", VK_FLAG_UINT, "N", set_ignored, 0, NULL, "vk's verbosity is --log-level", .ignored = true),
	{.name = NULL},
};

const vk_flag *vk_app__flag(const char *name)
{
	for (const vk_flag *f = vk_app__flags; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static const char usage_head[] = "usage: vk --provider FILE.lua [flags]\n"
				 "       vk --config FILE.yaml [flags]\n"
				 "       vk check FILE.lua [--provider-config FILE]\n"
				 "       vk test SPEC.lua [SPEC.lua...]     (vk test --help)\n"
				 "\n"
				 "A virtual kubelet: joins a Kubernetes cluster as a Node and hands the\n"
				 "lifecycle of the pods bound to it to a provider written in Lua.\n"
				 "Edits to the provider (and the modules it requires from its folder) are\n"
				 "loaded while it runs, without touching a pod; SIGHUP reloads too.\n"
				 "`vk check` loads a provider without a cluster, runs its init, and lists\n"
				 "every problem with file:line (exit 1), or prints OK.\n"
				 "`vk test` runs provider specs (describe/it/expect) without a cluster, on a\n"
				 "virtual clock, with scripted vk.http/vk.cri/vk.kube answers; TAP output.\n"
				 "\n"
				 "Precedence: each flag's value comes from the command line, else the\n"
				 "config file, else the environment variable named in [brackets], else\n"
				 "the default.\n"
				 "\n"
				 "flags:\n";

static void print_flag(const vk_flag *f)
{
	char head[80];
	if (f->arg)
		snprintf(head, sizeof head, "--%s %s", f->name, f->arg);
	else if (strcmp(f->name, "help") == 0)
		snprintf(head, sizeof head, "-h, --help");
	else if (f->set == NULL || f->cli_only)
		snprintf(head, sizeof head, "--%s", f->name);
	else
		snprintf(head, sizeof head, "--%s[=BOOL]", f->name);
	if (strlen(head) > 24)
		printf("  %s\n  %-24s ", head, "");
	else
		printf("  %-24s ", head);
	for (const char *p = f->help; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		printf("%.*s", (int)n, p);
		p += n;
		if (*p) {
			p++;
			printf("\n  %-24s ", "");
		}
	}
	if (f->env)
		printf(" [%s]", f->env);
	printf("\n");
}

void vk_app__usage(void)
{
	fputs(usage_head, stdout);
	for (const vk_flag *f = vk_app__flags; f->name; f++)
		if (!f->ignored)
			print_flag(f);
	printf("\nvirtual-kubelet's flags that vk accepts and ignores, with one warning:\n");
	for (const vk_flag *f = vk_app__flags; f->name; f++)
		if (f->ignored)
			printf("  --%s: %s\n", f->name, f->help);
}
