/* redis.c - the redis:// backend: hiredis with its libuv adapter, on vk's
 * loop.
 *
 * A record is a hash: "~v" holds the value, "~rv" the version as 20 digits
 * (so that byte order is numeric order).  When the value is a JSON object,
 * its scalar members (and arrays of scalars, joined with ",") are also
 * written as fields of their own, so `redis-cli HGETALL KEY` reads well;
 * reads use "~v" only.  Every write is one EVAL of a small script, which
 * redis runs atomically: fresher-wins cannot race, and a batch is one
 * script.  Replies come in the order the commands were sent, so requests in
 * flight are a FIFO; a watchdog drops the connection when the oldest one
 * waits longer than the timeout, and the next request reconnects. */
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "store_int.h"

static const char COMMIT_LUA[] =
	"local res = {}\n"
	"for i, k in ipairs(KEYS) do\n"
	"  local a = (i - 1) * 4\n"
	"  local kind, rv, ttl, v = ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]\n"
	"  local ok = true\n"
	"  if rv ~= '00000000000000000000' and redis.call('TYPE', k).ok == 'hash' then\n"
	"    local cur = redis.call('HGET', k, '~rv')\n"
	"    if cur and cur > rv then ok = false end\n"
	"  end\n"
	"  if ok then\n"
	"    redis.call('DEL', k)\n"
	"    if kind == 'p' then\n"
	"      local args, n = {'~rv', rv, '~v', v}, 4\n"
	"      if string.sub(v, 1, 1) == '{' then\n"
	"        local okj, obj = pcall(cjson.decode, v)\n"
	"        if okj and type(obj) == 'table' then\n"
	"          for f, x in pairs(obj) do\n"
	"            local t, s = type(x), nil\n"
	"            if t == 'string' or t == 'number' or t == 'boolean' then s = tostring(x)\n"
	"            elseif t == 'table' and #x > 0 then\n"
	"              local parts = {}\n"
	"              for j, y in ipairs(x) do\n"
	"                if type(y) == 'table' then parts = nil break end\n"
	"                parts[j] = tostring(y)\n"
	"              end\n"
	"              if parts then s = table.concat(parts, ',') end\n"
	"            end\n"
	"            if s and type(f) == 'string' and string.sub(f, 1, 1) ~= '~' then\n"
	"              args[n + 1], args[n + 2], n = f, s, n + 2\n"
	"            end\n"
	"          end\n"
	"        end\n"
	"      end\n"
	"      redis.call('HSET', k, unpack(args))\n"
	"      if ttl > 0 then redis.call('EXPIRE', k, ttl) end\n"
	"    end\n"
	"  end\n"
	"  res[i] = ok and 1 or 0\n"
	"end\n"
	"return res\n";

static const char LIST_LUA[] =
	"local out = {}\n"
	"for _, k in ipairs(redis.call('KEYS', ARGV[1])) do\n"
	"  if redis.call('TYPE', k).ok == 'hash' then\n"
	"    local r = redis.call('HMGET', k, '~v', '~rv')\n"
	"    if r[1] then out[#out + 1] = k; out[#out + 1] = r[1]; out[#out + 1] = r[2] or '0' end\n"
	"  end\n"
	"end\n"
	"return out\n";

typedef struct {
	vk_store *s;
	redisAsyncContext *ac;
	bool ready;                          /* handshake answered */
	vk_store_req *wait_head, *wait_tail; /* until ready */
	vk_store_req *fly_head, *fly_tail;   /* sent, in order */
	uint64_t last_ms;                    /* last send into an empty FIFO, or reply */
	uv_timer_t watchdog;
	char *down_err; /* why the last connection failed */
} rd;

static void push(vk_store_req **h, vk_store_req **t, vk_store_req *r)
{
	r->next = NULL;
	if (*t)
		(*t)->next = r;
	else
		*h = r;
	*t = r;
}

static vk_store_req *pop(vk_store_req **h, vk_store_req **t)
{
	vk_store_req *r = *h;
	if (r) {
		*h = r->next;
		if (!*h)
			*t = NULL;
		r->next = NULL;
	}
	return r;
}

static void on_watchdog(uv_timer_t *t);

