-- mynode/volumes/ownership.lua: the pod's fsGroup on a volume, as
-- kubelet's SetVolumeOwnership does it: every file and folder gets the
-- group, files group read (and write unless the volume is read-only),
-- folders also group search and the setgid bit, so that what a container
-- makes there belongs to the group too.  Links keep their mode.  With
-- fsGroupChangePolicy OnRootMismatch nothing is walked when the volume's
-- root already has the group and those bits.
local fs = require "vk.fs"
local C = require "mynode.common"

local must = C.must

local M = {}

local RW, RO, EXEC, SETGID = 432, 288, 72, 1024 -- 0660, 0440, 0110, 02000

local function change(path, st, gid, readonly)
  must(fs.lchown(path, -1, gid))
  if st.type == "link" then return end
  local mask = readonly and RO or RW
  if st.type == "directory" then mask = mask | SETGID | EXEC end
  must(fs.chmod(path, st.mode | mask))
end

local function walk(path, gid, readonly)
  local st = fs.lstat(path)
  if not st then return end
  change(path, st, gid, readonly)
  if st.type == "directory" then
    for _, n in ipairs(must(fs.readdir(path))) do walk(path .. "/" .. n, gid, readonly) end
  end
end

-- Whether the root of a volume lacks the group or the bits (kubelet's
-- requiresPermissionChange).
function M.root_mismatch(path, gid, readonly)
  local st = fs.stat(path)
  if not st or st.gid ~= gid or st.type ~= "directory" then return true end
  local want = (readonly and RO or RW) | EXEC
  return (st.mode & want) ~= want or (st.mode & SETGID) == 0
end

-- Applies fsGroup `gid` under path.  policy: "Always" (default) or
-- "OnRootMismatch".  Returns whether it walked.
function M.apply(path, gid, readonly, policy)
  gid = math.tointeger(gid)
  if not gid then return false end
  if policy == "OnRootMismatch" and not M.root_mismatch(path, gid, readonly) then return false end
  walk(path, gid, readonly)
  return true
end

-- The user every container of the pod runs as, when they all set the
-- same one (kubelet's FsUserFrom); nil otherwise.
function M.fs_user(pod)
  local psc = pod.spec.securityContext or {}
  local uid
  for _, list in ipairs{pod.spec.initContainers or {}, pod.spec.containers or {}} do
    for _, c in ipairs(list) do
      local u = math.tointeger(((c.securityContext or {}).runAsUser) or psc.runAsUser)
      if not u or (uid and u ~= uid) then return nil end
      uid = u
    end
  end
  return uid
end

-- The pod's fsGroup and fsGroupChangePolicy.
function M.of(pod)
  local sc = pod.spec.securityContext or {}
  return math.tointeger(sc.fsGroup), sc.fsGroupChangePolicy
end

return M
