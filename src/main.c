/* vk - a virtual kubelet whose provider is a Lua script.
 *
 * main.c owns the command line, the signals and the wiring of the
 * subsystems onto one libuv loop.  Everything else lives in src/<subsystem>/. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <uv.h>

#include "vk/http.h"
#include "vk/kube.h"
#include "vk/lua.h"
#include "vk/node.h"
#include "vk/pod.h"
#include "vk/provider.h"
#include "vk/server.h"
#include "vk/util.h"
#include "vk/yaml.h"

typedef struct {
	const char *provider;
	const char *provider_config;
	const char *kubeconfig;
	const char *context;
	const char *nodename;
	const char *state_dir;
	const char *store;
	const char *listen;
	int port;
	const char *tls_cert, *tls_key, *client_ca; /* kubelet API TLS */
	bool authz_always_allow;                    /* --authorization-mode AlwaysAllow */
	bool disable_taint;
	bool no_reload;
	unsigned status_interval_ms;
	const char *log_level;
	bool check; /* `vk check FILE` */
} vk_options;

static const char usage_text[] =
	"usage: vk --provider FILE.lua [flags]\n"
	"       vk check FILE.lua [--provider-config FILE]\n"
	"\n"
	"A virtual kubelet: joins a Kubernetes cluster as a Node and hands the\n"
	"lifecycle of the pods bound to it to a provider written in Lua.\n"
	"Edits to the provider (and the modules it requires from its folder) are\n"
	"loaded while it runs, without touching a pod; SIGHUP reloads too.\n"
	"`vk check` loads a provider without a cluster, runs its init, and lists\n"
	"every problem with file:line (exit 1), or prints OK.\n"
	"\n"
	"flags:\n"
	"  --provider FILE          the provider script (required), e.g. providers/mynode.lua\n"
	"  --provider-config FILE   YAML or JSON handed to the provider's init(config, node)\n"
	"  --kubeconfig FILE        credentials; default $KUBECONFIG, the in-cluster\n"
	"                           service account, then ~/.kube/config\n"
	"  --context NAME           kubeconfig context (default: current-context)\n"
	"  --nodename NAME          the Node name (default: the host name)\n"
	"  --disable-taint          do not taint the node virtual-kubelet.io/provider=NAME:NoSchedule\n"
	"  --status-interval MS     how often pod statuses are polled from the provider (default 5000)\n"
	"  --state-dir DIR          the embedded local cache (default /var/lib/vk)\n"
	"  --store URL              cache backend: embedded (default), redis://HOST:PORT, etcd://HOST:PORT\n"
	"                           (the edge cache is not in this version yet: only `embedded`\n"
	"                           is accepted, and nothing is persisted)\n"
	"  --listen-address ADDR    kubelet API address (default 0.0.0.0)\n"
	"  --port N                 kubelet API port (default 10250; 0: do not serve it)\n"
	"  --tls-cert-file FILE     kubelet API serving certificate (default: self-signed)\n"
	"  --tls-private-key-file FILE  its key\n"
	"  --client-ca-file FILE    CA for client certificates (the API server's); without\n"
	"                           it the kubelet API answers only /healthz\n"
	"  --authorization-mode M   Webhook (default: SubjectAccessReviews) or AlwaysAllow\n"
	"  --no-reload              do not watch the provider for changes (SIGHUP still reloads)\n"
	"  --log-level LEVEL        debug, info, warn or error (default info)\n"
	"  --version                print the version and exit\n"
	"  -h, --help               print this help and exit\n";

enum {
	OPT_PROVIDER = 256, OPT_PROVIDER_CONFIG, OPT_KUBECONFIG, OPT_CONTEXT, OPT_NODENAME,
	OPT_DISABLE_TAINT, OPT_STATUS_INTERVAL, OPT_STATE_DIR, OPT_STORE, OPT_LISTEN, OPT_PORT,
	OPT_NO_RELOAD, OPT_LOG_LEVEL, OPT_VERSION,
	OPT_TLS_CERT, OPT_TLS_KEY, OPT_CLIENT_CA, OPT_AUTHZ_MODE,
};

