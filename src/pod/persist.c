/* persist: the pod controller's edge cache in the store (vk/store.h).
 *
 * What a node needs to keep its pods when it restarts cut off from the API
 * server, written through the store's write-behind (coalesced per key,
 * committed in batches, so an event storm is a few transactions, not one
 * fsync per event).  Keys, under node/NODENAME/ (a redis or etcd may serve
 * several nodes):
 *
 *   pod/NS/NAME         the API's pod as last seen (rv: its resourceVersion)
 *   status/provider/NS/NAME  the last status the provider reported
 *   status/api/NS/NAME  the last status written to the API
 *   rv/pods             the pod informer's resourceVersion
 *   obj/PATH            the read-through cache of GET PATH: ConfigMaps,
 *                       Secrets (sealed with --state-key-file, else not
 *                       kept), the Services of env's service links, a
 *                       provider's vk.kube.get (rv: the object's)
 *   node                the Node object
 *   meta/server         the API server these are from: a store written for
 *                       another one (a rebuilt cluster, a reused folder) is
 *                       not loaded
 *
 * A store that comes back empty (a redis without persistence restarted, an
 * etcd rebuilt) would hold only the writes made after it came back.  Every
 * CHECK_TICKS seconds meta/server is read back; when it is missing (and not
 * waiting in the write-behind), everything this node knows is written
 * again: the pods, the informer's resourceVersion after them, the node and
 * the read-through cache.  The status records are written again when they
 * next change (a restart without them writes a pod's status once more).
 *
 * FRESHER WINS is the store's: a pod is put with its resourceVersion, so a
 * late write of an older copy never replaces a newer one.  The informer's
 * resourceVersion trails the objects (queued once a second, after them):
 * it says how old the stored state is, never newer than it.
 *
 * At start-up (vk_pod__persist_load) everything is read back: the informer
 * is seeded with the pods and the resourceVersion (it serves them until
 * its first list confirms them: a watch resumed from the stored
 * resourceVersion would replay superseded states, see vk_informer_start),
 * the read-through cache with the objects, and each pod's last written
 * status is known again, so nothing is written twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod_int.h"

#define K_POD "pod/"
#define K_PSTATUS "status/provider/"
#define K_WSTATUS "status/api/"
#define K_OBJ "obj/"
#define K_RV "rv/pods"
#define K_NODE "node"
#define K_SERVER "meta/server"
#define TICK_MS 1000
#define CHECK_TICKS 10 /* seconds between checks that the store still holds our records */

struct vk_pod_persist {
	vk_pods *pc;
	vk_store *store;
	vk_store_wb *wb;
	char *pfx;          /* "node/NODENAME/" */
	const uint8_t *key; /* seals Secrets; NULL: they are not kept */
	vk_map *pod_rv;     /* key -> uint64_t*: the rv last written for a pod */
	vk_map *written;    /* key -> uint64_t*: hash of the stored API status (load) */
	cJSON *pods;        /* loaded pods, until the informer is seeded */
	char *rv_loaded;    /* the stored informer resourceVersion */
	char *rv_saved;     /* the last one queued for writing */
	uint64_t node_hash;
	uint64_t events; /* pod events (watch/list changes) seen */
	uv_timer_t tick;
	vk_pod_persist_cb load_cb;
	bool loading, closing;
	unsigned ticks;
	struct check_ticket *check; /* the meta/server read in flight */
};

/* A read of meta/server in flight; outlives a closed persistence. */
struct check_ticket {
	vk_pod_persist *ps; /* NULL once closed */
};

static void set_u64(vk_map *m, const char *key, uint64_t v)
{
	uint64_t *p = vk_map_get(m, key);
	if (!p) {
		p = vk_xmalloc(sizeof *p);
		vk_map_set(m, key, p);
	}
	*p = v;
}

static void free_u64_map(vk_map *m)
{
	const char *k;
	void *v;
	for (vk_map_iter i = {0}; vk_map_next(m, &i, &k, &v);)
		free(v);
	vk_map_free(m);
}

