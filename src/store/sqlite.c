/* sqlite.c - the embedded backend: SQLite in STATE_DIR/vk.db, WAL mode.
 *
 * SQLite's I/O blocks, so one thread of this backend owns the connection
 * and runs the requests in the order the loop gave them; the loop only
 * queues a request (mutex + condition) and receives it back done (uv_async).
 * A batch is one transaction, so an event storm costs one fsync per flush
 * of the write-behind, not one per event.  Fresher-wins is decided inside
 * the transaction, which holds SQLite's write lock: nothing can slip in
 * between the check and the write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store_int.h"

typedef struct {
	vk_store *s;
	char *path;
	uv_thread_t th;
	uv_mutex_t mu;
	uv_cond_t cv;
	uv_async_t async;
	bool stop;
	vk_store_req *in_head, *in_tail;   /* to the thread */
	vk_store_req *out_head, *out_tail; /* back to the loop */
	/* set by the thread before the first request runs */
	bool open_done, open_reported;
	int open_status;
	char *open_err;
	/* thread only */
	sqlite3 *db;
	sqlite3_stmt *get, *list, *put, *del, *purge;
} sq;

static void push(vk_store_req **head, vk_store_req **tail, vk_store_req *r)
{
	r->next = NULL;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
}

static bool is_corrupt(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

/* "FILE: what" plus, for a corrupt file, the way out. */
static char *db_error(sq *q, int rc, const char *what)
{
	if (is_corrupt(rc))
		return vk_asprintf("%s: %s (the file is corrupt); move it aside (mv %s %s.corrupt) "
		                   "and vk rebuilds it from the API when online",
		                   q->path, what, q->path, q->path);
	return vk_asprintf("%s: %s", q->path, what);
}

static int mkdirs(const char *dir)
{
	char *p = vk_strdup(dir);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			free(p);
			return -e;
		}
		*c = '/';
	}
	int rc = mkdir(p, 0700) != 0 && errno != EEXIST ? -errno : 0;
	free(p);
	return rc;
}

static int db_open(sq *q, char **err)
{
	int rc = mkdirs(q->s->state_dir);
	if (rc) {
		*err = vk_asprintf("%s: cannot create the state directory: %s", q->s->state_dir, strerror(-rc));
		return VK_STORE_EIO;
	}
	rc = sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*err = db_error(q, rc, q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		return VK_STORE_EIO;
	}
	/* Pod specs and (sealed) Secrets: for vk's eyes only.  SQLite gives
	 * the -wal and -shm files the database file's mode. */
	chmod(q->path, 0600);
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, 5000);
	static const char *setup[] = {
		"PRAGMA journal_mode=WAL",
		/* Each transaction reaches the disk: a batch is one fsync. */
		"PRAGMA synchronous=FULL",
		/* A page cache of 256 KiB, not SQLite's 2 MiB: the store is written
	         * in batches and read whole only at start-up, and the kernel's page
	         * cache holds the file anyway.  At 10,000 pods the 2 MiB cache was
	         * full, 5% of vk's RssAnon (tests/bench/run.sh --pods 10000). */
		"PRAGMA cache_size=-256",
		"CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, "
		"rv INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
		"CREATE INDEX IF NOT EXISTS kv_expires ON kv(expires) WHERE expires > 0",
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(setup); i++) {
		char *msg = NULL;
		rc = sqlite3_exec(q->db, setup[i], NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			*err = db_error(q, rc, msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			return VK_STORE_EIO;
		}
	}
	/* A file that opens may still be damaged inside; quick_check reads
	 * every page once (fast for a cache of this size). */
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(q->db, "PRAGMA quick_check", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(st, 0);
		if (!res || strcmp(res, "ok") != 0) {
			char *what = vk_asprintf("integrity check failed: %s", res ? res : "?");
			*err = db_error(q, SQLITE_CORRUPT, what);
			free(what);
			sqlite3_finalize(st);
			return VK_STORE_EIO;
		}
	} else {
		*err = db_error(q, rc, sqlite3_errmsg(q->db));
		sqlite3_finalize(st);
		return VK_STORE_EIO;
	}
	sqlite3_finalize(st);
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} prep[] = {
		{&q->get, "SELECT value, rv, expires FROM kv WHERE key = ?1"},
		{&q->list, "SELECT key, value, rv FROM kv WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) "
	                   "AND (expires = 0 OR expires > ?3) ORDER BY key"},
		{&q->put, "INSERT OR REPLACE INTO kv (key, value, rv, expires) VALUES (?1, ?2, ?3, ?4)"},
		{&q->del, "DELETE FROM kv WHERE key = ?1"},
		{&q->purge, "DELETE FROM kv WHERE expires > 0 AND expires <= ?1"},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(prep); i++) {
		rc = sqlite3_prepare_v3(q->db, prep[i].sql, -1, SQLITE_PREPARE_PERSISTENT, prep[i].st, NULL);
		if (rc != SQLITE_OK) {
			*err = db_error(q, rc, sqlite3_errmsg(q->db));
			return VK_STORE_EIO;
		}
	}
	return 0;
}

