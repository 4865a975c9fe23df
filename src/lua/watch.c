/* Watching the provider's sources for hot reload (docs/design.md, "Hot reload").
 *
 * The folders are watched, not the files: an editor that saves by writing
 * a temporary file and renaming it over the original replaces the inode,
 * and a watch on the old inode would go quiet.  A watch on the folder sees
 * the rename under the file's name, so events are matched by base name.
 * Every save is a burst of events (truncate, writes, chmod, rename); the
 * callback runs once the folder has been quiet for `quiet_ms`.
 *
 * A file that is a symlink into its own folder is also matched on the
 * first part of the link's target: a Kubernetes ConfigMap volume holds
 * x.lua -> ..data/x.lua and updates by renaming a new ..data link into
 * place, so the only event is for "..data".
 *
 * A folder that cannot be watched (it is gone: removed, or renamed away
 * and replaced) is tried again every second; once it can be watched, the
 * callback runs, as the files may have changed meanwhile. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "vk/util.h"

typedef struct watch_dir {
	uv_fs_event_t ev;
	vk_lua_watch *w;
	char *dir;
	ino_t ino;               /* the folder's inode when the watch started */
	char **names;            /* base names of the watched files in dir */
	size_t n;
	struct watch_dir *next;
} watch_dir;

struct vk_lua_watch {
	uv_loop_t *loop;
	unsigned quiet_ms;
	vk_lua_watch_cb cb;
	void *ud;
	uv_timer_t quiet;
	uv_timer_t retry;        /* re-arms while a folder cannot be watched */
	char **files;            /* the list given to vk_lua_watch_set */
	watch_dir *dirs;
	uint64_t first_ms;       /* first event of the current burst, 0 if none */
	unsigned open_handles;
	bool closing;
};

static void free_files(char **files)
{
	for (size_t i = 0; files && files[i]; i++)
		free(files[i]);
	free(files);
}

static void free_watch(vk_lua_watch *w)
{
	free_files(w->files);
	free(w);
}

