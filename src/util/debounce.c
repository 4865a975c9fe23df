/* The debounce of vk/fswatch.h: a burst of events is one change, given
 * once the burst has been quiet for quiet_ms.  No clock of its own: the
 * caller says what time it is, so a test drives it event by event. */
#include "vk/fswatch.h"

void vk_debounce_init(vk_debounce *d, unsigned quiet_ms) { *d = (vk_debounce){.quiet_ms = quiet_ms}; }

void vk_debounce_event(vk_debounce *d, uint64_t now_ms)
{
	if (!d->pending) {
		d->pending = true;
		d->first_ms = d->last_ms = now_ms;
	} else if (now_ms > d->last_ms) {
		/* never backwards: a late reading must not end the burst early */
		d->last_ms = now_ms;
	}
}

int64_t vk_debounce_wait(const vk_debounce *d, uint64_t now_ms)
{
	if (!d->pending)
		return -1;
	uint64_t due = d->last_ms + d->quiet_ms;
	return now_ms >= due ? 0 : (int64_t)(due - now_ms);
}

bool vk_debounce_poll(vk_debounce *d, uint64_t now_ms, uint64_t *first_ms)
{
	if (vk_debounce_wait(d, now_ms) != 0)
		return false;
	if (first_ms)
		*first_ms = d->first_ms;
	d->pending = false;
	return true;
}
