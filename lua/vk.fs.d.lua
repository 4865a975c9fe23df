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

--- Reads a file: at most max_bytes (default 16 MiB), the last ones when tail.
--- A file whose size says 0 (/proc, /sys) is read to its end, at most 1 MiB.
---@param path string
---@param opts? {max_bytes?: integer, tail?: boolean}
---@return string|nil data
---@return string? err
function fs.read_file(path, opts) end

--- Removes path and everything under it; a missing path is fine; "/" is refused.
---@param path string
---@return true|nil ok
---@return string? err
function fs.remove_all(path) end

return fs
