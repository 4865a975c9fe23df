/* Kubernetes Events: what users see in `kubectl describe` and `get events`.
 *
 * Events are recorded asynchronously and rate-limited, as kubelet does
 * (--event-qps 50, --event-burst 100): they queue behind a token bucket and
 * at most a few are in flight.  They also yield to the writes that matter:
 * while the client has many other calls in flight (a burst of pods being
 * started or deleted: their status writes and deletions), events wait, and
 * go out once the burst is through.  An event costs the API server about
 * what a status write does, and nobody waits on an event.  A full queue
 * drops the oldest event, says so once and counts it
 * (vk_events_dropped_total).  Waiting events are kept packed
 * (vk_ztext): a burst of a thousand pods leaves a thousand or two waiting.
 * While the API server is unreachable (vk_kube_link_up) events wait too,
 * an event that failed on the way goes back to the front of the queue, and
 * when the link returns the queue drains and how many were dropped (the
 * oldest, beyond EVENT_QUEUE_MAX) is said once.
 *
 * Repeats are merged as client-go's EventCorrelator does (tools/record,
 * the event logger): an event with the same source, involved object, type,
 * reason and message as one recorded in the last 10 minutes does not make
 * a new Event object; it PATCHes that one's count and lastTimestamp
 * (firstTimestamp stays), so a crash loop is one Event with a count.  The
 * last EVENT_SEEN_MAX keys are remembered.  A repeat while the previous
 * write of the same Event still waits or is in flight is folded into one
 * patch after it; a patch that finds the Event gone (404: the API server
 * keeps Events an hour) creates it again with the count so far.
 *
 * And, as client-go's aggregator does, once EVENT_SIMILAR_MAX events about
 * the same object with the same type and reason but different messages
 * were seen within 10 minutes, further ones are combined into one Event
 * whose message is "(combined from similar events): " and the latest
 * message, counted like a repeat.
 *
 * An object's uid never comes back, so once the caller says an object is
 * gone for good (vk_kube_events_forget: the pod controller does when it
 * lets a pod go), what is remembered about it is dropped: its Events can
 * have no more repeats.  Without that, the 4096 keys fill with the Events
 * of long-deleted pods (two a pod: created, deleted) and a node that churns
 * pods keeps about 5 MiB it will never use; with it, what is remembered
 * follows the pods the node holds.
 *
 * None of that walks all it remembers: the keys are kept in order of use
 * (the least recently used idle one goes first, as the LRU does), and per
 * involved object, so that at 10,000 pods neither a new Event nor a pod
 * let go costs a pass over 4096 keys.
 *
 * A key is remembered as its 64-bit hash, not its text (source, object,
 * uid, type, reason and message: some 150 bytes, held twice, by the entry
 * and by the map), and times as milliseconds: a node with a few thousand
 * pods remembers an Event for each (created, deleted), and that halved what
 * each costs, from about 1.3 KiB to 0.6 (tests/unit/test_kube.c measures
 * it).  Two keys that differ but hash alike would count as one Event: with
 * 4096 keys, about one chance in 10^12. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_int.h"
#include "vk/kube.h"
#include "vk/metrics.h"
#include "vk/util.h"

#define EVENT_QPS 50.0
#define EVENT_BURST 100.0
#define EVENT_INFLIGHT 4
/* Events waiting to be sent, at most: client-go's broadcaster keeps 1000
 * (maxQueuedEvents) and drops beyond.  What waits is held until sent, so
 * this bounds what a lagging API server costs in Events. */
#define EVENT_QUEUE_MAX 1000
#define BUSY_CALLS 16          /* other calls in flight at which events wait ... */
#define BUSY_RETRY_MS 100      /* ... and look again this much later */
#define EVENT_SEEN_MAX 4096    /* keys remembered (client-go's LRU: 4096) */
#define EVENT_WINDOW_MS 600000 /* a repeat within 10 min is the same Event */
#define EVENT_SIMILAR_MAX 10   /* distinct messages before similar events are combined */
#define EVENT_COMBINED "(combined from similar events): "

