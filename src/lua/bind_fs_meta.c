/* vk.fs, the part about names, links, modes and owners: what kubelet's
 * atomic writer, hostPath checks and fsGroup need.  Each is one uv_fs
 * request on libuv's thread pool.
 *
 *   fs.symlink(target, path)        -> true | nil, err, code
 *   fs.readlink(path)               -> target | nil, err, code
 *   fs.rename(from, to)             -> true | nil, err, code  (replaces `to`, atomically)
 *   fs.unlink(path)                 -> true | nil, err, code  (a file or a link, not a folder)
 *   fs.chmod(path, mode)            -> true | nil, err, code  (follows links)
 *   fs.lchown(path, uid, gid)       -> true | nil, err, code  (-1 keeps one; the link itself)
 *   fs.stat(path) / fs.lstat(path)  -> {type=, mode=, uid=, gid=, size=, dev=, ino=} | nil, err, code
 *   fs.readdir(path)                -> {names...} | nil, err, code
 *
 * `code` is libuv's error name ("ENOENT", "EEXIST"...), for tests on why.
 * Paths must be absolute (a symlink's target need not be). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"
#include "vk/util.h"

enum meta_kind { M_SYMLINK, M_READLINK, M_RENAME, M_UNLINK, M_CHMOD, M_LCHOWN, M_STAT, M_LSTAT, M_READDIR };

typedef struct {
	uv_fs_t req;
	vk_lua_op *op; /* NULL once cancelled */
	const char *what;
	enum meta_kind kind;
	char *path, *path2;
	ssize_t result;
} meta_call;

static const char *type_name(uint64_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "link";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	default: return "unknown";
	}
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

/* Runs on the loop with the request's results still in c->req. */
static int push_meta(lua_State *L, void *ud)
{
	meta_call *c = ud;
	if (c->result < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s: %s", c->what, c->path, uv_strerror((int)c->result));
		lua_pushstring(L, uv_err_name((int)c->result));
		return 3;
	}
	switch (c->kind) {
	case M_READLINK: lua_pushstring(L, c->req.ptr); return 1;
	case M_STAT:
	case M_LSTAT: {
		const uv_stat_t *s = &c->req.statbuf;
		lua_createtable(L, 0, 7);
		lua_pushstring(L, type_name(s->st_mode));
		lua_setfield(L, -2, "type");
		set_int(L, "mode", (lua_Integer)(s->st_mode & 07777));
		set_int(L, "uid", (lua_Integer)s->st_uid);
		set_int(L, "gid", (lua_Integer)s->st_gid);
		set_int(L, "size", (lua_Integer)s->st_size);
		set_int(L, "dev", (lua_Integer)s->st_dev);
		set_int(L, "ino", (lua_Integer)s->st_ino);
		return 1;
	}
	case M_READDIR: {
		uv_dirent_t ent;
		lua_newtable(L);
		lua_Integer i = 0;
		while (uv_fs_scandir_next(&c->req, &ent) == 0) {
			lua_pushstring(L, ent.name);
			lua_rawseti(L, -2, ++i);
		}
		return 1;
	}
	default: lua_pushboolean(L, 1); return 1;
	}
}

static void meta_free(meta_call *c)
{
	uv_fs_req_cleanup(&c->req);
	free(c->path);
	free(c->path2);
	free(c);
}

static void meta_done(uv_fs_t *req)
{
	meta_call *c = VK_CONTAINER_OF(req, meta_call, req);
	c->result = req->result;
	if (c->op)
		vk_lua_op_finish(c->op, push_meta, c);
	meta_free(c);
}

static void meta_cancel(void *ud)
{
	meta_call *c = ud;
	vk_lua_op *op = c->op;
	c->op = NULL; /* the request runs to its end; its callback only frees */
	vk_lua_op_finish(op, NULL, NULL);
}

static const char *abs_path(lua_State *L, int arg, const char *what)
{
	const char *p = luaL_checkstring(L, arg);
	if (p[0] != '/')
		luaL_error(L, "%s: path must be absolute, got '%s'", what, p);
	return p;
}

/* Checks done, the op made: queue the request (a queueing error returns
 * nil, err, code at once, as the callback would have). */
static meta_call *meta_new(const char *what, enum meta_kind kind, const char *path, const char *path2);

/* The op is made first: vk_lua_op_new raises, and nothing may be allocated
 * before it. */
