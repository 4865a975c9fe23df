-- mynode/volumes/host_path.lua: hostPath volumes and kubelet's checks of
-- their `type`: Directory, DirectoryOrCreate (made 0755), File,
-- FileOrCreate (an empty 0644 file; its folder must exist), Socket,
-- CharDevice, BlockDevice; "" checks nothing.  A failed check raises
-- kubelet's message ("hostPath type check failed: P is not a directory").
local fs = require "vk.fs"
local C = require "mynode.common"

local must = C.must

local M = {}

local WANT = {
  Directory = {"directory", "is not a directory"},
  DirectoryOrCreate = {"directory", "is not a directory"},
  File = {"file", "is not a file"},
  FileOrCreate = {"file", "is not a file"},
  Socket = {"socket", "is not a socket file"},
  CharDevice = {"char", "is not a character device"},
  BlockDevice = {"block", "is not a block device"},
}

-- Checks (and for the OrCreate types makes) path; returns it.
function M.check(path, t)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
    error(("hostPath path %q must be absolute"):format(tostring(path)), 0)
  end
  if t == nil or t == "" then return path end
  local want = WANT[t]
  if not want then error(("hostPath type %q is not supported"):format(tostring(t)), 0) end
  local st = fs.stat(path)
  if not st and t == "DirectoryOrCreate" then
    must(fs.mkdir_p(path, 493))
    must(fs.chmod(path, 493))
    st = fs.stat(path)
  elseif not st and t == "FileOrCreate" then
    local ok, err = fs.write_file(path, "", 420)
    if not ok then error(("hostPath type check failed: cannot create %s: %s"):format(path, err), 0) end
    st = fs.stat(path)
  end
  if not st or st.type ~= want[1] then
    error(("hostPath type check failed: %s %s"):format(path, want[2]), 0)
  end
  return path
end

return M