static void db_close(sq *q)
{
	sqlite3_finalize(q->get);
	sqlite3_finalize(q->list);
	sqlite3_finalize(q->put);
	sqlite3_finalize(q->del);
	sqlite3_finalize(q->purge);
	if (q->db)
		sqlite3_close(q->db);
	q->db = NULL;
}

static void fail_db(sq *q, vk_store_req *r, int rc)
{
	char *m = db_error(q, rc, sqlite3_errmsg(q->db));
	/* The message already names the file; don't prefix it again. */
	free(r->err);
	r->err = m;
	r->status = VK_STORE_EIO;
}

/* Reads key's live record: 1 found, 0 none, <0 SQLite error. */
static int read_one(sq *q, const char *key, uint64_t now, vk_store_req *r, uint64_t *rv)
{
	sqlite3_reset(q->get);
	sqlite3_bind_text(q->get, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q->get);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -rc;
	int64_t exp = sqlite3_column_int64(q->get, 2);
	if (exp > 0 && (uint64_t)exp <= now)
		return 0;
	*rv = (uint64_t)sqlite3_column_int64(q->get, 1);
	if (r)
		vk_store__add_rec(r, key, strlen(key), sqlite3_column_blob(q->get, 0),
		                  (size_t)sqlite3_column_bytes(q->get, 0), *rv);
	return 1;
}

static void run_get(sq *q, vk_store_req *r)
{
	uint64_t rv;
	int rc = read_one(q, r->key, vk_wall_ms(), r, &rv);
	sqlite3_reset(q->get);
	if (rc < 0)
		fail_db(q, r, -rc);
	else if (rc == 0)
		r->status = VK_STORE_ENOENT;
}

static void run_list(sq *q, vk_store_req *r)
{
	/* The keys with this prefix are [prefix, prefix with its last byte
	 * incremented) in SQLite's byte order. */
	size_t n = strlen(r->key);
	char *end = vk_strdup(r->key);
	while (n && (unsigned char)end[n - 1] == 0xff)
		n--;
	end[n] = 0;
	if (n)
		end[n - 1]++;
	sqlite3_reset(q->list);
	sqlite3_bind_text(q->list, 1, r->key, -1, SQLITE_STATIC);
	if (n)
		sqlite3_bind_text(q->list, 2, end, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q->list, 2);
	sqlite3_bind_int64(q->list, 3, (int64_t)vk_wall_ms());
	int rc;
	while ((rc = sqlite3_step(q->list)) == SQLITE_ROW)
		vk_store__add_rec(r, (const char *)sqlite3_column_text(q->list, 0),
		                  (size_t)sqlite3_column_bytes(q->list, 0), sqlite3_column_blob(q->list, 1),
		                  (size_t)sqlite3_column_bytes(q->list, 1), (uint64_t)sqlite3_column_int64(q->list, 2));
	if (rc != SQLITE_DONE)
		fail_db(q, r, rc);
	sqlite3_reset(q->list);
	free(end);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void run_commit(sq *q, vk_store_req *r)
{
	uint64_t now = vk_wall_ms();
	int rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		fail_db(q, r, rc);
		return;
	}
	sqlite3_bind_int64(q->purge, 1, (int64_t)now);
	rc = step_done(q->purge);
	for (size_t i = 0; rc == SQLITE_OK && i < r->batch->n; i++) {
		vk_store__op *op = &r->batch->ops[i];
		uint64_t stored = 0;
		int found = read_one(q, op->key, now, NULL, &stored);
		sqlite3_reset(q->get);
		if (found < 0) {
			rc = -found;
			break;
		}
		if (!vk_store__fresh_enough(op->rv, found, stored)) {
			r->results[i] = VK_STORE_ESTALE;
			continue;
		}
		r->results[i] = 0;
		if (op->kind == VK_STORE__PUT) {
			sqlite3_bind_text(q->put, 1, op->key, -1, SQLITE_STATIC);
			sqlite3_bind_blob(q->put, 2, op->value, (int)op->len, SQLITE_STATIC);
			sqlite3_bind_int64(q->put, 3, (int64_t)op->rv);
			sqlite3_bind_int64(q->put, 4, op->ttl_s ? (int64_t)(now + 1000ull * op->ttl_s) : 0);
			rc = step_done(q->put);
		} else {
			sqlite3_bind_text(q->del, 1, op->key, -1, SQLITE_STATIC);
			rc = step_done(q->del);
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		fail_db(q, r, rc);
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	}
}

static void thread_main(void *arg)
{
	sq *q = arg;
	char *err = NULL;
	int st = db_open(q, &err);
	uv_mutex_lock(&q->mu);
	q->open_status = st;
	q->open_err = err;
	q->open_done = true;
	uv_mutex_unlock(&q->mu);
	uv_async_send(&q->async);
	for (;;) {
		uv_mutex_lock(&q->mu);
		while (!q->stop && !q->in_head)
			uv_cond_wait(&q->cv, &q->mu);
		if (q->stop) {
			uv_mutex_unlock(&q->mu);
			break;
		}
		vk_store_req *r = q->in_head;
		q->in_head = r->next;
		if (!q->in_head)
			q->in_tail = NULL;
		uv_mutex_unlock(&q->mu);

		if (st) {
			r->status = st;
			r->err = vk_strdup(err);
		} else if (r->type == VK_STORE__GET) {
			run_get(q, r);
		} else if (r->type == VK_STORE__LIST) {
			run_list(q, r);
		} else if (r->type == VK_STORE__COMMIT) {
			run_commit(q, r);
		}
		uv_mutex_lock(&q->mu);
		push(&q->out_head, &q->out_tail, r);
		uv_mutex_unlock(&q->mu);
		uv_async_send(&q->async);
	}
	db_close(q);
}

static void on_async(uv_async_t *a)
{
	sq *q = a->data;
	uv_mutex_lock(&q->mu);
	vk_store_req *done = q->out_head;
	q->out_head = q->out_tail = NULL;
	bool report = q->open_done && !q->open_reported;
	q->open_reported |= report;
	uv_mutex_unlock(&q->mu);
	if (report)
		vk_store__opened(q->s, q->open_status, q->open_err);
	while (done) {
		vk_store_req *r = done;
		done = r->next;
		r->next = NULL;
		if (q->s->closing)
			vk_store__drop(r);
		else
			vk_store__done(r);
	}
}

static void free_unstarted(uv_handle_t *h)
{
	sq *q = h->data;
	free(q->path);
	free(q);
}

/* SQLite starts each page cache it makes with a block of 20 pages, 85 KiB,
 * and writes a header into every page of it: resident at once.  The
 * store's connection made two (heaptrack), where a store of a few pods
 * fills a handful of pages.  Without the block, pages are allocated as they
 * are filled, up to cache_size.  This must come before SQLite initialises
 * itself; if something in the process got there first, the call fails and
 * changes nothing. */
static void page_cache_on_demand(void) { sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)NULL, 0, 0); }