/* Events alike but for their message (client-go's aggregate key). */
typedef struct ev_similar {
	uint64_t key;        /* q->similar's key, hashed */
	vk_list lru, by_obj; /* q->similar_lru, its ev_obj's similar */
	uint64_t msg0;       /* the hashes of the distinct messages seen: the first, */
	uint64_t *more;      /* the others (EVENT_SIMILAR_MAX - 1; NULL until a second) */
	uint64_t obj;        /* obj_id of the involved object */
	unsigned n;
	uint64_t last_ms;
} ev_similar;

/* One Event object as the correlator knows it, by key. */
typedef struct ev_seen {
	uint64_t key;                   /* q->seen's key, hashed */
	char *path;                     /* /api/v1/namespaces/NS/events */
	char *name;                     /* the object's name once created, else NULL */
	void *body;                     /* the event as first recorded, packed (vk_ztext) */
	char *msg;                      /* a combined Event's latest message, else NULL */
	vk_list lru, by_obj;            /* q->seen_lru (least recently used first), its ev_obj's seen */
	uint64_t first_wall, last_wall; /* firstTimestamp, lastTimestamp (wall clock, ms) */
	unsigned count;
	uint64_t last_ms;
	uint64_t obj; /* obj_id of the involved object */
	bool busy;    /* an item for it waits or is in flight */
	bool dirty;   /* repeated meanwhile: one more patch when that is done */
	bool gone;    /* its object is gone: forgotten once no longer busy */
} ev_seen;

/* What is remembered about one involved object (q->objs, by obj_id). */
typedef struct ev_obj {
	vk_list seen, similar;
} ev_obj;

typedef struct ev_item {
	vk_list link; /* q->waiting, then q->sending */
	struct vk_events *q;
	ev_seen *s; /* the Event it writes: its packed body waits there */
	char *what;
	bool patch; /* PATCH the count of s->name, else POST s->body */
} ev_item;

struct vk_events {
	vk_kube *k;
	vk_list waiting; /* ev_item, oldest first */
	vk_list sending; /* ev_item in flight */
	size_t len, dropped, dropped_said;
	unsigned inflight;
	double tokens;
	uint64_t refill_ms;
	uv_timer_t *timer; /* freed in its close callback */
	vk_ztext *z;
	vk_map *seen;    /* key -> ev_seen */
	vk_map *similar; /* aggregate key -> ev_similar */
	vk_list seen_lru, similar_lru;
	vk_map *objs;     /* obj_id in hex -> ev_obj */
	uint64_t holding; /* an object whose ev_obj is being walked: kept */
};

static void item_free(ev_item *it)
{
	free(it->what);
	free(it);
}

static void seen_free(ev_seen *s)
{
	free(s->path);
	free(s->name);
	free(s->body);
	free(s->msg);
	free(s);
}

static void pump(struct vk_events *q);

/* ---- what is remembered, in order of use and per object ---------------- */

/* The maps' keys: a hash in hex. */
static void hash_key(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }

static ev_obj *obj_rec(struct vk_events *q, uint64_t obj, bool make)
{
	char k[17];
	hash_key(obj, k);
	ev_obj *o = vk_map_get(q->objs, k);
	if (!o && make) {
		o = vk_xcalloc(1, sizeof *o);
		vk_list_init(&o->seen);
		vk_list_init(&o->similar);
		vk_map_set(q->objs, k, o);
	}
	return o;
}

static void obj_tidy(struct vk_events *q, uint64_t obj)
{
	ev_obj *o = obj && obj != q->holding ? obj_rec(q, obj, false) : NULL;
	if (o && vk_list_empty(&o->seen) && vk_list_empty(&o->similar)) {
		char k[17];
		hash_key(obj, k);
		free(vk_map_del(q->objs, k));
	}
}

