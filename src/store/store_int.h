/* store_int.h - what the store's front (store.c) and its backends share.
 *
 * Every request the front accepts becomes one vk_store_req handed to the
 * backend's submit().  The backend fills in the result fields and calls
 * vk_store__done() on the loop thread, never from inside submit() (use
 * vk_store__done_later() for a failure found at once). */
#ifndef VK_STORE_INT_H
#define VK_STORE_INT_H

#include "vk/store.h"
#include "vk/util.h"

enum { VK_STORE__GET, VK_STORE__LIST, VK_STORE__COMMIT, VK_STORE__PING };
enum { VK_STORE__PUT, VK_STORE__DEL };

typedef struct {
	int kind;    /* VK_STORE__PUT / VK_STORE__DEL */
	char *key;   /* full key (the handle's prefix included) */
	char *value; /* puts; NUL-terminated copy */
	size_t len;
	uint64_t rv;
	unsigned ttl_s;
} vk_store__op;

struct vk_store_batch {
	vk_store__op *ops;
	size_t n, cap;
};

typedef struct vk_store_req vk_store_req;
struct vk_store_req {
	vk_store *s;
	int type;
	char *key;             /* GET: full key; LIST: full prefix */
	vk_store_batch *batch; /* COMMIT */
	union {
		vk_store_get_cb get;
		vk_store_list_cb list;
		vk_store_commit_cb commit;
		vk_store_write_cb write; /* a single put/delete (single == true) */
	} cb;
	bool single;
	void *ud;
	/* results, filled by the backend (owned by the request) */
	int status;
	char *err;          /* malloc'd */
	int *results;       /* COMMIT: batch->n entries */
	vk_store_rec *recs; /* GET (0 or 1) / LIST; keys and values malloc'd */
	size_t nrecs, caprecs;
	vk_store_req *next; /* the front's and backends' queues */
	void *bd;           /* the backend's per-request data */
};

typedef struct {
	/* Starts opening/connecting; when done calls vk_store__opened(). */
	int (*start)(vk_store *s, char **err);
	void (*submit)(vk_store *s, vk_store_req *r);
	/* Drops every request (vk_store__drop), releases the backend; calls
	 * vk_store__closed() once nothing of it is left on the loop. */
	void (*close)(vk_store *s);
} vk_store__backend;

struct vk_store {
	uv_loop_t *loop;
	vk_http *http;
	vk_store_url url;
	char *name;   /* for messages */
	char *prefix; /* "" when none */
	char *state_dir;
	unsigned timeout_ms;
	const vk_store__backend *be;
	void *bd; /* backend state */
	vk_store_open_cb on_open;
	void *open_ud;
	bool opened, closing;
	vk_store_stats stats;
	uv_timer_t later; /* delivers vk_store__done_later results */
	vk_store_req *later_head, *later_tail;
};

extern const vk_store__backend vk_store__sqlite, vk_store__redis, vk_store__etcd;

void vk_store__opened(vk_store *s, int status, const char *err);
void vk_store__opened_later(vk_store *s, int status, const char *err);
void vk_store__done(vk_store_req *r);
void vk_store__done_later(vk_store_req *r);
void vk_store__drop(vk_store_req *r); /* frees without a callback */
void vk_store__closed(vk_store *s);
/* Sets r->status and r->err ("NAME: " + the message). */
void vk_store__fail(vk_store_req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Appends a record (copies key and value). */
void vk_store__add_rec(vk_store_req *r, const char *key, size_t klen, const char *value, size_t len, uint64_t rv);

/* Fresher-wins in one place: may an op with `rv` replace/delete a record
 * holding `stored` (present says whether there is one)? */
static inline bool vk_store__fresh_enough(uint64_t rv, bool present, uint64_t stored)
{
	return rv == 0 || !present || stored <= rv;
}

/* The 20-digit zero-padded decimal of rv (redis and etcd keep it as text
 * so that byte order is numeric order). */
void vk_store__rv_text(char out[21], uint64_t rv);

/* Standard base64 of bytes, malloc'd (etcd's JSON gateway). */
char *vk_store__b64(const void *p, size_t n);

#endif
