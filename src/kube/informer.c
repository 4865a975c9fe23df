/* The informer: a list + watch cache of one kind of object (see kube.h).
 *
 * The store holds each object as packed JSON text (vk_ztext), not as a
 * cJSON tree: a pod is well over 15 KiB of tree, about 3 KiB of text, and
 * a few hundred bytes packed with the store's first object as dictionary;
 * an edge node's agent spends most of its memory on this cache.  Readers
 * get a parsed copy (vk_informer_get), which costs microseconds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/metrics.h"
#include "vk/json.h"
#include "kube_int.h"
#include "vk/kube.h"
#include "vk/util.h"

struct vk_informer {
	vk_informer_opts o;
	char *what, *path, *selector; /* our copies of the options' strings */
	vk_kube *kube;
	vk_map *store;   /* key -> packed JSON text (owned) */
	vk_ztext *z;     /* the store's dictionary */
	char *rv;        /* resourceVersion to resume from; NULL: list */
	char *stored_rv; /* vk_informer_seed_rv's: seeded, not yet confirmed
	                    by a list (NULL once one is in) */
	bool synced, closing, resuming, listing;
	bool listed;      /* a list was started before: the next is a re-list */
	vk_map *seen;     /* while listing: the keys the pages had (values unowned) */
	char *cont;       /* while listing: the next page's continue token */
	unsigned expired; /* continue tokens expired in a row */
	vk_kube_watch *watch;
	vk_backoff backoff;
	uv_timer_t timer;
};

static void relist(vk_informer *inf);
static void watch(vk_informer *inf);

char *vk_kube_key(const cJSON *obj)
{
	const char *ns = vk_json_str(obj, "metadata.namespace");
	const char *name = vk_json_str(obj, "metadata.name");
	if (!name)
		return NULL;
	return ns && *ns ? vk_asprintf("%s/%s", ns, name) : vk_strdup(name);
}

/* The stored copy, without metadata.managedFields: nothing in vk reads
 * them, and they are often the largest part of an object.  They are taken
 * out of obj for the print and put back (at the end of metadata). */
static void *keep(vk_informer *inf, cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *mf = cJSON_DetachItemFromObjectCaseSensitive(md, "managedFields");
	char *text = cJSON_PrintUnformatted(obj);
	if (mf)
		cJSON_AddItemToObject(md, "managedFields", mf); /* the caller's object stays whole */
	void *blob = text ? vk_ztext_pack(inf->z, text, strlen(text)) : NULL;
	free(text);
	return blob;
}

static cJSON *unpack(const vk_informer *inf, const void *blob)
{
	char *text = vk_ztext_unpack(inf->z, blob);
	cJSON *obj = text ? cJSON_ParseWithLength(text, vk_ztext_len(blob)) : NULL;
	free(text);
	return obj;
}

static void set_rv(vk_informer *inf, const cJSON *obj)
{
	const char *rv = vk_json_str(obj, "metadata.resourceVersion");
	if (rv && *rv) {
		free(inf->rv);
		inf->rv = vk_strdup(rv);
	}
}

static void retry_tick(uv_timer_t *t)
{
	vk_informer *inf = t->data;
	if (inf->rv)
		watch(inf);
	else
		relist(inf);
}

/* The API server answers again: a reconnect waiting on its backoff (which
 * grew during the outage) goes now, from the resourceVersion it had. */
static void on_link(bool up, void *ud)
{
	vk_informer *inf = ud;
	if (!up || inf->closing || inf->watch || inf->listing || !uv_is_active((uv_handle_t *)&inf->timer))
		return;
	uv_timer_stop(&inf->timer);
	vk_backoff_reset(&inf->backoff);
	retry_tick(&inf->timer);
}

static void reconnect_later(vk_informer *inf, const char *why)
{
	uint64_t d = vk_backoff_next(&inf->backoff);
	inf->resuming = inf->rv != NULL;
	vk_warn("informer", "%s watch: %s; reconnecting in %llu ms", inf->what, why, (unsigned long long)d);
	uv_timer_start(&inf->timer, retry_tick, d, 0);
}

static char *query(vk_informer *inf, const char *extra)
{
	vk_buf q = {0};
	vk_buf_printf(&q, "%s?%s", inf->path, extra);
	if (inf->selector) {
		char *esc = vk_kube_escape(inf->selector);
		vk_buf_printf(&q, "%sfieldSelector=%s", *extra ? "&" : "", esc);
		free(esc);
	}
	return vk_buf_steal(&q);
}

