/* kubeconfig and YAML: data-driven cases from tests/unit/data/kubeconfig/
 * plus the environment-driven lookups ($KUBECONFIG, in-cluster, ~/.kube).
 *
 * Each NAME.yaml carries its expectation in leading comments:
 *   # context: NAME           the context argument (default: current-context)
 *   # expect error: LINE      vk_kubeconfig_parse fails with exactly LINE
 *   # expect FIELD: VALUE     on success; every field not listed must be
 *                             NULL/false.  "\n" in VALUE is a newline.
 * "@DIR@" (in expectations and in the YAML) is the data folder. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vk/json.h"
#include "vk/kube.h"
#include "vk/util.h"
#include "vk/yaml.h"

static char data_dir[4096]; /* realpath() wants PATH_MAX */

/* The build defines the source tree's lua/ folder; the data sits beside it. */
static bool find_data_dir(void)
{
	char root[4096];
	snprintf(root, sizeof root, "%s", VK_SOURCE_LUA_DIR);
	size_t n = strlen(root);
	if (n > 4 && strcmp(root + n - 4, "/lua") == 0)
		root[n - 4] = '\0';
	strncat(root, "/tests/unit/data/kubeconfig", sizeof root - strlen(root) - 1);
	return realpath(root, data_dir) != NULL;
}

static char *subst(const char *s, bool escapes)
{
	vk_buf b = {0};
	for (const char *p = s; *p;) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			vk_buf_append(&b, data_dir, strlen(data_dir));
			p += 5;
		} else if (escapes && p[0] == '\\' && p[1] == 'n') {
			vk_buf_append(&b, "\n", 1);
			p += 2;
		} else {
			vk_buf_append(&b, p++, 1);
		}
	}
	return b.data ? vk_buf_steal(&b) : vk_strdup("");
}

typedef struct {
	const char *name;
	size_t off;
} field;

/* a braced initializer in a macro, kept as written */
/* clang-format off */
#define F(n) {#n, offsetof(vk_kubeconfig, n)}
/* clang-format on */
static const field fields[] = {F(server),
                               F(ca_pem),
                               F(cert_pem),
                               F(key_pem),
                               F(token),
                               F(token_file),
                               {"namespace", offsetof(vk_kubeconfig, namespace_)},
                               F(origin)};

