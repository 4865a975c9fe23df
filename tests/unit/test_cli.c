/* The flags, the config file and the environment: precedence (flag > file
 * > env > default), file:line for every refusal, virtual-kubelet's names,
 * Go durations; and the json log line and YAML key lines they rely on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "tap.h"
#include "vk/json.h"
#include "vk/util.h"
#include "vk/yaml.h"

static char dir[] = "/tmp/vk-test-cli.XXXXXX";
static char err_text[4096];

static const char *write_file(const char *name, const char *text)
{
	static char path[4][512];
	static int i;
	char *p = path[i++ % 4];
	snprintf(p, sizeof path[0], "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

/* Runs vk_app_parse_args on the words of `line` with stderr captured in
 * err_text (its last line, without the newline). */
static int parse(vk_app_options *o, const char *line)
{
	static char buf[2048];
	char *argv[64];
	int argc = 0;
	snprintf(buf, sizeof buf, "vk %s", line);
	for (char *s = strtok(buf, " "); s && argc < 63; s = strtok(NULL, " "))
		argv[argc++] = s;
	argv[argc] = NULL;
	fflush(stderr);
	int saved = dup(2);
	FILE *tmp = tmpfile();
	dup2(fileno(tmp), 2);
	int rc = vk_app_parse_args(argc, argv, o);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t n = fread(err_text, 1, sizeof err_text - 1, tmp);
	fclose(tmp);
	err_text[n] = '\0';
	while (n && err_text[n - 1] == '\n')
		err_text[--n] = '\0';
	return rc;
}

static void precedence(void)
{
	vk_app_options o;
	const char *cfg = write_file("a.yaml", "provider: from-file.lua\n"
	                                       "nodename: file-node\n"
	                                       "port: 11250\n"
	                                       "disable-taint: true\n"
	                                       "startup-timeout: 1m30s\n"
	                                       "namespace: edge\n"
	                                       "status-interval: 2000\n");
	char line[1024];
	setenv("KUBELET_PORT", "12250", 1);
	setenv("APISERVER_CERT_LOCATION", "/env/cert.pem", 1);
	setenv("VKUBELET_POD_IP", "10.1.2.3", 1);
	snprintf(line, sizeof line, "--config %s --nodename flag-node", cfg);
	int rc = parse(&o, line);
	is_int(rc, -1, "a config file with flags parses (%.*s)", (int)strcspn(err_text, "\n"), err_text);
	is_str(o.provider, "from-file.lua", "a key the command line does not give comes from the file");
	is_str(o.nodename, "flag-node", "a flag overrides the file");
	is_int(o.port, 11250, "the file overrides the environment ($KUBELET_PORT)");
	is_str(o.tls_cert, "/env/cert.pem", "$APISERVER_CERT_LOCATION is --tls-cert-file when nothing else says");
	is_str(o.node_ip, "10.1.2.3", "$VKUBELET_POD_IP is --node-ip");
	ok(o.disable_taint, "a boolean key");
	is_int(o.startup_timeout_ms, 90000, "a Go duration");
	is_str(o.namespace_, "edge", "namespace");
	is_int(o.status_interval_ms, 2000, "a number key goes through the flag's own check");
	is_str(o.listen, "0.0.0.0", "what nobody says keeps its default");
	vk_app_options_free(&o);

	snprintf(line, sizeof line, "--provider p.lua");
	rc = parse(&o, line);
	is_int(o.port, 12250, "without a file or flag, $KUBELET_PORT gives the port");
	snprintf(line, sizeof line, "--provider p.lua --port 0 --disable-taint=false --config %s", cfg);
	rc = parse(&o, line);
	is_int(o.port, 0, "a flag before or after --config overrides the file");
	ok(!o.disable_taint, "--disable-taint=false overrides the file's true");
	vk_app_options_free(&o);
	setenv("KUBELET_PORT", "nope", 1);
	rc = parse(&o, "--provider p.lua");
	is_int(rc, 2, "a bad environment value is a usage error");
	is_str(err_text, "vk: $KUBELET_PORT (--port) takes a port number from 0 to 65535, not 'nope'",
	       "naming the variable and the flag");
	unsetenv("KUBELET_PORT");
	unsetenv("APISERVER_CERT_LOCATION");
	unsetenv("VKUBELET_POD_IP");
}

