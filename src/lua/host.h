/* src/lua/host.h - internals shared by the Lua host's files (not public).
 *
 * Ownership in one place:
 *   vk_lua_host  owns the lua_State, the provider's name and path strings,
 *                its uv_idle "kick" handle and the list of tasks.  It is
 *                freed when it is closed AND its reference count (live ops,
 *                open uv handles, a resume on the C stack) has dropped to 0.
 *   vk_lua_task  one coroutine: a provider callback, init, or a timer tick.
 *                Its thread is anchored in the registry (t->ref) while the
 *                task lives; the task is freed when it completes.
 *   vk_lua_op    one pending binding operation; freed by vk_lua_op_finish,
 *                which every binding calls exactly once per op. */
#ifndef VK_LUA_HOST_H
#define VK_LUA_HOST_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "vk/list.h"
#include "vk/lua.h"

typedef struct vk_lua_host vk_lua_host;
typedef struct vk_lua_task vk_lua_task;
typedef struct vk_lua_vclock vk_lua_vclock;

typedef enum { VK_TASK_QUEUED, VK_TASK_RUNNING, VK_TASK_WAITING, VK_TASK_DONE } vk_lua_task_state;

/* Called once when a task ends.  err: 0, -EIO (error()), -ETIMEDOUT (budget),
 * -ECANCELED (closed).  On success the nres results sit on top of t->co. */
typedef void (*vk_lua_task_done_fn)(vk_lua_task *t, int err, const char *errmsg, int nres);

struct vk_lua_task {
	vk_lua_host *h;
	lua_State *co;
	int ref; /* registry ref anchoring co */
	vk_lua_task_state state;
	int nargs;           /* arguments waiting on co's stack (QUEUED) */
	char *speaker;       /* "provider create_pod default/web-1" */
	char *ns, *name;     /* pod key when known, else NULL */
	vk_lua_op *op;       /* the op it waits on (WAITING) */
	vk_lua_op *early;    /* an op finished before its binding yielded */
	uint64_t instr;      /* instructions since the last resume */
	uint64_t resumed_ns; /* uv_hrtime() at the last resume */
	bool killed;         /* budget exceeded: sticky */
	bool reusable;       /* returned normally: co may serve another task */
	char *killmsg;
	vk_lua_task_done_fn done;
	void *done_ud;             /* per-kind data, see provider.c / bind_timer.c */
	int arg_ref;               /* LUA_NOREF or a table to read back (init, node_status) */
	struct vk_lua_hold *holds; /* semaphore permits it holds, see bind_sem.c */
	vk_list link;              /* h->tasks */
	vk_list ready_link;        /* h->ready, while QUEUED */
};

struct vk_lua_op {
	vk_lua_host *h;    /* holds a reference until the op is freed */
	vk_lua_task *task; /* NULL once abandoned */
	char *what;        /* "vk.timer.sleep" */
	bool yielded;
	bool finished_early; /* finish came before yield */
	int early_n;
	void (*cancel)(void *ud);
	void *cancel_ud;
};

/* Coroutines that returned normally are kept for the next task: a callback
 * then costs no new thread (about 1 KiB of garbage each), which matters when
 * the status poll calls get_pod_status for every pod. */
#define VK_LUA_IDLE_COROUTINES 32

struct vk_lua_host {
	lua_State *L;
	uv_loop_t *loop;
	vk_http *http;
	vk_kube *kube;
	vk_store *store;
	char *path;        /* as given */
	char *config_path; /* --provider-config's file, or NULL */
	char *name;        /* P.name or the file's basename */
	uint64_t max_instr;
	uint32_t max_ms;
	int provider_ref;    /* the provider table */
	int base_loaded_ref; /* package.loaded keys that are not the provider's */
	unsigned gen;        /* bumped by each successful reload */
	bool reloading;
	bool has[VK_CALL__COUNT];
	vk_provider prov;
	uv_idle_t kick;                      /* starts queued tasks on the next loop turn */
	vk_list tasks;                       /* vk_lua_task, newest first */
	vk_list ready;                       /* vk_lua_task queued to start, oldest first */
	vk_lua_task *current;                /* the task whose coroutine is running */
	int idle_co[VK_LUA_IDLE_COROUTINES]; /* registry refs of finished coroutines to reuse */
	int n_idle_co;
	uv_timer_t settle;          /* a while after the last task: collect the garbage a burst left */
	size_t gc_base_kb;          /* the heap after the last full collection */
	void (*on_quiet)(void *ud); /* vk_lua_opts' */
	void *quiet_ud;
	unsigned refs;
	bool closing;
	vk_list handles;       /* vk_lua_handle: what bindings keep running across callbacks */
	uint64_t resumes;      /* task resumes so far (vclock.c: has the host settled?) */
	vk_lua_vclock *vclock; /* `vk test`'s virtual clock, or NULL: libuv's timers */
	/* open-time state */
	vk_lua_open_cb open_cb;
	void *open_ud;
	cJSON *open_node;
};

