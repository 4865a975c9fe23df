/* vk.fs, the part about mounts: the tmpfs behind an emptyDir of medium
 * Memory, as kubelet makes it.
 *
 *   fs.mount_tmpfs(path, {size_bytes=, mode=})  -> true | nil, err, code
 *   fs.unmount(path)                            -> true | nil, err, code
 *
 * mount(2) and umount2(2) run on libuv's thread pool (a busy kernel can
 * take a while to tear a mount down).  The process needs CAP_SYS_ADMIN,
 * as kubelet does.  unmount detaches lazily when the mount is busy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "host.h"
#include "vk/util.h"

typedef struct {
	uv_work_t work;
	vk_lua_op *op; /* NULL once cancelled */
	const char *what;
	bool mount;
	char *path;
	char opts[64];
	int err; /* errno, 0 on success */
} mount_call;

static void do_work(uv_work_t *w)
{
	mount_call *c = VK_CONTAINER_OF(w, mount_call, work);
	int rc;
	if (c->mount) {
		rc = mount("tmpfs", c->path, "tmpfs", MS_NOSUID | MS_NODEV, c->opts);
	} else {
		rc = umount2(c->path, 0);
		if (rc < 0 && errno == EBUSY)
			rc = umount2(c->path, MNT_DETACH);
	}
	c->err = rc < 0 ? errno : 0;
}

static int push_mount(lua_State *L, void *ud)
{
	mount_call *c = ud;
	if (c->err) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s: %s", c->what, c->path, strerror(c->err));
		lua_pushstring(L, uv_err_name(-c->err));
		return 3;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static void after_work(uv_work_t *w, int status)
{
	mount_call *c = VK_CONTAINER_OF(w, mount_call, work);
	if (status < 0 && !c->err)
		c->err = -status;
	if (c->op)
		vk_lua_op_finish(c->op, push_mount, c);
	free(c->path);
	free(c);
}

static void mount_cancel(void *ud)
{
	mount_call *c = ud;
	vk_lua_op *op = c->op;
	c->op = NULL; /* the call runs to its end; after_work only frees */
	vk_lua_op_finish(op, NULL, NULL);
}

static int start(lua_State *L, const char *what, const char *path, bool mount, const char *opts)
{
	vk_lua_op *op = vk_lua_op_new(L, what);
	mount_call *c = vk_xcalloc(1, sizeof *c);
	c->op = op;
	c->what = what;
	c->mount = mount;
	c->path = vk_strdup(path);
	snprintf(c->opts, sizeof c->opts, "%s", opts ? opts : "");
	int rc = uv_queue_work(vk_lua_loop(L), &c->work, do_work, after_work);
	if (rc < 0) {
		c->err = -rc;
		vk_lua_op_finish(op, push_mount, c); /* finished before yielding */
		free(c->path);
		free(c);
		return vk_lua_op_yield(L, op);
	}
	vk_lua_op_on_cancel(op, mount_cancel, c);
	return vk_lua_op_yield(L, op);
}

static const char *abs_path(lua_State *L, int arg, const char *what)
{
	const char *p = luaL_checkstring(L, arg);
	if (p[0] != '/' || strspn(p, "/") == strlen(p))
		luaL_error(L, "%s: path must be absolute and not '/', got '%s'", what, p);
	return p;
}

static int l_mount_tmpfs(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.mount_tmpfs");
	lua_Integer size = 0, mode = 0777;
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "size_bytes");
		size = luaL_optinteger(L, -1, 0);
		lua_getfield(L, 2, "mode");
		mode = luaL_optinteger(L, -1, 0777);
		lua_pop(L, 2);
	}
	if (size < 0)
		return luaL_error(L, "vk.fs.mount_tmpfs: size_bytes must be >= 0 (0: the kernel's default), got %I",
		                  size);
	if (mode < 0 || mode > 07777)
		return luaL_error(L, "vk.fs.mount_tmpfs: mode must be in [0, 07777], got %I", mode);
	char opts[64];
	if (size > 0)
		snprintf(opts, sizeof opts, "mode=%o,size=%" PRId64, (unsigned)mode, (int64_t)size);
	else
		snprintf(opts, sizeof opts, "mode=%o", (unsigned)mode);
	return start(L, "vk.fs.mount_tmpfs", p, true, opts);
}

static int l_unmount(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.unmount");
	return start(L, "vk.fs.unmount", p, false, NULL);
}

void vk_lua__fs_mount_register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"mount_tmpfs", l_mount_tmpfs},
		{"unmount", l_unmount},
		{NULL, NULL},
	};
	luaL_setfuncs(L, fns, 0);
}
