/* The agent: wires the subsystems onto one libuv loop (http, kube, the
 * provider, the kubelet API, the node and pod controllers), handles the
 * signals, and stops everything in order.  Hot reload is in reload.c. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_int.h"
#include "vk/metrics.h"
#include "vk/paths.h"
#include "vk/util.h"
#include "vk/yaml.h"

static void on_trim(uv_timer_t *t) { malloc_trim(0); }

/* The provider has been quiet for a second: a burst of pods has ended, and
 * what its transfers and conversions freed goes back now, not at the next
 * tick (vk + mynode, 20 pods created at once: VmRSS 17.3 MiB 5 s after
 * the last was Running, 16.6 after the tick). */
static void on_provider_quiet(void *ud)
{
	(void)ud;
	malloc_trim(0);
}

void vk_app__stop(vk_app *a, int code)
{
	if (a->stopping)
		return;
	a->stopping = true;
	a->exit_code = code;
	/* Order matters: controllers first (they stop issuing work), then the
	 * provider (its in-flight callbacks end with -ECANCELED while the
	 * controllers' memory is still there), then the transports. */
	vk_fswatch_close(a->watch);
	a->watch = NULL;
	vk_server_set_pods(a->server, NULL, NULL, NULL);
	vk_pods_close(a->pods);
	vk_node_close(a->node);
	vk_server_close(a->server); /* a caller of the provider, like the controllers */
	a->server = NULL;
	vk_app__metrics_close(a);
	if (a->provider)
		vk_provider_close(a->provider);
	a->provider = NULL;
	if (a->kube)
		vk_kube_free(a->kube);
	a->kube = NULL;
	vk_store_wb_close(a->wb); /* what it still holds is in the watch's replay */
	a->wb = NULL;
	if (a->store)
		vk_store_close(a->store); /* before http: etcd's requests are its transfers */
	a->store = NULL;
	if (a->http)
		vk_http_close(a->http);
	a->http = NULL;
	uv_close((uv_handle_t *)&a->trim, NULL);
	vk_app__timers_close(a);
	uv_close((uv_handle_t *)&a->sigint, NULL);
	uv_close((uv_handle_t *)&a->sigterm, NULL);
	uv_close((uv_handle_t *)&a->sighup, NULL);
}