static void refusals(void)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
		{"nodename: n\nbogus: 1\n",
	         "%s:2: unknown key 'bogus' (the keys are vk's long flags without '--'; see vk --help)"},
		{"nodename: n\n\nport: \"80\"\n", "%s:3: port: expected a whole number, not a string"},
		{"port: 1.5\n", "%s:1: port: expected a whole number, not a number"},
		{"disable-taint: yes\n", "%s:1: disable-taint: expected true or false, not a string"},
		{"nodename: [a, b]\n", "%s:1: nodename: expected a string, not a list"},
		{"a: 1\nport: 70000\n",
	         "%s:1: unknown key 'a' (the keys are vk's long flags without '--'; see vk --help)"},
		{"provider: p\nport: 70000\n", "%s:2: port takes a port number from 0 to 65535, not '70000'"},
		{"startup-timeout: soon\n",
	         "%s:1: startup-timeout takes a duration such as 30s, 2m or 1m30s, not 'soon'"},
		{"log-format: xml\n", "%s:1: log-format takes text or json, not 'xml'"},
		{"store: ftp://x\n", "%s:1: store 'ftp://x': unknown scheme (expected embedded, "},
		{"config: other.yaml\n",
	         "%s:1: not a config file key: 'config' (the keys are vk's long flags without '--'; see vk --help)"},
		{"- a\n- b\n", "%s:1: expected a mapping of flag names to values, not a list"},
		{"nodename: 'a\n", "%s:2: "},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(cases); i++) {
		vk_app_options o;
		const char *cfg = write_file("bad.yaml", cases[i].yaml);
		char line[600], want[1024];
		snprintf(line, sizeof line, "--provider p.lua --config %s", cfg);
		int rc = parse(&o, line);
		snprintf(want, sizeof want, "vk: ");
		snprintf(want + 4, sizeof want - 4, cases[i].want, cfg);
		is_int(rc, 2, "case %zu is refused with exit 2", i);
		ok(strncmp(err_text, want, strlen(want)) == 0 && !strchr(err_text, '\n'), "on one line: %s", err_text);
		if (strncmp(err_text, want, strlen(want)) != 0)
			tap_diag("want: %s", want);
	}
	vk_app_options o;
	int rc = parse(&o, "--provider p.lua --config /nonexistent/vk.yaml");
	is_int(rc, 2, "a missing config file is a usage error");
	ok(strstr(err_text, "/nonexistent/vk.yaml") != NULL, "that names it: %s", err_text);
	rc = parse(&o, "--config");
	is_str(err_text, "vk: flag '--config' needs a value (see vk --help)", "--config without a value");
	const char *empty = write_file("empty.yaml", "");
	char line[600];
	snprintf(line, sizeof line, "--config %s", empty);
	rc = parse(&o, line);
	is_int(rc, 2, "an empty config file is fine, but the provider is still required");
	is_str(err_text, "vk: --provider FILE.lua is required (see vk --help)", "and said so");
}

static void virtual_kubelet(void)
{
	vk_app_options o;
	int rc = parse(&o, "--provider p.lua --pod-sync-workers 10 --enable-node-lease --pod-sync-workers 3 "
	                   "--full-resync-period 1m --os Linux --metrics-addr :10255 --client-verify-ca /ca.pem");
	is_int(rc, -1, "virtual-kubelet's flags are accepted (%.*s)", (int)strcspn(err_text, "\n"), err_text);
	size_t warns = 0;
	for (const char *p = err_text; (p = strstr(p, "does nothing")); p++)
		warns++;
	is_int(warns, 1, "one warning per ignored flag, given twice or not");
	ok(strstr(err_text, "--enable-node-lease does nothing: vk always renews its Lease") != NULL, "saying why");
	is_int(o.pod_sync_workers, 3, "--pod-sync-workers bounds the pods synced at once, the last given wins");
	is_int(o.full_resync_ms, 60000, "--full-resync-period");
	is_str(o.os, "linux", "--os Linux is the API's linux");
	is_str(o.metrics_addr, ":10255", "--metrics-addr :PORT");
	is_str(o.client_ca, "/ca.pem", "--client-verify-ca is --client-ca-file");
	rc = parse(&o, "--provider p.lua --enable-node-lease maybe");
	is_int(rc, 2, "an ignored flag's value is still checked");
	rc = parse(&o, "--provider p.lua --pod-sync-workers 0");
	is_str(err_text, "vk: --pod-sync-workers takes a number of pods from 1 to 4096, not '0' (see vk --help)",
	       "--pod-sync-workers 0 would sync nothing");
	rc = parse(&o, "--provider p.lua");
	is_int(o.pod_sync_workers, 0, "without it, the pod controller's own (64)");
	rc = parse(&o, "--provider p.lua --metrics-addr 10255");
	is_str(err_text,
	       "vk: --metrics-addr takes HOST:PORT or :PORT (e.g. 127.0.0.1:10255), not '10255' (see vk --help)",
	       "--metrics-addr without a colon");
	rc = parse(&o, "--provider p.lua --node-ip 10.0.0.300");
	is_int(rc, 2, "--node-ip checks the address");
}

