/* vk.fs: the few file operations a provider needs, off the loop thread.
 *
 *   fs.mkdir_p(path [, mode])              -> true | nil, err
 *   fs.write_file(path, data [, mode])     -> true | nil, err  (atomic: tmp + rename)
 *   fs.read_file(path [, {max_bytes=, tail=, offset=}]) -> data | nil, err
 *       (a file whose size says 0, as in /proc, is read to its end, at
 *       most 1 MiB)
 *   fs.remove_all(path)                    -> true | nil, err  (absolute paths only)
 *
 * (symlink, rename, chmod, stat... are in bind_fs_meta.c; mount_tmpfs and
 * unmount in bind_fs_mount.c.)
 * Each runs as a chain of uv_fs requests on libuv's thread pool (remove_all
 * as an `rm -rf` child), so a slow disk never stalls lease renewal.  Paths
 * must be absolute.  Errors are "vk.fs.NAME: PATH: reason". */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

#define DEFAULT_MAX_READ (16u << 20)
#define PROC_MAX_READ (1u << 20) /* a file that says its size is 0 */

enum kind { FS_MKDIR, FS_WRITE, FS_READ };
enum state { ST_MKDIR, ST_OPEN, ST_FSTAT, ST_IO, ST_CLOSE, ST_RENAME, ST_UNLINK };

typedef struct {
	uv_fs_t req;
	vk_lua_op *op;    /* NULL once cancelled: the chain then only cleans up */
	const char *what; /* "vk.fs.write_file" */
	enum kind kind;
	enum state st;
	char *path, *tmp;
	size_t pos; /* mkdir_p: end of the prefix made so far */
	int mode;
	uv_file fd;
	char *data; /* write: a copy of the data; read: the buffer */
	size_t len, off;
	int64_t at; /* read: file offset */
	int err;    /* first failure (libuv code) */
} fs_call;

static void step(uv_fs_t *req);

static void fs_free(fs_call *c)
{
	free(c->path);
	free(c->tmp);
	free(c->data);
	free(c);
}

static int push_result(lua_State *L, void *ud)
{
	fs_call *c = ud;
	if (c->err) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s: %s", c->what, c->path, uv_strerror(c->err));
		return 2;
	}
	if (c->kind == FS_READ)
		lua_pushlstring(L, c->data ? c->data : "", c->off);
	else
		lua_pushboolean(L, 1);
	return 1;
}

static void finish(fs_call *c)
{
	if (c->op)
		vk_lua_op_finish(c->op, push_result, c);
	fs_free(c);
}

static void on_cancel(void *ud)
{
	fs_call *c = ud;
	vk_lua_op *op = c->op;
	c->op = NULL; /* the running request cannot be stopped; it ends quietly */
	vk_lua_op_finish(op, NULL, NULL);
}

static void fail(fs_call *c, int err)
{
	if (!c->err)
		c->err = err;
}

/* Starts the next request of the chain, or finishes. */
static void next(fs_call *c)
{
	uv_loop_t *loop = c->req.loop;
	int rc = 0;
	switch (c->st) {
	case ST_MKDIR: {
		/* One component at a time: "/a", "/a/b", "/a/b/c". */
		size_t n = strlen(c->path);
		if (c->pos >= n || c->err) {
			finish(c);
			return;
		}
		size_t end = c->pos + 1;
		while (end < n && c->path[end] != '/')
			end++;
		c->pos = end;
		char saved = c->path[end];
		c->path[end] = '\0';
		rc = uv_fs_mkdir(loop, &c->req, c->path, c->mode, step);
		c->path[end] = saved;
		break;
	}
	case ST_OPEN:
		if (c->kind == FS_WRITE)
			rc = uv_fs_open(loop, &c->req, c->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, c->mode, step);
		else
			rc = uv_fs_open(loop, &c->req, c->path, O_RDONLY | O_CLOEXEC, 0, step);
		break;
	case ST_FSTAT: rc = uv_fs_fstat(loop, &c->req, c->fd, step); break;
	case ST_IO: {
		uv_buf_t b = uv_buf_init(c->data + c->off, (unsigned)(c->len - c->off));
		if (c->kind == FS_WRITE)
			rc = uv_fs_write(loop, &c->req, c->fd, &b, 1, -1, step);
		else
			rc = uv_fs_read(loop, &c->req, c->fd, &b, 1, c->at + (int64_t)c->off, step);
		break;
	}
	case ST_CLOSE: rc = uv_fs_close(loop, &c->req, c->fd, step); break;
	case ST_RENAME: rc = uv_fs_rename(loop, &c->req, c->tmp, c->path, step); break;
	case ST_UNLINK: rc = uv_fs_unlink(loop, &c->req, c->tmp, step); break;
	}
	if (rc < 0) { /* could not even queue it */
		fail(c, rc);
		finish(c);
	}
}