static const struct option long_opts[] = {
	{"provider", required_argument, NULL, OPT_PROVIDER},
	{"provider-config", required_argument, NULL, OPT_PROVIDER_CONFIG},
	{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
	{"context", required_argument, NULL, OPT_CONTEXT},
	{"nodename", required_argument, NULL, OPT_NODENAME},
	{"disable-taint", no_argument, NULL, OPT_DISABLE_TAINT},
	{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"store", required_argument, NULL, OPT_STORE},
	{"listen-address", required_argument, NULL, OPT_LISTEN},
	{"port", required_argument, NULL, OPT_PORT},
	{"tls-cert-file", required_argument, NULL, OPT_TLS_CERT},
	{"tls-private-key-file", required_argument, NULL, OPT_TLS_KEY},
	{"client-ca-file", required_argument, NULL, OPT_CLIENT_CA},
	{"authorization-mode", required_argument, NULL, OPT_AUTHZ_MODE},
	{"no-reload", no_argument, NULL, OPT_NO_RELOAD},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"version", no_argument, NULL, OPT_VERSION},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "vk: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see vk --help)\n");
	return 2;
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

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, vk_options *o)
{
	opterr = 0;
	int c;
	unsigned long v;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_PROVIDER: o->provider = optarg; break;
		case OPT_PROVIDER_CONFIG: o->provider_config = optarg; break;
		case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
		case OPT_CONTEXT: o->context = optarg; break;
		case OPT_NODENAME: o->nodename = optarg; break;
		case OPT_DISABLE_TAINT: o->disable_taint = true; break;
		case OPT_STATUS_INTERVAL:
			if (parse_uint(optarg, 3600000, &v) < 0 || v < 100)
				return bad_usage("--status-interval takes milliseconds from 100 to 3600000, not '%s'", optarg);
			o->status_interval_ms = (unsigned)v;
			break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_STORE:
			/* Said plainly rather than accepted and ignored. */
			if (strcmp(optarg, "embedded") != 0)
				return bad_usage("--store '%s': only 'embedded' exists in this version", optarg);
			o->store = optarg;
			break;
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_PORT:
			if (parse_uint(optarg, 65535, &v) < 0)
				return bad_usage("--port takes a port number from 0 to 65535, not '%s'", optarg);
			o->port = (int)v;
			break;
		case OPT_TLS_CERT: o->tls_cert = optarg; break;
		case OPT_TLS_KEY: o->tls_key = optarg; break;
		case OPT_CLIENT_CA: o->client_ca = optarg; break;
		case OPT_AUTHZ_MODE:
			if (strcmp(optarg, "Webhook") != 0 && strcmp(optarg, "AlwaysAllow") != 0)
				return bad_usage("--authorization-mode takes Webhook or AlwaysAllow, not '%s'", optarg);
			o->authz_always_allow = strcmp(optarg, "AlwaysAllow") == 0;
			break;
		case OPT_NO_RELOAD: o->no_reload = true; break;
		case OPT_LOG_LEVEL: {
			vk_log_level lvl;
			if (vk_log_parse_level(optarg, &lvl) < 0)
				return bad_usage("--log-level takes debug, info, warn or error, not '%s'", optarg);
			vk_log_set_level(lvl);
			o->log_level = optarg;
			break;
		}
		case OPT_VERSION: printf("vk %s\n", VK_VERSION); return 0;
		case 'h': fputs(usage_text, stdout); return 0;
		case ':': return bad_usage("flag '%s' needs a value", argv[optind - 1]);
		default: return bad_usage("unknown flag '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (o->check && !o->provider && optind == argc - 1) {
			o->provider = argv[optind];
			return -1;
		}
		return bad_usage("unexpected argument '%s'", argv[optind]);
	}
	if (!o->provider)
		return bad_usage("%s", o->check ? "vk check needs a provider file" : "--provider FILE.lua is required");
	return -1;
}


/* ---- the running agent ------------------------------------------------------ */

typedef struct {
	vk_options o;
	uv_loop_t *loop;
	vk_http *http;
	vk_kube *kube;
	vk_provider *provider;
	vk_node *node;
	vk_pods *pods;
	vk_server *server;     /* the kubelet API; NULL with --port 0 */
	cJSON *node_obj;       /* the template, until the node controller takes it */
	cJSON *config;         /* --provider-config */
	uv_signal_t sigint, sigterm, sighup;
	uv_timer_t trim;       /* gives freed heap pages back to the system */
	vk_lua_watch *watch;   /* NULL with --no-reload */
	bool reloading;        /* a reload runs ... */
	bool reload_again;     /* ... and another change came meanwhile */
	uint64_t reload_seen_ms, reload_start_ms;
	cJSON *reload_node;    /* the Node handed to the new version's init */
	int exit_code;
	bool stopping;
	uint64_t t0;
} vk_agent;

static void on_trim(uv_timer_t *t) { malloc_trim(0); }