static char *pkey_of(const vk_pod_persist *ps, const char *prefix, const char *key)
{
	return vk_asprintf("%s%s%s", ps->pfx, prefix, key);
}
#define pkey(prefix, key) pkey_of(ps, prefix, key)

static void put(vk_pod_persist *ps, const char *key, const char *value, size_t len, uint64_t rv)
{
	char *k = pkey(key, "");
	vk_store_wb_put(ps->wb, k, value, len, rv, 0);
	free(k);
}

/* ---- writes ------------------------------------------------------------------ */

static bool is_secret_path(const char *path) { return strstr(path, "/secrets") != NULL; }

/* The read-through cache changed: mirror it (Secrets sealed, or not at all). */
static void obj_put(const char *path, const char *json, size_t len, const char *rv, void *ud)
{
	vk_pod_persist *ps = ud;
	if (ps->closing)
		return;
	char *k = pkey(K_OBJ, path);
	if (is_secret_path(path)) {
		if (ps->key) {
			char *sealed = vk_store_seal(ps->key, json, len);
			if (sealed)
				vk_store_wb_put(ps->wb, k, sealed, strlen(sealed), vk_store_rv(rv), 0);
			free(sealed);
		}
	} else {
		vk_store_wb_put(ps->wb, k, json, len, vk_store_rv(rv), 0);
	}
	free(k);
}

static void obj_del(const char *path, void *ud)
{
	vk_pod_persist *ps = ud;
	if (ps->closing)
		return;
	char *k = pkey(K_OBJ, path);
	vk_store_wb_delete(ps->wb, k, 0);
	free(k);
}

static void put_pod(vk_pod_persist *ps, const char *key, const cJSON *pod)
{
	uint64_t rv = vk_store_rv(vk_json_str(pod, "metadata.resourceVersion"));
	uint64_t *have = vk_map_get(ps->pod_rv, key);
	if (have && rv && *have == rv)
		return; /* a list repeating what we hold */
	cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	cJSON *mf = cJSON_DetachItemFromObjectCaseSensitive(md, "managedFields");
	char *text = cJSON_PrintUnformatted(pod);
	if (mf)
		cJSON_AddItemToObject(md, "managedFields", mf); /* the caller's object stays whole */
	if (!text)
		return;
	char *k = pkey(K_POD, key);
	vk_store_wb_put(ps->wb, k, text, strlen(text), rv, 0);
	set_u64(ps->pod_rv, key, rv);
	free(k);
	free(text);
}

void vk_pod__persist_pod(vk_pods *pc, const char *key, const cJSON *pod)
{
	vk_pod_persist *ps = pc->persist;
	if (!ps || ps->closing)
		return;
	ps->events++;
	put_pod(ps, key, pod);
}

void vk_pod__persist_pod_gone(vk_pods *pc, const char *key, const cJSON *old)
{
	vk_pod_persist *ps = pc->persist;
	if (!ps || ps->closing)
		return;
	ps->events++;
	free(vk_map_del(ps->pod_rv, key));
	static const char *const prefixes[] = {K_POD, K_PSTATUS, K_WSTATUS};
	for (size_t i = 0; i < VK_ARRAY_LEN(prefixes); i++) {
		char *k = pkey(prefixes[i], key);
		/* The pod's own record only if not newer than what went away (a
		 * re-created pod of the same name may be stored already). */
		vk_store_wb_delete(ps->wb, k, i == 0 ? vk_store_rv(vk_json_str(old, "metadata.resourceVersion")) : 0);
		free(k);
	}
}

void vk_pod__persist_status(vk_pods *pc, const char *key, bool written, const char *text)
{
	vk_pod_persist *ps = pc->persist;
	if (!ps || ps->closing || !text)
		return;
	char *k = pkey(written ? K_WSTATUS : K_PSTATUS, key);
	vk_store_wb_put(ps->wb, k, text, strlen(text), 0, 0);
	free(k);
}

/* The informer's resourceVersion, queued after the object writes it
 * covers.  The write-behind commits oldest first, so it never lands before
 * them; a write coalesced with a later one of the same key stands for an
 * event after this resourceVersion. */
