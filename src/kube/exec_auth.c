/* Exec credential plugins (kubeconfig users[].user.exec), as client-go runs
 * them: the command prints an ExecCredential (client.authentication.k8s.io
 * v1 or v1beta1) whose status holds a token (or a client certificate and
 * key) and maybe an expirationTimestamp.
 *
 * The plugin runs through uv_spawn with pipes, never blocking the loop.
 * Requests that find no credential, or an expired one, wait (parked as
 * vk_kube_waiter) until the plugin has run; a 401 to a request made with the
 * current credential drops it, so the next request runs the plugin again.
 * A plugin that fails, or gives no answer in 60 s (it is killed), is run
 * again after a backoff (1 s doubling to 30 s); the requests waiting
 * meanwhile fail with its message, one line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube_int.h"
#include "vk/json.h"
#include "vk/util.h"

#define EXPIRY_MARGIN_MS 5000 /* renew a little before the server would refuse it */
#define RUN_TIMEOUT_MS 60000  /* a plugin that hangs is killed: requests must not wait for ever */

typedef struct run run;

typedef struct vk_kube_exec_auth {
	vk_kube *k;
	vk_kube_exec *x;
	vk_list waiting;          /* vk_kube_waiter */
	run *running;             /* the plugin's process, or NULL */
	uint64_t expires_wall_ms; /* 0: the credential does not expire */
	bool have;                /* a credential from the plugin is in k->token / cert */
	char *last_error;
	vk_backoff backoff;
	uv_timer_t timer;   /* the backoff after a failure; delivers a spawn failure */
	char *fail_pending; /* a spawn failure, delivered from the timer */
	unsigned runs;
} vk_kube_exec_auth;

struct run {
	uv_process_t proc;
	uv_pipe_t out, err;
	vk_buf obuf, ebuf;
	int open;             /* handles not yet closed */
	int waits;            /* the exit and the two EOFs still to come */
	long long status;     /* exit status */
	int signal;           /* or the signal that ended it */
	vk_kube_exec_auth *a; /* NULL once vk_kube_free let it go */
};

static void deliver(vk_kube_exec_auth *a, const char *err)
{
	/* go() may park a new request or cancel another: take the list first */
	vk_list ready;
	vk_list_init(&ready);
	for (vk_list *n; (n = vk_list_first(&a->waiting));) {
		vk_list_remove(n);
		vk_list_insert_tail(&ready, n);
	}
	for (vk_list *n; (n = vk_list_first(&ready));) {
		vk_kube_waiter *w = VK_LIST_ENTRY(n, vk_kube_waiter, link);
		vk_list_remove(n);
		vk_list_init(n);
		w->go(w, err);
	}
}

/* RFC 3339 (what Go's time.Time marshals to) -> ms since the epoch. */
static int parse_time(const char *s, uint64_t *out)
{
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &n) != 6)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++) {
		}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = (uint64_t)(t - off) * 1000;
	return 0;
}

static void set_secret(char **slot, const char *v)
{
	if (*slot)
		explicit_bzero(*slot, strlen(*slot));
	free(*slot);
	*slot = vk_strdup(v);
}

/* Takes the plugin's output; NULL or why it is not a credential. */
static char *take_credential(vk_kube_exec_auth *a, const char *text, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(text, len);
	if (!j)
		return vk_strdup("its output is not JSON");
	char *why = NULL;
	const char *kind = vk_json_str(j, "kind"), *api = vk_json_str(j, "apiVersion");
	const char *token = vk_json_str(j, "status.token"), *exp = vk_json_str(j, "status.expirationTimestamp");
	const char *cert = vk_json_str(j, "status.clientCertificateData");
	const char *key = vk_json_str(j, "status.clientKeyData");
	uint64_t exp_ms = 0;
	if (!kind || strcmp(kind, "ExecCredential") != 0)
		why = vk_asprintf("its output is not an ExecCredential (kind %s)", kind ? kind : "missing");
	else if (!api || strcmp(api, a->x->api_version) != 0)
		why = vk_asprintf("its ExecCredential has apiVersion %s, not %s as the kubeconfig says",
		                  api ? api : "missing", a->x->api_version);
	else if (!(token && *token) && !(cert && key))
		why = vk_strdup(
			"its ExecCredential has no status.token, nor status.clientCertificateData and clientKeyData");
	else if (exp && parse_time(exp, &exp_ms) < 0)
		why = vk_asprintf("status.expirationTimestamp '%s' is not an RFC 3339 time", exp);
	if (!why) {
		vk_kube *k = a->k;
		if (token && *token)
			set_secret(&k->token, token);
		if (cert && key) {
			free(k->cert_pem);
			k->cert_pem = vk_strdup(cert);
			set_secret(&k->key_pem, key);
		}
		k->token_gen++;
		a->have = true;
		a->expires_wall_ms = exp_ms;
		char until[40] = "no expiry";
		if (exp_ms)
			vk_rfc3339(until, exp_ms, false);
		vk_info("kube", "exec credential plugin %s: %s until %s", a->x->command,
		        token && *token ? "a token" : "a client certificate", until);
	}
	if (j)
		cJSON_Delete(j);
	return why;
}

