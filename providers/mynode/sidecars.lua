-- mynode/sidecars.lua: the init phase with sidecar containers (init
-- containers with restartPolicy Always), kubelet's way: init containers
-- run in order; a regular one must complete, a sidecar must be started
-- (running, its postStart done and its startupProbe passed) before the
-- next one starts.  Sidecars then keep running beside the containers and
-- are restarted whenever they exit, whatever the pod's restartPolicy;
-- when the containers of a Never/OnFailure pod are all done, the
-- sidecars are stopped, in reverse order, and do not count for the phase.
local log = require "vk.log"
local C = require "mynode.common"
local hooks = require "mynode.hooks"
local probes = require "mynode.probes"

local M = {}

function M.of(pod)
  local list = {}
  for _, c in ipairs(pod.spec.initContainers or {}) do
    if C.is_sidecar(c) then list[#list + 1] = c end
  end
  return list
end

-- One step of the init phase.  step(rec, c, is_init, policy) is the
-- container step of mynode/containers.lua.  Returns true when every init
-- container is done (regular ones succeeded, sidecars started), or
-- false and, for a regular one that failed under restartPolicy Never,
-- the pod's failure message.
function M.step_init(rec, step, policy)
  for _, c in ipairs(rec.pod.spec.initContainers or {}) do
    if C.is_sidecar(c) then
      step(rec, c, false, "Always")
      if not probes.started(c, rec.cs[c.name]) then return false end
    else
      local r = step(rec, c, true, policy)
      if r ~= "succeeded" then
        if r == "exited" and policy == "Never" then
          return false, ("init container %s failed with exit code %d"):format(c.name, rec.cs[c.name].info.exit_code)
        end
        return false
      end
    end
  end
  return true
end

-- After the init phase: sidecars that exited are restarted, unless the
-- containers are done, in which case the running ones are stopped.
function M.keep(rec, step, mains_done)
  local list = M.of(rec.pod)
  if not mains_done then
    for _, c in ipairs(list) do step(rec, c, false, "Always") end
    return
  end
  if rec.sidecars_stopped then return end
  rec.sidecars_stopped = true
  local grace = math.tointeger(rec.pod.spec.terminationGracePeriodSeconds) or 30
  for i = #list, 1, -1 do
    local c = list[i]
    local s = rec.cs[c.name]
    if s and s.info and s.info.state == "CONTAINER_RUNNING" then
      log.info("%s: containers done; stopping sidecar %s", rec.key, c.name)
      local left = hooks.pre_stop(rec, c, s, grace)
      pcall(require("vk.cri").stop_container, {container_id = s.id, timeout = left},
            {timeout_ms = left * 1000 + 30000})
    end
  end
end

return M
