/* The debounce of vk/fswatch.h, driven by a clock the test holds: a burst
 * of events is one change, given quiet_ms after the last event, with the
 * time of the first.  No sleeping, so a busy machine cannot change it. */
#include "tap.h"
#include "vk/fswatch.h"

int main(void)
{
	vk_debounce d;
	uint64_t first = 0;
	vk_debounce_init(&d, 100);
	is_int(vk_debounce_wait(&d, 5000), -1, "idle: nothing to wait for");
	ok(!vk_debounce_poll(&d, 5000, &first), "idle: nothing fires");

	/* One event at t=1000: due at 1100, not a moment before. */
	vk_debounce_event(&d, 1000);
	is_int(vk_debounce_wait(&d, 1000), 100, "an event makes the burst due quiet_ms later");
	is_int(vk_debounce_wait(&d, 1060), 40, "the wait counts down");
	ok(!vk_debounce_poll(&d, 1099, &first), "not due 1 ms before quiet_ms");
	ok(vk_debounce_poll(&d, 1100, &first), "due at quiet_ms");
	is_int(first, 1000, "first_ms is the event's time");
	ok(!vk_debounce_poll(&d, 1101, &first), "a burst fires once");
	is_int(vk_debounce_wait(&d, 1101), -1, "and the debounce is idle again");

	/* A burst: writes 30 ms apart for 180 ms end in one change 100 ms after
	 * the last, with first_ms the burst's first event. */
	int fired = 0;
	uint64_t now = 2000;
	for (int i = 0; i < 7; i++, now += 30) {
		vk_debounce_event(&d, now);
		for (uint64_t t = now; t < now + 30; t++)
			fired += vk_debounce_poll(&d, t, &first);
	}
	is_int(fired, 0, "nothing fires while the writes go on");
	/* the last event was at 2180 */
	is_int(vk_debounce_wait(&d, 2210), 70, "the burst is due quiet_ms after its last event");
	for (uint64_t t = 2210; t < 2400; t++)
		fired += vk_debounce_poll(&d, t, &first);
	is_int(fired, 1, "a burst of writes is one change");
	is_int(first, 2000, "first_ms is the burst's first event");

	/* A gap of exactly quiet_ms ends a burst; a shorter one does not. */
	vk_debounce_event(&d, 3000);
	vk_debounce_event(&d, 3099);
	ok(!vk_debounce_poll(&d, 3100, &first), "an event 99 ms later extends the burst");
	ok(vk_debounce_poll(&d, 3199, &first) && first == 3000, "it ends 100 ms after that event");
	vk_debounce_event(&d, 3299);
	ok(vk_debounce_poll(&d, 3399, &first) && first == 3299, "the next event starts a new burst");

	/* A late caller: a poll long after the burst is still one change. */
	vk_debounce_event(&d, 4000);
	ok(vk_debounce_poll(&d, 60000, &first) && first == 4000, "a poll long after the burst gives it once");
	ok(!vk_debounce_poll(&d, 60001, &first), "and only once");

	/* A reading older than the last event (two clocks, a little apart)
	 * never moves the end of the burst back. */
	vk_debounce_event(&d, 5050);
	vk_debounce_event(&d, 5040);
	ok(!vk_debounce_poll(&d, 5140, &first), "an older reading does not end the burst early");
	ok(vk_debounce_poll(&d, 5150, &first) && first == 5050, "it ends after the latest event");

	/* poll without first_ms */
	vk_debounce_event(&d, 6000);
	ok(vk_debounce_poll(&d, 6100, NULL), "first_ms may be NULL");
	return tap_done();
}