static void save_rv(vk_pod_persist *ps)
{
	const char *rv = ps->pc->inf ? vk_informer_rv(ps->pc->inf) : NULL;
	if (!rv || (ps->rv_saved && strcmp(ps->rv_saved, rv) == 0))
		return;
	put(ps, K_RV, rv, strlen(rv), vk_store_rv(rv));
	free(ps->rv_saved);
	ps->rv_saved = vk_strdup(rv);
}

static void save_node(vk_pod_persist *ps)
{
	const cJSON *node = ps->pc->o.node ? vk_node_object(ps->pc->o.node) : NULL;
	if (!node)
		return;
	/* Heartbeat times change at every status write; the rest rarely. */
	char *text = cJSON_PrintUnformatted(node);
	uint64_t h = text ? vk_hash64(text) : 0;
	if (text && h != ps->node_hash) {
		ps->node_hash = h;
		put(ps, K_NODE, text, strlen(text), 0);
	}
	free(text);
}

/* ---- a store that lost our records ---------------------------------------- */

static void refill_obj(const char *path, const char *json, size_t len, void *ud) { obj_put(path, json, len, NULL, ud); }

/* Everything this node knows, queued again; the write-behind commits it in
 * the order queued, so the resourceVersion lands after the pods. */
static void refill(vk_pod_persist *ps)
{
	const char *server = vk_kube_server(ps->pc->o.kube);
	if (server)
		put(ps, K_SERVER, server, strlen(server), 0);
	size_t pods = 0;
	if (ps->pc->inf) {
		free_u64_map(ps->pod_rv);
		ps->pod_rv = vk_map_new();
		const char *key;
		for (vk_map_iter it = {0}; vk_informer_next(ps->pc->inf, &it, &key);) {
			cJSON *pod = vk_informer_get(ps->pc->inf, key);
			if (pod) {
				put_pod(ps, key, pod);
				pods++;
			}
			cJSON_Delete(pod);
		}
	}
	vk_kube_cache_each(ps->pc->o.kube, refill_obj, ps);
	free(ps->rv_saved);
	ps->rv_saved = NULL;
	save_rv(ps);
	ps->node_hash = 0;
	save_node(ps);
	vk_warn(SUB,
	        "the store %s lost what it held for this node (restarted empty?): writing %zu pods, %zu objects "
	        "and the node again",
	        vk_store_name(ps->store), pods, vk_kube_cache_len(ps->pc->o.kube));
}

static void checked(vk_store *s, int status, const char *err, const vk_store_rec *rec, void *ud)
{
	(void)s, (void)err, (void)rec;
	struct check_ticket *t = ud;
	vk_pod_persist *ps = t->ps;
	free(t);
	if (!ps)
		return;
	ps->check = NULL;
	char *k = pkey(K_SERVER, "");
	/* Queued meanwhile (a refill, a load): not lost, just not in yet. */
	bool queued = vk_store_wb_pending(ps->wb, k, NULL, NULL, NULL);
	free(k);
	if (status == VK_STORE_ENOENT && !queued && !ps->loading && !ps->closing)
		refill(ps);
}

static void check_store(vk_pod_persist *ps)
{
	if (ps->check || vk_store_wb_is_down(ps->wb) || !vk_kube_server(ps->pc->o.kube))
		return;
	char *k = pkey(K_SERVER, "");
	bool queued = vk_store_wb_pending(ps->wb, k, NULL, NULL, NULL);
	if (!queued) {
		struct check_ticket *t = vk_xcalloc(1, sizeof *t);
		t->ps = ps;
		if (vk_store_get(ps->store, k, checked, t) == 0)
			ps->check = t;
		else
			free(t);
	}
	free(k);
}

static void on_tick(uv_timer_t *t)
{
	vk_pod_persist *ps = t->data;
	if (ps->closing || ps->loading)
		return;
	save_rv(ps);
	save_node(ps);
	if (++ps->ticks % CHECK_TICKS == 0)
		check_store(ps);
}

/* ---- load ------------------------------------------------------------------- */