static void flushed_then_stop(vk_store_wb *wb, int status, void *ud)
{
	vk_app *a = ud;
	if (status < 0)
		vk_warn(SUB, "%zu writes could not reach the store before stopping", vk_store_wb_len(wb));
	vk_app__stop(a, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
	vk_app *a = s->data;
	if (a->stopping)
		return;
	if (a->flushing) { /* a second signal: no more waiting for the store */
		vk_app__stop(a, 0);
		return;
	}
	vk_info(SUB, "%s: stopping; pods keep running, the node goes NotReady when its lease expires",
	        strsignal(signum));
	vk_app__notify_stopping(a);
	/* The watch's latest resourceVersion too, not only what the last
	 * once-a-second save saw: a vk stopped a second after it started
	 * would otherwise leave its store without one. */
	vk_pods_checkpoint(a->pods);
	/* What the edge cache still holds goes to the store first (a store that
	 * does not answer ends the flush with an error after its timeout).  The
	 * controllers run on meanwhile: closing them now would leave their calls
	 * in flight with nobody to cancel them until stop(). */
	if (a->wb && vk_store_wb_len(a->wb) && !vk_store_wb_is_down(a->wb)) {
		a->flushing = true;
		if (vk_store_wb_flush(a->wb, flushed_then_stop, a) == 0)
			return;
	}
	vk_app__stop(a, 0);
}

void vk_app__node_event(vk_app *a, const char *type, const char *reason, const char *msg)
{
	if (a->node)
		vk_node_event(a->node, type, reason, msg);
}

static size_t pod_names_for_server(void *ud, vk_server_pod_name_cb cb, void *arg) { return vk_pods_names(ud, cb, arg); }
static cJSON *pod_for_server(void *ud, const char *ns, const char *name) { return vk_pods_get(ud, ns, name); }

/* The pod controller, with the edge cache in the store. */
static void start_pods(vk_app *a)
{
	if (a->pods || a->stopping || a->flushing)
		return;
	vk_pod_opts po = {
		.loop = a->loop,
		.kube = a->kube,
		.provider = a->provider,
		.node = a->node,
		.nodename = a->o.nodename,
		.namespace_ = a->o.namespace_,
		.status_poll_ms = a->o.status_interval_ms,
		.workers = a->o.pod_sync_workers,
		.store = a->store,
		.wb = a->wb,
		.secret_key = a->have_state_key ? a->state_key : NULL,
	};
	a->pods = vk_pods_new(&po);
	vk_server_set_pods(a->server, pod_names_for_server, pod_for_server, a->pods);
	vk_pods_start(a->pods);
}

static void on_node_ready(const char *err, void *ud)
{
	vk_app *a = ud;
	if (err) {
		vk_error(SUB, "node registration failed: %s", err);
		vk_app__stop(a, 1);
		return;
	}
	a->registered = true;
	vk_info(SUB, "node %s registered in %llu ms", a->o.nodename, (unsigned long long)(vk_now_ms() - a->t0));
	vk_app__notify_ready(a);
	uv_timer_stop(&a->pods_wait);
	start_pods(a);
}

/* The store's pods waited VK_APP_PODS_WAIT_MS for the registration. */
static void on_pods_wait(uv_timer_t *t)
{
	vk_app *a = t->data;
	if (a->pods)
		return;
	vk_info(SUB, "node %s not registered after %d ms: the pods start from the local store", a->o.nodename,
	        VK_APP_PODS_WAIT_MS);
	start_pods(a);
}

/* The provider's name may differ from the file's: fix the taint's value. */
static void retaint(cJSON *node, const char *name)
{
	cJSON *t;
	cJSON_ArrayForEach(t,
	                   cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "spec"), "taints")) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "key");
		if (cJSON_IsString(k) && strcmp(k->valuestring, "virtual-kubelet.io/provider") == 0)
			cJSON_ReplaceItemInObjectCaseSensitive(t, "value", cJSON_CreateString(name));
	}
}

static vk_node_opts node_opts(vk_app *a)
{
	return (vk_node_opts){
		.loop = a->loop,
		.kube = a->kube,
		.provider = a->provider,
		.name = a->o.nodename,
		.disable_taint = a->o.disable_taint,
		.port = a->o.port,
	};
}

/* The kubelet API, once the provider is there and init has set the node's
 * addresses (the self-signed certificate names them). */
static int start_server(vk_app *a)
{
	if (a->o.port == 0)
		return 0;
	vk_server_opts so = {
		.loop = a->loop,
		.provider = a->provider,
		.nodename = a->o.nodename,
		.address = a->o.listen,
		.port = a->o.port,
		.tls_cert_file = a->o.tls_cert,
		.tls_key_file = a->o.tls_key,
		.client_ca_file = a->o.client_ca,
		.node = a->node_obj,
		.kube = a->o.authz_always_allow ? NULL : a->kube,
		.anonymous_auth = a->o.anonymous_auth,
		.api = a->kube,
		.token_webhook = a->o.token_webhook,
		.token_cache_ttl_ms = a->o.token_ttl_ms,
		.cert_rotate_after_ms = a->o.cert_renew_after_ms,
		.fs_path = a->o.state_dir,
	};
	/* kubelet keeps its serving certificate in /var/lib/kubelet/pki */
	char *cert_dir = NULL;
	if (!a->o.tls_cert && a->o.rotate_server_certs)
		so.cert_dir = a->o.cert_dir
		                      ? a->o.cert_dir
		                      : (cert_dir = a->o.state_dir ? vk_asprintf("%s/pki", a->o.state_dir)
		                                                   : vk_asprintf("/var/lib/vk/%s/pki", a->o.nodename));
	if (a->o.anonymous_auth && a->o.authz_always_allow)
		vk_warn(SUB,
		        "--anonymous-auth with --authorization-mode AlwaysAllow: anyone who can reach port %d "
		        "may use the kubelet API (pods, logs, stats) without credentials",
		        a->o.port);
	char *err = NULL;
	a->server = vk_server_new(&so, &err);
	free(cert_dir);
	if (!a->server) {
		vk_error(SUB, "%s", err);
		free(err);
		return -1;
	}
	return 0;
}