static void seen_add(struct vk_events *q, ev_seen *s)
{
	char k[17];
	hash_key(s->key, k);
	vk_map_set(q->seen, k, s);
	vk_list_insert_tail(&q->seen_lru, &s->lru);
	if (s->obj)
		vk_list_insert_tail(&obj_rec(q, s->obj, true)->seen, &s->by_obj);
}

static void seen_used(struct vk_events *q, ev_seen *s, uint64_t now)
{
	s->last_ms = now;
	vk_list_remove(&s->lru);
	vk_list_insert_tail(&q->seen_lru, &s->lru);
}

static void seen_free(ev_seen *s);

static void seen_drop(struct vk_events *q, ev_seen *s)
{
	char k[17];
	hash_key(s->key, k);
	vk_map_del(q->seen, k);
	vk_list_remove(&s->lru);
	vk_list_remove(&s->by_obj);
	obj_tidy(q, s->obj);
	seen_free(s);
}

static ev_similar *similar_add(struct vk_events *q, uint64_t akey, uint64_t obj)
{
	ev_similar *a = vk_xcalloc(1, sizeof *a);
	a->key = akey;
	a->obj = obj;
	char k[17];
	hash_key(akey, k);
	vk_map_set(q->similar, k, a);
	vk_list_insert_tail(&q->similar_lru, &a->lru);
	if (obj)
		vk_list_insert_tail(&obj_rec(q, obj, true)->similar, &a->by_obj);
	return a;
}

static void similar_drop(struct vk_events *q, ev_similar *a)
{
	char k[17];
	hash_key(a->key, k);
	vk_map_del(q->similar, k);
	vk_list_remove(&a->lru);
	vk_list_remove(&a->by_obj);
	obj_tidy(q, a->obj);
	free(a->more);
	free(a);
}

/* The object an Event is about, by the hash of its uid (0: no uid, never
 * forgotten that way).  A collision only forgets an entry early: its next
 * repeat makes a new Event instead of counting. */
static uint64_t obj_id(const char *uid) { return uid && *uid ? vk_hash64(uid) | 1 : 0; }

/* s has no item waiting or in flight any more. */
static void idle(struct vk_events *q, ev_seen *s)
{
	s->busy = s->dirty = false;
	if (s->gone)
		seen_drop(q, s);
}

static void unlink_sending(struct vk_events *q, ev_item *it)
{
	vk_list_remove(&it->link);
	q->inflight--;
}

static void drop_oldest(struct vk_events *q)
{
	ev_item *old = VK_LIST_ENTRY(vk_list_first(&q->waiting), ev_item, link);
	vk_list_remove(&old->link);
	q->len--;
	vk_metrics_events_queued(q->len);
	idle(q, old->s);
	vk_metrics_event_dropped();
	if (q->dropped++ == q->dropped_said)
		vk_warn("event", "event queue full (%d): dropping the oldest events", EVENT_QUEUE_MAX);
	item_free(old);
}

/* Back in the queue, at its tail (a repeat's patch, a 404's create). */
static void requeue(struct vk_events *q, ev_item *it)
{
	if (q->len >= EVENT_QUEUE_MAX)
		drop_oldest(q);
	vk_list_insert_tail(&q->waiting, &it->link);
	q->len++;
	vk_metrics_events_queued(q->len);
}

