/* vk/store.h - the local store: vk's edge cache and the providers' own data.
 *
 * One interface, three backends chosen by URL (see vk_store_url_parse):
 *
 *   embedded                     SQLite in STATE_DIR/vk.db, WAL mode, run on a
 *                                thread of its own; the loop only hands over
 *                                and receives batches.
 *   redis://[:PASS@]HOST:PORT[/DB]  hiredis with its libuv adapter, on the loop.
 *   etcd://HOST:PORT             etcd v3's JSON gateway (/v3/kv/...) over
 *                                vk's curl multi handle (vk/http.h).
 *
 * Records: a key (a NUL-terminated string without NUL bytes) maps to a value
 * (bytes, usually JSON text) and a version `rv`, a Kubernetes
 * resourceVersion read as an unsigned 64-bit number (vk_store_rv).
 *
 * FRESHER WINS.  A put with rv > 0 is refused with VK_STORE_ESTALE when the
 * stored record has a greater rv; equal or smaller stored rv, or no record,
 * and the put is applied.  rv == 0 means "unversioned": always applied, and
 * the record then has rv 0.  The check and the write are one atomic step in
 * every backend (a SQLite transaction, a redis EVAL script, an etcd txn
 * compare), so two writers cannot race a stale object over a fresh one.
 * A delete with rv > 0 likewise only removes a record whose rv <= rv.
 *
 * TTL: a put may carry ttl_s > 0; the record vanishes after about that many
 * seconds (gets and lists no longer see it).  0 = no expiry.
 *
 * CALLBACKS AND ERRORS (as in libuv): every asynchronous call returns 0 and
 * later invokes its callback exactly once (unless the store is closed
 * first, see vk_store_close), or returns a negative error and never invokes
 * its callback.  Callbacks always run on the loop thread, never from inside
 * the call that started them.  Status values are 0 or negative:
 *   VK_STORE_ENOENT   get: no such key (or expired)
 *   VK_STORE_ESTALE   put/delete: refused by fresher-wins (nothing changed)
 *   VK_STORE_EDOWN    the backend cannot be reached (connection refused,
 *                     reset, timed out); retrying later may work
 *   VK_STORE_EIO      the backend answered with an error, or a corrupt file
 *   VK_STORE_EINVAL   bad argument (also returned synchronously)
 *   VK_STORE_ENOMEM
 * With a non-zero status, `err` is a one-line human message naming the
 * store (URL or file) and what went wrong; it is valid during the callback.
 *
 * OWNERSHIP: keys and values passed in are copied before the call returns.
 * Results passed to callbacks (values, lists) belong to the store and are
 * valid only during the callback; copy what you keep.
 *
 * Loop thread only, except where said otherwise. */
#ifndef VK_STORE_H
#define VK_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "vk/http.h"

#define VK_STORE_ENOENT (-ENOENT)
#define VK_STORE_ESTALE (-ESTALE)
#define VK_STORE_EDOWN (-ENOTCONN)
#define VK_STORE_EIO (-EIO)
#define VK_STORE_EINVAL (-EINVAL)
#define VK_STORE_ENOMEM (-ENOMEM)

/* A short name for a status ("stale", "down"...). */
const char *vk_store_strerror(int status);

/* ---- URLs (src/store/url.c) -------------------------------------------- */
typedef enum { VK_STORE_EMBEDDED, VK_STORE_REDIS, VK_STORE_ETCD } vk_store_kind;

typedef struct {
	vk_store_kind kind;
	char *host;     /* redis, etcd; malloc'd */
	int port;       /* redis, etcd */
	char *password; /* redis; NULL when none; malloc'd */
	int db;         /* redis database number (default 0) */
} vk_store_url;

/* Parses "embedded" (also NULL or ""), "redis://[:PASS@]HOST:PORT[/DB]" or
 * "etcd://HOST:PORT".  Returns 0, or VK_STORE_EINVAL and sets *err
 * (malloc'd, caller frees) to one line such as
 * "--store 'redis://x': no port (expected redis://[:PASSWORD@]HOST:PORT[/DB])".
 * On success the caller frees the result with vk_store_url_free. */
int vk_store_url_parse(const char *url, vk_store_url *out, char **err);
void vk_store_url_free(vk_store_url *u);

/* ---- opening and closing ------------------------------------------------ */
typedef struct vk_store vk_store;

typedef struct {
	uv_loop_t *loop;       /* required */
	vk_http *http;         /* required for etcd:// (shared multi handle) */
	const char *url;       /* NULL/""/"embedded", redis://..., etcd://... */
	const char *state_dir; /* embedded: the folder of vk.db, created (0700)
	                          if missing; required for embedded */
	const char *prefix;    /* NULL, or a namespace prepended to every key
	                          of this handle (e.g. "vk/node1/"); list()
	                          results have it stripped again */
	unsigned timeout_ms;   /* per request for redis/etcd; 0 = 5000 */
} vk_store_opts;

