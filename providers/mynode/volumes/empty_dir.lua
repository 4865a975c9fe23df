-- mynode/volumes/empty_dir.lua: emptyDir volumes.  A folder of mode 0777
-- (kubelet's, so that a container running as any user can write), or for
-- `medium: Memory` a tmpfs of that mode whose size is kubelet's: the
-- node's allocatable memory, lowered to the pod's memory limit (when every
-- container has one) and to the volume's sizeLimit.
local fs = require "vk.fs"
local k8s = require "vk.k8s"
local C = require "mynode.common"

local must = C.must

local M = {}

local MODE = 511 -- 0777

-- The pod's memory limit: the sum of its containers' (the largest init
-- container's when larger), or nil when a container has none.
local function pod_memory_limit(pod)
  local sum = 0
  for _, c in ipairs(pod.spec.containers or {}) do
    local l = ((c.resources or {}).limits or {}).memory
    if not l then return nil end
    sum = sum + (k8s.quantity(l) or 0)
  end
  for _, c in ipairs(pod.spec.initContainers or {}) do
    local l = ((c.resources or {}).limits or {}).memory
    if not l then return nil end
    sum = math.max(sum, k8s.quantity(l) or 0)
  end
  return sum > 0 and sum or nil
end

function M.memory_size(pod, v)
  local size = C.state.allocatable and C.state.allocatable.memory and k8s.quantity(C.state.allocatable.memory)
  local function lower(q)
    if q and q > 0 and (not size or q <= size) then size = q end
  end
  lower(pod_memory_limit(pod))
  if v.emptyDir.sizeLimit then
    local q, err = k8s.quantity(v.emptyDir.sizeLimit)
    if not q then error(("emptyDir %q sizeLimit: %s"):format(v.name, err), 0) end
    lower(q)
  end
  return size and math.floor(size) or 0
end

-- Whether path is a mount point (its device differs from its parent's).
local function mounted(path)
  local st, parent = fs.stat(path), fs.stat(C.dirname(path))
  return st and parent and st.dev ~= parent.dev
end

function M.setup(rec, v, dir)
  local medium = v.emptyDir.medium
  if medium ~= nil and medium ~= "" and medium ~= "Memory" then
    error(("emptyDir %q: medium %q is not supported (only the default and Memory)"):format(v.name, medium), 0)
  end
  must(fs.mkdir_p(dir, MODE))
  if medium == "Memory" and not mounted(dir) then
    must(fs.mount_tmpfs(dir, {size_bytes = M.memory_size(rec.pod, v), mode = MODE}))
  end
  must(fs.chmod(dir, MODE)) -- mkdir's mode went through the umask
  return dir
end

-- Unmounts the memory-backed emptyDirs under a pod's folder.
function M.unmount_all(pod_dir)
  local base = pod_dir .. "/volumes/kubernetes.io~empty-dir"
  for _, n in ipairs(fs.readdir(base) or {}) do
    local d = base .. "/" .. n
    if mounted(d) then must(fs.unmount(d)) end
  end
end

return M
