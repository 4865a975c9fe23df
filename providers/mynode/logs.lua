-- mynode/logs.lua: container logs from the CRI log file, as kubectl logs
-- asks for them (kubelet's PodLogOptions: previous, sinceSeconds,
-- sinceTime, timestamps, tailLines, limitBytes, follow).  The format and
-- the options' pure parts are in mynode/cri_log.lua.
local cri = require "vk.cri"
local fs = require "vk.fs"
local timer = require "vk.timer"
local C = require "mynode.common"
local L = require "mynode.cri_log"

local M = {}

M.POLL_MS = 200           -- how often a follow looks for new bytes
M.STATUS_EVERY_MS = 1000  -- and asks the runtime whether the container still runs
M.MAX_START = 8 << 20     -- the most read of a log's end when a request starts
M.MAX_CHUNK = 1 << 20     -- the most read at once while following
M.MAX_WRITE = 64 << 10    -- the most handed to the client at once

-- The old interface: the text lines of CRI log data (partial lines
-- joined), with their timestamps in front when asked.
function M.lines(data, timestamps)
  local out = {}
  for i, l in ipairs(L.assembler():feed(data)) do
    out[i] = (timestamps and (l.ts .. " ") or "") .. l.text
  end
  return out
end

-- Where the instance's log is, and its container id: the current
-- instance, or with previous the one before (kubelet's errors otherwise).
local function instance(ns, name, container, previous)
  local rec = C.state.pods[C.key_of(ns, name)]
  if not rec then error(("pod %s/%s not found"):format(ns, name), 0) end
  local s = rec.cs[container]
  if not s then error(("container %s not found in pod %s/%s"):format(container, ns, name), 0) end
  if previous then
    if not s.prev_info then
      error(("previous terminated container %q in pod %q not found"):format(container, name), 0)
    end
    return s.prev_info, s.prev
  end
  local info = s.info
  if not info and s.id then
    local ok, r = pcall(cri.container_status, {container_id = s.id})
    info = ok and r.status or nil
  end
  return info, s.id
end

-- Whether the instance still runs (a follow ends after the last bytes of
-- one that does not).
local function running(id)
  if not id then return false end
  local ok, r = pcall(cri.container_status, {container_id = id})
  if not ok then return false end -- removed
  local st = r.status and r.status.state
  return st == "CONTAINER_RUNNING" or st == "CONTAINER_CREATED"
end

-- What a request reads of the log at its start: {data=, offset=, ino=},
-- offset being where a follow goes on.  Its end, at most MAX_START bytes
-- beginning at a line (a cut first line is dropped); or with head, its
-- first head bytes (limitBytes alone wants the log's first bytes, which
-- take no more room in the file than in the answer).
function M.read_start(path, head)
  local st = fs.stat(path)
  if not st then return {data = "", offset = 0} end
  if head then
    local data = fs.read_file(path, {max_bytes = math.min(head, M.MAX_START)}) or ""
    return {data = data, offset = #data, ino = st.ino}
  end
  local from = st.size > M.MAX_START and st.size - M.MAX_START or 0
  local data = fs.read_file(path, {offset = from, max_bytes = M.MAX_START}) or ""
  local offset = from + #data
  if from > 0 then data = data:match("^[^\n]*\n(.*)$") or "" end
  return {data = data, offset = offset, ino = st.ino}
end

-- Sends text in pieces of at most MAX_WRITE; false once the client is gone.
local function send(out, text)
  for i = 1, #text, M.MAX_WRITE do
    if not out:write(text:sub(i, i + M.MAX_WRITE - 1)) then return false end
  end
  return true
end

-- Follows path as it grows, from `offset` of the file `ino`, writing each
-- new line to out, until the instance no longer runs (is_running() false:
-- the bytes written before are still read) or the client goes away.  A
-- file replaced (another inode: a rotation) or cut shorter (truncated) is
-- read again from its start.
function M.follow(path, pos, asm, since, timestamps, out, is_running)
  local offset, ino = pos.offset, pos.ino
  local next_check = 0
  while not out:closed() do
    local ended = false
    local now = timer.now_ms()
    if now >= next_check then
      ended = not is_running()
      next_check = now + M.STATUS_EVERY_MS
    end
    local lines = {}
    local grew = false
    local st = fs.stat(path)
    if st and (st.ino ~= ino or st.size < offset) then
      asm:flush(lines)
      offset, ino = 0, st.ino
    end
    if st and st.size > offset then
      local data = fs.read_file(path, {offset = offset, max_bytes = M.MAX_CHUNK})
      if data and #data > 0 then
        offset = offset + #data
        asm:feed(data, lines)
        grew = true
      end
    end
    if ended and not grew then asm:flush(lines) end
    L.filter_since(lines, since)
    if #lines > 0 and not send(out, L.render(lines, timestamps)) then return end
    if ended and not grew then return end
    if not grew then timer.sleep(M.POLL_MS) end
  end
end

-- container_logs(ns, pod, container, opts [, out]): the text, or with
-- opts.follow the lines written to out as they come, until the container
-- exits or the client leaves.
function M.container_logs(ns, name, container, opts, out)
  opts = opts or {}
  local info, id = instance(ns, name, container, opts.previous)
  if not info or (info.log_path or "") == "" then return "" end
  local path = info.log_path
  local now_s = os.time()
  local since = L.since_ns(opts, now_s)
  local limit = math.tointeger(opts.limitBytes)
  local head = limit and not opts.tailLines and not since and limit + (64 << 10) or nil
  local start = M.read_start(path, head)
  local live = not opts.previous and running(id)
  if not (opts.follow and out) then
    return L.select(start.data, opts, now_s, not live)
  end
  local asm = L.assembler()
  local lines = asm:feed(start.data)
  if not live then asm:flush(lines) end
  lines = L.tail(L.filter_since(lines, since), opts.tailLines)
  if not send(out, L.render(lines, opts.timestamps)) or not live then return end
  M.follow(path, start, asm, since, opts.timestamps, out, function() return running(id) end)
end

-- Removes the pod's log folder.
function M.remove(md)
  fs.remove_all(("%s/%s_%s_%s"):format(C.cfg.log_root, md.namespace, md.name, md.uid))
end

return M
