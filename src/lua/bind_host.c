/* vk.host: what the machine has, for a provider that reports the node's
 * capacity and pressure conditions as kubelet does.
 *
 *   host.statfs(path) -> {size=, free=, avail=, inodes=, inodes_free=} | nil, err
 *       bytes and inode counts of the filesystem holding path (statfs on
 *       libuv's thread pool: a hung network mount never stalls the loop)
 *   host.sysinfo()    -> {cpus=, memory=, procs=}
 *       online CPUs, RAM in bytes, processes (threads) now running
 *
 * The rest of what a node needs (/proc/meminfo, the cgroup's limits,
 * /proc/sys/kernel/pid_max) is plain files: vk.fs.read_file. */
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "host.h"
#include "vk/util.h"

typedef struct {
	uv_fs_t req;
	vk_lua_op *op; /* NULL once cancelled: the request then ends quietly */
	char *path;
	int err;
	uv_statfs_t st;
} statfs_call;

static void set_int(lua_State *L, const char *k, uint64_t v)
{
	lua_pushinteger(L, (lua_Integer)(v > (uint64_t)LUA_MAXINTEGER ? (uint64_t)LUA_MAXINTEGER : v));
	lua_setfield(L, -2, k);
}

static int push_statfs(lua_State *L, void *ud)
{
	statfs_call *c = ud;
	if (c->err) {
		lua_pushnil(L);
		lua_pushfstring(L, "vk.host.statfs: %s: %s", c->path, uv_strerror(c->err));
		return 2;
	}
	uint64_t bs = c->st.f_bsize;
	lua_createtable(L, 0, 5);
	set_int(L, "size", c->st.f_blocks * bs);
	set_int(L, "free", c->st.f_bfree * bs);
	set_int(L, "avail", c->st.f_bavail * bs);
	set_int(L, "inodes", c->st.f_files);
	set_int(L, "inodes_free", c->st.f_ffree);
	return 1;
}

static void statfs_done(uv_fs_t *req)
{
	statfs_call *c = VK_CONTAINER_OF(req, statfs_call, req);
	if (req->result < 0)
		c->err = (int)req->result;
	else
		memcpy(&c->st, req->ptr, sizeof c->st);
	uv_fs_req_cleanup(req);
	if (c->op)
		vk_lua_op_finish(c->op, push_statfs, c);
	free(c->path);
	free(c);
}

static void statfs_cancel(void *ud)
{
	statfs_call *c = ud;
	vk_lua_op *op = c->op;
	c->op = NULL;
	vk_lua_op_finish(op, NULL, NULL);
}

static int l_statfs(lua_State *L)
{
	const char *p = luaL_checkstring(L, 1);
	if (p[0] != '/')
		return luaL_error(L, "vk.host.statfs: path must be absolute, got '%s'", p);
	vk_lua_op *op = vk_lua_op_new(L, "vk.host.statfs");
	statfs_call *c = vk_xcalloc(1, sizeof *c);
	c->op = op;
	c->path = vk_strdup(p);
	int rc = uv_fs_statfs(vk_lua_loop(L), &c->req, c->path, statfs_done);
	if (rc < 0) {
		c->err = rc;
		vk_lua_op_finish(op, push_statfs, c); /* finished before the yield: resumes at once */
		free(c->path);
		free(c);
		return vk_lua_op_yield(L, op);
	}
	vk_lua_op_on_cancel(op, statfs_cancel, c);
	return vk_lua_op_yield(L, op);
}

/* sysinfo(2) and sysconf(3) answer from the kernel at once: no I/O. */
static int l_sysinfo(lua_State *L)
{
	struct sysinfo si;
	if (sysinfo(&si) < 0)
		return luaL_error(L, "vk.host.sysinfo: sysinfo failed");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	lua_createtable(L, 0, 3);
	set_int(L, "cpus", cpus > 0 ? (uint64_t)cpus : 1);
	set_int(L, "memory", (uint64_t)si.totalram * si.mem_unit);
	set_int(L, "procs", si.procs);
	return 1;
}

int vk_lua__open_host(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"statfs", l_statfs},
		{"sysinfo", l_sysinfo},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	return 1;
}