/* The watchdog runs while something waits for redis: like any request in
 * flight, it keeps the loop alive, and it is what ends a connection attempt
 * that never completes (libuv reports a refused connect as a poll error,
 * which hiredis 0.14's adapter ignores). */
static void watch(rd *b)
{
	if (uv_is_active((uv_handle_t *)&b->watchdog))
		return;
	/* Often enough to see a refused connect soon (below). */
	unsigned every = b->s->timeout_ms / 4 < 100 ? (b->s->timeout_ms / 4 ? b->s->timeout_ms / 4 : 1) : 100;
	uv_timer_start(&b->watchdog, on_watchdog, every, every);
}

static void fail_waiting(rd *b, const char *why)
{
	vk_store_req *r;
	while ((r = pop(&b->wait_head, &b->wait_tail))) {
		vk_store__fail(r, VK_STORE_EDOWN, "%s", why);
		vk_store__done_later(r);
	}
}

static uint64_t rv_of(const redisReply *x)
{
	if (!x || x->type != REDIS_REPLY_STRING)
		return 0;
	return vk_store_rv(x->str);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	vk_store_req *r = priv;
	if (!r->s) { /* the store was closed */
		vk_store__drop(r);
		return;
	}
	rd *b = r->s->bd;
	vk_store_req *head = pop(&b->fly_head, &b->fly_tail);
	(void)head; /* replies come in order: head == r */
	b->last_ms = vk_now_ms();
	redisReply *x = reply;
	if (!x) {
		vk_store__fail(r, VK_STORE_EDOWN, "connection lost%s%s", ac->errstr[0] ? ": " : "", ac->errstr);
	} else if (x->type == REDIS_REPLY_ERROR) {
		vk_store__fail(r, VK_STORE_EIO, "%s", x->str);
	} else if (r->type == VK_STORE__GET) {
		if (x->type != REDIS_REPLY_ARRAY || x->elements != 2)
			vk_store__fail(r, VK_STORE_EIO, "unexpected reply to HMGET");
		else if (x->element[0]->type != REDIS_REPLY_STRING)
			r->status = VK_STORE_ENOENT;
		else
			vk_store__add_rec(r, r->key, strlen(r->key), x->element[0]->str, x->element[0]->len,
			                  rv_of(x->element[1]));
	} else if (r->type == VK_STORE__LIST) {
		if (x->type != REDIS_REPLY_ARRAY || x->elements % 3)
			vk_store__fail(r, VK_STORE_EIO, "unexpected reply to the list script");
		else
			for (size_t i = 0; i + 2 < x->elements; i += 3)
				vk_store__add_rec(r, x->element[i]->str, x->element[i]->len, x->element[i + 1]->str,
				                  x->element[i + 1]->len, rv_of(x->element[i + 2]));
	} else if (r->type == VK_STORE__COMMIT) {
		if (x->type != REDIS_REPLY_ARRAY || x->elements != r->batch->n)
			vk_store__fail(r, VK_STORE_EIO, "unexpected reply to the commit script");
		else
			for (size_t i = 0; i < x->elements; i++)
				r->results[i] = x->element[i]->integer ? 0 : VK_STORE_ESTALE;
	}
	vk_store__done(r);
}

/* Glob-escapes a prefix for KEYS and appends '*'. */
static char *pattern(const char *prefix)
{
	vk_buf b = {0};
	for (const char *p = prefix; *p; p++) {
		if (strchr("*?[]\\", *p))
			vk_buf_append(&b, "\\", 1);
		vk_buf_append(&b, p, 1);
	}
	vk_buf_append(&b, "*", 1);
	return vk_buf_steal(&b);
}

