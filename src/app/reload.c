/* Hot reload, as the agent drives it.
 *
 * A change to the sources (after the watcher's quiet time) or SIGHUP loads
 * the provider again inside the same Lua state; vk_lua_provider_reload does
 * the all-or-nothing swap.  Here: one reload at a time (a change during a
 * reload runs one more after it), the Events, and the status resync. */

#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "vk/metrics.h"
#include "vk/util.h"

static void start_reload(vk_app *a, const char *why);

/* Watches the current sources again: the new version may require other
 * modules, and a fresh watch also re-arms after a folder was renamed. */
static void rewatch(vk_app *a)
{
	if (!a->watch || !a->provider)
		return;
	char **files = vk_lua_provider_sources(a->provider);
	vk_fswatch_set(a->watch, files);
	for (size_t i = 0; files && files[i]; i++)
		free(files[i]);
	free(files);
}

/* The short name of the provider's code now: its sources' hash. */
void vk_app__code_hash(vk_provider *p, char out[17])
{
	char **files = vk_lua_provider_sources(p);
	vk_lua_sources_hash(files, out);
	for (size_t i = 0; files && files[i]; i++)
		free(files[i]);
	free(files);
}

static void on_reloaded(vk_provider *p, const char *err, void *ud)
{
	vk_app *a = ud;
	a->reloading = false;
	cJSON_Delete(a->reload_node);
	a->reload_node = NULL;
	if (a->stopping)
		return;
	uint64_t now = vk_now_ms();
	vk_metrics_reload(p != NULL);
	if (!p) {
		/* The first line is "file:line: message"; a traceback may follow. */
		const char *msg = err ? err : "reload failed";
		size_t n = strcspn(msg, "\n");
		vk_error(SUB, "provider reload failed, the running version stays: %.*s", (int)n, msg);
		if (msg[n])
			vk_debug(SUB, "%s", msg + n + 1);
		char *ev = vk_asprintf("%.*s (the running version stays)", (int)n, msg);
		vk_app__node_event(a, "Warning", "ProviderReloadFailed", ev);
		free(ev);
	} else {
		char hash[17];
		vk_app__code_hash(p, hash);
		vk_info(SUB, "provider %s reloaded: code %.12s, swapped in %llu ms (%llu ms after the change was seen)",
		        a->o.provider, hash, (unsigned long long)(now - a->reload_start_ms),
		        (unsigned long long)(now - a->reload_seen_ms));
		char *ev = vk_asprintf("provider %s reloaded: code %.12s", a->o.provider, hash);
		vk_app__node_event(a, "Normal", "ProviderReloaded", ev);
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

static void start_reload(vk_app *a, const char *why)
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
	vk_info(SUB, "reloading provider %s (%s)", a->o.provider, why);
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
		vk_error(SUB, "cannot reload provider %s: %s", a->o.provider, strerror(-rc));
	}
}

static void on_sources_changed(uint64_t first_ms, void *ud)
{
	vk_app *a = ud;
	if (!a->reloading)
		a->reload_seen_ms = first_ms;
	start_reload(a, "its source changed");
}

void vk_app__on_sighup(uv_signal_t *s, int signum)
{
	vk_app *a = s->data;
	if (!a->reloading)
		a->reload_seen_ms = vk_now_ms();
	start_reload(a, "SIGHUP");
}

void vk_app__watch_start(vk_app *a)
{
	if (a->o.no_reload)
		return;
	a->watch = vk_fswatch_new(a->loop, 100, on_sources_changed, a);
	rewatch(a);
}