static void event_done(const vk_kube_result *r, void *ud)
{
	ev_item *it = ud;
	struct vk_events *q = it->q;
	ev_seen *s = it->s;
	if (r->status == 0 && !vk_kube_link_up(q->k)) {
		/* The link went down under it: it waits at the front for the link. */
		unlink_sending(q, it);
		if (q->len >= EVENT_QUEUE_MAX)
			drop_oldest(q);
		vk_list_insert_head(&q->waiting, &it->link);
		q->len++;
		vk_metrics_events_queued(q->len);
		return;
	}
	unlink_sending(q, it);
	if (it->patch && r->status == 404) {
		/* Gone (expired): created again, with the count so far. */
		free(s->name);
		s->name = NULL;
		it->patch = false;
		requeue(q, it);
		pump(q);
		return;
	}
	if (r->status < 200 || r->status >= 300) {
		vk_warn("event", "could not record event %s: %ld %s", it->what, r->status, r->error ? r->error : "");
	} else if (!it->patch) {
		const char *name = vk_json_str(r->json, "metadata.name");
		free(s->name);
		s->name = name ? vk_strdup(name) : NULL;
	}
	if (s->dirty) {
		s->dirty = false;
		it->patch = s->name != NULL;
		requeue(q, it);
	} else {
		idle(q, s);
		item_free(it);
	}
	pump(q);
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

/* The request for an item: a patch of the count, or the Event as first
 * recorded with the count and times so far. */
static int send_item(struct vk_events *q, ev_item *it)
{
	ev_seen *s = it->s;
	char *body = NULL;
	int rc = -EIO;
	if (it->patch) {
		cJSON *patch = cJSON_CreateObject();
		char last[40];
		vk_rfc3339(last, s->last_wall, false);
		cJSON_AddNumberToObject(patch, "count", s->count);
		cJSON_AddStringToObject(patch, "lastTimestamp", last);
		if (s->msg)
			cJSON_AddStringToObject(patch, "message", s->msg);
		body = cJSON_PrintUnformatted(patch);
		cJSON_Delete(patch);
		char *path = vk_asprintf("%s/%s", s->path, s->name);
		rc = vk_kube_request(q->k, "PATCH", path, "application/strategic-merge-patch+json", body, event_done,
		                     it, NULL);
		free(path);
	} else {
		char *text = vk_ztext_unpack(q->z, s->body);
		cJSON *ev = text ? cJSON_Parse(text) : NULL;
		free(text);
		if (ev) {
			char first[40], last[40];
			vk_rfc3339(first, s->first_wall, false);
			vk_rfc3339(last, s->last_wall, false);
			cJSON_ReplaceItemInObjectCaseSensitive(ev, "count", cJSON_CreateNumber(s->count));
			cJSON_ReplaceItemInObjectCaseSensitive(ev, "firstTimestamp", cJSON_CreateString(first));
			cJSON_ReplaceItemInObjectCaseSensitive(ev, "lastTimestamp", cJSON_CreateString(last));
			if (s->msg)
				cJSON_ReplaceItemInObjectCaseSensitive(ev, "message", cJSON_CreateString(s->msg));
			body = cJSON_PrintUnformatted(ev);
			cJSON_Delete(ev);
		}
		if (body)
			rc = vk_kube_request(q->k, "POST", s->path, NULL, body, event_done, it, NULL);
	}
	free(body);
	if (rc < 0)
		idle(q, s);
	return rc;
}

static void pump(struct vk_events *q)
{
	uint64_t now = vk_now_ms();
	q->tokens += (double)(now - q->refill_ms) * EVENT_QPS / 1000.0;
	if (q->tokens > EVENT_BURST)
		q->tokens = EVENT_BURST;
	q->refill_ms = now;
	if (!vk_kube_link_up(q->k))
		return; /* the link listener pumps when it is back */
	if (!vk_list_empty(&q->waiting) && q->k->ncalls - q->inflight >= BUSY_CALLS) {
		if (!uv_is_active((uv_handle_t *)q->timer))
			uv_timer_start(q->timer, on_timer, BUSY_RETRY_MS, 0);
		return;
	}
	while (!vk_list_empty(&q->waiting) && q->tokens >= 1.0 && q->inflight < EVENT_INFLIGHT) {
		ev_item *it = VK_LIST_ENTRY(vk_list_first(&q->waiting), ev_item, link);
		vk_list_remove(&it->link);
		q->len--;
		vk_metrics_events_queued(q->len);
		q->tokens -= 1.0;
		vk_list_insert_head(&q->sending, &it->link);
		q->inflight++;
		int rc = send_item(q, it);
		if (rc < 0) {
			vk_warn("event", "could not record event %s", it->what);
			unlink_sending(q, it);
			item_free(it);
		}
	}
	if (!vk_list_empty(&q->waiting) && q->tokens < 1.0 && !uv_is_active((uv_handle_t *)q->timer))
		uv_timer_start(q->timer, on_timer, (uint64_t)((1.0 - q->tokens) * 1000.0 / EVENT_QPS) + 1, 0);
}

static void on_link(bool up, void *ud)
{
	struct vk_events *q = ud;
	if (!up)
		return;
	if (q->dropped > q->dropped_said) {
		vk_warn("event", "%zu event(s) dropped while the API server was unreachable (the queue keeps %d)",
		        q->dropped - q->dropped_said, EVENT_QUEUE_MAX);
		q->dropped_said = q->dropped;
	}
	pump(q);
}

static struct vk_events *queue_of(vk_kube *k)
{
	struct vk_events *q = k->events;
	if (!q) {
		q = k->events = vk_xcalloc(1, sizeof *q);
		q->k = k;
		vk_list_init(&q->waiting);
		vk_list_init(&q->sending);
		q->tokens = EVENT_BURST;
		q->refill_ms = vk_now_ms();
		q->timer = vk_xcalloc(1, sizeof *q->timer);
		uv_timer_init(k->loop, q->timer);
		q->timer->data = q;
		q->z = vk_ztext_new();
		q->seen = vk_map_new();
		q->similar = vk_map_new();
		q->objs = vk_map_new();
		vk_list_init(&q->seen_lru);
		vk_list_init(&q->similar_lru);
		vk_kube_link_listen(k, on_link, q);
	}
	return q;
}

/* Room for one more key: the least recently seen idle Event is forgotten. */
static void forget_oldest(struct vk_events *q)
{
	vk_list *n, *tmp;
	VK_LIST_FOREACH_SAFE(n, tmp, &q->seen_lru)
	{
		ev_seen *s = VK_LIST_ENTRY(n, ev_seen, lru);
		if (!s->busy) {
			seen_drop(q, s);
			return;
		}
	}
}

/* client-go's aggregator: true when this event is one of more than
 * EVENT_SIMILAR_MAX alike but for their message within the window. */
static bool similar_many(struct vk_events *q, uint64_t akey, uint64_t obj, const char *msg, uint64_t now)
{
	char k[17];
	hash_key(akey, k);
	ev_similar *a = vk_map_get(q->similar, k);
	if (a && now - a->last_ms > EVENT_WINDOW_MS) {
		similar_drop(q, a);
		a = NULL;
	}
	if (!a) {
		vk_list *oldest = vk_list_first(&q->similar_lru);
		if (vk_map_len(q->similar) >= EVENT_SEEN_MAX && oldest)
			similar_drop(q, VK_LIST_ENTRY(oldest, ev_similar, lru));
		a = similar_add(q, akey, obj);
	}
	a->last_ms = now;
	vk_list_remove(&a->lru);
	vk_list_insert_tail(&q->similar_lru, &a->lru);
	if (a->n >= EVENT_SIMILAR_MAX)
		return true;
	uint64_t h = vk_hash64(msg);
	for (unsigned i = 0; i < a->n; i++)
		if ((i ? a->more[i - 1] : a->msg0) == h)
			return false;
	if (a->n == 0)
		a->msg0 = h;
	else {
		if (!a->more)
			a->more = vk_xcalloc(EVENT_SIMILAR_MAX - 1, sizeof *a->more);
		a->more[a->n - 1] = h;
	}
	a->n++;
	return a->n >= EVENT_SIMILAR_MAX;
}

static void enqueue(struct vk_events *q, ev_seen *s, char *what)
{
	if (q->len >= EVENT_QUEUE_MAX)
		drop_oldest(q);
	ev_item *it = vk_xcalloc(1, sizeof *it);
	it->q = q;
	it->s = s;
	it->what = what;
	it->patch = s->name != NULL;
	s->busy = true;
	vk_list_insert_tail(&q->waiting, &it->link);
	q->len++;
	vk_metrics_events_queued(q->len);
	pump(q);
}

/* Records ev (taken) under key (hashed): a new Event, or a repeat of one.
 * combined: the message of a combined Event, else NULL. */
static void record(struct vk_events *q, uint64_t key, char *path, cJSON *ev, uint64_t wall, char *what,
                   const char *combined, uint64_t obj)
{
	uint64_t now = vk_now_ms();
	char k[17];
	hash_key(key, k);
	ev_seen *s = vk_map_get(q->seen, k);
	if (s && (s->busy || now - s->last_ms <= EVENT_WINDOW_MS)) {
		if (combined) {
			free(s->msg);
			s->msg = vk_strdup(combined);
		}
		s->count++;
		s->last_wall = wall;
		seen_used(q, s, now);
		free(path);
		cJSON_Delete(ev);
		if (s->busy) {
			s->dirty = true;
			free(what);
		} else {
			enqueue(q, s, what);
		}
		return;
	}
	char *text = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	void *body = text ? vk_ztext_pack(q->z, text, strlen(text)) : NULL;
	bool printed = text != NULL;
	free(text);
	if (!body) {
		vk_warn("event", "could not record event %s: %s", what, printed ? "too large" : "not printable");
		free(path);
		free(what);
		return;
	}
	if (s) /* seen before, more than the window ago: a new Event */
		seen_drop(q, s);
	else if (vk_map_len(q->seen) >= EVENT_SEEN_MAX) {
		forget_oldest(q);
	}
	s = vk_xcalloc(1, sizeof *s);
	s->key = key;
	s->path = path;
	s->body = body;
	s->count = 1;
	s->obj = obj;
	s->msg = combined ? vk_strdup(combined) : NULL;
	s->first_wall = s->last_wall = wall;
	s->last_ms = now;
	seen_add(q, s);
	enqueue(q, s, what);
}

static void timer_closed(uv_handle_t *h) { free(h); }

/* Called by vk_kube_free, after it cancelled every call: what is still
 * queued or was in flight is dropped. */
void vk_kube__events_free(vk_kube *k)
{
	struct vk_events *q = k->events;
	if (!q)
		return;
	vk_kube_link_unlisten(k, on_link, q);
	vk_list *n, *tmp;
	VK_LIST_FOREACH_SAFE(n, tmp, &q->waiting)
	item_free(VK_LIST_ENTRY(n, ev_item, link));
	VK_LIST_FOREACH_SAFE(n, tmp, &q->sending)
	item_free(VK_LIST_ENTRY(n, ev_item, link));
	const char *key;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(q->seen, &i, &key, &v);)
		seen_free(v);
	vk_map_free(q->seen);
	for (vk_map_iter i = {0}; vk_map_next(q->similar, &i, &key, &v);) {
		free(((ev_similar *)v)->more);
		free(v);
	}
	vk_map_free(q->similar);
	for (vk_map_iter i = {0}; vk_map_next(q->objs, &i, &key, &v);)
		free(v);
	vk_map_free(q->objs);
	uv_close((uv_handle_t *)q->timer, timer_closed);
	vk_ztext_free(q->z);
	free(q);
	k->events = NULL;
}