static void send_req(rd *b, vk_store_req *r)
{
	int rc;
	if (!b->fly_head)
		b->last_ms = vk_now_ms();
	watch(b);
	if (r->type == VK_STORE__GET) {
		const char *argv[] = {"HMGET", r->key, "~v", "~rv"};
		rc = redisAsyncCommandArgv(b->ac, on_reply, r, 4, argv, NULL);
	} else if (r->type == VK_STORE__LIST) {
		char *pat = pattern(r->key);
		const char *argv[] = {"EVAL", LIST_LUA, "0", pat};
		rc = redisAsyncCommandArgv(b->ac, on_reply, r, 4, argv, NULL);
		free(pat);
	} else {
		size_t n = r->batch->n, argc = 3 + n + 4 * n;
		const char **argv = vk_xcalloc(argc, sizeof *argv);
		size_t *lens = vk_xcalloc(argc, sizeof *lens);
		char(*rvs)[21] = vk_xcalloc(n ? n : 1, 21), (*ttls)[12] = vk_xcalloc(n ? n : 1, 12);
		char nk[24];
		snprintf(nk, sizeof nk, "%zu", n);
		argv[0] = "EVAL";
		argv[1] = COMMIT_LUA;
		argv[2] = nk;
		lens[0] = 4;
		lens[1] = sizeof COMMIT_LUA - 1;
		lens[2] = strlen(nk);
		for (size_t i = 0; i < n; i++) {
			vk_store__op *op = &r->batch->ops[i];
			argv[3 + i] = op->key;
			lens[3 + i] = strlen(op->key);
			size_t a = 3 + n + 4 * i;
			vk_store__rv_text(rvs[i], op->rv);
			snprintf(ttls[i], 12, "%u", op->kind == VK_STORE__PUT ? op->ttl_s : 0);
			argv[a] = op->kind == VK_STORE__PUT ? "p" : "d";
			argv[a + 1] = rvs[i];
			argv[a + 2] = ttls[i];
			argv[a + 3] = op->kind == VK_STORE__PUT ? op->value : "";
			lens[a] = 1;
			lens[a + 1] = 20;
			lens[a + 2] = strlen(ttls[i]);
			lens[a + 3] = op->kind == VK_STORE__PUT ? op->len : 0;
		}
		rc = redisAsyncCommandArgv(b->ac, on_reply, r, (int)argc, argv, lens);
		free(argv);
		free(lens);
		free(rvs);
		free(ttls);
	}
	if (rc != REDIS_OK) {
		vk_store__fail(r, VK_STORE_EDOWN, "cannot send: %s", b->ac->errstr);
		vk_store__done_later(r);
		return;
	}
	push(&b->fly_head, &b->fly_tail, r);
}

static void connect_now(rd *b);

static void on_handshake(redisAsyncContext *ac, void *reply, void *priv)
{
	rd *b = ac->data;
	if (!b)
		return;
	redisReply *x = reply;
	const char *step = priv;
	if (!x || x->type == REDIS_REPLY_ERROR) {
		char *why = vk_asprintf("%s failed: %s", step, x ? x->str : "connection lost");
		free(b->down_err);
		b->down_err = vk_asprintf("%s: %s", b->s->name, why);
		if (x)
			redisAsyncDisconnect(ac);
		fail_waiting(b, why);
		free(why);
		vk_store__opened(b->s, VK_STORE_EDOWN, b->down_err);
		return;
	}
	if (strcmp(step, "PING") != 0)
		return;
	b->ready = true;
	vk_store__opened(b->s, 0, NULL);
	vk_store_req *r;
	while (b->ac && b->ready && (r = pop(&b->wait_head, &b->wait_tail)))
		send_req(b, r);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	rd *b = ac->data;
	if (!b || status == REDIS_OK)
		return;
	/* hiredis frees the context after this returns. */
	b->ac = NULL;
	b->ready = false;
	free(b->down_err);
	b->down_err = vk_asprintf("%s: %s", b->s->name, ac->errstr[0] ? ac->errstr : "cannot connect");
	fail_waiting(b, ac->errstr[0] ? ac->errstr : "cannot connect");
	vk_store__opened(b->s, VK_STORE_EDOWN, b->down_err);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	rd *b = ac->data;
	if (!b)
		return;
	b->ac = NULL;
	b->ready = false;
	/* Requests that waited for this connection try a new one. */
	if (b->wait_head)
		connect_now(b);
}

