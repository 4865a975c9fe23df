-- mynode/terminal.lua: the status a deleted pod ends with, as kubelet
-- writes it once the containers are stopped: each container terminated
-- with its real exit code and reason (143/Error after SIGTERM, 137 after
-- SIGKILL, 0/Completed, as the runtime says), a container that never ran
-- left waiting, and the phase terminal: Succeeded when every container
-- exited 0, Failed otherwise.  delete_pod returns it and the core writes
-- it before removing the pod object.
local containers = require "mynode.containers"
local status = require "mynode.status"

local M = {}

local function settle(st, s)
  local info = s and s.info
  if info and info.state == "CONTAINER_EXITED" then
    if st.state.waiting then
      -- it was waiting to restart: its last run is how it ended
      st.lastState = s.prev_info and {terminated = status.terminated_of(s.prev_info)} or {}
    end
    st.state = {terminated = status.terminated_of(info)}
  end
  st.ready, st.started = false, false
  return st.state.terminated
end

-- The final status of rec's pod, its containers read back from the runtime.
function M.final_status(rec)
  if rec.sandbox_id then pcall(containers.observe, rec) end
  local st = status.build(rec)
  local all_ok, n = true, 0
  for _, cs in ipairs(st.containerStatuses or {}) do
    n = n + 1
    local term = settle(cs, rec.cs[cs.name])
    if not term or term.exitCode ~= 0 then all_ok = false end
  end
  for _, cs in ipairs(st.initContainerStatuses or {}) do settle(cs, rec.cs[cs.name]) end
  st.phase = (all_ok and n > 0) and "Succeeded" or "Failed"
  st.conditions = nil -- the core sets Ready and ContainersReady False; the rest stay
  return st
end

return M