static void step(uv_fs_t *req)
{
	fs_call *c = VK_CONTAINER_OF(req, fs_call, req);
	ssize_t r = req->result;
	uv_fs_req_cleanup(req);
	switch (c->st) {
	case ST_MKDIR:
		if (r < 0 && r != UV_EEXIST)
			fail(c, (int)r);
		break;
	case ST_OPEN:
		if (r < 0) {
			fail(c, (int)r);
			finish(c);
			return;
		}
		c->fd = (uv_file)r;
		c->st = c->kind == FS_WRITE ? (c->len ? ST_IO : ST_CLOSE) : ST_FSTAT;
		break;
	case ST_FSTAT: {
		if (r < 0) {
			fail(c, (int)r);
			c->st = ST_CLOSE;
			break;
		}
		uint64_t size = req->statbuf.st_size;
		if (c->at > 0) { /* from an offset: what is there past it */
			uint64_t left = size > (uint64_t)c->at ? size - (uint64_t)c->at : 0;
			c->len = left < c->len ? (size_t)left : c->len;
		} else if (size == 0 && c->at == 0) {
			/* /proc and /sys files say 0 and have text: read to EOF. */
			c->len = c->len < PROC_MAX_READ ? c->len : PROC_MAX_READ;
		} else {
			c->len = size < c->len ? (size_t)size : c->len; /* c->len held max_bytes */
			if (c->at < 0)                                  /* tail */
				c->at = (int64_t)(size - c->len);
			else
				c->at = 0;
		}
		c->data = vk_xmalloc(c->len + 1);
		c->st = c->len ? ST_IO : ST_CLOSE;
		break;
	}
	case ST_IO:
		if (r < 0)
			fail(c, (int)r);
		else
			c->off += (size_t)r;
		if (r <= 0 || c->off >= c->len) /* done, failed, or EOF (file shrank) */
			c->st = ST_CLOSE;
		break;
	case ST_CLOSE:
		if (r < 0)
			fail(c, (int)r);
		if (c->kind != FS_WRITE) {
			finish(c);
			return;
		}
		c->st = c->err ? ST_UNLINK : ST_RENAME;
		break;
	case ST_RENAME:
		if (r < 0) {
			fail(c, (int)r);
			c->st = ST_UNLINK;
			break;
		}
		finish(c);
		return;
	case ST_UNLINK: finish(c); return;
	}
	next(c);
}

static const char *check_path(lua_State *L, int arg, const char *what)
{
	const char *p = luaL_checkstring(L, arg);
	if (p[0] != '/')
		luaL_error(L, "%s: path must be absolute, got '%s'", what, p);
	return p;
}

/* The op is created first: vk_lua_op_new raises (cannot yield, another op
 * pending) and nothing may be allocated before it. */
static int start(lua_State *L, vk_lua_op *op, fs_call *c)
{
	c->op = op;
	c->req.loop = vk_lua_loop(L);
	vk_lua_op_on_cancel(op, on_cancel, c);
	next(c); /* may finish at once on a queueing error (op finished early) */
	return vk_lua_op_yield(L, op);
}

static fs_call *new_call(const char *what, enum kind k, const char *path, enum state st)
{
	fs_call *c = vk_xcalloc(1, sizeof *c);
	c->what = what;
	c->kind = k;
	c->path = vk_strdup(path);
	c->fd = -1;
	c->st = st;
	return c;
}

static int l_mkdir_p(lua_State *L)
{
	const char *p = check_path(L, 1, "vk.fs.mkdir_p");
	int mode = (int)luaL_optinteger(L, 2, 0755);
	vk_lua_op *op = vk_lua_op_new(L, "vk.fs.mkdir_p");
	fs_call *c = new_call("vk.fs.mkdir_p", FS_MKDIR, p, ST_MKDIR);
	c->mode = mode;
	return start(L, op, c);
}