static void stop(vk_agent *a, int code)
{
	if (a->stopping)
		return;
	a->stopping = true;
	a->exit_code = code;
	/* Order matters: controllers first (they stop issuing work), then the
	 * provider (its in-flight callbacks end with -ECANCELED while the
	 * controllers' memory is still there), then the transports. */
	vk_lua_watch_close(a->watch);
	a->watch = NULL;
	vk_pods_close(a->pods);
	vk_node_close(a->node);
	vk_server_close(a->server); /* a caller of the provider, like the controllers */
	a->server = NULL;
	if (a->provider)
		vk_provider_close(a->provider);
	a->provider = NULL;
	if (a->kube)
		vk_kube_free(a->kube);
	a->kube = NULL;
	if (a->http)
		vk_http_close(a->http);
	a->http = NULL;
	uv_close((uv_handle_t *)&a->trim, NULL);
	uv_close((uv_handle_t *)&a->sigint, NULL);
	uv_close((uv_handle_t *)&a->sigterm, NULL);
	uv_close((uv_handle_t *)&a->sighup, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
	vk_agent *a = s->data;
	vk_info("main", "%s: stopping; pods keep running, the node goes NotReady when its lease expires",
	        strsignal(signum));
	stop(a, 0);
}

/* ---- hot reload (DESIGN.md 5) ------------------------------------------------
 * A change to the sources (after the watcher's quiet time) or SIGHUP loads
 * the provider again inside the same Lua state; vk_lua_provider_reload does
 * the all-or-nothing swap.  Here: one reload at a time (a change during a
 * reload runs one more after it), the Events, and the status resync. */

static void start_reload(vk_agent *a, const char *why);

/* Watches the current sources again: the new version may require other
 * modules, and a fresh watch also re-arms after a folder was renamed. */
static void rewatch(vk_agent *a)
{
	if (!a->watch || !a->provider)
		return;
	char **files = vk_lua_provider_sources(a->provider);
	vk_lua_watch_set(a->watch, files);
	for (size_t i = 0; files && files[i]; i++)
		free(files[i]);
	free(files);
}

/* The short name of the provider's code now: its sources' hash. */
static void code_hash(vk_provider *p, char out[17])
{
	char **files = vk_lua_provider_sources(p);
	vk_lua_sources_hash(files, out);
	for (size_t i = 0; files && files[i]; i++)
		free(files[i]);
	free(files);
}

static void node_event(vk_agent *a, const char *type, const char *reason, const char *msg)
{
	if (a->node)
		vk_node_event(a->node, type, reason, msg);
}

static void on_reloaded(vk_provider *p, const char *err, void *ud)
{
	vk_agent *a = ud;
	a->reloading = false;
	cJSON_Delete(a->reload_node);
	a->reload_node = NULL;
	if (a->stopping)
		return;
	uint64_t now = vk_now_ms();
	if (!p) {
		/* The first line is "file:line: message"; a traceback may follow. */
		const char *msg = err ? err : "reload failed";
		size_t n = strcspn(msg, "\n");
		vk_error("main", "provider reload failed, the running version stays: %.*s", (int)n, msg);
		if (msg[n])
			vk_debug("main", "%s", msg + n + 1);
		char *ev = vk_asprintf("%.*s (the running version stays)", (int)n, msg);
		node_event(a, "Warning", "ProviderReloadFailed", ev);
		free(ev);
	} else {
		char hash[17];
		code_hash(p, hash);
		vk_info("main", "provider %s reloaded: code %.12s, swapped in %llu ms (%llu ms after the change was seen)",
		        a->o.provider, hash, (unsigned long long)(now - a->reload_start_ms),
		        (unsigned long long)(now - a->reload_seen_ms));
		char *ev = vk_asprintf("provider %s reloaded: code %.12s", a->o.provider, hash);
		node_event(a, "Normal", "ProviderReloaded", ev);
		free(ev);
		/* No pod is created, restarted or deleted by a reload; their
		 * statuses are read again through the new version. */
		if (a->pods)
			vk_pods_resync(a->pods);
	}
	a->reload_seen_ms = 0;
	rewatch(a);
	if (a->reload_again) {
		a->reload_again = false;
		start_reload(a, "a change during the reload");
	}
}

static void start_reload(vk_agent *a, const char *why)
{
	if (a->stopping || !a->provider)
		return;
	if (a->reloading) {
		a->reload_again = true;
		return;
	}
	uint64_t now = vk_now_ms();
	if (!a->reload_seen_ms)
		a->reload_seen_ms = now;
	a->reload_start_ms = now;
	vk_info("main", "reloading provider %s (%s)", a->o.provider, why);
	/* init may edit the Node; a copy keeps the controller's own untouched
	 * (labels and capacity are registered once, at start). */
	const cJSON *cur = a->node ? vk_node_object(a->node) : a->node_obj;
	a->reload_node = cur ? cJSON_Duplicate(cur, true) : cJSON_CreateObject();
	a->reloading = true;
	int rc = vk_lua_provider_reload(a->provider, a->config, a->reload_node, on_reloaded, a);
	if (rc < 0) {
		a->reloading = false;
		cJSON_Delete(a->reload_node);
		a->reload_node = NULL;
		vk_error("main", "cannot reload provider %s: %s", a->o.provider, strerror(-rc));
	}
}

static void on_sources_changed(uint64_t first_ms, void *ud)
{
	vk_agent *a = ud;
	if (!a->reloading)
		a->reload_seen_ms = first_ms;
	start_reload(a, "its source changed");
}

static void on_sighup(uv_signal_t *s, int signum)
{
	vk_agent *a = s->data;
	if (!a->reloading)
		a->reload_seen_ms = vk_now_ms();
	start_reload(a, "SIGHUP");
}

static void on_node_ready(const char *err, void *ud)
{
	vk_agent *a = ud;
	if (err) {
		vk_error("main", "node registration failed: %s", err);
		stop(a, 1);
		return;
	}
	vk_info("main", "node %s registered in %llu ms", a->o.nodename,
	        (unsigned long long)(vk_now_ms() - a->t0));
	vk_pod_opts po = {
		.loop = a->loop, .kube = a->kube, .provider = a->provider, .node = a->node,
		.nodename = a->o.nodename, .status_poll_ms = a->o.status_interval_ms,
	};
	a->pods = vk_pods_new(&po);
	vk_pods_start(a->pods);
}

/* The provider's name may differ from the file's: fix the taint's value. */
static void retaint(cJSON *node, const char *name)
{
	cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "spec"), "taints"))
	{
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "key");
		if (cJSON_IsString(k) && strcmp(k->valuestring, "virtual-kubelet.io/provider") == 0)
			cJSON_ReplaceItemInObjectCaseSensitive(t, "value", cJSON_CreateString(name));
	}
}

