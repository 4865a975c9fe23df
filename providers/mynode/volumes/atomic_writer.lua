-- mynode/volumes/atomic_writer.lua: kubelet's atomic writer for configMap,
-- secret, downwardAPI and projected volumes.
--
--   DIR/..2026_12_02_07_30_00.000123_4/   the files of one version
--   DIR/..data -> ..2026_12_02_07_30_00.000123_4
--   DIR/KEY    -> ..data/KEY              one link per top-level name
--
-- An update writes a new timestamped folder, points a fresh `..data_tmp`
-- link at it and renames that over `..data` (one rename(2): a reader sees
-- the old set or the new one, never a mix), adds links for new names,
-- drops those of names that went, and removes the old folder.
local fs = require "vk.fs"
local timer = require "vk.timer"
local C = require "mynode.common"

local must = C.must

local M = {}

local DATA, DATA_TMP = "..data", "..data_tmp"

-- What was last written to each folder (path, mode and bytes of every
-- file): a refresh that finds the same payload writes nothing.  Callers
-- pass a table of their own (opts.memo: mynode keeps it on the pod's
-- record, so it survives a hot reload); lost on a restart, which costs one
-- rewrite.
local written = {}
local serial = 0

-- A payload path as kubelet accepts it: relative, no "..", no element
-- starting with "..", not empty.
local function check_path(p)
  if type(p) ~= "string" or p == "" or p:sub(1, 1) == "/" then
    error(("volume item path %q must be a relative path"):format(tostring(p)), 0)
  end
  for part in p:gmatch("[^/]+") do
    if part:sub(1, 2) == ".." then error(("volume item path %q must not contain '..'"):format(p), 0) end
  end
end

local function fingerprint(payload, extra)
  local paths = {}
  for p in pairs(payload) do paths[#paths + 1] = p end
  table.sort(paths)
  local parts = {extra or ""}
  for _, p in ipairs(paths) do
    local f = payload[p]
    parts[#parts + 1] = ("%s\0%o\0%s\0%d\0%s"):format(p, f.mode, tostring(f.uid), #f.data, f.data)
  end
  return table.concat(parts, "\0")
end

local function top_names(payload)
  local names = {}
  for p in pairs(payload) do names[p:match("^[^/]+")] = true end
  return names
end

-- Writes payload (path -> {data=, mode=, uid=}) into dir as one version
-- (uid: the file's owner, else root).
-- opts.set_perms(tsdir): called on the new version's folder before the
-- swap (fsGroup ownership).  opts.key: anything else that should force a
-- rewrite when it changes (e.g. the fsGroup).  opts.memo: where to
-- remember what was written (default: this module's table).  Returns true
-- when it wrote, false when dir already held this payload.
function M.write(dir, payload, opts)
  opts = opts or {}
  local memo = opts.memo or written
  for p, f in pairs(payload) do
    check_path(p)
    if type(f.data) ~= "string" then error(("volume item %q has no data"):format(p), 0) end
  end
  local fp = fingerprint(payload, opts.key)
  local current = fs.readlink(dir .. "/" .. DATA)
  if current and memo[dir] == fp then return false end
  must(fs.mkdir_p(dir, 493))
  serial = serial + 1
  local name = ("..%s.%06d_%d"):format(os.date("!%Y_%m_%d_%H_%M_%S"), timer.now_ms() % 1000000, serial)
  local ts = dir .. "/" .. name
  must(fs.mkdir_p(ts, 493))
  for p, f in pairs(payload) do
    local full = ts .. "/" .. p
    must(fs.mkdir_p(C.dirname(full), 493))
    must(fs.write_file(full, f.data, f.mode))
    must(fs.chmod(full, f.mode)) -- write_file's mode went through the umask
    if f.uid then must(fs.lchown(full, f.uid, -1)) end
  end
  if opts.set_perms then opts.set_perms(ts) end
  -- the swap
  fs.unlink(dir .. "/" .. DATA_TMP)
  must(fs.symlink(name, dir .. "/" .. DATA_TMP))
  must(fs.rename(dir .. "/" .. DATA_TMP, dir .. "/" .. DATA))
  -- the names the user sees
  local names = top_names(payload)
  for n in pairs(names) do
    local st = fs.lstat(dir .. "/" .. n)
    if st and st.type ~= "link" then -- a plain file from an older layout
      must(fs.remove_all(dir .. "/" .. n))
      st = nil
    end
    if not st then must(fs.symlink(DATA .. "/" .. n, dir .. "/" .. n)) end
  end
  for _, n in ipairs(must(fs.readdir(dir))) do
    if n:sub(1, 2) ~= ".." and not names[n] then must(fs.remove_all(dir .. "/" .. n)) end
  end
  if current and current ~= name then must(fs.remove_all(dir .. "/" .. current)) end
  memo[dir] = fp
  return true
end

-- Forgets what was written under prefix (the pod's folder is going away).
function M.forget(prefix)
  for d in pairs(written) do
    if d:sub(1, #prefix) == prefix then written[d] = nil end
  end
end

return M