static bool starts(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	if (strncmp(s, prefix, n) != 0)
		return false;
	*rest = s + n;
	return true;
}

static void loaded(vk_store *s, int status, const char *err, const vk_store_rec *recs, size_t n, void *ud)
{
	vk_pod_persist *ps = ud;
	ps->loading = false;
	if (ps->closing)
		return;
	size_t pods = 0, objs = 0, statuses = 0, bad = 0;
	if (status < 0) {
		vk_warn(SUB, "the store %s could not be read (%s): starting from the API only", vk_store_name(s),
		        err ? err : vk_store_strerror(status));
		n = 0;
	}
	vk_kube *kube = ps->pc->o.kube;
	const char *server = vk_kube_server(kube);
	size_t plen = strlen(ps->pfx);
	for (size_t i = 0; i < n; i++) {
		const vk_store_rec *r = &recs[i];
		if (strncmp(r->key, ps->pfx, plen) == 0 && strcmp(r->key + plen, K_SERVER) == 0 && server &&
		    strcmp(r->value, server) != 0) {
			vk_warn(SUB, "the store %s was written for the API server %s, not %s: clearing what it holds",
			        vk_store_name(s), r->value, server);
			for (size_t j = 0; j < n; j++)
				vk_store_wb_delete(ps->wb, recs[j].key, 0);
			n = 0;
			break;
		}
	}
	if (server)
		put(ps, K_SERVER, server, strlen(server), 0);
	for (size_t i = 0; i < n; i++) {
		const vk_store_rec *r = &recs[i];
		const char *rest;
		vk_store_rec rr = *r;
		rr.key += plen; /* the list was of our prefix */
		r = &rr;
		if (starts(r->key, K_POD, &rest)) {
			cJSON *pod = cJSON_ParseWithLength(r->value, r->len);
			char *key = pod ? vk_kube_key(pod) : NULL;
			if (!key || strcmp(key, rest) != 0) {
				bad++;
				cJSON_Delete(pod);
			} else {
				if (!ps->pods)
					ps->pods = cJSON_CreateArray();
				cJSON_AddItemToArray(ps->pods, pod);
				set_u64(ps->pod_rv, key, r->rv);
				pods++;
			}
			free(key);
		} else if (starts(r->key, K_WSTATUS, &rest)) {
			set_u64(ps->written, rest, vk_hash64(r->value));
			statuses++;
		} else if (starts(r->key, K_OBJ, &rest)) {
			if (is_secret_path(rest)) {
				size_t len = 0;
				char *plain = ps->key ? vk_store_unseal(ps->key, r->value, r->len, &len) : NULL;
				if (plain)
					vk_kube_cache_seed(kube, rest, plain, len);
				else
					bad++;
				if (plain)
					explicit_bzero(plain, len);
				free(plain);
			} else {
				vk_kube_cache_seed(kube, rest, r->value, r->len);
			}
			objs++;
		} else if (strcmp(r->key, K_RV) == 0) {
			free(ps->rv_loaded);
			ps->rv_loaded = vk_strdup(r->value);
			ps->rv_saved = vk_strdup(r->value);
		} else if (strcmp(r->key, K_NODE) == 0) {
			ps->node_hash = vk_hash64(r->value);
		}
	}
	if (n)
		vk_info(SUB, "the store %s holds %zu pods (resourceVersion %s), %zu statuses, %zu objects%s",
		        vk_store_name(s), pods, ps->rv_loaded ? ps->rv_loaded : "none", statuses, objs,
		        bad ? "; some records could not be read and are ignored" : "");
	vk_pod_persist_cb cb = ps->load_cb;
	ps->load_cb = NULL;
	if (cb)
		cb(ps->pc);
}

int vk_pod__persist_load(vk_pods *pc, vk_pod_persist_cb cb)
{
	vk_pod_persist *ps = pc->persist;
	ps->load_cb = cb;
	ps->loading = true;
	int rc = vk_store_list(ps->store, ps->pfx, loaded, ps);
	if (rc < 0) {
		ps->loading = false;
		ps->load_cb = NULL;
	}
	return rc;
}