static void connect_now(rd *b)
{
	vk_store *s = b->s;
	b->ready = false;
	redisAsyncContext *ac = redisAsyncConnect(s->url.host, s->url.port);
	if (!ac || ac->err) {
		char *why = vk_strdup(ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		free(b->down_err);
		b->down_err = vk_asprintf("%s: %s", s->name, why);
		fail_waiting(b, why);
		free(why);
		return;
	}
	ac->data = b;
	if (redisLibuvAttach(ac, s->loop) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		fail_waiting(b, "cannot attach to the loop");
		return;
	}
	b->ac = ac;
	watch(b);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	b->last_ms = vk_now_ms();
	if (s->url.password) {
		const char *argv[] = {"AUTH", s->url.password};
		redisAsyncCommandArgv(ac, on_handshake, "AUTH", 2, argv, NULL);
	}
	if (s->url.db) {
		char db[16];
		snprintf(db, sizeof db, "%d", s->url.db);
		const char *argv[] = {"SELECT", db};
		redisAsyncCommandArgv(ac, on_handshake, "SELECT", 2, argv, NULL);
	}
	const char *argv[] = {"PING"};
	redisAsyncCommandArgv(ac, on_handshake, "PING", 1, argv, NULL);
}

/* A connection that does not answer in time is dropped (hiredis then
 * fails what is in flight), so a black-holed store costs a timeout, not a
 * hang. */
static void on_watchdog(uv_timer_t *t)
{
	rd *b = t->data;
	bool waiting = b->fly_head || !b->ready;
	if (!b->ac || !waiting) {
		uv_timer_stop(t);
		return;
	}
	/* A connect that failed shows in the socket's error (hiredis is not
	 * told: libuv reports it as a poll error its adapter ignores). */
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (!(b->ac->c.flags & REDIS_CONNECTED) && b->ac->c.fd >= 0 &&
	    getsockopt(b->ac->c.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
		soerr = 0;
	if (soerr || vk_now_ms() - b->last_ms > b->s->timeout_ms) {
		char *why = soerr ? vk_strdup(strerror(soerr))
		                  : vk_asprintf("no answer within %u ms", b->s->timeout_ms);
		free(b->down_err);
		b->down_err = vk_asprintf("%s: %s", b->s->name, why);
		bool was_ready = b->ready;
		/* A forced free: a polite disconnect would wait for the replies
		 * that are not coming.  In-flight requests fail with EDOWN.  The
		 * context is detached first: callbacks may close the store. */
		redisAsyncContext *ac = b->ac;
		ac->data = NULL;
		b->ac = NULL;
		b->ready = false;
		redisAsyncFree(ac);
		if (!was_ready) {
			fail_waiting(b, why);
			vk_store__opened(b->s, VK_STORE_EDOWN, b->down_err);
		}
		free(why);
	}
}

static int rd_start(vk_store *s, char **err)
{
	rd *b = vk_xcalloc(1, sizeof *b);
	b->s = s;
	s->bd = b;
	uv_timer_init(s->loop, &b->watchdog);
	b->watchdog.data = b;
	connect_now(b);
	if (!b->ac) /* failed at once (e.g. a name that does not resolve) */
		vk_store__opened_later(s, VK_STORE_EDOWN, b->down_err);
	return 0;
}

static void rd_submit(vk_store *s, vk_store_req *r)
{
	rd *b = s->bd;
	if (b->ac && b->ready) {
		send_req(b, r);
		return;
	}
	push(&b->wait_head, &b->wait_tail, r);
	if (!b->ac)
		connect_now(b);
}

static void rd_closed(uv_handle_t *h)
{
	rd *b = h->data;
	vk_store *s = b->s;
	free(b->down_err);
	free(b);
	vk_store__closed(s);
}

static void rd_close(vk_store *s)
{
	rd *b = s->bd;
	vk_store_req *r;
	while ((r = pop(&b->wait_head, &b->wait_tail)))
		vk_store__drop(r);
	/* Requests in flight are freed by their reply callbacks (hiredis calls
	 * them with no reply as it frees the context), without calling back. */
	for (r = b->fly_head; r; r = r->next)
		r->s = NULL;
	b->fly_head = b->fly_tail = NULL;
	if (b->ac) {
		redisAsyncContext *ac = b->ac;
		ac->data = NULL;
		b->ac = NULL;
		redisAsyncFree(ac);
	}
	uv_close((uv_handle_t *)&b->watchdog, rd_closed);
}

const vk_store__backend vk_store__redis = {rd_start, rd_submit, rd_close};