static void dir_closed(uv_handle_t *h)
{
	watch_dir *d = h->data;
	vk_lua_watch *w = d->w;
	for (size_t i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	free(d->dir);
	free(d);
	if (--w->open_handles == 0 && w->closing)
		free_watch(w);
}

static void timer_closed(uv_handle_t *h)
{
	vk_lua_watch *w = h->data;
	if (--w->open_handles == 0)
		free_watch(w);
}

static int arm(vk_lua_watch *w);
static void on_quiet(uv_timer_t *t);

static void on_retry(uv_timer_t *t)
{
	vk_lua_watch *w = t->data;
	if (arm(w) == 0) {
		vk_info("lua", "watching the folders again");
		if (!w->first_ms)
			w->first_ms = vk_now_ms();
		uv_timer_start(&w->quiet, on_quiet, w->quiet_ms, 0);
	}
}

static void on_quiet(uv_timer_t *t)
{
	vk_lua_watch *w = t->data;
	uint64_t first = w->first_ms;
	w->first_ms = 0;
	w->cb(first, w->ud);
}

static void on_event(uv_fs_event_t *ev, const char *filename, int events, int status)
{
	watch_dir *d = ev->data;
	vk_lua_watch *w = d->w;
	if (w->closing)
		return;
	if (status < 0) {
		vk_warn("lua", "watching %s: %s", d->dir, uv_strerror(status));
		return;
	}
	struct stat st;
	if ((events & UV_RENAME) && (stat(d->dir, &st) != 0 || st.st_ino != d->ino)) {
		/* The folder itself was removed, or renamed away (and maybe
		 * another put in its place): this watch follows the old one. */
		if (!uv_is_active((uv_handle_t *)&w->retry)) {
			vk_warn("lua", "%s is gone or replaced; watching for it again", d->dir);
			uv_timer_start(&w->retry, on_retry, 1000, 1000);
		}
		return;
	}
	bool ours = !filename; /* no name given: it may be one of ours */
	for (size_t i = 0; !ours && i < d->n; i++)
		ours = strcmp(filename, d->names[i]) == 0;
	if (!ours)
		return;
	if (!w->first_ms)
		w->first_ms = vk_now_ms();
	/* Restarting the timer on every event is the debounce. */
	uv_timer_start(&w->quiet, on_quiet, w->quiet_ms, 0);
}

vk_lua_watch *vk_lua_watch_new(uv_loop_t *loop, unsigned quiet_ms, vk_lua_watch_cb cb, void *ud)
{
	if (!loop || !cb)
		return NULL;
	vk_lua_watch *w = vk_xcalloc(1, sizeof *w);
	w->loop = loop;
	w->quiet_ms = quiet_ms ? quiet_ms : 100;
	w->cb = cb;
	w->ud = ud;
	uv_timer_init(loop, &w->quiet);
	uv_timer_init(loop, &w->retry);
	w->quiet.data = w->retry.data = w;
	w->open_handles = 2;
	return w;
}

static void drop_dirs(vk_lua_watch *w)
{
	for (watch_dir *d = w->dirs, *next; d; d = next) {
		next = d->next;
		uv_fs_event_stop(&d->ev);
		uv_close((uv_handle_t *)&d->ev, dir_closed);
	}
	w->dirs = NULL;
}

static watch_dir *dir_for(vk_lua_watch *w, const char *dir)
{
	for (watch_dir *d = w->dirs; d; d = d->next)
		if (strcmp(d->dir, dir) == 0)
			return d;
	watch_dir *d = vk_xcalloc(1, sizeof *d);
	d->w = w;
	d->dir = vk_strdup(dir);
	d->next = w->dirs;
	w->dirs = d;
	return d;
}

int vk_lua_watch_set(vk_lua_watch *w, char *const *files)
{
	if (!w || w->closing)
		return -EINVAL;
	size_t n = 0;
	while (files && files[n])
		n++;
	char **copy = vk_xcalloc(n + 1, sizeof *copy);
	for (size_t i = 0; i < n; i++)
		copy[i] = vk_strdup(files[i]);
	free_files(w->files);
	w->files = copy;
	return arm(w);
}

/* (Re)starts the folder watches for w->files. */
static int arm(vk_lua_watch *w)
{
	char *const *files = w->files;
	/* Starting afresh each time also re-arms a watch whose folder was
	 * renamed or removed and made again. */
	drop_dirs(w);
	for (size_t i = 0; files && files[i]; i++) {
		const char *slash = strrchr(files[i], '/');
		char *dir = slash ? vk_asprintf("%.*s", (int)(slash - files[i]) > 0 ? (int)(slash - files[i]) : 1, files[i])
		                  : vk_strdup(".");
		watch_dir *d = dir_for(w, dir);
		free(dir);
		/* A relative link's first part names the entry of this folder
		 * whose replacement changes the file ("..data", or the target). */
		char link[4096];
		ssize_t ln = readlink(files[i], link, sizeof link - 1);
		char *via = NULL;
		if (ln > 0 && link[0] != '/') {
			link[ln] = '\0';
			int first = (int)strcspn(link, "/");
			bool up = (first == 1 && link[0] == '.') || (first == 2 && link[0] == '.' && link[1] == '.');
			if (!up)
				via = vk_asprintf("%.*s", first, link);
		}
		d->names = realloc(d->names, (d->n + 2) * sizeof *d->names);
		if (!d->names)
			abort();
		d->names[d->n++] = vk_strdup(slash ? slash + 1 : files[i]);
		if (via)
			d->names[d->n++] = via;
	}
	int rc = 0;
	for (watch_dir **pp = &w->dirs; *pp;) {
		watch_dir *d = *pp;
		uv_fs_event_init(w->loop, &d->ev);
		d->ev.data = d;
		w->open_handles++;
		struct stat st;
		d->ino = stat(d->dir, &st) == 0 ? st.st_ino : 0;
		int e = uv_fs_event_start(&d->ev, on_event, d->dir, 0);
		if (e < 0) {
			/* Once, not on every retry. */
			vk_log(uv_is_active((uv_handle_t *)&w->retry) ? VK_LOG_DEBUG : VK_LOG_WARN, "lua",
			       "cannot watch %s: %s", d->dir, uv_strerror(e));
			rc = e;
			*pp = d->next;
			uv_close((uv_handle_t *)&d->ev, dir_closed);
			continue;
		}
		vk_debug("lua", "watching %s for %zu file(s)", d->dir, d->n);
		pp = &d->next;
	}
	if (rc < 0)
		uv_timer_start(&w->retry, on_retry, 1000, 1000);
	else
		uv_timer_stop(&w->retry);
	return rc;
}

void vk_lua_watch_close(vk_lua_watch *w)
{
	if (!w || w->closing)
		return;
	w->closing = true;
	drop_dirs(w);
	uv_timer_stop(&w->quiet);
	uv_timer_stop(&w->retry);
	uv_close((uv_handle_t *)&w->quiet, timer_closed);
	uv_close((uv_handle_t *)&w->retry, timer_closed);
}

/* FNV-1a, 64 bits, over the sources' contents in order: a short name for
 * "this code" in Events and logs, not a security measure. */
void vk_lua_sources_hash(char *const *files, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; files && files[i]; i++) {
		vk_buf b = {0};
		char *err = NULL;
		if (vk_read_file(files[i], &b, &err) == 0)
			for (size_t j = 0; j < b.len; j++) {
				h ^= (unsigned char)b.data[j];
				h *= 0x100000001b3ull;
			}
		free(err);
		vk_buf_free(&b);
		h ^= 0xff; /* a file boundary */
		h *= 0x100000001b3ull;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}