void vk_kube_event(vk_kube *k, const char *kind, const cJSON *obj, const char *type, const char *reason,
                   const char *host, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	const char *name = vk_json_str(obj, "metadata.name");
	const char *ns = vk_json_str(obj, "metadata.namespace");
	const char *uid = vk_json_str(obj, "metadata.uid");
	if (!name || !kind)
		return;
	/* Events about cluster-scoped objects (the Node) live in "default". */
	const char *evns = ns ? ns : "default";

	uint64_t wall = vk_wall_ms();
	char ts[40];
	vk_rfc3339(ts, wall, false);
	cJSON *ev = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
	char *gen = vk_asprintf("%s.", name);
	cJSON_AddStringToObject(md, "generateName", gen);
	free(gen);
	cJSON_AddStringToObject(md, "namespace", evns);
	cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
	cJSON_AddStringToObject(io, "apiVersion", "v1");
	cJSON_AddStringToObject(io, "kind", kind);
	cJSON_AddStringToObject(io, "name", name);
	if (ns)
		cJSON_AddStringToObject(io, "namespace", ns);
	if (uid)
		cJSON_AddStringToObject(io, "uid", uid);
	cJSON_AddStringToObject(ev, "reason", reason);
	cJSON_AddStringToObject(ev, "message", msg);
	cJSON_AddStringToObject(ev, "type", type);
	cJSON *src = cJSON_AddObjectToObject(ev, "source");
	cJSON_AddStringToObject(src, "component", "vk");
	if (host)
		cJSON_AddStringToObject(src, "host", host);
	cJSON_AddStringToObject(ev, "firstTimestamp", ts);
	cJSON_AddStringToObject(ev, "lastTimestamp", ts);
	cJSON_AddNumberToObject(ev, "count", 1);
	cJSON_AddStringToObject(ev, "reportingComponent", "vk");
	if (host)
		cJSON_AddStringToObject(ev, "reportingInstance", host);

	char *path = vk_asprintf("/api/v1/namespaces/%s/events", evns);
	char *what = vk_asprintf("%s on %s %s%s%s", reason, kind, ns ? ns : "", ns ? "/" : "", name);
	/* client-go's keys: source, involved object, type, reason (the
	 * aggregate key), and the message. */
	struct vk_events *q = queue_of(k);
	char *akey = vk_asprintf("vk\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", host ? host : "", kind, ns ? ns : "",
	                         name, uid ? uid : "", type, reason);
	char *key, *combined = NULL;
	if (similar_many(q, vk_hash64(akey), obj_id(uid), msg, vk_now_ms())) {
		combined = vk_asprintf(EVENT_COMBINED "%s", msg);
		cJSON_ReplaceItemInObjectCaseSensitive(ev, "message", cJSON_CreateString(combined));
		key = vk_asprintf("%s\x1f(combined)", akey);
	} else {
		key = vk_asprintf("%s\x1f%s", akey, msg);
	}
	free(akey);
	record(q, vk_hash64(key), path, ev, wall, what, combined, obj_id(uid));
	free(key);
	free(combined);
}

void vk_kube_events_forget(vk_kube *k, const char *uid)
{
	struct vk_events *q = k->events;
	uint64_t obj = obj_id(uid);
	if (!q || !obj)
		return;
	ev_obj *o = obj_rec(q, obj, false);
	if (!o)
		return;
	q->holding = obj; /* o stays while its lists are walked */
	vk_list *n, *tmp;
	VK_LIST_FOREACH_SAFE(n, tmp, &o->similar)
	similar_drop(q, VK_LIST_ENTRY(n, ev_similar, by_obj));
	VK_LIST_FOREACH_SAFE(n, tmp, &o->seen)
	{
		ev_seen *s = VK_LIST_ENTRY(n, ev_seen, by_obj);
		s->gone = true;
		if (!s->busy)
			idle(q, s);
	}
	q->holding = 0;
	obj_tidy(q, obj); /* busy ones stay until they are done */
}

size_t vk_kube_events_remembered(const vk_kube *k)
{
	return k->events ? vk_map_len(k->events->seen) + vk_map_len(k->events->similar) : 0;
}