static void durations(void)
{
	static const struct {
		const char *s;
		int ms; /* -1: refused */
	} cases[] = {{"0", 0},   {"500ms", 500}, {"30s", 30000}, {"1m30s", 90000}, {"2h", 7200000}, {"1.5s", 1500},
	             {"10", -1}, {"", -1},       {"5x", -1},     {"-1s", -1},      {"1m5", -1},     {"2m0.5s", 120500}};
	for (size_t i = 0; i < VK_ARRAY_LEN(cases); i++) {
		unsigned ms = 12345;
		int rc = vk_app__parse_duration(cases[i].s, &ms);
		if (cases[i].ms < 0)
			ok(rc < 0, "duration '%s' is refused", cases[i].s);
		else
			ok(rc == 0 && ms == (unsigned)cases[i].ms, "duration '%s' is %d ms (got %u)", cases[i].s,
			   cases[i].ms, ms);
	}
}

static void json_log(void)
{
	char *s = vk_log_format_json(VK_LOG_WARN, "2026-12-02T07:00:00Z", "provider create_pod default/web-1",
	                             "no \"image\"\n");
	cJSON *o = cJSON_Parse(s);
	ok(o != NULL, "a json log line parses: %s", s);
	is_str(vk_json_str(o, "time"), "2026-12-02T07:00:00Z", "time");
	is_str(vk_json_str(o, "level"), "warn", "level");
	is_str(vk_json_str(o, "message"), "no \"image\"\n", "message, escaped");
	is_str(vk_json_str(o, "pod"), "default/web-1", "pod, from the provider's speaker");
	is_str(vk_json_str(o, "callback"), "create_pod", "callback");
	ok(!strchr(s, '\n'), "one line");
	cJSON_Delete(o);
	cJSON_free(s);
	s = vk_log_format_json(VK_LOG_INFO, "t", "provider ping", "ok");
	o = cJSON_Parse(s);
	is_str(vk_json_str(o, "callback"), "ping", "a callback without a pod");
	ok(!cJSON_GetObjectItem(o, "pod"), "has no pod key");
	cJSON_Delete(o);
	cJSON_free(s);
	s = vk_log_format_json(VK_LOG_INFO, "t", "provider create_pod ns/p > task mynode/probes.lua:40", "x");
	o = cJSON_Parse(s);
	is_str(vk_json_str(o, "pod"), "ns/p", "a task's line names its callback's pod");
	is_str(vk_json_str(o, "callback"), "create_pod", "and the callback");
	cJSON_Delete(o);
	cJSON_free(s);
	s = vk_log_format_json(VK_LOG_ERROR, "t", "pod", "ns/p: status update failed: 500");
	o = cJSON_Parse(s);
	is_str(vk_json_str(o, "pod"), "ns/p", "the pod controller's NS/NAME: prefix is the pod");
	is_str(vk_json_str(o, "component"), "pod", "component");
	ok(!cJSON_GetObjectItem(o, "callback"), "no callback there");
	cJSON_Delete(o);
	cJSON_free(s);
	s = vk_log_format_json(VK_LOG_INFO, "t", "main", "node n registered: 12 ms");
	o = cJSON_Parse(s);
	ok(!cJSON_GetObjectItem(o, "pod") && !cJSON_GetObjectItem(o, "callback"), "no pod or callback for main");
	cJSON_Delete(o);
	cJSON_free(s);
}

static void key_lines(void)
{
	const char *y = "# head\nprovider: p\n\nnested:\n  a: 1\n  b: [1, 2]\nlist:\n- x\n- y\nlast: 1\n";
	cJSON *l = vk_yaml_key_lines(y, strlen(y));
	ok(l != NULL, "key lines of a mapping");
	is_int(cJSON_GetObjectItem(l, "provider")->valueint, 2, "provider on line 2");
	is_int(cJSON_GetObjectItem(l, "nested")->valueint, 4, "nested on line 4");
	ok(!cJSON_GetObjectItem(l, "a"), "nested keys are not top-level keys");
	is_int(cJSON_GetObjectItem(l, "list")->valueint, 7, "list on line 7");
	is_int(cJSON_GetObjectItem(l, "last")->valueint, 10, "last on line 10, after a list");
	cJSON_Delete(l);
	ok(vk_yaml_key_lines("- a\n", 4) == NULL, "a list has no key lines");
}

int main(void)
{
	vk_json_init();
	if (!mkdtemp(dir))
		return 1;
	precedence();
	refusals();
	virtual_kubelet();
	durations();
	json_log();
	key_lines();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
