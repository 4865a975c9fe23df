/* vk/app.h - the vk program: its command line, and the agent that wires the
 * subsystems together on one libuv loop (src/app/).  The top of the
 * dependency graph: it sees every other header; nothing sees it but main.c. */
#ifndef VK_APP_H
#define VK_APP_H

#include <stdbool.h>

/* What the command line, the config file (--config) and the environment
 * say, in that order of precedence over the defaults.  Strings point into
 * argv, the environment, or the config file's parse (owned by `doc`). */
typedef struct {
	const char *config; /* --config FILE, or NULL */
	const char *provider;
	const char *provider_config;
	const char *kubeconfig;
	const char *context;
	const char *nodename;  /* NULL: the host name */
	const char *state_dir; /* NULL: /var/lib/vk/NODENAME */
	const char *store;
	const char *state_key_file; /* NULL: Secrets are not persisted */
	const char *listen;
	int port;
	const char *tls_cert, *tls_key, *client_ca; /* kubelet API TLS */
	bool authz_always_allow;                    /* --authorization-mode AlwaysAllow */
	bool anonymous_auth;                        /* --anonymous-auth */
	bool token_webhook;                         /* --authentication-token-webhook (default true) */
	unsigned token_ttl_ms;                      /* --authentication-token-webhook-cache-ttl (2 min) */
	bool rotate_server_certs;                   /* --rotate-server-certificates (default true) */
	const char *cert_dir;                       /* --cert-dir; NULL: STATE_DIR/pki */
	unsigned cert_renew_after_ms;               /* --server-cert-renew-after; 0: 70-90 % of the life */
	bool disable_taint;
	bool no_reload;
	unsigned status_interval_ms;
	const char *namespace_;      /* --namespace: watch the pods of this namespace only; NULL: all */
	const char *os;              /* --os: the node's operatingSystem and kubernetes.io/os (default linux) */
	const char *node_ip;         /* --node-ip ($VKUBELET_POD_IP): the node's InternalIP; NULL: found */
	unsigned startup_timeout_ms; /* --startup-timeout: exit 1 if not registered in time; 0: wait */
	unsigned full_resync_ms;     /* --full-resync-period: re-read every status this often; 0: never */
	unsigned pod_sync_workers;   /* --pod-sync-workers: pods whose callbacks run at once; 0: 64 */
	const char *metrics_addr;    /* --metrics-addr HOST:PORT: /metrics without TLS; NULL: none */
	bool log_json;               /* --log-format json */
	bool check;                  /* `vk check FILE` */
	void *doc;                   /* the config file's parse; vk_app_options_free frees it */
} vk_app_options;

/* cli.c: fills *o from the defaults, then the environment, then the config
 * file, then argv, each overriding the one before (`vk check FILE`
 * included; argv may be permuted).  Returns -1 to go on, or the exit code:
 * 0 after --help or --version, 2 after a usage error, which it has printed
 * on one line (a config file's with FILE:LINE). */
int vk_app_parse_args(int argc, char **argv, vk_app_options *o);
void vk_app_options_free(vk_app_options *o);

/* test.c: `vk test SPEC.lua...` (argv[0] is "test"); returns the exit code:
 * 0 when every spec passed, 1 when one failed, 2 on a usage error. */
int vk_app_test(int argc, char **argv);

/* wiring.c: runs the agent (or `vk check`) until a signal or a fatal
 * start-up error; returns the exit code. */
int vk_app_run(const vk_app_options *o);

#endif
