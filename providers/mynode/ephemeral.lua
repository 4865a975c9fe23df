-- mynode/ephemeral.lua: ephemeral containers (`kubectl debug`), as kubelet
-- 1.35 runs them.  The pod's ephemeralContainers arrive through update_pod
-- (the core resolves their env first); each is started once in the running
-- sandbox, never restarted, even before the init containers are done.  With
-- targetContainerName it joins that container's process namespace (CRI
-- NamespaceMode TARGET).  Their states go to status.ephemeralContainerStatuses.
local images = require "mynode.images"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"

local M = {}

-- update_pod (and create_pod, for a pod debugged before it came here):
-- takes the ephemeral containers and pulls the images not pulled yet (per
-- imagePullPolicy, with the pod's imagePullSecrets).  A failed pull shows
-- as ErrImagePull in the container's status and is tried again at the next
-- update; the pod's other containers go on.
function M.update(rec, pod)
  local list = pod.spec.ephemeralContainers
  if not list or #list == 0 then return end
  rec.eph_pulled = rec.eph_pulled or {}
  for _, c in ipairs(list) do
    if not rec.eph_pulled[c.name] or rec.image_errors[c.name] then
      local e = images.ensure(c, function() return images.pull_auth(rec, c.image) end) -- raises: retried
      rec.eph_pulled[c.name] = true
      rec.image_errors[c.name] = nil
      if e then
        e.at = timer.now_ms()
        rec.image_errors[c.name] = e
        C.event(rec, "Warning", "Failed", e.message)
        log.warn("%s: ephemeral container %s: %s", rec.key, c.name, e.message)
      end
    end
  end
  rec.pod.spec.ephemeralContainers = list
end

-- The container ID to share the process namespace of, for c (nil: none).
-- Raises when the target has no container, as kubelet refuses it.
function M.target_id(rec, c)
  local t = c.targetContainerName
  if not t or t == "" then return nil end
  local s = rec.cs[t]
  if not s or not s.id then error(("unable to find target container %s"):format(t), 0) end
  return s.id
end

-- One sync step for the ephemeral containers: start the ones never
-- started.  step(rec, c, is_init, policy) is containers.lua's step.
-- Returns true when one was started.
function M.step(rec, step)
  local started = false
  for _, c in ipairs(rec.pod.spec.ephemeralContainers or {}) do
    if step(rec, c, false, "Never") == "started" then started = true end
  end
  return started
end

return M
