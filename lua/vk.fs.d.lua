---@meta
-- vk.fs: file operations off the loop thread (libuv's pool; remove_all runs
-- `rm -rf`).  Paths must be absolute.  Each yields; failures return
-- nil, "vk.fs.NAME: PATH: reason" (bad arguments raise).

---@class vk.fs
local fs = {}

--- Makes path and every missing parent (mode default 0755); existing ones are fine.
---@param path string
---@param mode? integer
---@return true|nil ok
---@return string? err
function fs.mkdir_p(path, mode) end

--- Writes data atomically (PATH.vk-tmp, then rename); mode default 0644.
---@param path string
---@param data string
---@param mode? integer
---@return true|nil ok
---@return string? err
function fs.write_file(path, data, mode) end

--- Reads a file: at most max_bytes (default 16 MiB), the last ones when tail,
--- or those from byte offset on (what a follower of a growing file reads next;
--- "" at or past the end).
--- A file whose size says 0 (/proc, /sys) is read to its end, at most 1 MiB.
---@param path string
---@param opts? {max_bytes?: integer, tail?: boolean, offset?: integer}
---@return string|nil data
---@return string? err
function fs.read_file(path, opts) end

---@class vk.fs.Stat
---@field type "file"|"directory"|"link"|"socket"|"char"|"block"|"fifo"|"unknown"
---@field mode integer  the permission bits (07777)
---@field uid integer
---@field gid integer
---@field size integer
---@field dev integer
---@field ino integer

--- The calls below return, on failure, a third value: libuv's error name
--- ("ENOENT", "EEXIST", "ENOTDIR"...), to act on why.

--- Makes a symbolic link at path pointing to target (target may be relative).
---@param target string
---@param path string
---@return true|nil ok
---@return string? err
---@return string? code
function fs.symlink(target, path) end

--- The target of the symbolic link at path.
---@param path string
---@return string|nil target
---@return string? err
---@return string? code
function fs.readlink(path) end

--- Renames from to to, replacing to atomically (a file, a link or an empty folder).
---@param from string
---@param to string
---@return true|nil ok
---@return string? err
---@return string? code
function fs.rename(from, to) end

--- Removes a file or a symbolic link (not a folder: see remove_all).
---@param path string
---@return true|nil ok
---@return string? err
---@return string? code
function fs.unlink(path) end

--- Sets the permission bits (following links).
---@param path string
---@param mode integer  0 .. 07777
---@return true|nil ok
---@return string? err
---@return string? code
function fs.chmod(path, mode) end

--- Sets the owner and group of path itself (a link is not followed); -1 keeps one.
---@param path string
---@param uid integer
---@param gid integer
---@return true|nil ok
---@return string? err
---@return string? code
function fs.lchown(path, uid, gid) end

--- What path is (following links).
---@param path string
---@return vk.fs.Stat|nil st
---@return string? err
---@return string? code
function fs.stat(path) end

--- What path is, a link itself rather than its target.
---@param path string
---@return vk.fs.Stat|nil st
---@return string? err
---@return string? code
function fs.lstat(path) end

--- The names in a folder (without "." and ".."), in no set order.
---@param path string
---@return string[]|nil names
---@return string? err
---@return string? code
function fs.readdir(path) end

--- Mounts a tmpfs on path (an existing folder): nosuid, nodev, the given
--- size (0 or absent: the kernel's default, half the RAM) and mode (0777).
--- Needs CAP_SYS_ADMIN.
---@param path string
---@param opts? {size_bytes?: integer, mode?: integer}
---@return true|nil ok
---@return string? err
---@return string? code
function fs.mount_tmpfs(path, opts) end

--- Unmounts path (lazily when it is busy).
---@param path string
---@return true|nil ok
---@return string? err
---@return string? code
function fs.unmount(path) end

--- Removes path and everything under it; a missing path is fine; "/" is refused.
---@param path string
---@return true|nil ok
---@return string? err
function fs.remove_all(path) end

return fs
