/* delete_barrier: a deletion reaches the provider only once the store holds
 * what it was decided from.
 *
 * The edge cache is written behind (persist.c: coalesced, committed every
 * 50 ms).  A pod the provider has deleted while the store still held an
 * older copy of it (no deletionTimestamp yet, or the pod itself when the
 * API has already removed it) looked lost to a vk killed at that moment:
 * at restart the stored copy was seeded, the provider lacked the pod, and
 * the pod was created again before the watch caught up.  As a kubelet
 * checkpoint is written before the action it records, every delete_pod
 * here waits until the write-behind has committed everything queued
 * before it: the deletionTimestamp (a graceful deletion), the removal of
 * the record (a pod gone from the API), the new uid (a pod replaced under
 * its name).  A vk killed after the provider's delete then finds that state
 * at restart and finishes the deletion instead of creating the pod again.
 *
 * A store that is down does not hold deletions back (pods would stay
 * Terminating for as long as a redis or etcd is away): the deletion goes
 * on, and the write-behind catches up when the store is back. */
#include <errno.h>
#include <stdlib.h>

#include "pod_int.h"

typedef struct barrier {
	vk_pods *pc; /* NULL once cancelled: the flush callback only frees */
	vk_pod_barrier_cb cb;
	void *ud;
	vk_list link; /* in pc->barriers while waiting */
} barrier;

static void flushed(vk_store_wb *w, int status, void *ud)
{
	(void)w;
	barrier *b = ud;
	if (b->pc) {
		vk_list_remove(&b->link);
		b->cb(status, b->ud);
	}
	free(b);
}

int vk_pod__barrier(vk_pods *pc, vk_pod_barrier_cb cb, void *ud)
{
	if (!pc->persist || !pc->o.wb)
		return -ENOTSUP; /* no store: nothing to wait for */
	if (vk_store_wb_is_down(pc->o.wb))
		return -ENOTCONN;
	barrier *b = vk_xcalloc(1, sizeof *b);
	b->pc = pc;
	b->cb = cb;
	b->ud = ud;
	vk_list_insert_tail(&pc->barriers, &b->link);
	int rc = vk_store_wb_flush(pc->o.wb, flushed, b);
	if (rc < 0) {
		vk_list_remove(&b->link);
		free(b);
	}
	return rc;
}

void vk_pod__barriers_cancel(vk_pods *pc)
{
	for (vk_list *n; (n = vk_list_first(&pc->barriers));) {
		barrier *b = VK_LIST_ENTRY(n, barrier, link);
		vk_list_remove(n);
		b->pc = NULL; /* the write-behind still calls flushed(), which frees it */
		b->cb(-ECANCELED, b->ud);
	}
}
