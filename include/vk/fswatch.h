/* vk/fswatch.h - watching files for changes, with a debounce.
 *
 * Two parts: vk_debounce, a pure state machine that turns a burst of events
 * into one "changed" once the burst has been quiet for a while (fed the
 * time by its caller, so it is tested without sleeping), and vk_fswatch,
 * which watches files with uv_fs_event and runs a callback through a
 * vk_debounce.  Depends on libuv and util only. */
#ifndef VK_FSWATCH_H
#define VK_FSWATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* ---- debounce --------------------------------------------------------
 * Times are milliseconds of any clock that never goes back (vk_now_ms()
 * in vk, a counter in tests).  A burst starts with its first event and
 * ends once no event came for quiet_ms; poll then gives the burst's first
 * event time once, and the debounce is idle again. */
typedef struct {
	unsigned quiet_ms;
	bool pending;      /* a burst is under way */
	uint64_t first_ms; /* its first event */
	uint64_t last_ms;  /* its latest event */
} vk_debounce;

void vk_debounce_init(vk_debounce *d, unsigned quiet_ms);
void vk_debounce_event(vk_debounce *d, uint64_t now_ms);
/* Milliseconds from now_ms until the burst is due (0: due now), or -1 if
 * no burst is under way. */
int64_t vk_debounce_wait(const vk_debounce *d, uint64_t now_ms);
/* True once the burst is due: sets *first_ms to its first event and ends
 * it.  False while it goes on or when there is none. */
bool vk_debounce_poll(vk_debounce *d, uint64_t now_ms, uint64_t *first_ms);

/* ---- file watch ------------------------------------------------------
 * Watches files for changes: their folders are watched and events matched
 * by base name, so that saving through a temporary file and a rename is
 * seen too, and a file that is a relative symlink into its folder also
 * matches the first part of its target (a Kubernetes ConfigMap volume
 * swaps its "..data" link).  cb runs once the files have been quiet for
 * quiet_ms (0: 100) after a burst of changes; first_ms is vk_now_ms() of
 * the burst's first event.  vk_fswatch_set replaces the watched list (a
 * folder still in it keeps its running watch, so no change is lost across
 * the call); it returns 0 or the last error of a folder it could not watch
 * (the others work).  A folder that is gone (removed, renamed away) is tried again
 * every second, and cb runs once it is watched again. */
typedef struct vk_fswatch vk_fswatch;
typedef void (*vk_fswatch_cb)(uint64_t first_ms, void *ud);
vk_fswatch *vk_fswatch_new(uv_loop_t *loop, unsigned quiet_ms, vk_fswatch_cb cb, void *ud);
int vk_fswatch_set(vk_fswatch *w, char *const *files);
void vk_fswatch_close(vk_fswatch *w); /* freed once its handles closed */

#endif
