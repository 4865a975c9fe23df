/* The file watch on real inotify: saves in place and through a rename are
 * seen once, a burst of writes is one callback, other files in the folder
 * are ignored, a new list replaces the old one (the same list keeps its
 * watch and the events not read yet), and a recreated folder is watched
 * again.  The debounce's timing is proven in test_debounce.c with
 * a clock the test drives; here every wait for a callback is generous
 * (WAIT_MS) and ends as soon as it came, so a busy machine only makes the
 * test slower.  "Nothing fires" is checked over 3 quiet times: a slow
 * machine can make that check weaker, never make it fail. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vk/fswatch.h"
#include "vk/util.h"

static uv_loop_t loop;
static int fired;
static uint64_t last_first, fired_at;

static void on_change(uint64_t first_ms, void *ud)
{
	(void)ud;
	fired++;
	last_first = first_ms;
	fired_at = vk_now_ms();
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

/* Runs the loop for ms milliseconds. */
static void run_for(unsigned ms)
{
	uint64_t end = vk_now_ms() + ms;
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	while (vk_now_ms() < end) {
		uv_timer_start(&t, stop_loop, 10, 0);
		uv_run(&loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

#define QUIET_MS 100
#define WAIT_MS 20000 /* for a callback that must come */
#define SETTLE_MS (3 * QUIET_MS)

static void on_tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until fired reaches n or WAIT_MS passed; then for
 * SETTLE_MS more, so that a second callback would be counted too.
 * Returns how long the first part took. */
static uint64_t wait_fired(int n)
{
	uint64_t t0 = vk_now_ms();
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_tick, 10, 10);
	while (fired < n && vk_now_ms() - t0 < WAIT_MS)
		uv_run(&loop, UV_RUN_ONCE);
	uint64_t took = vk_now_ms() - t0;
	uv_close((uv_handle_t *)&t, NULL);
	if (fired < n)
		tap_diag("waited %llu ms for callback #%d; saw %d", (unsigned long long)took, n, fired);
	run_for(SETTLE_MS);
	return took;
}

static void count_handle(uv_handle_t *h, void *arg)
{
	(void)h;
	++*(int *)arg;
}

int main(void)
{
	uv_loop_init(&loop);
	char dir[] = "/tmp/vk-watch.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char *prov = vk_asprintf("%s/p.lua", dir);
	char *mod = vk_asprintf("%s/helper.lua", dir);
	char *other = vk_asprintf("%s/other.lua", dir);
	char *tmpf = vk_asprintf("%s/.p.lua.swp", dir);
	char *sub = vk_asprintf("%s/sub", dir);
	char *subf = vk_asprintf("%s/sub/m.lua", dir);
	write_file(prov, "return {}\n");
	write_file(mod, "return {}\n");
	write_file(other, "x\n");

	vk_fswatch *w = vk_fswatch_new(&loop, QUIET_MS, on_change, NULL);
	ok(w != NULL, "a watch is made");
	char *files[] = {prov, mod, NULL};
	is_int(vk_fswatch_set(w, files), 0, "it watches the provider and a module");
	run_for(50);

	/* Each write below is done before the loop runs again, so all of its
	 * events are queued together and are one burst however slow the
	 * machine: "once" cannot be broken by load. */
	write_file(prov, "return {1}\n");
	wait_fired(1);
	is_int(fired, 1, "a save in place is seen once");

	/* An editor's save: temp file, then rename over the original. */
	fired = 0;
	write_file(tmpf, "return {2}\n");
	rename(tmpf, prov);
	wait_fired(1);
	is_int(fired, 1, "a save through a temporary file and a rename is seen once");

	fired = 0;
	write_file(prov, "return {3}\n");
	wait_fired(1);
	is_int(fired, 1, "the file is still watched after the rename replaced it");

	/* vk sets the list again after every reload.  A save made just before
	 * that, its events not read yet, must still count: the running watch
	 * is kept, not stopped and started again (which dropped them). */
	fired = 0;
	write_file(prov, "return {3.5}\n");
	is_int(vk_fswatch_set(w, files), 0, "the same list is set again, as after every reload");
	wait_fired(1);
	is_int(fired, 1, "a save made just before the list was set again is seen");

	/* A burst of writes, all queued before the loop looks: one callback,
	 * first_ms between the first write and the callback. */
	fired = 0;
	uint64_t t0 = vk_now_ms();
	for (int i = 0; i < 7; i++)
		write_file(mod, i % 2 ? "return {a=1}\n" : "return {a=2}\n");
	wait_fired(1);
	is_int(fired, 1, "a burst of writes is one callback");
	ok(last_first >= t0 && last_first + QUIET_MS <= fired_at,
	   "first_ms is after the first write and at least quiet_ms before the callback (%llu ms after the write, "
	   "callback %llu ms later)",
	   (unsigned long long)(last_first - t0), (unsigned long long)(fired_at - last_first));

	fired = 0;
	write_file(other, "y\n");
	unlink(other);
	run_for(SETTLE_MS);
	is_int(fired, 0, "other files in the folder are ignored");

	/* A new list replaces the old: only the module in sub/ now. */
	mkdir(sub, 0755);
	write_file(subf, "return {}\n");
	char *files2[] = {subf, NULL};
	is_int(vk_fswatch_set(w, files2), 0, "a new list is watched");
	run_for(50);
	fired = 0;
	write_file(prov, "return {4}\n");
	run_for(SETTLE_MS);
	is_int(fired, 0, "a file dropped from the list is no longer watched");
	write_file(subf, "return {5}\n");
	wait_fired(1);
	is_int(fired, 1, "a file in the new list is watched");

	/* The folder goes away and comes back: set again re-arms the watch
	 * (and stops the retry the folder's removal started). */
	unlink(subf);
	rmdir(sub);
	run_for(SETTLE_MS);
	mkdir(sub, 0755);
	write_file(subf, "return {6}\n");
	vk_fswatch_set(w, files2);
	run_for(50);
	fired = 0;
	write_file(subf, "return {7}\n");
	wait_fired(1);
	is_int(fired, 1, "a recreated folder is watched again after vk_fswatch_set");

	/* The folder is renamed away and a new one made in its place, without
	 * a call to vk_fswatch_set: the watch finds it again by itself (the
	 * retry runs every second) and counts that as a change. */
	char *subold = vk_asprintf("%s/sub.old", dir);
	char *suboldf = vk_asprintf("%s/sub.old/m.lua", dir);
	fired = 0;
	rename(sub, subold);
	run_for(200);
	mkdir(sub, 0755);
	write_file(subf, "return {9}\n");
	wait_fired(1);
	is_int(fired, 1, "a folder replaced by another is watched again by itself, and that is a change");
	fired = 0;
	write_file(subf, "return {10}\n");
	wait_fired(1);
	is_int(fired, 1, "edits in the new folder are seen");
	fired = 0;
	write_file(suboldf, "return {11}\n");
	run_for(SETTLE_MS);
	is_int(fired, 0, "edits in the renamed-away folder are not");
	unlink(suboldf);
	rmdir(subold);
	free(subold);
	free(suboldf);

	/* A folder that cannot be watched is an error, the others still work. */
	char *missing = vk_asprintf("%s/nope/x.lua", dir);
	char *files3[] = {missing, prov, NULL};
	ok(vk_fswatch_set(w, files3) < 0, "a folder that does not exist is an error");
	run_for(50);
	fired = 0;
	write_file(prov, "return {8}\n");
	wait_fired(1);
	is_int(fired, 1, "the folders that exist are still watched");

	/* A ConfigMap volume: cm.lua -> ..data/cm.lua, ..data -> ..v1; an
	 * update renames a new ..data link (to ..v2) into place. */
	char *v1 = vk_asprintf("%s/..v1", dir), *v2 = vk_asprintf("%s/..v2", dir);
	char *v1f = vk_asprintf("%s/..v1/cm.lua", dir), *v2f = vk_asprintf("%s/..v2/cm.lua", dir);
	char *data = vk_asprintf("%s/..data", dir), *datatmp = vk_asprintf("%s/..data_tmp", dir);
	char *cm = vk_asprintf("%s/cm.lua", dir);
	mkdir(v1, 0755);
	write_file(v1f, "return {1}\n");
	ok(symlink("..v1", data) == 0 && symlink("..data/cm.lua", cm) == 0, "a ConfigMap-like volume is made");
	char *files4[] = {cm, NULL};
	fired = 0;
	vk_fswatch_set(w, files4);
	/* The folder's watch is kept, so the links just made are a change. */
	wait_fired(1);
	is_int(fired, 1, "the volume made just before the list was set is one change");
	fired = 0;
	mkdir(v2, 0755);
	write_file(v2f, "return {2}\n");
	run_for(SETTLE_MS);
	is_int(fired, 0, "a new version folder alone is not a change");
	symlink("..v2", datatmp);
	rename(datatmp, data);
	wait_fired(1);
	is_int(fired, 1, "a ConfigMap update (the ..data link renamed) is seen once");

	vk_fswatch_close(w);
	run_for(20);
	int open_handles = 0;
	uv_walk(&loop, count_handle, &open_handles);
	is_int(open_handles, 0, "every handle is closed after vk_fswatch_close");
	uv_loop_close(&loop);

	unlink(prov);
	unlink(mod);
	unlink(cm);
	unlink(data);
	unlink(v1f);
	unlink(v2f);
	rmdir(v1);
	rmdir(v2);
	unlink(subf);
	rmdir(sub);
	rmdir(dir);
	free(v1);
	free(v2);
	free(v1f);
	free(v2f);
	free(data);
	free(datatmp);
	free(cm);
	free(prov);
	free(mod);
	free(other);
	free(tmpf);
	free(sub);
	free(subf);
	free(missing);
	return tap_done();
}
