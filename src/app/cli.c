/* The command line: flags, `vk check FILE`, usage and its errors. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/app.h"
#include "vk/store.h"
#include "vk/util.h"

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
	"  --provider FILE          the provider script (required), e.g. providers/mynode.lua;\n"
	"                           a bare name (mynode, mock, redis) is a provider shipped with vk\n"
	"  --provider-config FILE   YAML or JSON handed to the provider's init(config, node)\n"
	"  --kubeconfig FILE        credentials; default $KUBECONFIG, the in-cluster\n"
	"                           service account, then ~/.kube/config\n"
	"  --context NAME           kubeconfig context (default: current-context)\n"
	"  --nodename NAME          the Node name (default: the host name)\n"
	"  --disable-taint          do not taint the node virtual-kubelet.io/provider=NAME:NoSchedule\n"
	"  --status-interval MS     how often pod statuses are polled from the provider (default 5000)\n"
	"  --store URL              the local store: embedded (default: SQLite in the state dir),\n"
	"                           redis://[:PASSWORD@]HOST:PORT[/DB] or etcd://HOST:PORT; vk keeps\n"
	"                           its pods and what they reference there, and starts from it\n"
	"                           when the API server cannot be reached; `none`: no store\n"
	"  --state-dir DIR          the embedded store's folder (default /var/lib/vk/NODENAME)\n"
	"  --state-key-file FILE    a 256-bit key (32 bytes, 64 hex digits or base64) to encrypt\n"
	"                           Secrets at rest; without it Secrets are not persisted\n"
	"  --listen-address ADDR    kubelet API address (default 0.0.0.0)\n"
	"  --port N                 kubelet API port (default 10250; 0: do not serve it)\n"
	"  --tls-cert-file FILE     kubelet API serving certificate (default: self-signed)\n"
	"  --tls-private-key-file FILE  its key\n"
	"  --client-ca-file FILE    CA for client certificates (the API server's); without\n"
	"                           it the kubelet API answers only /healthz (and anonymous\n"
	"                           requests, with --anonymous-auth)\n"
	"  --authorization-mode M   Webhook (default: SubjectAccessReviews) or AlwaysAllow\n"
	"  --anonymous-auth[=BOOL]  a kubelet API request without a client certificate is the\n"
	"                           user system:anonymous (group system:unauthenticated), then\n"
	"                           authorized like any other (default false: 401)\n"
	"  --no-reload              do not watch the provider for changes (SIGHUP still reloads)\n"
	"  --log-level LEVEL        debug, info, warn or error (default info)\n"
	"  --version                print the version and exit\n"
	"  -h, --help               print this help and exit\n";

enum {
	OPT_PROVIDER = 256,
	OPT_PROVIDER_CONFIG,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_NODENAME,
	OPT_DISABLE_TAINT,
	OPT_STATUS_INTERVAL,
	OPT_STATE_DIR,
	OPT_STORE,
	OPT_STATE_KEY_FILE,
	OPT_LISTEN,
	OPT_PORT,
	OPT_NO_RELOAD,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_CLIENT_CA,
	OPT_AUTHZ_MODE,
	OPT_ANONYMOUS_AUTH,
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
	{"state-key-file", required_argument, NULL, OPT_STATE_KEY_FILE},
	{"listen-address", required_argument, NULL, OPT_LISTEN},
	{"port", required_argument, NULL, OPT_PORT},
	{"tls-cert-file", required_argument, NULL, OPT_TLS_CERT},
	{"tls-private-key-file", required_argument, NULL, OPT_TLS_KEY},
	{"client-ca-file", required_argument, NULL, OPT_CLIENT_CA},
	{"authorization-mode", required_argument, NULL, OPT_AUTHZ_MODE},
	{"anonymous-auth", optional_argument, NULL, OPT_ANONYMOUS_AUTH},
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

int vk_app_parse_args(int argc, char **argv, vk_app_options *o)
{
	*o = (vk_app_options){.store = "embedded", .listen = "0.0.0.0", .port = 10250, .status_interval_ms = 5000};
	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		o->check = true;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
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
				return bad_usage("--status-interval takes milliseconds from 100 to 3600000, not '%s'",
				                 optarg);
			o->status_interval_ms = (unsigned)v;
			break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_STORE: {
			if (strcmp(optarg, "none") == 0) { /* no local store: nothing kept across restarts */
				o->store = NULL;
				break;
			}
			vk_store_url u;
			char *err = NULL;
			if (vk_store_url_parse(optarg, &u, &err) != 0) {
				bad_usage("%s", err);
				free(err);
				return 2;
			}
			vk_store_url_free(&u);
			o->store = optarg;
			break;
		}
		case OPT_STATE_KEY_FILE: o->state_key_file = optarg; break;
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
		case OPT_ANONYMOUS_AUTH:
			/* kubelet's boolean flag: --anonymous-auth, --anonymous-auth=true|false */
			if (!optarg || strcmp(optarg, "true") == 0)
				o->anonymous_auth = true;
			else if (strcmp(optarg, "false") == 0)
				o->anonymous_auth = false;
			else
				return bad_usage("--anonymous-auth takes true or false, not '%s'", optarg);
			break;
		case OPT_NO_RELOAD: o->no_reload = true; break;
		case OPT_LOG_LEVEL: {
			vk_log_level lvl;
			if (vk_log_parse_level(optarg, &lvl) < 0)
				return bad_usage("--log-level takes debug, info, warn or error, not '%s'", optarg);
			vk_log_set_level(lvl);
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
