---@meta
-- vk.host: what the machine has, for a provider that reports the node's
-- capacity and pressure conditions as kubelet does (providers/mynode/node.lua).
-- The rest (/proc/meminfo, cgroup limits, /proc/sys/kernel/pid_max) is
-- plain files: vk.fs.read_file reads /proc and /sys files to their end.

---@class vk.host
local host = {}

---@class vk.host.statfs
---@field size integer         bytes of the filesystem
---@field free integer         bytes free
---@field avail integer        bytes free to unprivileged users (kubelet's nodefs.available)
---@field inodes integer       inodes of the filesystem
---@field inodes_free integer  inodes free (kubelet's nodefs.inodesFree)

--- statfs(2) of the filesystem holding path (absolute), on libuv's thread
--- pool: yields.  nil, "vk.host.statfs: PATH: reason" when it fails.
---@param path string
---@return vk.host.statfs|nil st
---@return string? err
function host.statfs(path) end

---@class vk.host.sysinfo
---@field cpus integer    online CPUs
---@field memory integer  RAM in bytes
---@field procs integer   processes (threads) running now

--- sysinfo(2) and the online CPU count; answers at once (no yield).
---@return vk.host.sysinfo
function host.sysinfo() end

return host