static vk_node_opts node_opts(vk_agent *a)
{
	return (vk_node_opts){
		.loop = a->loop, .kube = a->kube, .provider = a->provider, .name = a->o.nodename,
		.disable_taint = a->o.disable_taint, .port = a->o.port,
	};
}

/* The kubelet API, once the provider is there and init has set the node's
 * addresses (the self-signed certificate names them). */
static int start_server(vk_agent *a)
{
	if (a->o.port == 0)
		return 0;
	vk_server_opts so = {
		.loop = a->loop, .provider = a->provider, .nodename = a->o.nodename,
		.address = a->o.listen, .port = a->o.port, .tls_cert_file = a->o.tls_cert,
		.tls_key_file = a->o.tls_key, .client_ca_file = a->o.client_ca, .node = a->node_obj,
		.kube = a->o.authz_always_allow ? NULL : a->kube,
	};
	char *err = NULL;
	a->server = vk_server_new(&so, &err);
	if (!a->server) {
		vk_error("main", "%s", err);
		free(err);
		return -1;
	}
	return 0;
}

static void on_provider(vk_provider *p, const char *err, void *ud)
{
	vk_agent *a = ud;
	if (!p) {
		vk_error("main", "provider %s: %s", a->o.provider, err ? err : "failed to load");
		stop(a, 1);
		return;
	}
	a->provider = p;
	char hash[17];
	code_hash(p, hash);
	vk_info("main", "provider %s (\"%s\") loaded: code %.12s", a->o.provider, p->name, hash);
	if (!a->o.no_reload) {
		a->watch = vk_lua_watch_new(a->loop, 100, on_sources_changed, a);
		rewatch(a);
	}
	retaint(a->node_obj, p->name);
	if (start_server(a) < 0) {
		stop(a, 1);
		return;
	}
	vk_node_opts no = node_opts(a);
	a->node = vk_node_new(&no, a->node_obj);
	a->node_obj = NULL;
	vk_node_start(a->node, on_node_ready, a);
}

/* vk check: every problem on stderr, an OK line on stdout. */
static void on_checked(const char *name, char *const *problems, void *ud)
{
	vk_agent *a = ud;
	size_t n = 0;
	for (; problems[n]; n++)
		fprintf(stderr, "%s\n", problems[n]);
	if (n)
		fprintf(stderr, "%s: %zu problem%s\n", a->o.provider, n, n == 1 ? "" : "s");
	else
		printf("%s: OK (provider \"%s\")\n", a->o.provider, name);
	stop(a, n ? 1 : 0);
}