static void run_case(const char *file)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", data_dir, file);
	vk_buf raw = {0};
	char *err = NULL;
	if (vk_read_file(path, &raw, &err) < 0) {
		ok(false, "%s: %s", file, err);
		free(err);
		return;
	}
	char *text = subst(raw.data, false);
	vk_buf_free(&raw);

	char *context = NULL, *want_err = NULL, *want[VK_ARRAY_LEN(fields)] = {0};
	bool want_insecure = false;
	for (char *line = text; line && *line == '#';) {
		char *nl = strchr(line, '\n');
		char *l = strndup(line, nl ? (size_t)(nl - line) : strlen(line));
		if (strncmp(l, "# context: ", 11) == 0)
			context = vk_strdup(l + 11);
		else if (strncmp(l, "# expect error: ", 16) == 0)
			want_err = vk_strdup(l + 16);
		else if (strcmp(l, "# expect insecure: true") == 0)
			want_insecure = true;
		else
			for (size_t i = 0; i < VK_ARRAY_LEN(fields); i++) {
				char key[64];
				snprintf(key, sizeof key, "# expect %s: ", fields[i].name);
				if (strncmp(l, key, strlen(key)) == 0)
					want[i] = subst(l + strlen(key), true);
			}
		free(l);
		line = nl ? nl + 1 : NULL;
	}
	vk_kubeconfig kc;
	int rc = vk_kubeconfig_parse(text, strlen(text), file, data_dir, context, &kc, &err);
	if (want_err) {
		bool same = rc < 0 && tap_streq(err, want_err);
		ok(same, "%s: fails with \"%s\"%s%s", file, want_err, same ? "" : ", got: ",
		   same  ? ""
		   : err ? err
		         : "success");
	} else if (rc < 0) {
		ok(false, "%s: parses (got: %s)", file, err);
	} else {
		bool all = true;
		vk_buf why = {0};
		for (size_t i = 0; i < VK_ARRAY_LEN(fields); i++) {
			const char *got = *(char **)((char *)&kc + fields[i].off);
			if (!tap_streq(got, want[i])) {
				all = false;
				vk_buf_printf(&why, " %s=[%s] want [%s]", fields[i].name, got ? got : "NULL",
				              want[i] ? want[i] : "NULL");
			}
		}
		if (kc.insecure != want_insecure) {
			all = false;
			vk_buf_printf(&why, " insecure=%d", kc.insecure);
		}
		ok(all, "%s: every field as expected%s", file, why.data ? why.data : "");
		vk_buf_free(&why);
		vk_kubeconfig_free(&kc);
	}
	free(err);
	free(context);
	free(want_err);
	for (size_t i = 0; i < VK_ARRAY_LEN(fields); i++)
		free(want[i]);
	free(text);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void data_driven_cases(void)
{
	DIR *d = opendir(data_dir);
	if (!d) {
		ok(false, "open %s", data_dir);
		return;
	}
	char *names[256];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) && n < VK_ARRAY_LEN(names);) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0)
			names[n++] = vk_strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp);
	ok(n >= 30, "found the data cases (%zu)", n);
	for (size_t i = 0; i < n; i++) {
		run_case(names[i]);
		free(names[i]);
	}
}

/* ---- environment-driven lookups ---------------------------------------- */

static char tmp[256];