static int sq_start(vk_store *s, char **err)
{
	static uv_once_t once = UV_ONCE_INIT;
	uv_once(&once, page_cache_on_demand);
	sq *q = vk_xcalloc(1, sizeof *q);
	q->s = s;
	q->path = vk_asprintf("%s/vk.db", s->state_dir);
	uv_mutex_init(&q->mu);
	uv_cond_init(&q->cv);
	uv_async_init(s->loop, &q->async, on_async);
	q->async.data = q;
	s->bd = q;
	int rc = uv_thread_create(&q->th, thread_main, q);
	if (rc) {
		*err = vk_asprintf("%s: cannot start the store thread: %s", q->path, uv_strerror(rc));
		s->bd = NULL;
		uv_mutex_destroy(&q->mu);
		uv_cond_destroy(&q->cv);
		uv_close((uv_handle_t *)&q->async, free_unstarted);
		return VK_STORE_EIO;
	}
	return 0;
}

static void sq_submit(vk_store *s, vk_store_req *r)
{
	sq *q = s->bd;
	uv_mutex_lock(&q->mu);
	push(&q->in_head, &q->in_tail, r);
	uv_cond_signal(&q->cv);
	uv_mutex_unlock(&q->mu);
}

static void sq_closed(uv_handle_t *h)
{
	sq *q = h->data;
	vk_store *s = q->s;
	free(q->path);
	free(q->open_err);
	free(q);
	vk_store__closed(s);
}

static void drop_all(vk_store_req *r)
{
	while (r) {
		vk_store_req *n = r->next;
		vk_store__drop(r);
		r = n;
	}
}

static void sq_close(vk_store *s)
{
	sq *q = s->bd;
	uv_mutex_lock(&q->mu);
	q->stop = true;
	uv_cond_signal(&q->cv);
	uv_mutex_unlock(&q->mu);
	/* Waits for the request running now, if any (one SQLite transaction). */
	uv_thread_join(&q->th);
	drop_all(q->in_head);
	drop_all(q->out_head);
	q->in_head = q->in_tail = q->out_head = q->out_tail = NULL;
	uv_mutex_destroy(&q->mu);
	uv_cond_destroy(&q->cv);
	uv_close((uv_handle_t *)&q->async, sq_closed);
}

const vk_store__backend vk_store__sqlite = {sq_start, sq_submit, sq_close};