static void run_closed(uv_handle_t *h)
{
	run *r = h->data;
	if (--r->open)
		return;
	vk_buf_free(&r->obuf);
	vk_buf_free(&r->ebuf);
	free(r);
}

static void run_close(run *r)
{
	uv_close((uv_handle_t *)&r->proc, run_closed);
	uv_close((uv_handle_t *)&r->out, run_closed);
	uv_close((uv_handle_t *)&r->err, run_closed);
}

static void on_tick(uv_timer_t *t);

/* From a loop callback (never inside the request that asked): the waiting
 * requests fail with `why` (taken), and the plugin runs again after the
 * backoff if requests wait by then. */
static void failed(vk_kube_exec_auth *a, char *why)
{
	free(a->last_error);
	a->last_error = why;
	vk_warn("kube", "%s", why);
	uv_timer_start(&a->timer, on_tick, vk_backoff_next(&a->backoff), 0);
	deliver(a, why);
}

/* Every part of a run is in (the exit and both EOFs): judge it. */
static void run_finished(run *r)
{
	vk_kube_exec_auth *a = r->a;
	run_close(r);
	if (!a)
		return;
	a->running = NULL;
	uv_timer_stop(&a->timer); /* its time limit */
	char *why = NULL;
	if (r->signal || r->status) {
		vk_buf_append(&r->ebuf, "", 1);
		const char *e = r->ebuf.data ? r->ebuf.data : "";
		size_t n = strcspn(e, "\n");
		why = r->signal ? vk_asprintf("exec credential plugin %s: killed by signal %d%s%.*s", a->x->command,
		                              r->signal, n ? ": " : "", (int)n, e)
		                : vk_asprintf("exec credential plugin %s: exit status %lld%s%.*s", a->x->command,
		                              r->status, n ? ": " : "", (int)n, e);
	} else {
		char *w = take_credential(a, r->obuf.data ? r->obuf.data : "", r->obuf.len);
		if (w) {
			why = vk_asprintf("exec credential plugin %s: %s", a->x->command, w);
			free(w);
		}
	}
	if (why) {
		failed(a, why);
		return;
	}
	vk_backoff_reset(&a->backoff);
	deliver(a, NULL);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	run *r = p->data;
	r->status = status;
	r->signal = sig;
	if (--r->waits == 0)
		run_finished(r);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char chunk[16384];
	buf->base = chunk;
	buf->len = sizeof chunk;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	run *r = s->data;
	if (n > 0) {
		vk_buf *b = s == (uv_stream_t *)&r->out ? &r->obuf : &r->ebuf;
		if (b->len < (1u << 20)) /* a credential is small; a runaway plugin is not kept */
			vk_buf_append(b, buf->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;
	uv_read_stop(s); /* EOF or an error: this pipe is done */
	if (--r->waits == 0)
		run_finished(r);
}

extern char **environ;

static void start_run(vk_kube_exec_auth *a)
{
	if (a->running || uv_is_active((uv_handle_t *)&a->timer))
		return;
	run *r = vk_xcalloc(1, sizeof *r);
	r->a = a;
	r->waits = 3;
	uv_loop_t *loop = a->k->loop;
	uv_pipe_init(loop, &r->out, 0);
	uv_pipe_init(loop, &r->err, 0);
	r->out.data = r->err.data = r->proc.data = r;

	/* vk's environment, the kubeconfig's env, KUBERNETES_EXEC_INFO */
	size_t ne = 0, nx = 0;
	while (environ[ne])
		ne++;
	while (a->x->env[nx])
		nx++;
	char **env = vk_xcalloc(ne + nx + 2, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) != 0)
			env[k++] = environ[i];
	for (size_t i = 0; i < nx; i++)
		env[k++] = a->x->env[i];
	char *info = vk_asprintf("KUBERNETES_EXEC_INFO=%s", a->x->exec_info);
	env[k++] = info;
	size_t na = 0;
	while (a->x->args[na])
		na++;
	char **argv = vk_xcalloc(na + 2, sizeof *argv);
	argv[0] = a->x->command;
	for (size_t i = 0; i < na; i++)
		argv[i + 1] = a->x->args[i];
	uv_stdio_container_t stdio[3] = {
		{.flags = UV_IGNORE},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->out},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->err},
	};
	uv_process_options_t po = {
		.exit_cb = on_exit_cb,
		.file = a->x->command,
		.args = argv,
		.env = env,
		.stdio_count = 3,
		.stdio = stdio,
	};
	int rc = uv_spawn(loop, &r->proc, &po);
	free(argv);
	free(env);
	free(info);
	a->runs++;
	r->open = 3;
	if (rc < 0) {
		/* libuv asks for uv_close on a process handle whose spawn failed */
		r->a = NULL;
		run_close(r);
		char *why = vk_asprintf("exec credential plugin %s: cannot run it: %s%s%s", a->x->command,
		                        uv_strerror(rc), a->x->install_hint ? "; " : "",
		                        a->x->install_hint ? a->x->install_hint : "");
		for (char *p = why; *p; p++)
			if (*p == '\n')
				*p = ' ';
		free(a->fail_pending);
		a->fail_pending = why; /* delivered from the timer: never inside the request that asked */
		uv_timer_start(&a->timer, on_tick, 0, 0);
		return;
	}
	a->running = r;
	uv_timer_start(&a->timer, on_tick, RUN_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
}

