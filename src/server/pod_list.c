/* GET /pods from the pod controller: the PodList streamed a chunk at a time.
 *
 * The pods' names are taken when the request comes (a snapshot of some 40
 * bytes a pod).  Each pod's tree is built, printed and freed while the
 * chunk that holds it is made, and the next chunk is made only when h2o
 * has sent the last one (proceed), so a slow client slows the listing and
 * never grows a buffer.  vk holds one chunk of text and one pod's tree,
 * whatever the number of pods: built whole, a PodList of 10,000 pods was a
 * tree of some 150 MiB and its text besides.
 *
 * A pod gone between the snapshot and its turn is left out; a pod that came
 * meanwhile is in the next listing, not this one.  When the pod controller
 * goes away mid-listing (vk stops), the response is cut with an error
 * rather than ended as a shorter, valid-looking list.
 *
 * Ownership: the listing lives in the request's pool; the pool's dispose
 * hook frees its names and chunk, after h2o is done with both. */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define CHUNK_BYTES (64 * 1024)

typedef struct {
	h2o_generator_t gen; /* first: h2o hands it back */
	vk_server *s;
	h2o_req_t *req;
	char **names; /* each "namespace\0name" */
	size_t n, cap, next;
	vk_buf chunk;     /* what h2o holds until proceed */
	bool started;     /* the list's head is written */
	bool items;       /* an item is written: the next one needs a comma */
	bool ended;       /* the list's end is written */
	size_t max_chunk; /* the largest chunk made, for the unit test */
} pod_list;

static size_t last_max_chunk;

size_t vk_server__pod_list_max_chunk(void)
{
	size_t m = last_max_chunk;
	last_max_chunk = 0;
	return m;
}

static void on_dispose(void *p)
{
	pod_list *l = p;
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	vk_buf_free(&l->chunk);
	if (l->max_chunk > last_max_chunk)
		last_max_chunk = l->max_chunk;
}

static void add_name(const char *ns, const char *name, void *arg)
{
	pod_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->names = vk_xrealloc(l->names, l->cap * sizeof *l->names);
	}
	size_t a = strlen(ns ? ns : ""), b = strlen(name);
	char *p = vk_xmalloc(a + b + 2);
	memcpy(p, ns ? ns : "", a + 1);
	memcpy(p + a + 1, name, b + 1);
	l->names[l->n++] = p;
}

/* The next chunk: whole pods until it holds CHUNK_BYTES (one pod may take
 * it past), and the list's end after the last. */
static h2o_send_state_t fill(pod_list *l)
{
	vk_buf_reset(&l->chunk);
	if (!l->started) {
		static const char head[] = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[";
		vk_buf_append(&l->chunk, head, sizeof head - 1);
		l->started = true;
	}
	while (l->chunk.len < CHUNK_BYTES && l->next < l->n) {
		if (!l->s->pod_fn)
			return H2O_SEND_STATE_ERROR;
		const char *ns = l->names[l->next];
		const char *name = ns + strlen(ns) + 1;
		cJSON *pod = l->s->pod_fn(l->s->pods_ud, *ns ? ns : NULL, name);
		free(l->names[l->next]);
		l->names[l->next++] = NULL;
		char *text = pod ? cJSON_PrintUnformatted(pod) : NULL;
		cJSON_Delete(pod);
		if (!text)
			continue; /* gone since the snapshot */
		if (l->items)
			vk_buf_append(&l->chunk, ",", 1);
		vk_buf_append(&l->chunk, text, strlen(text));
		free(text);
		l->items = true;
	}
	if (l->chunk.len > l->max_chunk)
		l->max_chunk = l->chunk.len;
	if (l->next < l->n)
		return H2O_SEND_STATE_IN_PROGRESS;
	/* The end goes out as a chunk of its own, then the final state with no
	 * data: h2o 2.2.5 never finished an HTTP/2 stream whose final send
	 * carried 60 KB (the unit test's first HTTP/2 listing timed out). */
	if (l->ended)
		return H2O_SEND_STATE_FINAL;
	vk_buf_append(&l->chunk, "]}", 2);
	l->ended = true;
	return H2O_SEND_STATE_IN_PROGRESS;
}

static void send_next(pod_list *l)
{
	h2o_send_state_t st = fill(l);
	if (st == H2O_SEND_STATE_ERROR)
		vk_warn("server", "/pods: the pod controller stopped during the listing; the answer is cut");
	h2o_iovec_t b = h2o_iovec_init(l->chunk.data, st == H2O_SEND_STATE_ERROR ? 0 : l->chunk.len);
	h2o_send(l->req, &b, b.len ? 1 : 0, st);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
	(void)req;
	send_next((pod_list *)g);
}

/* The client went away: the pool's dispose frees the listing. */
static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
	(void)g;
	(void)req;
}

void vk_server__pod_list(vk_server *s, h2o_req_t *req)
{
	pod_list *l = h2o_mem_alloc_shared(&req->pool, sizeof *l, on_dispose);
	memset(l, 0, sizeof *l);
	l->gen.proceed = on_proceed;
	l->gen.stop = on_stop;
	l->s = s;
	l->req = req;
	s->pod_names_fn(s->pods_ud, add_name, l);
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
	h2o_start_response(req, &l->gen);
	send_next(l);
}
