/* Watching the provider's sources: saves in place and through a rename are
 * seen, a burst of writes is one callback, other files in the folder are
 * ignored, a new list replaces the old one, and a recreated folder is
 * watched again after vk_lua_watch_set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "vk/lua.h"
#include "vk/util.h"

static uv_loop_t loop;
static int fired;
static uint64_t last_first;

static void on_change(uint64_t first_ms, void *ud)
{
	(void)ud;
	fired++;
	last_first = first_ms;
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

	vk_lua_watch *w = vk_lua_watch_new(&loop, 100, on_change, NULL);
	ok(w != NULL, "a watch is made");
	char *files[] = {prov, mod, NULL};
	is_int(vk_lua_watch_set(w, files), 0, "it watches the provider and a module");
	run_for(50);

	write_file(prov, "return {1}\n");
	run_for(300);
	is_int(fired, 1, "a save in place is seen once");

	/* An editor's save: temp file, then rename over the original. */
	fired = 0;
	write_file(tmpf, "return {2}\n");
	rename(tmpf, prov);
	run_for(300);
	is_int(fired, 1, "a save through a temporary file and a rename is seen once");

	fired = 0;
	write_file(prov, "return {3}\n");
	run_for(300);
	is_int(fired, 1, "the file is still watched after the rename replaced it");

	/* A burst: writes 30 ms apart for 200 ms end in one callback 100 ms
	 * after the last, with first_ms the burst's first event. */
	fired = 0;
	uint64_t t0 = vk_now_ms();
	for (int i = 0; i < 7; i++) {
		write_file(mod, i % 2 ? "return {a=1}\n" : "return {a=2}\n");
		run_for(30);
	}
	is_int(fired, 0, "nothing fires while the writes go on");
	run_for(250);
	is_int(fired, 1, "a burst of writes is one callback");
	ok(last_first >= t0 && last_first < t0 + 30, "first_ms is the burst's first event (%llu ms after)",
	   (unsigned long long)(last_first - t0));

	fired = 0;
	write_file(other, "y\n");
	unlink(other);
	run_for(300);
	is_int(fired, 0, "other files in the folder are ignored");

	/* A new list replaces the old: only the module in sub/ now. */
	mkdir(sub, 0755);
	write_file(subf, "return {}\n");
	char *files2[] = {subf, NULL};
	is_int(vk_lua_watch_set(w, files2), 0, "a new list is watched");
	run_for(50);
	fired = 0;
	write_file(prov, "return {4}\n");
	run_for(300);
	is_int(fired, 0, "a file dropped from the list is no longer watched");
	write_file(subf, "return {5}\n");
	run_for(300);
	is_int(fired, 1, "a file in the new list is watched");

	/* The folder goes away and comes back: set again re-arms the watch. */
	unlink(subf);
	rmdir(sub);
	run_for(300);
	mkdir(sub, 0755);
	write_file(subf, "return {6}\n");
	vk_lua_watch_set(w, files2);
	run_for(50);
	fired = 0;
	write_file(subf, "return {7}\n");
	run_for(300);
	is_int(fired, 1, "a recreated folder is watched again after vk_lua_watch_set");

	/* The folder is renamed away and a new one made in its place, without
	 * a call to vk_lua_watch_set: the watch finds it again by itself. */
	char *subold = vk_asprintf("%s/sub.old", dir);
	char *suboldf = vk_asprintf("%s/sub.old/m.lua", dir);
	fired = 0;
	rename(sub, subold);
	run_for(200);
	mkdir(sub, 0755);
	write_file(subf, "return {9}\n");
	run_for(1500);
	is_int(fired, 1, "a folder replaced by another is watched again by itself, and that is a change");
	fired = 0;
	write_file(subf, "return {10}\n");
	run_for(300);
	is_int(fired, 1, "edits in the new folder are seen");
	fired = 0;
	write_file(suboldf, "return {11}\n");
	run_for(300);
	is_int(fired, 0, "edits in the renamed-away folder are not");
	unlink(suboldf);
	rmdir(subold);
	free(subold);
	free(suboldf);

	/* A folder that cannot be watched is an error, the others still work. */
	char *missing = vk_asprintf("%s/nope/x.lua", dir);
	char *files3[] = {missing, prov, NULL};
	ok(vk_lua_watch_set(w, files3) < 0, "a folder that does not exist is an error");
	run_for(50);
	fired = 0;
	write_file(prov, "return {8}\n");
	run_for(300);
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
	vk_lua_watch_set(w, files4);
	run_for(50);
	fired = 0;
	mkdir(v2, 0755);
	write_file(v2f, "return {2}\n");
	run_for(300);
	is_int(fired, 0, "a new version folder alone is not a change");
	symlink("..v2", datatmp);
	rename(datatmp, data);
	run_for(300);
	is_int(fired, 1, "a ConfigMap update (the ..data link renamed) is seen once");

	/* Same contents, same hash; other contents, another. */
	char h1[17], h2[17], h3[17];
	char *hf[] = {prov, mod, NULL};
	vk_lua_sources_hash(hf, h1);
	vk_lua_sources_hash(hf, h2);
	write_file(mod, "return {b=1}\n");
	vk_lua_sources_hash(hf, h3);
	ok(strlen(h1) == 16 && strspn(h1, "0123456789abcdef") == 16, "the hash is 16 hex digits (%s)", h1);
	is_str(h1, h2, "the same sources give the same hash");
	ok(strcmp(h1, h3) != 0, "a changed module changes the hash");

	vk_lua_watch_close(w);
	run_for(20);
	int open_handles = 0;
	uv_walk(&loop, count_handle, &open_handles);
	is_int(open_handles, 0, "every handle is closed after vk_lua_watch_close");
	uv_loop_close(&loop);

	unlink(prov);
	unlink(mod);
	unlink(cm);
	unlink(data);
	unlink(v1f);
	unlink(v2f);
	rmdir(v1);
	rmdir(v2);
	rmdir(sub);
	rmdir(dir);
	free(v1); free(v2); free(v1f); free(v2f); free(data); free(datatmp); free(cm);
	free(prov); free(mod); free(other); free(tmpf); free(sub); free(subf); free(missing);
	return tap_done();
}
