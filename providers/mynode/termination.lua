-- mynode/termination.lua: termination messages, as kubelet makes them.
-- Each container instance gets a fresh empty file, mode 0666, bind-mounted
-- at its terminationMessagePath (default /dev/termination-log); when the
-- instance has exited, the file's last 4096 bytes become
-- state.terminated.message.  With terminationMessagePolicy
-- FallbackToLogsOnError, a container that failed (exit code not 0) and
-- left the file empty gets the tail of its log instead: the last 80
-- lines, at most the last 2048 bytes (kubelet's
-- MaxContainerTerminationMessageLogLines/Length).
local fs = require "vk.fs"
local C = require "mynode.common"
local logs = require "mynode.logs"

local M = {}

local MAX_MESSAGE = 4096
local LOG_LINES, LOG_BYTES = 80, 2048
local DEFAULT_PATH = "/dev/termination-log"

local function container_path(c)
  local p = c.terminationMessagePath
  if p == nil or p == "" then return DEFAULT_PATH end
  return p
end

-- The mount (a CRI Mount) of instance `attempt` of container c, its file
-- made empty now.  The folder is the pod's, removed with it.
function M.mount(rec, c, attempt)
  local dir = ("%s/%s/containers/%s"):format(C.cfg.pod_root, rec.uid, c.name)
  C.must(fs.mkdir_p(dir))
  local file = ("%s/%d.termination-log"):format(dir, attempt)
  C.must(fs.write_file(file, "", 438)) -- 0666: any user the container runs as may write it
  return {container_path = container_path(c), host_path = file, readonly = false,
          propagation = "PROPAGATION_PRIVATE"}
end

-- The message of an exited instance (its CRI ContainerStatus `info`), or
-- nil: read from the file behind its terminationMessagePath mount.
function M.message(c, info)
  local want, file = container_path(c), nil
  for _, m in ipairs(info.mounts or {}) do
    if m.container_path == want then file = m.host_path end
  end
  local msg = ""
  if file then
    local data, err = fs.read_file(file, {max_bytes = MAX_MESSAGE, tail = true})
    if data then msg = data
    elseif not tostring(err):find("no such file", 1, true) then
      return ("Error on reading termination log %s: %s"):format(file, tostring(err))
    end
  end
  if msg == "" and c.terminationMessagePolicy == "FallbackToLogsOnError" and info.exit_code ~= 0
     and info.log_path and info.log_path ~= "" then
    local data = fs.read_file(info.log_path, {max_bytes = 1 << 20, tail = true}) or ""
    local lines = logs.lines(data)
    if #lines > LOG_LINES then lines = table.move(lines, #lines - LOG_LINES + 1, #lines, 1, {}) end
    msg = #lines > 0 and (table.concat(lines, "\n") .. "\n") or ""
    if #msg > LOG_BYTES then msg = msg:sub(-LOG_BYTES) end
  end
  if msg == "" then return nil end
  return msg
end

return M
