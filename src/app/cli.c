/* The command line: flags (the table in flags.c), the environment, the
 * config file, `vk check FILE`, usage and its errors.
 *
 * Precedence, lowest first: the defaults, the environment variables
 * virtual-kubelet read, the config file (--config), the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "vk/util.h"

/* virtual-kubelet's flags given, for one warning each after parsing. */
static const vk_flag *ignored_seen[32];
static size_t n_ignored;

void vk_app__ignored(const vk_flag *f)
{
	for (size_t i = 0; i < n_ignored; i++)
		if (ignored_seen[i] == f)
			return;
	if (n_ignored < VK_ARRAY_LEN(ignored_seen))
		ignored_seen[n_ignored++] = f;
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "vk: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see vk --help)\n");
	return 2;
}

/* "--NAME WHY" for a flag, "$ENV (--NAME) WHY" for the environment. */
static int apply(const vk_flag *f, vk_app_options *o, const char *value, const char *env)
{
	char *why = NULL;
	if (f->set(f, o, value, &why) == 0)
		return 0;
	if (env)
		fprintf(stderr, "vk: $%s (--%s) %s\n", env, f->name, why ? why : "is not valid");
	else
		fprintf(stderr, "vk: --%s %s (see vk --help)\n", f->name, why ? why : "is not valid");
	free(why);
	return -1;
}

typedef struct {
	const vk_flag *f;
	const char *value; /* NULL for a boolean without =VALUE */
} given;

int vk_app_parse_args(int argc, char **argv, vk_app_options *o)
{
	*o = (vk_app_options){.store = "embedded",
	                      .listen = "0.0.0.0",
	                      .port = 10250,
	                      .status_interval_ms = 5000,
	                      .token_webhook = true,
	                      .token_ttl_ms = 2 * 60 * 1000,
	                      .rotate_server_certs = true};
	if (argc > 1 && strcmp(argv[1], "test") == 0)
		return vk_app_test(argc - 1, argv + 1); /* src/app/test.c */
	n_ignored = 0;
	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		o->check = true;
		argv[1] = argv[0];
		argv++;
		argc--;
	}

	/* getopt's table from ours: the index of a flag is its getopt value - 256. */
	size_t nf = 0;
	while (vk_app__flags[nf].name)
		nf++;
	struct option *long_opts = vk_xcalloc(nf + 1, sizeof *long_opts);
	for (size_t i = 0; i < nf; i++) {
		const vk_flag *f = &vk_app__flags[i];
		long_opts[i] = (struct option){f->name,
		                               f->arg        ? required_argument
		                               : f->cli_only ? no_argument
		                                             : optional_argument,
		                               NULL, 256 + (int)i};
	}
	given *cli = vk_xcalloc((size_t)argc + 1, sizeof *cli);
	size_t n_cli = 0;
	int rc = -1;
	opterr = 0;
	optind = 1;
	int c;
	while (rc < 0 && (c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		if (c == 'h' || (c >= 256 && strcmp(vk_app__flags[c - 256].name, "help") == 0)) {
			vk_app__usage();
			rc = 0;
		} else if (c >= 256 && strcmp(vk_app__flags[c - 256].name, "version") == 0) {
			printf("vk %s\n", VK_VERSION);
			rc = 0;
		} else if (c >= 256) {
			cli[n_cli++] = (given){&vk_app__flags[c - 256], optarg};
		} else if (c == ':') {
			rc = bad_usage("flag '%s' needs a value", argv[optind - 1]);
		} else {
			rc = bad_usage("unknown flag '%s'", argv[optind - 1]);
		}
	}
	free(long_opts);
	if (rc >= 0)
		goto out;

	/* The environment, then the config file, then the command line. */
	for (const vk_flag *f = vk_app__flags; f->name; f++) {
		const char *v = f->env ? getenv(f->env) : NULL;
		if (v && *v && apply(f, o, v, f->env) < 0) {
			rc = 2;
			goto out;
		}
	}
	for (size_t i = 0; i < n_cli; i++)
		if (strcmp(cli[i].f->name, "config") == 0)
			o->config = cli[i].value;
	if (o->config && vk_app__config_file(o->config, o) < 0) {
		rc = 2;
		goto out;
	}
	for (size_t i = 0; i < n_cli; i++) {
		if (apply(cli[i].f, o, cli[i].value, NULL) < 0) {
			rc = 2;
			goto out;
		}
	}

	if (optind < argc) {
		if (o->check && !o->provider && optind == argc - 1) {
			o->provider = argv[optind];
			goto out;
		}
		rc = bad_usage("unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!o->provider) {
		rc = bad_usage("%s", o->check ? "vk check needs a provider file" : "--provider FILE.lua is required");
		goto out;
	}
out:
	free(cli);
	if (rc < 0)
		for (size_t i = 0; i < n_ignored; i++)
			vk_warn("main", "--%s does nothing: %s", ignored_seen[i]->name, ignored_seen[i]->help);
	if (rc >= 0)
		vk_app_options_free(o);
	return rc;
}
