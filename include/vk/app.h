/* vk/app.h - the vk program: its command line, and the agent that wires the
 * subsystems together on one libuv loop (src/app/).  The top of the
 * dependency graph: it sees every other header; nothing sees it but main.c. */
#ifndef VK_APP_H
#define VK_APP_H

#include <stdbool.h>

/* What the command line says.  Strings point into argv. */
typedef struct {
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
	bool disable_taint;
	bool no_reload;
	unsigned status_interval_ms;
	bool check; /* `vk check FILE` */
} vk_app_options;

/* cli.c: fills *o from argv (`vk check FILE` included; argv may be
 * permuted).  Returns -1 to go on, or the exit code: 0 after --help or
 * --version, 2 after a usage error, which it has printed on one line. */
int vk_app_parse_args(int argc, char **argv, vk_app_options *o);

/* test.c: `vk test SPEC.lua...` (argv[0] is "test"); returns the exit code:
 * 0 when every spec passed, 1 when one failed, 2 on a usage error. */
int vk_app_test(int argc, char **argv);

/* wiring.c: runs the agent (or `vk check`) until a signal or a fatal
 * start-up error; returns the exit code. */
int vk_app_run(const vk_app_options *o);

#endif
