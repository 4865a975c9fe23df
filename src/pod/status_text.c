/* A pod's status on its way to the API server, held once.
 *
 * The text (compact JSON) is one block with a count of its holders: the
 * pod's waiting slot (status_next), the copy /pods lays over the API's
 * (unwritten, with the edge cache), the write in flight and its request
 * all point at the same bytes.  And per pod only the newest status waits,
 * as kubelet's status manager keeps it: a newer one replaces the waiting
 * one in place, never a queue of versions, so while the API server lags
 * what vk holds is bounded by its pods, not by how long the lag lasts. */
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

pod_text *vk_pod__text_new(const char *s, size_t len)
{
	pod_text *t = vk_xmalloc(sizeof *t + len + 1);
	t->refs = 1;
	t->len = len;
	memcpy(t->s, s, len);
	t->s[len] = '\0';
	t->hash = vk_hash64(t->s);
	return t;
}

pod_text *vk_pod__text_take(char *printed)
{
	if (!printed)
		return NULL;
	pod_text *t = vk_pod__text_new(printed, strlen(printed));
	free(printed);
	return t;
}

pod_text *vk_pod__text_ref(pod_text *t)
{
	if (t)
		t->refs++;
	return t;
}

void vk_pod__text_unref(pod_text *t)
{
	if (t && --t->refs == 0)
		free(t);
}

void vk_pod__slot_offer(pod_rec *r, pod_text *t, bool unwritten)
{
	vk_pod__text_unref(r->status_next);
	r->status_next = t;
	if (unwritten && t) {
		vk_pod__text_unref(r->unwritten);
		r->unwritten = vk_pod__text_ref(t);
	}
}

bool vk_pod__slot_drop_if_known(pod_rec *r, pod_text *t)
{
	if (!t || !r->last_status || t->hash != r->last_status)
		return false;
	vk_pod__text_unref(t);
	vk_pod__slot_clear(r);
	vk_pod__text_unref(r->unwritten);
	r->unwritten = NULL;
	return true;
}

void vk_pod__slot_clear(pod_rec *r)
{
	vk_pod__text_unref(r->status_next);
	r->status_next = NULL;
}

pod_text *vk_pod__slot_take(pod_rec *r)
{
	pod_text *t = r->status_next;
	r->status_next = NULL;
	return t;
}

void vk_pod__slot_written(pod_rec *r, const pod_text *t)
{
	r->last_status = t->hash;
	if (r->unwritten && r->unwritten->hash == t->hash) {
		vk_pod__text_unref(r->unwritten);
		r->unwritten = NULL;
	}
}

void vk_pod__slot_unanswered(pod_rec *r, pod_text *t)
{
	if (!r->status_next)
		r->status_next = t; /* waits again */
	else
		vk_pod__text_unref(t); /* a newer one waits already */
}

void vk_pod__slot_free(pod_rec *r)
{
	vk_pod__text_unref(r->status_next);
	vk_pod__text_unref(r->unwritten);
	r->status_next = r->unwritten = NULL;
}
