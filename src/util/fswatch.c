/* Watching files for changes (vk/fswatch.h); vk uses it on the
 * provider's sources for hot reload.
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

#include "vk/fswatch.h"
#include "vk/util.h"

typedef struct watch_dir {
	uv_fs_event_t ev;
	vk_fswatch *w;
	char *dir;
	ino_t ino;    /* the folder's inode when the watch started */
	bool started; /* ev is initialised (and counted in open_handles) */
	bool gone;    /* the folder was removed or replaced under the watch */
	char **names; /* base names of the watched files in dir */
	size_t n;
	struct watch_dir *next;
} watch_dir;

struct vk_fswatch {
	uv_loop_t *loop;
	unsigned quiet_ms;
	vk_fswatch_cb cb;
	void *ud;
	vk_debounce burst;
	uv_timer_t quiet; /* runs until the burst is due */
	uv_timer_t retry; /* re-arms while a folder cannot be watched */
	char **files;     /* the list given to vk_fswatch_set */
	watch_dir *dirs;
	unsigned open_handles;
	bool closing;
};

static void free_files(char **files)
{
	for (size_t i = 0; files && files[i]; i++)
		free(files[i]);
	free(files);
}

static void free_watch(vk_fswatch *w)
{
	free_files(w->files);
	free(w);
}

static void free_dir(watch_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	free(d->dir);
	free(d);
}

static void dir_closed(uv_handle_t *h)
{
	watch_dir *d = h->data;
	vk_fswatch *w = d->w;
	free_dir(d);
	if (--w->open_handles == 0 && w->closing)
		free_watch(w);
}

static void timer_closed(uv_handle_t *h)
{
	vk_fswatch *w = h->data;
	if (--w->open_handles == 0)
		free_watch(w);
}

static int arm(vk_fswatch *w);

static void on_quiet(uv_timer_t *t)
{
	vk_fswatch *w = t->data;
	uint64_t now = vk_now_ms(), first;
	if (vk_debounce_poll(&w->burst, now, &first)) {
		w->cb(first, w->ud);
		return;
	}
	/* The loop's clock and vk_now_ms() differ by a little: wait the rest. */
	int64_t left = vk_debounce_wait(&w->burst, now);
	if (left > 0)
		uv_timer_start(&w->quiet, on_quiet, (uint64_t)left, 0);
}

/* An event of the current burst: the callback waits until it is quiet. */
static void changed(vk_fswatch *w)
{
	vk_debounce_event(&w->burst, vk_now_ms());
	uv_timer_start(&w->quiet, on_quiet, w->quiet_ms, 0);
}

static void on_retry(uv_timer_t *t)
{
	vk_fswatch *w = t->data;
	if (arm(w) == 0) {
		vk_info("fswatch", "watching the folders again");
		changed(w);
	}
}

static void on_event(uv_fs_event_t *ev, const char *filename, int events, int status)
{
	watch_dir *d = ev->data;
	vk_fswatch *w = d->w;
	if (w->closing)
		return;
	if (status < 0) {
		vk_warn("fswatch", "watching %s: %s", d->dir, uv_strerror(status));
		return;
	}
	struct stat st;
	if ((events & UV_RENAME) && (stat(d->dir, &st) != 0 || st.st_ino != d->ino)) {
		/* The folder itself was removed, or renamed away (and maybe
		 * another put in its place): this watch follows the old one. */
		d->gone = true;
		if (!uv_is_active((uv_handle_t *)&w->retry)) {
			vk_warn("fswatch", "%s is gone or replaced; watching for it again", d->dir);
			uv_timer_start(&w->retry, on_retry, 1000, 1000);
		}
		return;
	}
	bool ours = !filename; /* no name given: it may be one of ours */
	for (size_t i = 0; !ours && i < d->n; i++)
		ours = strcmp(filename, d->names[i]) == 0;
	if (!ours)
		return;
	changed(w);
}

vk_fswatch *vk_fswatch_new(uv_loop_t *loop, unsigned quiet_ms, vk_fswatch_cb cb, void *ud)
{
	if (!loop || !cb)
		return NULL;
	vk_fswatch *w = vk_xcalloc(1, sizeof *w);
	w->loop = loop;
	w->quiet_ms = quiet_ms ? quiet_ms : 100;
	vk_debounce_init(&w->burst, w->quiet_ms);
	w->cb = cb;
	w->ud = ud;
	uv_timer_init(loop, &w->quiet);
	uv_timer_init(loop, &w->retry);
	w->quiet.data = w->retry.data = w;
	w->open_handles = 2;
	return w;
}