/* Called once when the store is first reachable (status 0) or not
 * (status < 0 with err, e.g. "etcd://127.0.0.1:1: connection refused" or
 * "/var/lib/vk/n1/vk.db: file is not a database (corrupt?); move it aside
 * and vk rebuilds it from the API when online").  On failure the caller
 * still owns `s` and must vk_store_close it. */
typedef void (*vk_store_open_cb)(vk_store *s, int status, const char *err, void *ud);

/* Creates the handle and starts connecting/opening.  Returns 0 and sets
 * *out, or a negative status and sets *err (malloc'd; caller frees) for
 * errors found without I/O (bad URL, missing loop/http/state_dir); then the
 * callback is not called and nothing needs closing.  Requests may be issued
 * before on_open fires; they wait for the connection (and fail with
 * VK_STORE_EDOWN if it cannot be made).  After the open, a backend that goes
 * away is reconnected on the next request; requests fail with
 * VK_STORE_EDOWN meanwhile (the write-behind below retries them). */
int vk_store_open(const vk_store_opts *o, vk_store_open_cb on_open, void *ud, vk_store **out, char **err);

/* For start-up only (main, before anything else runs on the loop): opens
 * the store and runs `loop` until it answers.  Returns the store, or NULL
 * and sets *err (malloc'd, one line naming the URL or file and what is
 * wrong: unreachable, corrupt, bad URL). */
vk_store *vk_store_open_startup(uv_loop_t *loop, vk_http *http, const char *url, const char *state_dir, char **err);

/* Fails every request in flight (their callbacks are NOT called), stops the
 * backend's thread/connection and frees the handle once its uv handles are
 * closed.  Safe from inside any callback of this store. */
void vk_store_close(vk_store *s);

/* The URL or file this store is ("embedded:/var/lib/vk/n1/vk.db", "redis://
 * 127.0.0.1:6379/0"), without the password; for messages. */
const char *vk_store_name(const vk_store *s);
vk_store_kind vk_store_kind_of(const vk_store *s);

/* ---- requests ----------------------------------------------------------- */
typedef struct {
	const char *key;   /* without the handle's prefix */
	const char *value; /* NUL-terminated as a convenience */
	size_t len;
	uint64_t rv;
} vk_store_rec;

typedef void (*vk_store_get_cb)(vk_store *s, int status, const char *err, const vk_store_rec *rec, void *ud);
/* status 0: done; VK_STORE_ESTALE: refused by fresher-wins; else failed. */
typedef void (*vk_store_write_cb)(vk_store *s, int status, const char *err, void *ud);
/* recs sorted by key; n may be 0. */
typedef void (*vk_store_list_cb)(vk_store *s, int status, const char *err, const vk_store_rec *recs, size_t n,
                                 void *ud);

int vk_store_get(vk_store *s, const char *key, vk_store_get_cb cb, void *ud);
/* cb may be NULL (fire and forget; a failure is logged at debug level). */
int vk_store_put(vk_store *s, const char *key, const void *value, size_t len, uint64_t rv, unsigned ttl_s,
                 vk_store_write_cb cb, void *ud);
/* Deleting a missing key is status 0. */
int vk_store_delete(vk_store *s, const char *key, uint64_t rv, vk_store_write_cb cb, void *ud);
/* Every live record whose key starts with `prefix` ("" for all). */
int vk_store_list(vk_store *s, const char *prefix, vk_store_list_cb cb, void *ud);

/* ---- batches -------------------------------------------------------------
 * Several puts and deletes committed as ONE transaction (one fsync for the
 * embedded store, one EVAL for redis, one txn for etcd).  Fresher-wins is
 * decided per operation: a stale op is skipped (its result is
 * VK_STORE_ESTALE) while the others commit.  The batch either commits as a
 * whole or not at all (status < 0, every result undefined). */
typedef struct vk_store_batch vk_store_batch;

vk_store_batch *vk_store_batch_new(void);
void vk_store_batch_put(vk_store_batch *b, const char *key, const void *value, size_t len, uint64_t rv, unsigned ttl_s);
void vk_store_batch_delete(vk_store_batch *b, const char *key, uint64_t rv);
size_t vk_store_batch_len(const vk_store_batch *b);
/* Frees a batch that was not committed. */
void vk_store_batch_free(vk_store_batch *b);

/* results[i] is the status of the i-th op (0 or VK_STORE_ESTALE) when
 * status == 0. */
