/* vk/lua.h - the Lua provider host.
 *
 * Loads a provider script, runs each callback in its own coroutine, and
 * implements vk/provider.h on top of it.  Bindings (vk.timer, vk.http,
 * vk.kube, vk.cri, ...) start I/O, yield, and are resumed from the loop
 * (the OpenResty cosocket model).  Lua runs only on the loop thread. */
#ifndef VK_LUA_H
#define VK_LUA_H

#include <cjson/cJSON.h>
#include <lua.h>
#include <stdint.h>
#include <uv.h>

#include "vk/http.h"
#include "vk/kube.h"
#include "vk/provider.h"
#include "vk/store.h"

/* ---- the host ---------------------------------------------------------- */
typedef struct {
	uv_loop_t *loop;
	vk_http *http;             /* shared curl multi (vk.http, vk.cri) */
	vk_kube *kube;             /* NULL when there is no cluster (vk check) */
	vk_store *store;           /* vk's local store for vk.store, or NULL */
	const char *path;          /* the provider file */
	const cJSON *config;       /* --provider-config as JSON, or NULL ({}) */
	const char *config_path;   /* its file, or NULL (vk.config.file()) */
	uint64_t max_instructions; /* per callback run; 0 = default (100M) */
	uint32_t max_run_ms;       /* wall clock a callback may run without
	                              yielding; 0 = default (2000 ms) */
	/* Called each time the provider has been quiet for a second after a
	 * callback, once the Lua heap's own collection is done: the moment a
	 * burst of pods has ended (the app gives freed memory back there). */
	void (*on_quiet)(void *ud);
	void *quiet_ud;
} vk_lua_opts;

/* Called once when the provider is loaded and its init(config, node) has
 * returned (p != NULL), or failed (p == NULL, err = "file:line: message"). */
typedef void (*vk_lua_open_cb)(vk_provider *p, const char *err, void *ud);

/* Loads the provider.  `node` is the Node object the core will register:
 * init may edit it in place (labels, capacity...); it must stay alive until
 * the callback.  Returns 0 (cb called later) or a negative errno.  The file
 * is read and its top level run during this call (under the budget); o and
 * o->config are not kept.  On failure the host is already gone when cb runs.
 *
 * The vk_provider it yields (p->name = P.name or the file's basename):
 *  - call() never invokes its callback from inside itself: every callback
 *    starts on a later loop turn and reports from the loop; the pod/node
 *    cJSON is converted before call() returns (the caller keeps it);
 *  - p->notify runs synchronously inside the Lua callback that called
 *    vk.notify; it may start calls (they queue) or even close p;
 *  - results: value = the first return value as JSON (NULL for nil); for
 *    node_status, the edited argument when it returns nothing; for get_pods,
 *    `{}` is [];
 *  - errors: -EIO for error() or a return value with no JSON form,
 *    -ETIMEDOUT for a budget kill, -ECANCELED for close; errmsg's first
 *    line is "file:line: message", a Lua traceback may follow after '\n';
 *  - close() ends every pending callback with -ECANCELED before it returns
 *    (their callbacks run inside close), stops vk.timer.every timers and
 *    cancels the bindings' I/O; the lua_State is freed once the last op and
 *    uv handle are released.  p must not be used after close.  close may be
 *    called from inside any callback, also a result or notify callback. */
int vk_lua_provider_open(const vk_lua_opts *o, cJSON *node, vk_lua_open_cb cb, void *ud);

/* `vk check`: loads the provider as open does (compile, top level, the
 * table, init(config, node)) without keeping it, and reports every problem
 * found rather than the first: cb gets the provider's name and a
 * NULL-terminated list of "file:line: message" lines, empty when all is
 * well (a missing callback names the file alone).  The list is freed after
 * cb returns; the host is already closed then.  Returns 0 or -errno. */
typedef void (*vk_lua_check_cb)(const char *name, char *const *problems, void *ud);
int vk_lua_provider_check(const vk_lua_opts *o, cJSON *node, vk_lua_check_cb cb, void *ud);

/* `vk test SPEC.lua` (lua/vk/test.lua): runs one spec file in a host of its
 * own, with no cluster, on a virtual clock.  o->path is the spec; it
 * prints TAP on stdout, numbering its tests from `first`; `node` is the
 * Node template each provider the spec loads gets in init (copied).  cb
 * gets how many tests passed and failed, or err when the kit itself
 * failed; the host is closed by then.  Returns 0 (cb later) or -errno. */