static int l_write_file(lua_State *L)
{
	const char *p = check_path(L, 1, "vk.fs.write_file");
	size_t n;
	const char *data = luaL_checklstring(L, 2, &n);
	int mode = (int)luaL_optinteger(L, 3, 0644);
	vk_lua_op *op = vk_lua_op_new(L, "vk.fs.write_file");
	fs_call *c = new_call("vk.fs.write_file", FS_WRITE, p, ST_OPEN);
	c->tmp = vk_asprintf("%s.vk-tmp", p);
	c->mode = mode;
	c->data = vk_xmalloc(n ? n : 1);
	memcpy(c->data, data, n);
	c->len = n;
	return start(L, op, c);
}

static int l_read_file(lua_State *L)
{
	const char *p = check_path(L, 1, "vk.fs.read_file");
	lua_Integer max = DEFAULT_MAX_READ, offset = 0;
	bool tail = false;
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "max_bytes");
		max = luaL_optinteger(L, -1, DEFAULT_MAX_READ);
		lua_getfield(L, 2, "tail");
		tail = lua_toboolean(L, -1);
		lua_getfield(L, 2, "offset");
		offset = luaL_optinteger(L, -1, 0);
		lua_pop(L, 3);
		if (max < 0 || max > (lua_Integer)(256u << 20))
			return luaL_error(L, "vk.fs.read_file: max_bytes must be in [0, 256 MiB]");
		if (offset < 0 || (offset > 0 && tail))
			return luaL_error(L, "vk.fs.read_file: offset must be >= 0, and not given with tail");
	}
	vk_lua_op *op = vk_lua_op_new(L, "vk.fs.read_file");
	fs_call *c = new_call("vk.fs.read_file", FS_READ, p, ST_OPEN);
	c->len = (size_t)max;
	c->at = tail ? -1 : (int64_t)offset;
	return start(L, op, c);
}

/* ---- remove_all: an `rm -rf` child, waited for on the loop ---------------- */

typedef struct {
	uv_process_t proc;
	vk_lua_op *op;
	char *path;
	int64_t status;
	int term;
} rm_call;

static int push_rm(lua_State *L, void *ud)
{
	rm_call *r = ud;
	if (r->status == 0 && r->term == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushfstring(L, "vk.fs.remove_all: %s: rm exited with status %d", r->path, (int)r->status);
	return 2;
}

static void rm_closed(uv_handle_t *h)
{
	rm_call *r = h->data;
	free(r->path);
	free(r);
}

static void rm_exit(uv_process_t *p, int64_t status, int term)
{
	rm_call *r = p->data;
	r->status = status;
	r->term = term;
	if (r->op)
		vk_lua_op_finish(r->op, push_rm, r);
	uv_close((uv_handle_t *)p, rm_closed);
}

static void rm_cancel(void *ud)
{
	rm_call *r = ud;
	vk_lua_op *op = r->op;
	r->op = NULL; /* let rm finish; its exit only closes the handle */
	vk_lua_op_finish(op, NULL, NULL);
}

static int l_remove_all(lua_State *L)
{
	const char *p = check_path(L, 1, "vk.fs.remove_all");
	if (strspn(p, "/") == strlen(p))
		return luaL_error(L, "vk.fs.remove_all: refusing to remove '%s'", p);
	vk_lua_op *op = vk_lua_op_new(L, "vk.fs.remove_all");
	rm_call *r = vk_xcalloc(1, sizeof *r);
	r->path = vk_strdup(p);
	r->op = op;
	char *args[] = {"rm", "-rf", "--", r->path, NULL};
	uv_process_options_t o = {.file = "rm", .args = args, .exit_cb = rm_exit};
	r->proc.data = r;
	int rc = uv_spawn(vk_lua_loop(L), &r->proc, &o);
	if (rc < 0) {
		/* uv_spawn initialised the handle; it must still be closed. */
		r->op = NULL;
		uv_close((uv_handle_t *)&r->proc, rm_closed);
		vk_lua_op_finish(op, NULL, NULL);
		return luaL_error(L, "vk.fs.remove_all: cannot run rm: %s", uv_strerror(rc));
	}
	vk_lua_op_on_cancel(op, rm_cancel, r);
	return vk_lua_op_yield(L, op);
}

int vk_lua__open_fs(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"mkdir_p", l_mkdir_p},
		{"write_file", l_write_file},
		{"read_file", l_read_file},
		{"remove_all", l_remove_all},
		{NULL, NULL},
	};
	luaL_newlib(L, fns);
	vk_lua__fs_meta_register(L);  /* bind_fs_meta.c: links, modes, owners, stat */
	vk_lua__fs_mount_register(L); /* bind_fs_mount.c: tmpfs */
	return 1;
}