bool vk_pod__persist_seed(vk_pods *pc, vk_informer *inf)
{
	vk_pod_persist *ps = pc->persist;
	if (!ps || !ps->pods || !ps->rv_loaded) {
		if (ps) {
			cJSON_Delete(ps->pods);
			ps->pods = NULL;
		}
		return false;
	}
	const cJSON *p;
	size_t other = 0;
	cJSON_ArrayForEach(p, ps->pods) {
		/* Kept by a run that watched more namespaces: not this vk's now,
		 * and seeding it would make the first relist delete it. */
		const char *ns = vk_json_str(p, "metadata.namespace");
		if (pc->o.namespace_ && (!ns || strcmp(ns, pc->o.namespace_) != 0)) {
			other++;
			continue;
		}
		char *text = cJSON_PrintUnformatted(p);
		if (text)
			vk_informer_seed(inf, text, strlen(text));
		free(text);
	}
	cJSON_Delete(ps->pods);
	ps->pods = NULL;
	if (other)
		vk_info(SUB, "%zu stored pods are outside --namespace %s and are left to the provider as they are",
		        other, pc->o.namespace_);
	vk_informer_seed_rv(inf, ps->rv_loaded);
	return true;
}

uint64_t vk_pod__persist_written(vk_pods *pc, const char *key)
{
	vk_pod_persist *ps = pc->persist;
	uint64_t *h = ps ? vk_map_get(ps->written, key) : NULL;
	return h ? *h : 0;
}

/* ---- life cycle ------------------------------------------------------------- */

vk_pod_persist *vk_pod__persist_new(vk_pods *pc)
{
	if (!pc->o.store || !pc->o.wb)
		return NULL;
	vk_pod_persist *ps = vk_xcalloc(1, sizeof *ps);
	ps->pc = pc;
	ps->store = pc->o.store;
	ps->wb = pc->o.wb;
	ps->key = pc->o.secret_key;
	ps->pod_rv = vk_map_new();
	ps->written = vk_map_new();
	uv_timer_init(pc->o.loop, &ps->tick);
	ps->tick.data = ps;
	uv_timer_start(&ps->tick, on_tick, TICK_MS, TICK_MS);
	uv_unref((uv_handle_t *)&ps->tick);
	ps->pfx = vk_asprintf("node/%s/", pc->o.nodename);
	vk_kube_cache_hooks h = {.on_put = obj_put, .on_del = obj_del, .ud = ps};
	vk_kube_cache_set_hooks(pc->o.kube, &h);
	return ps;
}

static void persist_closed(uv_handle_t *h)
{
	vk_pod_persist *ps = h->data;
	cJSON_Delete(ps->pods);
	free_u64_map(ps->pod_rv);
	free_u64_map(ps->written);
	free(ps->rv_loaded);
	free(ps->rv_saved);
	free(ps->pfx);
	free(ps);
}

void vk_pod__persist_checkpoint(vk_pod_persist *ps)
{
	if (!ps || ps->closing || ps->loading)
		return;
	save_rv(ps);
	save_node(ps);
}

void vk_pod__persist_close(vk_pod_persist *ps)
{
	if (!ps || ps->closing)
		return;
	/* Queued after every pod write, like the tick's: a clean stop leaves
	 * the store's resourceVersion as current as its pods. */
	save_rv(ps);
	ps->closing = true;
	if (ps->check)
		ps->check->ps = NULL; /* its callback frees the ticket */
	ps->check = NULL;
	vk_kube_cache_set_hooks(ps->pc->o.kube, NULL);
	vk_store_stats st;
	vk_store_get_stats(ps->store, &st);
	vk_info(SUB, "store %s: %llu pod events, %llu commits, %llu writes (%.3f commits per pod event)",
	        vk_store_name(ps->store), (unsigned long long)ps->events, (unsigned long long)st.commits,
	        (unsigned long long)st.ops, ps->events ? (double)st.commits / (double)ps->events : 0.0);
	uv_close((uv_handle_t *)&ps->tick, persist_closed);
}