/* ---- list ----------------------------------------------------------------
 * Paged, as client-go's reflector lists: limit=page_size, then continue=
 * until a page has no continue token.  All pages are one consistent
 * snapshot at the first page's resourceVersion (the server encodes it in
 * the token and every page's metadata repeats it), so the watch resumes
 * from the last page's.  Each page is folded into the store as it comes,
 * one item's parsed JSON at a time from the page's text: never the whole
 * list (8000 pods in one answer once took vk to 225 MB), nor a whole
 * page's tree.  The keys seen are remembered; after the last page, what
 * the store has that no page had is reported gone. */

/* A continue token whose snapshot was compacted away: 410 Expired.  The
 * list starts again from the top (a few times at once, then with backoff). */
vk_kube_informer_step vk_kube__informer_after_page(long status, bool continued)
{
	if (status == 200)
		return VK_KUBE_INFORMER_RESUME;
	if (status == 410 && continued)
		return VK_KUBE_INFORMER_RELIST;
	return VK_KUBE_INFORMER_RESUME_LATER;
}

static void list_page(vk_informer *inf);

static void list_reset(vk_informer *inf)
{
	vk_map_free(inf->seen); /* values are not owned (a marker) */
	inf->seen = NULL;
	free(inf->cont);
	inf->cont = NULL;
}

/* The last page is in: report what vanished, take the list's rv, watch. */
static void list_finish(vk_informer *inf, const cJSON *page)
{
	const char *k;
	void *v;
	vk_map *gone = vk_map_new();
	for (vk_map_iter i = {0}; vk_map_next(inf->store, &i, &k, &v);)
		if (!vk_map_get(inf->seen, k))
			vk_map_set(gone, k, v);
	for (vk_map_iter i = {0}; vk_map_next(gone, &i, &k, &v);) {
		vk_map_del(inf->store, k);
		if (inf->o.on_delete && !inf->closing) {
			cJSON *obj = unpack(inf, v);
			inf->o.on_delete(k, obj, inf->o.ud);
			cJSON_Delete(obj);
		}
		free(v);
	}
	vk_map_free(gone);
	list_reset(inf);
	inf->expired = 0;
	if (inf->closing)
		return;
	set_rv(inf, page);
	free(inf->stored_rv);
	inf->stored_rv = NULL; /* the state is the API's now */
	vk_info("informer", "listed %zu %s (resourceVersion %s)", vk_map_len(inf->store), inf->what,
	        inf->rv ? inf->rv : "?");
	inf->synced = true;
	if (inf->o.on_synced)
		inf->o.on_synced(inf->o.ud);
	if (!inf->closing)
		watch(inf);
}

/* One item of a page, parsed alone from the page's text. */
static int fold_item(const char *p, size_t n, void *ud)
{
	vk_informer *inf = ud;
	cJSON *it = cJSON_ParseWithLength(p, n);
	if (!cJSON_IsObject(it)) {
		cJSON_Delete(it);
		return -EINVAL;
	}
	char *key = vk_kube_key(it);
	if (key) {
		free(vk_map_set(inf->store, key, keep(inf, it)));
		vk_map_set(inf->seen, key, inf);
		if (inf->o.on_upsert)
			inf->o.on_upsert(key, it, inf->o.ud);
		free(key);
	}
	cJSON_Delete(it);
	return inf->closing ? 1 : 0;
}

/* The page without its items, parsed (metadata.continue, resourceVersion),
 * or NULL when the text is not a list; *at, *n: the items' span. */
static cJSON *page_head(const vk_kube_result *r, size_t *at, size_t *n)
{
	if (r->status != 200 || !r->body || vk_json_member_span(r->body, r->body_len, "items", at, n) < 0 ||
	    r->body[*at] != '[')
		return NULL;
	vk_buf b = {0};
	vk_buf_append(&b, r->body, *at);
	vk_buf_append(&b, "[]", 2);
	vk_buf_append(&b, r->body + *at + *n, r->body_len - *at - *n);
	cJSON *head = cJSON_ParseWithLength(b.data, b.len);
	vk_buf_free(&b);
	return head;
}

/* A page's items are folded one at a time from its text: a page of 500
 * pods is some 1.5 MiB of text but 7 MiB of cJSON tree. */