static void on_provider(vk_provider *p, const char *err, void *ud)
{
	vk_app *a = ud;
	if (!p) {
		vk_error(SUB, "provider %s: %s", a->o.provider, err ? err : "failed to load");
		vk_app__stop(a, 1);
		return;
	}
	a->provider = p;
	char hash[17];
	vk_app__code_hash(p, hash);
	vk_info(SUB, "provider %s (\"%s\") loaded: code %.12s", a->o.provider, p->name, hash);
	vk_app__watch_start(a);
	retaint(a->node_obj, p->name);
	if (start_server(a) < 0 || vk_app__metrics_start(a) < 0) {
		vk_app__stop(a, 1);
		return;
	}
	vk_node_opts no = node_opts(a);
	a->node = vk_node_new(&no, a->node_obj);
	a->node_obj = NULL;
	vk_node_start(a->node, on_node_ready, a);
	/* With the edge cache the pods need not wait for the API server: they
	 * start from the store while registration keeps retrying.  But the
	 * registration goes first (a restarted kubelet's node status is its
	 * first write): started at once, a restarted vk's 100 pods' creates
	 * and status writes ran beside the Node's PATCH, which took 6 s. */
	if (a->store)
		uv_timer_start(&a->pods_wait, on_pods_wait, VK_APP_PODS_WAIT_MS, 0);
}

