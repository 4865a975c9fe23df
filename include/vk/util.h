/* vk/util.h - logging, memory, growable buffers, backoff, time.  Used by
 * every subsystem; depends on nothing of vk's.
 *
 * Out of memory: vk aborts.  Every allocation of vk's goes through the
 * aborting allocators below (vk_xmalloc, vk_xcalloc, vk_xrealloc, vk_memdupz,
 * vk_strdup, vk_asprintf, and vk_buf_* which grows with them), and cJSON
 * allocates through them too once vk_json_init() (vk/json.h) has run, which
 * main and every test do first.  So no caller checks these for NULL, and
 * no vk function fails with -ENOMEM.  A cJSON call can still return NULL
 * for other reasons (a NULL or invalid argument, a missing key, text that
 * does not parse): those are checked and reported as what they are.
 * Libraries with heaps of their own keep their rules: Lua raises a memory
 * error inside the provider (a Lua error, like any other), and a libcurl
 * call that fails is reported as that call's failure. */
#ifndef VK_UTIL_H
#define VK_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- logging ---------------------------------------------------------
 * One line per record on stderr: "2026-12-01T06:00:00.123Z INFO  node: msg".
 * `sub` names the subsystem (or "pod ns/name") that speaks. */
typedef enum { VK_LOG_DEBUG, VK_LOG_INFO, VK_LOG_WARN, VK_LOG_ERROR } vk_log_level;

void vk_log_set_level(vk_log_level lvl);
/* --log-format json: one object per line, {"time", "level", "message",
 * "component", and "pod" and "callback" when the speaker names them}. */
void vk_log_set_json(bool on);
/* That line for one record (no newline); cJSON_free it.  For the tests. */
char *vk_log_format_json(vk_log_level lvl, const char *ts, const char *sub, const char *msg);
vk_log_level vk_log_get_level(void);
int vk_log_parse_level(const char *s, vk_log_level *out); /* 0 or -EINVAL */
void vk_log(vk_log_level lvl, const char *sub, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vk_logv(vk_log_level lvl, const char *sub, const char *fmt, va_list ap);

#define vk_debug(sub, ...) vk_log(VK_LOG_DEBUG, sub, __VA_ARGS__)
#define vk_info(sub, ...) vk_log(VK_LOG_INFO, sub, __VA_ARGS__)
#define vk_warn(sub, ...) vk_log(VK_LOG_WARN, sub, __VA_ARGS__)
#define vk_error(sub, ...) vk_log(VK_LOG_ERROR, sub, __VA_ARGS__)

/* ---- buffers ---------------------------------------------------------
 * A growable byte buffer that owns its memory and is always NUL-terminated
 * (data may be NULL while len == 0). */
typedef struct {
	char *data;
	size_t len, cap;
} vk_buf;

void vk_buf_append(vk_buf *b, const void *p, size_t n);
void vk_buf_printf(vk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vk_buf_consume(vk_buf *b, size_t n); /* drop the first n bytes */
void vk_buf_reset(vk_buf *b);             /* len = 0, keeps memory */
void vk_buf_free(vk_buf *b);
char *vk_buf_steal(vk_buf *b); /* caller frees; b is left empty */

/* The aborting allocators (see the top of this file).  Free with free(). */
void *vk_xmalloc(size_t n);
void *vk_xcalloc(size_t n, size_t sz);
void *vk_xrealloc(void *p, size_t n);
char *vk_strdup(const char *s); /* NULL-safe: NULL for NULL */
/* A copy of len bytes with a NUL after them (the bytes may hold NULs). */
char *vk_memdupz(const void *p, size_t len);
char *vk_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a whole local file (config, kubeconfig, certificates) at start-up.
 * Never called on the loop for files of unknown size.  Returns 0, or a
 * negative errno and sets *err (malloc'd) to "PATH: reason". */
int vk_read_file(const char *path, vk_buf *out, char **err);

/* ---- packed text -----------------------------------------------------
 * Many similar texts (a cache's JSON objects) kept deflated, with the first
 * text packed as the dictionary of the rest.  A blob is malloc'd (free()
 * it) and self-describing; unpack gives the text back NUL-terminated
 * (caller frees), or NULL if the blob is corrupt.  Loop thread only: the
 * compressor state is shared. */
typedef struct vk_ztext vk_ztext;
vk_ztext *vk_ztext_new(void);
void vk_ztext_free(vk_ztext *z);                                /* after the blobs it packed */
void *vk_ztext_pack(vk_ztext *z, const char *text, size_t len); /* NULL: too big */
char *vk_ztext_unpack(const vk_ztext *z, const void *blob);
size_t vk_ztext_len(const void *blob);           /* the text's length */
size_t vk_ztext_size(const void *blob);          /* the blob's own size */
bool vk_ztext_check(const void *blob, size_t n); /* n bytes look like a whole blob */

/* ---- time ------------------------------------------------------------ */
uint64_t vk_now_ms(void);  /* monotonic */
uint64_t vk_wall_ms(void); /* realtime, ms since epoch */
/* RFC 3339 UTC, "2026-12-01T06:00:00Z" (micro=false) or with ".000000Z". */
void vk_rfc3339(char out[40], uint64_t wall_ms, bool micro);

/* ---- backoff ---------------------------------------------------------
 * Exponential backoff with full jitter in [d/2, d], d = min(max, base*2^n);
 * `exact` leaves the jitter out (kubelet's crash and image-pull backoff). */
typedef struct {
	uint64_t base_ms, max_ms;
	unsigned attempt;
	bool exact;
} vk_backoff;

uint64_t vk_backoff_next(vk_backoff *b);
void vk_backoff_reset(vk_backoff *b);

/* ---- string map ------------------------------------------------------
 * A hash map from NUL-terminated string keys (copied, owned by the map) to
 * caller-owned pointers.  Iteration order is unspecified; removing the
 * current entry while iterating with vk_map_next is allowed. */
typedef struct vk_map vk_map;
typedef struct {
	size_t bucket;
	void *entry;
} vk_map_iter;

vk_map *vk_map_new(void);
void vk_map_free(vk_map *m); /* frees keys, not values */
void *vk_map_get(const vk_map *m, const char *key);
/* Sets key to val; returns the previous value or NULL. */
void *vk_map_set(vk_map *m, const char *key, void *val);
void *vk_map_del(vk_map *m, const char *key); /* returns the removed value */
size_t vk_map_len(const vk_map *m);
/* for (vk_map_iter it = {0}; vk_map_next(m, &it, &k, &v);) ... */
bool vk_map_next(const vk_map *m, vk_map_iter *it, const char **key, void **val);

/* Standard base64 (RFC 4648), as Go's encoding/base64 StdEncoding reads
 * kubeconfig *-data fields and Secret data: line breaks are ignored,
 * padding optional.  Appends to `out`; returns 0 or -EINVAL. */
int vk_base64_decode(const char *in, size_t len, vk_buf *out);
/* Appends the padded standard encoding of in[0..len); 0 or -ENOMEM. */
void vk_base64_encode(const void *in, size_t len, vk_buf *out);

/* The value of one hex digit, or -1. */
int vk_hexval(char c);

/* 64-bit FNV-1a of a string; never 0, so 0 can mean "none". */
uint64_t vk_hash64(const char *s);

/* Small helpers. */
#define VK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VK_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