static void page_done(const vk_kube_result *r, void *ud)
{
	vk_informer *inf = ud;
	inf->listing = false;
	if (inf->closing)
		return;
	size_t at = 0, n = 0;
	cJSON *head = page_head(r, &at, &n);
	long status = r->status == 200 && !head ? 0 : r->status;
	vk_kube_informer_step step = vk_kube__informer_after_page(status, inf->cont != NULL);
	int rc = 0;
	if (step == VK_KUBE_INFORMER_RESUME) {
		rc = vk_json_each_element(r->body + at, n, fold_item, inf);
		if (inf->closing) {
			cJSON_Delete(head);
			return;
		}
		if (rc < 0)
			step = VK_KUBE_INFORMER_RESUME_LATER;
	}
	if (step == VK_KUBE_INFORMER_RELIST && ++inf->expired <= 3) {
		vk_info("informer", "%s list: the continue token expired (410 Gone); listing again from the top",
		        inf->what);
		cJSON_Delete(head);
		relist(inf);
		return;
	}
	if (step != VK_KUBE_INFORMER_RESUME) { /* a failure, or expired again and again */
		char why[256];
		snprintf(why, sizeof why, "list failed (%ld %s)", r->status,
		         r->error           ? r->error
		         : rc < 0           ? "an item is not a JSON object"
		         : r->status == 200 ? "not a list"
		                            : "");
		cJSON_Delete(head);
		list_reset(inf);
		reconnect_later(inf, why);
		return;
	}
	const char *cont = vk_json_str(head, "metadata.continue");
	free(inf->cont);
	inf->cont = cont && *cont ? vk_strdup(cont) : NULL;
	if (inf->cont)
		list_page(inf);
	else
		list_finish(inf, head);
	cJSON_Delete(head);
}

static void list_page(vk_informer *inf)
{
	char extra[64];
	snprintf(extra, sizeof extra, "limit=%u", inf->o.page_size ? inf->o.page_size : 500);
	char *path = query(inf, extra);
	if (inf->cont) {
		char *esc = vk_kube_escape(inf->cont);
		char *p = vk_asprintf("%s&continue=%s", path, esc);
		free(esc);
		free(path);
		path = p;
	}
	inf->listing = true;
	if (vk_kube_get_raw(inf->kube, path, page_done, inf) < 0) {
		inf->listing = false;
		list_reset(inf);
		reconnect_later(inf, "could not start the list");
	}
	free(path);
}

static void relist(vk_informer *inf)
{
	if (inf->closing || inf->listing)
		return;
	if (inf->listed)
		vk_metrics_relist(inf->what);
	inf->listed = true;
	free(inf->rv);
	inf->rv = NULL;
	/* A consistent list (no resourceVersion): after a 410 the cache may be
	 * behind what we had seen. */
	list_reset(inf);
	inf->seen = vk_map_new();
	list_page(inf);
}

/* ---- watch --------------------------------------------------------------- */

static void on_event(const char *type, cJSON *obj, void *ud)
{
	vk_informer *inf = ud;
	if (inf->closing)
		return;
	if (strcmp(type, "BOOKMARK") == 0) {
		set_rv(inf, obj);
		vk_backoff_reset(&inf->backoff);
		return;
	}
	if (strcmp(type, "ERROR") == 0) {
		if (vk_kube__watch_expired(obj)) {
			vk_info("informer", "%s watch: resourceVersion %s is too old (410 Gone); listing again",
			        inf->what, inf->rv ? inf->rv : "?");
			free(inf->rv);
			inf->rv = NULL;
		} else {
			const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
			vk_warn("informer", "%s watch error: %s", inf->what,
			        cJSON_IsString(msg) ? msg->valuestring : "unknown");
		}
		return;
	}
	char *key = vk_kube_key(obj);
	if (!key)
		return;
	set_rv(inf, obj);
	vk_backoff_reset(&inf->backoff);
	if (strcmp(type, "DELETED") == 0) {
		free(vk_map_del(inf->store, key));
		if (inf->o.on_delete)
			inf->o.on_delete(key, obj, inf->o.ud);
	} else {
		free(vk_map_set(inf->store, key, keep(inf, obj)));
		if (inf->o.on_upsert)
			inf->o.on_upsert(key, obj, inf->o.ud);
	}
	free(key);
}

vk_kube_informer_step vk_kube__informer_after_close(bool have_rv, long status, const char *err)
{
	if (!have_rv) /* never listed, or a 410 made us forget it */
		return VK_KUBE_INFORMER_RELIST;
	if (status == 200 && !err) /* the server's timeout, or a clean end mid-burst */
		return VK_KUBE_INFORMER_RESUME;
	return VK_KUBE_INFORMER_RESUME_LATER;
}

bool vk_kube__watch_expired(const cJSON *status)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
	return cJSON_IsNumber(code) && code->valueint == 410;
}

static void on_close(long status, const char *err, void *ud)
{
	vk_informer *inf = ud;
	inf->watch = NULL;
	if (inf->closing)
		return;
	vk_metrics_watch_restart(inf->what);
	switch (vk_kube__informer_after_close(inf->rv != NULL, status, err)) {
	case VK_KUBE_INFORMER_RELIST: relist(inf); return;
	case VK_KUBE_INFORMER_RESUME: watch(inf); return;
	case VK_KUBE_INFORMER_RESUME_LATER: break;
	}
	char why[256];
	snprintf(why, sizeof why, "stream ended (%ld %s)", status, err ? err : "");
	reconnect_later(inf, why);
}