typedef void (*vk_lua_test_cb)(int passed, int failed, const char *err, void *ud);
int vk_lua_test_run(const vk_lua_opts *o, int first, const cJSON *node, vk_lua_test_cb cb, void *ud);

/* ---- hot reload (docs/design.md, "Hot reload") -------------------------
 * Loads the provider file again into the same Lua state and, if it loads,
 * passes the checks and its init(config, node) and on_reload(previous)
 * return without error, swaps it in: later calls go to the new version,
 * callbacks already running finish on the old one, vk.timer.every timers
 * of the old version stop.  On failure nothing changes (package.loaded is
 * restored).  cb gets the same p on success, or NULL and the message.
 * p->name keeps its first value (it is the node's taint).  `node` is
 * edited like in open and must stay alive until cb; NULL passes {}.
 * Returns 0 (cb later), -EBUSY while another reload runs, -ESHUTDOWN. */
int vk_lua_provider_reload(vk_provider *p, const cJSON *config, cJSON *node, vk_lua_open_cb cb, void *ud);
/* The files to watch for hot reload (vk/fswatch.h): the provider and the
 * modules it required from its own folder.  NULL-terminated, malloc'd;
 * the caller frees each and the list. */
char **vk_lua_provider_sources(vk_provider *p);

/* 16 hex digits of FNV-1a over the files' contents (a missing file counts
 * as empty), e.g. for the ProviderReloaded Event. */
void vk_lua_sources_hash(char *const *files, char out[17]);

/* ---- JSON <-> Lua -------------------------------------------------------
 * Objects become tables with string keys, arrays become sequences tagged
 * with a metatable so that an empty array stays [] on the way back, and
 * JSON null becomes the light userdata vk.json.null. */
void vk_lua_push_json(lua_State *L, const cJSON *j);
/* Converts the value at idx; NULL with *err (malloc'd) on a value that has
 * no JSON form (function, cycle, mixed table, NaN). */
cJSON *vk_lua_to_json(lua_State *L, int idx, char **err);

/* ---- for bindings --------------------------------------------------------
 * Bindings are registered in src/lua/modules.c (one line each).
 * A binding that does I/O:
 *     vk_lua_op *op = vk_lua_op_new(L, "vk.cri.version");   // raises if L cannot yield
 *     start_io(..., on_io_done, op);
 *     return vk_lua_op_yield(L, op);
 * and later, on the loop:
 *     static void on_io_done(..., void *ud) { vk_lua_op_finish(ud, push_result, result); }
 * `push` runs under pcall on an empty stack of the same Lua state and
 * returns how many values it pushed; they are moved to the coroutine and
 * become the binding's return values (a push that raises gives the binding
 * `nil, "what: message"`).  If the coroutine was abandoned meanwhile (the
 * provider closed) push is not called, the op is just freed; the binding's
 * cancel hook was already called then.
 * So every op gets exactly one vk_lua_op_finish: a cancel hook that stops
 * the I/O (so that its callback never comes) calls vk_lua_op_finish(op,
 * NULL, NULL) itself.  A binding whose start fails after vk_lua_op_new
 * calls vk_lua_op_finish(op, NULL, NULL) and then raises its error.
 * vk_lua_op_new raises when L cannot yield (a module's top level, a
 * metamethod, a coroutine the provider made), when another op of the same
 * callback is pending, or when the provider is closing. */
typedef struct vk_lua_op vk_lua_op;
typedef int (*vk_lua_push_fn)(lua_State *L, void *ud);

vk_lua_op *vk_lua_op_new(lua_State *L, const char *what);
int vk_lua_op_yield(lua_State *L, vk_lua_op *op);
void vk_lua_op_finish(vk_lua_op *op, vk_lua_push_fn push, void *ud);
void vk_lua_op_on_cancel(vk_lua_op *op, void (*cancel)(void *ud), void *ud);

/* Shared resources of the host that owns L. */
uv_loop_t *vk_lua_loop(lua_State *L);
vk_http *vk_lua_http(lua_State *L);
vk_kube *vk_lua_kube(lua_State *L);   /* NULL without a cluster */
vk_store *vk_lua_store(lua_State *L); /* NULL without a store */

#endif