/* host.c */
vk_lua_host *vk_lua__host_of(lua_State *L);
vk_lua_host *vk_lua__host_new(const vk_lua_opts *o, char **err);
void vk_lua__host_ref(vk_lua_host *h);
void vk_lua__host_unref(vk_lua_host *h); /* may free h */
void vk_lua__host_close(vk_lua_host *h); /* cancels everything, then unrefs */
/* Creates a task whose coroutine will call the function on top of h->L's
 * stack (popped).  Push its arguments onto t->co, then queue or resume it. */
vk_lua_task *vk_lua__task_new(vk_lua_host *h, const char *speaker, vk_lua_task_done_fn done, void *ud);
void vk_lua__task_queue(vk_lua_task *t, int nargs);  /* starts on the next loop turn */
void vk_lua__task_resume(vk_lua_task *t, int nargs); /* runs it now */
vk_lua_task *vk_lua__current(lua_State *L);          /* NULL outside a task */
int vk_lua__pcall_budgeted(vk_lua_host *h, int nargs, int nres, int msgh, const char *speaker);
void vk_lua__op_free_early(vk_lua_task *t); /* op.c */
/* Fills path's position "file:line:" of the Lua function at `level`. */
void vk_lua__where(lua_State *L, int level, char *out, size_t n);

/* provider.c / reload.c */
char *vk_lua__load_provider(vk_lua_host *h, bool has[VK_CALL__COUNT], int *ref, char **name);
char *vk_lua__write_back_node(vk_lua_host *h, lua_State *co, int ref, cJSON *node);
void vk_lua__snapshot_loaded(vk_lua_host *h);            /* what package.loaded holds before the provider */
vk_lua_host *vk_lua__host_from_provider(vk_provider *p); /* NULL when p is not a Lua provider */
int vk_lua__nothing(lua_State *L);

/* validate.c: checks the provider table on top of L (left there): the
 * callbacks are functions and the required ones are there, init and
 * on_reload are functions, name is a string that can be a label value.
 * Each problem goes to add (which takes it), as "file[:line]: message".
 * Sets has[] (may be NULL) and *name (malloc'd, NULL when absent or bad;
 * name may be NULL).  Returns the number of problems. */
typedef void (*vk_lua_problem_fn)(void *ud, char *problem);
size_t vk_lua__validate_provider(lua_State *L, const char *path, bool has[VK_CALL__COUNT], char **name,
                                 vk_lua_problem_fn add, void *ud);

/* log_out.c: container_logs' `out` when it follows (vk/provider.h).  push
 * runs under pcall; detach (with the registry ref of the pushed value)
 * closes it for good and drops the ref, as the call ends. */
void vk_lua__push_log_out(lua_State *L, vk_provider_out *o);
void vk_lua__log_out_detach(lua_State *L, int ref);

/* modules.c: the module table behind require "vk.*" */
void vk_lua__open_modules(lua_State *L);
int vk_lua__open_timer(lua_State *L);
int vk_lua__open_log(lua_State *L);
int vk_lua__open_json(lua_State *L);
int vk_lua__open_yaml(lua_State *L);
int vk_lua__open_notify(lua_State *L);
int vk_lua__open_kube(lua_State *L);
int vk_lua__open_http(lua_State *L);
int vk_lua__open_cri(lua_State *L);
int vk_lua__open_fs(lua_State *L);
void vk_lua__fs_meta_register(lua_State *L);  /* bind_fs_meta.c: into the table on top */
void vk_lua__fs_mount_register(lua_State *L); /* bind_fs_mount.c: into the table on top */
int vk_lua__open_event(lua_State *L);
int vk_lua__open_k8s(lua_State *L);
int vk_lua__open_task(lua_State *L); /* also vk.spawn, vk.semaphore, vk.mutex */
int vk_lua__spawn_as(lua_State *L);  /* bind_task.c: vk.spawn with the core's speaker and pod key */
int vk_lua__open_store(lua_State *L);
int vk_lua__open_host(lua_State *L);
int vk_lua__open_net(lua_State *L);
/* bind_stream.c: the exec/attach/port_forward `stream` object; takes the
 * caller's reference on st (vk/stream.h). */
struct vk_stream;
void vk_lua__push_stream(lua_State *L, struct vk_stream *st);
int vk_lua__open_crypto(lua_State *L);
int vk_lua__open_config(lua_State *L);

/* task_wait.c: a task waiting in a FIFO queue on an object of another
 * binding (bind_sem.c, bind_task.c).  vk_lua__wait queues the current task
 * and yields (return its value); it takes a reference on obj (*refs) once
 * nothing can raise, dropped by unref(obj) when the waiter is freed.
 * vk_lua__wake takes it off the queue and resumes it on the next loop turn
 * with push's results. */