static void on_tick(uv_timer_t *t)
{
	vk_kube_exec_auth *a = t->data;
	if (a->running) { /* its time is up: its exit reports the failure */
		vk_warn("kube", "exec credential plugin %s: no answer in %d s; killing it", a->x->command,
		        RUN_TIMEOUT_MS / 1000);
		uv_process_kill(&a->running->proc, SIGKILL);
		return;
	}
	if (a->fail_pending) {
		char *why = a->fail_pending;
		a->fail_pending = NULL;
		failed(a, why);
		return;
	}
	if (!vk_list_empty(&a->waiting))
		start_run(a);
}

void vk_kube__exec_new(vk_kube *k, const vk_kube_exec *x)
{
	if (!x)
		return;
	vk_kube_exec_auth *a = vk_xcalloc(1, sizeof *a);
	a->k = k;
	a->x = vk_kube_exec_dup(x);
	vk_list_init(&a->waiting);
	a->backoff = (vk_backoff){.base_ms = 1000, .max_ms = 30000};
	uv_timer_init(k->loop, &a->timer);
	a->timer.data = a;
	k->exec = a;
}

static void auth_free(uv_handle_t *h)
{
	vk_kube_exec_auth *a = h->data;
	vk_kube_exec_free(a->x);
	free(a->last_error);
	free(a->fail_pending);
	free(a);
}

void vk_kube__exec_free(vk_kube *k)
{
	vk_kube_exec_auth *a = k->exec;
	if (!a)
		return;
	k->exec = NULL;
	if (a->running) {
		a->running->a = NULL; /* its handles close when it ends */
		uv_process_kill(&a->running->proc, SIGTERM);
	}
	uv_close((uv_handle_t *)&a->timer, auth_free);
}

bool vk_kube__exec_ready(vk_kube *k)
{
	vk_kube_exec_auth *a = k->exec;
	if (!a)
		return true;
	if (!a->have)
		return false;
	if (a->expires_wall_ms && vk_wall_ms() + EXPIRY_MARGIN_MS >= a->expires_wall_ms) {
		a->have = false; /* expired: the plugin runs again */
		return false;
	}
	return true;
}

void vk_kube__exec_wait(vk_kube *k, vk_kube_waiter *w)
{
	vk_kube_exec_auth *a = k->exec;
	vk_list_insert_tail(&a->waiting, &w->link);
	start_run(a);
}

void vk_kube__exec_unwait(vk_kube_waiter *w)
{
	if (!vk_list_empty(&w->link)) {
		vk_list_remove(&w->link);
		vk_list_init(&w->link);
	}
}

void vk_kube__exec_rejected(vk_kube *k, unsigned gen)
{
	vk_kube_exec_auth *a = k->exec;
	if (!a || !a->have || gen != k->token_gen)
		return;
	vk_info("kube", "the API server answered 401: running the exec credential plugin %s again", a->x->command);
	a->have = false;
}

unsigned vk_kube_exec_runs(const vk_kube *k) { return k->exec ? k->exec->runs : 0; }
