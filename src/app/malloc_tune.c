/* glibc malloc for a long-running agent.
 *
 * glibc serves a block of 128 KiB or more with its own mmap, returned whole
 * when freed, but it raises that threshold to the size of any such block
 * freed (up to 32 MiB): after the first big transient buffer (a page of a
 * pod list, a large body, a Lua table being rebuilt) every later one comes
 * from the heap, where the small long-lived blocks allocated meanwhile land
 * in its hole and keep its pages resident after malloc_trim.  In a 1000-pod
 * churn (tests/bench/soak_rss.sh) malloc_info showed a 784 KiB free chunk
 * inside the main heap and no mmapped block: the threshold had risen.  A
 * fixed threshold (setting it turns the adjustment off) keeps every block
 * of 64 KiB or more out of the heap.  MALLOC_MMAP_THRESHOLD_ in the
 * environment still wins. */
#include <malloc.h>
#include <stdlib.h>

#include "app_int.h"

#define MMAP_THRESHOLD (64 * 1024)

void vk_app__malloc_tune(void)
{
	const char *env = getenv("MALLOC_MMAP_THRESHOLD_");
	if (!env || !*env)
		mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
}