static void drop_dir(watch_dir *d)
{
	if (!d->started) { /* never watched: nothing to close */
		free_dir(d);
		return;
	}
	uv_fs_event_stop(&d->ev);
	uv_close((uv_handle_t *)&d->ev, dir_closed);
}

static void drop_dirs(watch_dir *list)
{
	for (watch_dir *d = list, *next; d; d = next) {
		next = d->next;
		drop_dir(d);
	}
}

static watch_dir *dir_for(vk_fswatch *w, const char *dir)
{
	for (watch_dir *d = w->dirs; d; d = d->next)
		if (strcmp(d->dir, dir) == 0)
			return d;
	watch_dir *d = vk_xcalloc(1, sizeof *d);
	d->w = w;
	d->ev.data = d;
	d->dir = vk_strdup(dir);
	d->next = w->dirs;
	w->dirs = d;
	return d;
}

int vk_fswatch_set(vk_fswatch *w, char *const *files)
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

/* The watch of `d`'s folder, if `old` has one that still works (its
 * folder neither gone nor replaced), taken out of `old`. */
static watch_dir *take_working(watch_dir **old, const watch_dir *d)
{
	struct stat st;
	for (watch_dir **pp = old; *pp; pp = &(*pp)->next) {
		watch_dir *o = *pp;
		if (strcmp(o->dir, d->dir) != 0)
			continue;
		if (!o->started || o->gone || stat(o->dir, &st) != 0 || st.st_ino != o->ino)
			return NULL;
		*pp = o->next;
		return o;
	}
	return NULL;
}

/* (Re)starts the folder watches for w->files.  A folder watched already,
 * whose watch still works, keeps it: stopping and starting it again would
 * lose what happens in between (a save right after a reload went unseen).
 * A folder renamed or removed and made again gets a new watch. */
static int arm(vk_fswatch *w)
{
	char *const *files = w->files;
	watch_dir *old = w->dirs;
	w->dirs = NULL;
	for (size_t i = 0; files && files[i]; i++) {
		const char *slash = strrchr(files[i], '/');
		char *dir = slash ? vk_asprintf("%.*s", (int)(slash - files[i]) > 0 ? (int)(slash - files[i]) : 1,
		                                files[i])
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
		d->names = vk_xrealloc(d->names, (d->n + 2) * sizeof *d->names);
		d->names[d->n++] = vk_strdup(slash ? slash + 1 : files[i]);
		if (via)
			d->names[d->n++] = via;
	}
	int rc = 0;
	for (watch_dir **pp = &w->dirs; *pp;) {
		watch_dir *d = *pp;
		watch_dir *o = take_working(&old, d);
		if (o) { /* the running watch takes the new names */
			for (size_t i = 0; i < o->n; i++)
				free(o->names[i]);
			free(o->names);
			o->names = d->names;
			o->n = d->n;
			d->names = NULL;
			d->n = 0;
			o->next = d->next;
			*pp = o;
			drop_dir(d);
			pp = &o->next;
			continue;
		}
		uv_fs_event_init(w->loop, &d->ev);
		d->ev.data = d;
		d->started = true;
		w->open_handles++;
		struct stat st;
		d->ino = stat(d->dir, &st) == 0 ? st.st_ino : 0;
		int e = uv_fs_event_start(&d->ev, on_event, d->dir, 0);
		if (e < 0) {
			/* Once, not on every retry. */
			vk_log(uv_is_active((uv_handle_t *)&w->retry) ? VK_LOG_DEBUG : VK_LOG_WARN, "fswatch",
			       "cannot watch %s: %s", d->dir, uv_strerror(e));
			rc = e;
			*pp = d->next;
			uv_close((uv_handle_t *)&d->ev, dir_closed);
			continue;
		}
		vk_debug("fswatch", "watching %s for %zu file(s)", d->dir, d->n);
		pp = &d->next;
	}
	drop_dirs(old);
	if (rc < 0)
		uv_timer_start(&w->retry, on_retry, 1000, 1000);
	else
		uv_timer_stop(&w->retry);
	return rc;
}

void vk_fswatch_close(vk_fswatch *w)
{
	if (!w || w->closing)
		return;
	w->closing = true;
	drop_dirs(w->dirs);
	w->dirs = NULL;
	uv_timer_stop(&w->quiet);
	uv_timer_stop(&w->retry);
	uv_close((uv_handle_t *)&w->quiet, timer_closed);
	uv_close((uv_handle_t *)&w->retry, timer_closed);
}