static void write_file(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", tmp, rel);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static void clear_env(void)
{
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("VK_SERVICE_ACCOUNT_DIR");
}

static void explicit_path_resolves_relative_to_its_folder(void)
{
	clear_env();
	char path[8192], *err = NULL;
	snprintf(path, sizeof path, "%s/relative-paths.yaml", data_dir);
	vk_kubeconfig kc;
	int rc = vk_kubeconfig_load(path, NULL, &kc, &err);
	is_int(rc, 0, "load(path) works from any cwd (%s)", err ? err : "ok");
	ok(rc == 0 && kc.ca_pem && strstr(kc.ca_pem, "Q0EtQ0VSVA=="), "relative certificate-authority read");
	ok(rc == 0 && strstr(kc.origin, "relative-paths.yaml (context ctx1)"), "origin names file and context");
	if (rc == 0)
		vk_kubeconfig_free(&kc);
	free(err);
}

static void kubeconfig_env_uses_first_entry(void)
{
	clear_env();
	char env[8300], *err = NULL;
	snprintf(env, sizeof env, "%s/token-file.yaml:%s/insecure.yaml", data_dir, data_dir);
	setenv("KUBECONFIG", env, 1);
	vk_kubeconfig kc;
	int rc = vk_kubeconfig_load(NULL, NULL, &kc, &err);
	is_int(rc, 0, "$KUBECONFIG list loads");
	is_str(rc == 0 ? kc.token : NULL, "s3cret-from-file", "the first file of $KUBECONFIG is used");
	if (rc == 0)
		vk_kubeconfig_free(&kc);
	setenv("KUBECONFIG", "/nonexistent/kc.yaml", 1);
	rc = vk_kubeconfig_load(NULL, NULL, &kc, &err);
	ok(rc == -ENOENT && err && strstr(err, "/nonexistent/kc.yaml: "), "missing $KUBECONFIG file named (%s)",
	   err ? err : "null");
	free(err);
	clear_env();
}

static void in_cluster_service_account(void)
{
	clear_env();
	char sa[300], *err = NULL;
	snprintf(sa, sizeof sa, "%s/sa", tmp);
	mkdir(sa, 0700);
	write_file("sa/token", "sa-token\n");
	write_file("sa/ca.crt", "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
	write_file("sa/namespace", "vk-system");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("VK_SERVICE_ACCOUNT_DIR", sa, 1);
	vk_kubeconfig kc;
	int rc = vk_kubeconfig_load(NULL, NULL, &kc, &err);
	is_int(rc, 0, "in-cluster config loads (%s)", err ? err : "ok");
	if (rc == 0) {
		is_str(kc.server, "https://10.96.0.1:443", "server from KUBERNETES_SERVICE_HOST/PORT");
		is_str(kc.token, "sa-token", "token from the service account");
		ok(kc.token_file && strstr(kc.token_file, "/sa/token"), "token_file kept for rotation");
		ok(kc.ca_pem && strstr(kc.ca_pem, "BEGIN CERTIFICATE"), "CA from ca.crt");
		is_str(kc.namespace_, "vk-system", "namespace from the namespace file");
		vk_kubeconfig_free(&kc);
	}
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	rc = vk_kubeconfig_load(NULL, NULL, &kc, &err);
	is_str(rc == 0 ? kc.server : NULL, "https://[fd00::1]:443", "IPv6 service host is bracketed");
	if (rc == 0)
		vk_kubeconfig_free(&kc);
	unlink(strcat(sa, "/token"));
	rc = vk_kubeconfig_load(NULL, NULL, &kc, &err);
	ok(rc < 0 && err && strstr(err, "in-cluster service account") && strstr(err, "token: "),
	   "missing service-account token is one clear line (%s)", err ? err : "null");
	free(err);
	clear_env();
}

static void home_kube_config_is_the_fallback(void)
{
	clear_env();
	const char *old_home = getenv("HOME");
	char *saved = vk_strdup(old_home), *err = NULL;
	setenv("HOME", tmp, 1);
	vk_kubeconfig kc;
	int rc = vk_kubeconfig_load(NULL, NULL, &kc, &err);
	ok(rc == -ENOENT && err && strstr(err, "no kubeconfig") && strstr(err, "/.kube/config"),
	   "no kubeconfig anywhere is one clear line (%s)", err ? err : "null");
	free(err);
	err = NULL;
	char d[300];
	snprintf(d, sizeof d, "%s/.kube", tmp);
	mkdir(d, 0700);
	write_file(".kube/config", "current-context: a\nclusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
	                           "contexts:\n- name: a\n  context:\n    cluster: c\n");
	rc = vk_kubeconfig_load(NULL, NULL, &kc, &err);
	is_str(rc == 0 ? kc.server : err, "https://h:1", "~/.kube/config is used last");
	if (rc == 0)
		vk_kubeconfig_free(&kc);
	free(err);
	if (saved)
		setenv("HOME", saved, 1);
	free(saved);
}

/* ---- YAML ------------------------------------------------------------- */

static char *yaml_to_json(const char *y)
{
	char *err = NULL;
	cJSON *j = vk_yaml_parse(y, strlen(y), &err);
	if (!j)
		return err;
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static void yaml_scalars_resolve_like_kubernetes(void)
{
	struct {
		const char *yaml, *json, *what;
	} c[] = {
		{"a: 1\nb: -2.5\nc: true\nd: ~\ne: hello\nf: '1'\ng: \"true\"\nh: 0x1F\ni: 1e3\nj: \n",
	         "{\"a\":1,\"b\":-2.5,\"c\":true,\"d\":null,\"e\":\"hello\",\"f\":\"1\",\"g\":\"true\","
	         "\"h\":31,\"i\":1000,\"j\":null}",
	         "plain scalars resolve to numbers/bools/null, quoted ones stay strings"},
		{"v: 1.2.3\nw: 010\nx: yes\ny: !!str 5\nz: .5\n",
	         "{\"v\":\"1.2.3\",\"w\":10,\"x\":\"yes\",\"y\":\"5\",\"z\":0.5}",
	         "core schema: 1.2.3 and yes are strings, !!str forces a string"},
		{"- a\n- [1, 2]\n- {k: v}\n- []\n- {}\n", "[\"a\",[1,2],{\"k\":\"v\"},[],{}]",
	         "sequences and flow collections; empty ones keep their kind"},
		{"base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nref: *b\n",
	         "{\"base\":{\"x\":1,\"y\":2},\"use\":{\"y\":3,\"x\":1},\"ref\":{\"x\":1,\"y\":2}}",
	         "anchors, aliases and << merge keys (explicit keys win)"},
		{"s: |\n  line1\n  line2\nt: >-\n  folded\n  text\n",
	         "{\"s\":\"line1\\nline2\\n\",\"t\":\"folded text\"}", "block scalars"},
		{"", "null", "empty document is null"},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(c); i++) {
		char *got = yaml_to_json(c[i].yaml);
		ok(tap_streq(got, c[i].json), "%s%s%s", c[i].what, got && strcmp(got, c[i].json) ? ": got " : "",
		   got && strcmp(got, c[i].json) ? got : "");
		free(got);
	}
}

static void yaml_errors_name_the_line(void)
{
	char *err = NULL;
	cJSON *j = vk_yaml_parse("a: 1\nb: 2\nc: d: e\n", 18, &err);
	ok(!j && tap_streq(err, "line 3: mapping values are not allowed in this context"),
	   "syntax error names line 3 (%s)", err ? err : "null");
	free(err);
	err = NULL;
	j = vk_yaml_parse("a: *nope\n", 9, &err);
	ok(!j && err && strstr(err, "line 1:"), "unknown alias is an error (%s)", err ? err : "null");
	free(err);
	err = NULL;
	/* Ten levels of ten-fold aliases would expand to 10^10 nodes. */
	vk_buf b = {0};
	vk_buf_printf(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		vk_buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
		              i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	j = vk_yaml_parse(b.data, b.len, &err);
	ok(!j && err && strstr(err, "too large"), "alias bomb is refused (%s)", err ? err : "null");
	free(err);
	vk_buf_free(&b);
	err = NULL;
	cJSON *docs = vk_yaml_parse_all("a: 1\n---\nb: 2\n", 14, &err);
	ok(docs && cJSON_GetArraySize(docs) == 2, "parse_all returns every document");
	cJSON_Delete(docs);
}

/* Deterministic mutation fuzzing of every data case: flipped, dropped and
 * duplicated bytes must give a clean result or one error line, never a
 * crash or a leak (the suite runs under ASan). */
static void mutated_kubeconfigs_fail_cleanly(void)
{
	DIR *d = opendir(data_dir);
	unsigned seed = 12345, runs = 0, errors_one_line = 0, errors = 0;
	static const char noise[] = ":-[]{}&*!|>'\"%@`#, \n\t?";
	for (struct dirent *e; d && (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
			continue;
		char path[8192];
		snprintf(path, sizeof path, "%s/%s", data_dir, e->d_name);
		vk_buf orig = {0};
		if (vk_read_file(path, &orig, NULL) < 0)
			continue;
		for (int m = 0; m < 60; m++) {
			vk_buf b = {0};
			vk_buf_append(&b, orig.data, orig.len);
			for (int k = 0; k < 1 + m % 4; k++) {
				seed = seed * 1103515245u + 12345u;
				size_t at = (seed >> 8) % b.len;
				switch ((seed >> 4) % 3) {
				case 0: b.data[at] = noise[(seed >> 16) % (sizeof noise - 1)]; break;
				case 1:
					memmove(b.data + at, b.data + at + 1, b.len - at - 1);
					b.len--;
					break;
				default: {
					char dup[9]; /* vk_buf_append must not read from its own buffer */
					size_t n = b.len - at > 9 ? 9 : b.len - at;
					memcpy(dup, b.data + at, n);
					vk_buf_append(&b, dup, n);
				}
				}
			}
			vk_kubeconfig kc;
			char *err = NULL;
			if (vk_kubeconfig_parse(b.data, b.len, "fuzz.yaml", data_dir, NULL, &kc, &err) == 0) {
				vk_kubeconfig_free(&kc);
			} else {
				errors++;
				errors_one_line += err && strncmp(err, "fuzz.yaml: ", 11) == 0 && !strchr(err, '\n');
			}
			free(err);
			vk_buf_free(&b);
			runs++;
		}
		vk_buf_free(&orig);
	}
	if (d)
		closedir(d);
	ok(runs > 1000, "%u mutated kubeconfigs parsed without a crash", runs);
	is_int(errors_one_line, errors, "every failure (%u) is one line naming the file", errors);
}

/* users[].user.exec: what the plugin gets (command resolved against the
 * kubeconfig's folder, args, env, KUBERNETES_EXEC_INFO with the cluster). */
static void exec_plugin_is_read(void)
{
	const char *y =
		"apiVersion: v1\nkind: Config\ncurrent-context: x\n"
		"clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}}]\n"
		"users:\n- name: u\n  user:\n    exec:\n"
		"      apiVersion: client.authentication.k8s.io/v1\n"
		"      command: bin/plugin\n      args: [get-token, --fast]\n"
		"      env: [{name: REGION, value: edge-1}]\n"
		"      interactiveMode: IfAvailable\n      provideClusterInfo: true\n"
		"contexts: [{name: x, context: {cluster: c, user: u}}]\n";
	vk_kubeconfig kc;
	char *err = NULL;
	int rc = vk_kubeconfig_parse(y, strlen(y), "k.yaml", "/etc/vk", NULL, &kc, &err);
	ok(rc == 0 && kc.exec, "an exec plugin kubeconfig loads (%s)", err ? err : "");
	if (rc == 0 && kc.exec) {
		is_str(kc.exec->command, "/etc/vk/bin/plugin",
		       "a relative command resolves against the kubeconfig's folder");
		is_str(kc.exec->args[0], "get-token", "args");
		is_str(kc.exec->args[1], "--fast", "args, in order");
		ok(kc.exec->args[2] == NULL, "args end");
		is_str(kc.exec->env[0], "REGION=edge-1", "env as NAME=VALUE");
		cJSON *info = cJSON_Parse(kc.exec->exec_info);
		is_str(vk_json_str(info, "kind"), "ExecCredential", "KUBERNETES_EXEC_INFO is an ExecCredential");
		is_str(vk_json_str(info, "apiVersion"), "client.authentication.k8s.io/v1",
		       "of the plugin's apiVersion");
		ok(cJSON_IsFalse(vk_json_at(info, "spec.interactive")), "not interactive");
		is_str(vk_json_str(info, "spec.cluster.server"), "https://127.0.0.1:6443",
		       "provideClusterInfo: the server");
		ok(cJSON_IsTrue(vk_json_at(info, "spec.cluster.insecure-skip-tls-verify")), "and its TLS setting");
		cJSON_Delete(info);
		ok(!kc.token && !kc.cert_pem, "no credential until the plugin runs");
	}
	vk_kubeconfig_free(&kc);
	free(err);
}

int main(void)
{
	vk_json_init();
	if (!find_data_dir()) {
		tap_skip("data folder not found");
		return tap_done();
	}
	snprintf(tmp, sizeof tmp, "/tmp/vk-test-kubeconfig-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	data_driven_cases();
	explicit_path_resolves_relative_to_its_folder();
	kubeconfig_env_uses_first_entry();
	in_cluster_service_account();
	home_kube_config_is_the_fallback();
	yaml_scalars_resolve_like_kubernetes();
	yaml_errors_name_the_line();
	mutated_kubeconfigs_fail_cleanly();
	exec_plugin_is_read();
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return tap_done();
}
