-- mynode/logs.lua: container logs from the CRI log file ("TIME STREAM
-- P|F text" lines), as kubectl logs asks for them.
local cri = require "vk.cri"
local fs = require "vk.fs"
local C = require "mynode.common"

local M = {}

-- The text lines of CRI log data (partial lines joined), with their
-- timestamps in front when asked.
function M.lines(data, timestamps)
  local out, partial = {}, ""
  for line in data:gmatch("[^\n]+") do
    local ts, tag, text = line:match("^(%S+) %S+ (%S+) ?(.*)$")
    if ts then
      local piece = (timestamps and partial == "" and (ts .. " ") or "") .. text
      if tag == "P" then
        partial = partial .. piece
      else
        out[#out + 1] = partial .. piece
        partial = ""
      end
    end
  end
  return out
end

-- opts: tailLines, limitBytes, timestamps, previous.
function M.container_logs(ns, name, container, opts)
  opts = opts or {}
  local rec = C.state.pods[C.key_of(ns, name)]
  if not rec then error(("pod %s/%s not found"):format(ns, name)) end
  local s = rec.cs[container]
  if not s then error(("container %s not found in pod %s/%s"):format(container, ns, name)) end
  local info = opts.previous and s.prev_info or s.info
  if not info then
    if opts.previous then error(("previous terminated container %s not found"):format(container)) end
    local ok, r = pcall(cri.container_status, {container_id = s.id})
    info = ok and r.status or nil
  end
  if not info or info.log_path == "" then return "" end
  local limit = math.tointeger(opts.limitBytes) or (8 << 20)
  local data = fs.read_file(info.log_path, {max_bytes = limit, tail = true}) or ""
  local out = M.lines(data, opts.timestamps)
  local n = math.tointeger(opts.tailLines)
  if n and n < #out then out = table.move(out, #out - n + 1, #out, 1, {}) end
  if #out == 0 then return "" end
  return table.concat(out, "\n") .. "\n"
end

-- Removes the pod's log folder.
function M.remove(md)
  fs.remove_all(("%s/%s_%s_%s"):format(C.cfg.log_root, md.namespace, md.name, md.uid))
end

return M