static void watch(vk_informer *inf)
{
	if (inf->closing || inf->watch)
		return;
	if (!inf->rv) {
		relist(inf);
		return;
	}
	/* A server-side timeout with jitter, so many nodes do not reconnect in step. */
	char extra[160];
	snprintf(extra, sizeof extra, "watch=true&allowWatchBookmarks=true&timeoutSeconds=%u&resourceVersion=%s",
	         300 + (unsigned)(random() % 300), inf->rv);
	char *path = query(inf, extra);
	if (inf->resuming)
		vk_info("informer", "%s watch: resuming from resourceVersion %s", inf->what, inf->rv);
	inf->resuming = false;
	if (vk_kube_watch_start(inf->kube, path, on_event, on_close, inf, &inf->watch) < 0)
		reconnect_later(inf, "could not start the watch");
	free(path);
}

/* ---- life cycle ----------------------------------------------------------- */

vk_informer *vk_informer_new(uv_loop_t *loop, vk_kube *k, const vk_informer_opts *o)
{
	vk_informer *inf = vk_xcalloc(1, sizeof *inf);
	inf->o = *o;
	inf->what = vk_strdup(o->what ? o->what : o->path);
	inf->path = vk_strdup(o->path);
	inf->selector = vk_strdup(o->selector);
	inf->o.what = inf->what;
	inf->o.path = inf->path;
	inf->o.selector = inf->selector;
	inf->kube = k;
	inf->store = vk_map_new();
	inf->z = vk_ztext_new();
	inf->backoff = (vk_backoff){.base_ms = 250, .max_ms = 30000};
	uv_timer_init(loop, &inf->timer);
	inf->timer.data = inf;
	vk_kube_link_listen(k, on_link, inf);
	return inf;
}

/* Always a list first, seeded or not.  A watch resumed from the stored
 * resourceVersion would replay the history since then, event by event: the
 * owner would act on states long superseded (a pod added and deleted while
 * vk was down looks, until its DELETED arrives, like one to create).  A
 * list is the API's word now; the seeded objects serve until it is in,
 * and its diff against them reports what vanished meanwhile. */
void vk_informer_start(vk_informer *inf) { relist(inf); }

int vk_informer_seed(vk_informer *inf, const char *text, size_t len)
{
	cJSON *obj = cJSON_ParseWithLength(text, len);
	char *key = obj ? vk_kube_key(obj) : NULL;
	if (!key) {
		cJSON_Delete(obj);
		return -EINVAL;
	}
	free(vk_map_set(inf->store, key, keep(inf, obj)));
	free(key);
	cJSON_Delete(obj);
	return 0;
}

void vk_informer_seed_rv(vk_informer *inf, const char *rv)
{
	free(inf->stored_rv);
	inf->stored_rv = rv && *rv ? vk_strdup(rv) : NULL;
}

const char *vk_informer_rv(const vk_informer *inf)
{
	if (inf->stored_rv)
		return inf->stored_rv; /* nothing newer is confirmed yet */
	return inf->listing ? NULL : inf->rv;
}
bool vk_informer_seeded(const vk_informer *inf) { return inf->stored_rv != NULL; }
bool vk_informer_synced(const vk_informer *inf) { return inf->synced; }
size_t vk_informer_len(const vk_informer *inf) { return vk_map_len(inf->store); }

cJSON *vk_informer_get(const vk_informer *inf, const char *key)
{
	const void *blob = vk_map_get(inf->store, key);
	return blob ? unpack(inf, blob) : NULL;
}

bool vk_informer_has(const vk_informer *inf, const char *key) { return vk_map_get(inf->store, key) != NULL; }

bool vk_informer_next(const vk_informer *inf, vk_map_iter *it, const char **key)
{
	void *v;
	return vk_map_next(inf->store, it, key, &v);
}

static void closed(uv_handle_t *h)
{
	vk_informer *inf = h->data;
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(inf->store, &i, &k, &v);)
		free(v);
	vk_map_free(inf->store);
	list_reset(inf);
	vk_ztext_free(inf->z);
	free(inf->rv);
	free(inf->stored_rv);
	free(inf->what);
	free(inf->path);
	free(inf->selector);
	free(inf);
}

void vk_informer_close(vk_informer *inf)
{
	if (!inf || inf->closing)
		return;
	inf->closing = true;
	vk_kube_link_unlisten(inf->kube, on_link, inf);
	if (inf->watch)
		vk_kube_watch_stop(inf->watch);
	inf->watch = NULL;
	uv_close((uv_handle_t *)&inf->timer, closed);
}