static int meta_start(lua_State *L, const char *what, enum meta_kind kind, const char *path, const char *path2,
                      int mode, int uid, int gid)
{
	vk_lua_op *op = vk_lua_op_new(L, what);
	meta_call *c = meta_new(what, kind, path, path2);
	uv_loop_t *loop = vk_lua_loop(L);
	int rc = 0;
	c->op = op;
	switch (c->kind) {
	case M_SYMLINK: rc = uv_fs_symlink(loop, &c->req, c->path2, c->path, 0, meta_done); break;
	case M_READLINK: rc = uv_fs_readlink(loop, &c->req, c->path, meta_done); break;
	case M_RENAME: rc = uv_fs_rename(loop, &c->req, c->path, c->path2, meta_done); break;
	case M_UNLINK: rc = uv_fs_unlink(loop, &c->req, c->path, meta_done); break;
	case M_CHMOD: rc = uv_fs_chmod(loop, &c->req, c->path, mode, meta_done); break;
	case M_LCHOWN: rc = uv_fs_lchown(loop, &c->req, c->path, (uv_uid_t)uid, (uv_gid_t)gid, meta_done); break;
	case M_STAT: rc = uv_fs_stat(loop, &c->req, c->path, meta_done); break;
	case M_LSTAT: rc = uv_fs_lstat(loop, &c->req, c->path, meta_done); break;
	case M_READDIR: rc = uv_fs_scandir(loop, &c->req, c->path, 0, meta_done); break;
	}
	if (rc < 0) {
		c->result = rc;
		vk_lua_op_finish(op, push_meta, c); /* finished before yielding: results kept for the yield */
		meta_free(c);
		return vk_lua_op_yield(L, op);
	}
	vk_lua_op_on_cancel(op, meta_cancel, c);
	return vk_lua_op_yield(L, op);
}

static meta_call *meta_new(const char *what, enum meta_kind kind, const char *path, const char *path2)
{
	meta_call *c = vk_xcalloc(1, sizeof *c);
	c->what = what;
	c->kind = kind;
	c->path = vk_strdup(path);
	c->path2 = path2 ? vk_strdup(path2) : NULL;
	return c;
}

static int l_symlink(lua_State *L)
{
	const char *target = luaL_checkstring(L, 1);
	const char *p = abs_path(L, 2, "vk.fs.symlink");
	if (!*target)
		return luaL_argerror(L, 1, "an empty link target");
	return meta_start(L, "vk.fs.symlink", M_SYMLINK, p, target, 0, 0, 0);
}

static int l_readlink(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.readlink");
	return meta_start(L, "vk.fs.readlink", M_READLINK, p, NULL, 0, 0, 0);
}

static int l_rename(lua_State *L)
{
	const char *from = abs_path(L, 1, "vk.fs.rename");
	const char *to = abs_path(L, 2, "vk.fs.rename");
	return meta_start(L, "vk.fs.rename", M_RENAME, from, to, 0, 0, 0);
}

static int l_unlink(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.unlink");
	return meta_start(L, "vk.fs.unlink", M_UNLINK, p, NULL, 0, 0, 0);
}

static int l_chmod(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.chmod");
	lua_Integer mode = luaL_checkinteger(L, 2);
	if (mode < 0 || mode > 07777)
		return luaL_argerror(L, 2, "a mode in [0, 07777]");
	return meta_start(L, "vk.fs.chmod", M_CHMOD, p, NULL, (int)mode, 0, 0);
}

static int l_lchown(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.lchown");
	lua_Integer uid = luaL_checkinteger(L, 2), gid = luaL_checkinteger(L, 3);
	if (uid < -1 || uid > 0xfffffffeLL)
		return luaL_argerror(L, 2, "a uid, or -1 to keep it");
	if (gid < -1 || gid > 0xfffffffeLL)
		return luaL_argerror(L, 3, "a gid, or -1 to keep it");
	return meta_start(L, "vk.fs.lchown", M_LCHOWN, p, NULL, 0, (int)uid, (int)gid);
}

static int l_stat(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.stat");
	return meta_start(L, "vk.fs.stat", M_STAT, p, NULL, 0, 0, 0);
}

static int l_lstat(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.lstat");
	return meta_start(L, "vk.fs.lstat", M_LSTAT, p, NULL, 0, 0, 0);
}

static int l_readdir(lua_State *L)
{
	const char *p = abs_path(L, 1, "vk.fs.readdir");
	return meta_start(L, "vk.fs.readdir", M_READDIR, p, NULL, 0, 0, 0);
}

void vk_lua__fs_meta_register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"symlink", l_symlink}, {"readlink", l_readlink}, {"rename", l_rename},
		{"unlink", l_unlink},   {"chmod", l_chmod},       {"lchown", l_lchown},
		{"stat", l_stat},       {"lstat", l_lstat},       {"readdir", l_readdir},
		{NULL, NULL},
	};
	luaL_setfuncs(L, fns, 0);
}