typedef void (*vk_store_commit_cb)(vk_store *s, int status, const char *err, const int *results, size_t n, void *ud);
/* Takes ownership of `b` whatever it returns.  An empty batch is fine. */
int vk_store_commit(vk_store *s, vk_store_batch *b, vk_store_commit_cb cb, void *ud);

/* ---- counters (for tests, the bench and metrics) -------------------------- */
typedef struct {
	uint64_t commits;  /* transactions sent to the backend (puts, deletes,
	                      batches; each counts 1) */
	uint64_t ops;      /* puts + deletes inside them */
	uint64_t stale;    /* ops refused by fresher-wins */
	uint64_t failures; /* requests that ended with EDOWN/EIO */
} vk_store_stats;
void vk_store_get_stats(const vk_store *s, vk_store_stats *out);

/* Parses a resourceVersion ("12345") as used for `rv`; 0 when NULL, empty
 * or not a decimal number (then the write is unversioned). */
uint64_t vk_store_rv(const char *resource_version);

/* ---- write-behind (src/store/writeback.c) ---------------------------------
 * What the controllers call.  Writes are coalesced per key in memory (the
 * last one wins, except that a pending write with a greater rv is kept) and
 * flushed as one batch every `flush_ms` or as soon as `max_pending` keys
 * wait.  While the store is down the pending writes stay in memory (bounded
 * by nothing but the number of keys: one entry per key) and the flush is
 * retried with backoff; vk logs ONE warning line when the store goes away
 * and ONE info line when it is back, then writes what it missed.  Nothing
 * here ever blocks the loop. */
typedef struct vk_store_wb vk_store_wb;

typedef struct {
	unsigned flush_ms;      /* 0 = 50 */
	unsigned max_pending;   /* 0 = 256: flush at once at this many keys */
	unsigned retry_base_ms; /* 0 = 200 */
	unsigned retry_max_ms;  /* 0 = 5000 */
} vk_store_wb_opts;

/* `s` must outlive the write-behind.  opts may be NULL. */
vk_store_wb *vk_store_wb_new(vk_store *s, const vk_store_wb_opts *opts);
/* Stops timers and frees the pending writes (nothing more is written; call
 * vk_store_wb_flush first and wait for it to keep them).  A flush still
 * waiting is called back at once with -ECANCELED (from inside this call).
 * Memory is freed from uv_close callbacks. */
void vk_store_wb_close(vk_store_wb *w);

/* Queue a put/delete of `key`; copies everything.  Never fails. */
void vk_store_wb_put(vk_store_wb *w, const char *key, const void *value, size_t len, uint64_t rv, unsigned ttl_s);
void vk_store_wb_delete(vk_store_wb *w, const char *key, uint64_t rv);

/* Read-your-writes: if `key` has a pending write, sets *value and *len (NULL for
 * a pending delete; valid until the next call into the write-behind) and
 * *rv and returns true; otherwise false (then ask the store). */
bool vk_store_wb_pending(const vk_store_wb *w, const char *key, const char **value, size_t *len, uint64_t *rv);

/* Called when everything queued up to now is committed (status 0), or with
 * the first error if the store is down (the writes stay pending). */
typedef void (*vk_store_wb_flush_cb)(vk_store_wb *w, int status, void *ud);
/* Flush now.  cb may be NULL.  Returns 0 (cb will be called). */
int vk_store_wb_flush(vk_store_wb *w, vk_store_wb_flush_cb cb, void *ud);

size_t vk_store_wb_len(const vk_store_wb *w); /* keys pending */
bool vk_store_wb_is_down(const vk_store_wb *w);

/* ---- secrets at rest (src/store/seal.c) ----------------------------------
 * AES-256-GCM through OpenSSL EVP.  A sealed blob is text, safe to store as
 * a value: "vk1:" + base64(12-byte nonce | ciphertext | 16-byte tag). */
#define VK_STORE_KEY_LEN 32

/* Reads --state-key-file: exactly 32 raw bytes, or 64 hex digits, or 44
 * base64 characters (a trailing newline is ignored).  Returns 0, or a
 * negative errno and sets *err (malloc'd) to "FILE: reason". Start-up only
 * (blocking read). */
int vk_store_key_load(const char *path, uint8_t key[VK_STORE_KEY_LEN], char **err);

/* Seals `len` bytes; returns a malloc'd NUL-terminated blob (caller frees). */
char *vk_store_seal(const uint8_t key[VK_STORE_KEY_LEN], const void *plain, size_t len);
/* Opens a blob; returns malloc'd plaintext (NUL-terminated; *len set) or NULL
 * when the blob is malformed or was sealed with another key / tampered. */
char *vk_store_unseal(const uint8_t key[VK_STORE_KEY_LEN], const char *blob, size_t blob_len, size_t *len);

#endif