/* --provider-config: YAML or JSON (JSON is YAML). */
static int load_config(const char *path, cJSON **out)
{
	if (!path) {
		*out = NULL;
		return 0;
	}
	vk_buf b = {0};
	char *err = NULL;
	if (vk_read_file(path, &b, &err) < 0) {
		fprintf(stderr, "vk: --provider-config %s\n", err);
		free(err);
		return -1;
	}
	*out = vk_yaml_parse(b.data, b.len, &err);
	vk_buf_free(&b);
	if (!*out) {
		fprintf(stderr, "vk: --provider-config %s: %s\n", path, err ? err : "cannot parse");
		free(err);
		return -1;
	}
	return 0;
}

static const char *base_name(const char *path, char *out, size_t n)
{
	const char *b = strrchr(path, '/');
	snprintf(out, n, "%s", b ? b + 1 : path);
	char *dot = strrchr(out, '.');
	if (dot && strcmp(dot, ".lua") == 0)
		*dot = '\0';
	return out;
}

int main(int argc, char **argv)
{
	vk_agent a = {
		.o = {.state_dir = "/var/lib/vk", .store = "embedded", .listen = "0.0.0.0",
		      .port = 10250, .status_interval_ms = 5000},
	};
	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		a.o.check = true;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	int rc = parse_args(argc, argv, &a.o);
	if (rc >= 0)
		return rc;
	a.t0 = vk_now_ms();
	srandom((unsigned)(vk_wall_ms() ^ (uint64_t)getpid()));
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	char host[256];
	if (!a.o.nodename) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "vk");
		a.o.nodename = host;
	}
	if (load_config(a.o.provider_config, &a.config) < 0)
		return 1;

	vk_kubeconfig kc = {0};
	if (!a.o.check) {
		char *err = NULL;
		if (vk_kubeconfig_load(a.o.kubeconfig, a.o.context, &kc, &err) < 0) {
			fprintf(stderr, "vk: kubeconfig: %s\n", err ? err : "cannot load");
			free(err);
			cJSON_Delete(a.config);
			return 1;
		}
	}

	a.loop = uv_default_loop();
	a.http = vk_http_new(a.loop);
	if (!a.o.check) {
		char *err = NULL;
		a.kube = vk_kube_new(a.loop, a.http, &kc, &err);
		if (!a.kube) {
			fprintf(stderr, "vk: %s\n", err ? err : "cannot create the Kubernetes client");
			free(err);
			return 1;
		}
		vk_info("main", "vk %s: node %s, API server %s, provider %s", VK_VERSION, a.o.nodename,
		        vk_kube_server(a.kube), a.o.provider);
	}
	vk_kubeconfig_free(&kc);

	/* glibc keeps freed memory mapped; after a burst of pods comes and goes
	 * that is most of the RSS of an edge node's agent. */
	uv_timer_init(a.loop, &a.trim);
	uv_timer_start(&a.trim, on_trim, 10000, 10000);
	uv_unref((uv_handle_t *)&a.trim);
	uv_signal_init(a.loop, &a.sigint);
	uv_signal_init(a.loop, &a.sigterm);
	uv_signal_init(a.loop, &a.sighup);
	a.sigint.data = a.sigterm.data = a.sighup.data = &a;
	uv_signal_start(&a.sigint, on_signal, SIGINT);
	uv_signal_start(&a.sigterm, on_signal, SIGTERM);
	if (!a.o.check)
		uv_signal_start(&a.sighup, on_sighup, SIGHUP);

	char pname[256];
	vk_node_opts no = node_opts(&a);
	a.node_obj = vk_node_template(&no, base_name(a.o.provider, pname, sizeof pname));
	vk_lua_opts lo = {
		.loop = a.loop, .http = a.http, .kube = a.kube, .path = a.o.provider, .config = a.config,
	};
	if (a.o.check ? vk_lua_provider_check(&lo, a.node_obj, on_checked, &a) < 0
	              : vk_lua_provider_open(&lo, a.node_obj, on_provider, &a) < 0) {
		vk_error("main", "cannot open provider %s", a.o.provider);
		return 1;
	}
	uv_run(a.loop, UV_RUN_DEFAULT);
	cJSON_Delete(a.node_obj);
	cJSON_Delete(a.config);
	uv_loop_close(a.loop);
	curl_global_cleanup();
	return a.exit_code;
}
