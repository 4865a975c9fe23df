/* vk/queue.h - a keyed work queue on the libuv loop, in the manner of
 * client-go's rate-limited workqueue: per-key serialisation, dedupe, retry
 * backoff and a cap on keys in flight.  General: it knows nothing of pods
 * (the pod controller runs three of them).  Depends on util only. */
#ifndef VK_QUEUE_H
#define VK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Keys are strings ("namespace/name" for pods).  A key is handed to `work`
 * at most once at a time; adding it while it is being worked marks it to
 * run again after.  The handler ends each run with vk_queue_done(). */
typedef struct vk_queue vk_queue;
typedef void (*vk_queue_work_fn)(vk_queue *q, const char *key, void *ud);

vk_queue *vk_queue_new(uv_loop_t *loop, unsigned max_active, vk_queue_work_fn work, void *ud);
void vk_queue_add(vk_queue *q, const char *key);
void vk_queue_add_after(vk_queue *q, const char *key, uint64_t ms);
/* retry: schedule the key again after its backoff (base 200 ms, max
 * `retry_max_ms`, 0 for the default 60 s); otherwise its backoff is reset. */
void vk_queue_done(vk_queue *q, const char *key, bool retry, uint64_t retry_max_ms);
/* The key's run now waits on something other than the work this queue
 * bounds (a provider call done, an API call left): it gives its slot
 * back, so another key may start, and stays the key's one run (an add
 * marks it to run again; vk_queue_done ends it).  Once per run. */
void vk_queue_release(vk_queue *q, const char *key);
size_t vk_queue_len(const vk_queue *q); /* keys waiting or running */
unsigned vk_queue_attempts(const vk_queue *q, const char *key);
void vk_queue_close(vk_queue *q); /* nothing runs after this */

#endif