/* vk check: every problem on stderr, an OK line on stdout. */
static void on_checked(const char *name, char *const *problems, void *ud)
{
	vk_app *a = ud;
	size_t n = 0;
	for (; problems[n]; n++)
		fprintf(stderr, "%s\n", problems[n]);
	if (n)
		fprintf(stderr, "%s: %zu problem%s\n", a->o.provider, n, n == 1 ? "" : "s");
	else
		printf("%s: OK (provider \"%s\")\n", a->o.provider, name);
	vk_app__stop(a, n ? 1 : 0);
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

/* --store, --state-dir, --state-key-file: the local store is open (or vk
 * says in one line why not) before anything else runs. */
static int open_store(vk_app *a)
{
	if (!a->o.store) {
		vk_info(SUB, "--store none: nothing is kept across restarts");
		return 0;
	}
	if (!a->o.state_dir) {
		snprintf(a->state_dir, sizeof a->state_dir, "/var/lib/vk/%s", a->o.nodename);
		a->o.state_dir = a->state_dir;
	}
	/* How long the write-behind gathers writes before it commits them
	 * (50 ms by default): fewer commits on slow flash; the tests also widen
	 * it to stretch the window between a change and its commit. */
	vk_store_wb_opts wo = {0};
	const char *fms = getenv("VK_STORE_FLUSH_MS");
	if (fms && *fms) {
		char *end = NULL;
		unsigned long v = strtoul(fms, &end, 10);
		if (*end || v < 1 || v > 86400000) {
			fprintf(stderr, "vk: VK_STORE_FLUSH_MS=%s: not a number of milliseconds from 1 to 86400000\n",
			        fms);
			return -1;
		}
		wo.flush_ms = (unsigned)v;
	}
	char *err = NULL;
	if (a->o.state_key_file) {
		if (vk_store_key_load(a->o.state_key_file, a->state_key, &err) < 0) {
			fprintf(stderr, "vk: --state-key-file %s\n", err);
			free(err);
			return -1;
		}
		a->have_state_key = true;
	}
	a->store = vk_store_open_startup(a->loop, a->http, a->o.store, a->o.state_dir, &err);
	if (!a->store) {
		fprintf(stderr, "vk: --store: %s\n", err ? err : "cannot open");
		free(err);
		return -1;
	}
	vk_info(SUB, "local store %s", vk_store_name(a->store));
	a->wb = vk_store_wb_new(a->store, &wo);
	if (!a->have_state_key)
		vk_info(SUB, "Secrets are not persisted in the local store: no --state-key-file");
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

int vk_app_run(const vk_app_options *o)
{
	vk_app__malloc_tune();
	vk_app app = {.o = *o}, *a = &app;
	a->t0 = vk_now_ms();
	vk_metrics_init(); /* every family shows from the first scrape */
	srandom((unsigned)(vk_wall_ms() ^ (uint64_t)getpid()));
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	char host[256];
	if (!a->o.nodename) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "vk");
		a->o.nodename = host;
	}
	static char shipped[4096]; /* --provider mynode: the shipped providers/mynode.lua (vk/paths.h) */
	if (vk_paths_shipped_provider(a->o.provider, shipped, sizeof shipped)) {
		if (access(shipped, R_OK) != 0) {
			fprintf(stderr,
			        "vk: --provider %s: vk ships no provider of that name (no %s); give a path for a file\n",
			        a->o.provider, shipped);
			return 1;
		}
		a->o.provider = shipped;
	}
	if (load_config(a->o.provider_config, &a->config) < 0)
		return 1;

	vk_kubeconfig kc = {0};
	if (!a->o.check) {
		char *err = NULL;
		if (vk_kubeconfig_load(a->o.kubeconfig, a->o.context, &kc, &err) < 0) {
			fprintf(stderr, "vk: kubeconfig: %s\n", err ? err : "cannot load");
			free(err);
			cJSON_Delete(a->config);
			return 1;
		}
	}

	a->loop = uv_default_loop();
	a->http = vk_http_new(a->loop);
	if (!a->o.check && open_store(a) < 0) {
		vk_http_close(a->http);
		uv_run(a->loop, UV_RUN_NOWAIT);
		uv_loop_close(a->loop);
		cJSON_Delete(a->config);
		vk_kubeconfig_free(&kc);
		curl_global_cleanup();
		return 2;
	}
	if (!a->o.check) {
		char *err = NULL;
		a->kube = vk_kube_new(a->loop, a->http, &kc, &err);
		if (!a->kube) {
			fprintf(stderr, "vk: %s\n", err ? err : "cannot create the Kubernetes client");
			free(err);
			return 1;
		}
		vk_info("main", "vk %s (%s): node %s, API server %s, provider %s", VK_VERSION, vk_http_version(),
		        a->o.nodename, vk_kube_server(a->kube), a->o.provider);
	}
	vk_kubeconfig_free(&kc);

	/* glibc keeps freed memory mapped; after a burst of pods comes and goes
	 * that is most of the RSS of an edge node's agent. */
	uv_timer_init(a->loop, &a->trim);
	uv_timer_start(&a->trim, on_trim, 10000, 10000);
	uv_unref((uv_handle_t *)&a->trim);
	uv_signal_init(a->loop, &a->sigint);
	uv_signal_init(a->loop, &a->sigterm);
	uv_signal_init(a->loop, &a->sighup);
	a->sigint.data = a->sigterm.data = a->sighup.data = a;
	uv_signal_start(&a->sigint, on_signal, SIGINT);
	uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	if (!a->o.check)
		uv_signal_start(&a->sighup, vk_app__on_sighup, SIGHUP);

	char pname[256];
	vk_node_opts no = node_opts(a);
	a->node_obj = vk_node_template(&no, base_name(a->o.provider, pname, sizeof pname));
	vk_app__node_flags(a->node_obj, &a->o);
	vk_app__timers_start(a);
	vk_lua_opts lo = {
		.loop = a->loop,
		.http = a->http,
		.kube = a->kube,
		.path = a->o.provider,
		.config = a->config,
		.config_path = a->o.provider_config,
		.store = a->store,
		.on_quiet = on_provider_quiet,
	};
	if (a->o.check ? vk_lua_provider_check(&lo, a->node_obj, on_checked, a) < 0
	               : vk_lua_provider_open(&lo, a->node_obj, on_provider, a) < 0) {
		vk_error("main", "cannot open provider %s", a->o.provider);
		return 1;
	}
	uv_run(a->loop, UV_RUN_DEFAULT);
	cJSON_Delete(a->node_obj);
	cJSON_Delete(a->config);
	uv_loop_close(a->loop);
	curl_global_cleanup();
	return a->exit_code;
}