typedef void (*vk_lua_unref_fn)(void *obj);
typedef struct vk_lua_waiter vk_lua_waiter;
struct vk_lua_waiter {
	uv_timer_t timer;
	vk_lua_host *h;
	vk_lua_op *op;
	vk_lua_task *task;
	void *obj; /* the semaphore or the spawned task waited on */
	vk_lua_unref_fn unref;
	vk_lua_push_fn push;         /* the waiting call's results */
	bool woken;                  /* the timer is started: no longer queued */
	char where[LUA_IDSIZE + 32]; /* "file:line: " of the waiting call */
	vk_lua_waiter **queue_head, **queue_tail;
	vk_lua_waiter *next;
};
int vk_lua__wait(lua_State *L, const char *what, void *obj, unsigned *refs, vk_lua_unref_fn unref, vk_lua_push_fn push,
                 vk_lua_waiter **head, vk_lua_waiter **tail);
void vk_lua__wake(vk_lua_waiter *w);
/* The task that may hold permits or spawn, or a Lua error naming `what`. */
vk_lua_task *vk_lua__owner_task(lua_State *L, const char *what);

/* bind_sem.c */
void vk_lua__sem_register(lua_State *L); /* the semaphore metatable */
int vk_lua__semaphore_new(lua_State *L);
int vk_lua__mutex_new(lua_State *L);
void vk_lua__task_drop_holds(vk_lua_task *t); /* as a task ends: gives back its permits */

/* json.c */
/* init(config, node)'s arguments, converted under lua_pcall (conversion may
 * raise): push vk_lua__push_init_args, a light userdata to this, call it
 * with 1 argument and 2 results.  NULL config or node give {}. */
typedef struct {
	const cJSON *config, *node;
} vk_lua_init_args;
int vk_lua__push_init_args(lua_State *L);
void vk_lua__json_init(lua_State *L); /* the array metatable in the registry */
void vk_lua__json_mark_array(lua_State *L, int idx);
bool vk_lua__json_is_array(lua_State *L, int idx);
/* bind_json.c: the text of n bytes that vk.json.pack made, unpacked
 * (malloc'd, *len its length); NULL when they are not such a blob. */
char *vk_lua__json_unpacked(const char *p, size_t n, size_t *len);
/* vk_lua_to_json, raising "WHAT: why" (a Lua error) when the value has no
 * JSON form.  For bindings: the caller frees the result. */
cJSON *vk_lua__to_json_or_raise(lua_State *L, int idx, const char *what);
extern char vk_lua__null_sentinel;
#define VK_LUA_NULL ((void *)&vk_lua__null_sentinel)

/* vclock.c: the virtual clock of `vk test`.  A virtual timer fires when a
 * spec advances the clock past its due time (vk.timer.sleep, every). */
typedef struct vk_lua_vtimer {
	vk_list link;
	uint64_t due, seq, period; /* period: 0 for a one-shot */
	void (*fire)(struct vk_lua_vtimer *vt);
} vk_lua_vtimer;
int vk_lua__vclock_enable(vk_lua_host *h);
void vk_lua__vclock_close(vk_lua_host *h); /* before the host is freed */
bool vk_lua__vclock_on(const vk_lua_host *h);
uint64_t vk_lua__now_ms(const vk_lua_host *h); /* virtual, or vk_now_ms() */
void vk_lua__vtimer_start(vk_lua_host *h, vk_lua_vtimer *vt, uint64_t ms, uint64_t period,
                          void (*fire)(vk_lua_vtimer *));
void vk_lua__vtimer_stop(vk_lua_vtimer *vt);
int vk_lua__open_vclock(lua_State *L); /* advance, now, next_due, virtual, real */

/* ---- the host as bindings see it ------------------------------------------
 * Bindings use these rather than the host's fields. */
lua_State *vk_lua__state(const vk_lua_host *h); /* the main state */
bool vk_lua__closing(const vk_lua_host *h);
unsigned vk_lua__generation(const vk_lua_host *h); /* the provider version now running */
void *vk_lua__task_ud(const vk_lua_task *t);       /* the ud given to vk_lua__task_new */
const char *vk_lua__task_speaker(const vk_lua_task *t);
/* The pod of the running callback ("namespace", "name"), or NULLs. */
void vk_lua__task_pod(lua_State *L, const char **ns, const char **name);
/* Hands pod_or_status (taken) to the provider's notifier (vk.notify);
 * false, and it is freed, when no notifier is set or the host is closing. */
bool vk_lua__notify(lua_State *L, cJSON *pod_or_status);

/* Something a binding keeps running beyond one call (a vk.timer.every):
 * the host stops it when it closes, and a reload stops those of the
 * versions it replaces (or of the version that failed to load).  `stop`
 * must unlink it (vk_lua__handle_remove). */
typedef struct vk_lua_handle {
	vk_list link;
	unsigned gen; /* set by vk_lua__handle_add */
	void (*stop)(struct vk_lua_handle *hd);
} vk_lua_handle;
void vk_lua__handle_add(vk_lua_host *h, vk_lua_handle *hd);
void vk_lua__handle_remove(vk_lua_handle *hd);
void vk_lua__handles_stop(vk_lua_host *h);                               /* all: on close */
void vk_lua__handles_stop_gen(vk_lua_host *h, unsigned gen, bool older); /* gen, or older ones */

#endif
