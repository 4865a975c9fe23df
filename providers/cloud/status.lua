-- cloud/status.lua: a pod's status from its instance, as the API describes
-- it.  The states map as ECI's do: Scheduling and Pending -> Pending,
-- Running -> Running, Succeeded -> Succeeded, ScheduleFailed and Failed ->
-- Failed.  Pure but for vk.json's array marks.
local json = require "vk.json"

local M = {}

M.PHASE = {
  Scheduling = "Pending", Pending = "Pending", Restarting = "Pending",
  Running = "Running", Succeeded = "Succeeded",
  ScheduleFailed = "Failed", Failed = "Failed", Expired = "Failed",
}

local function condition(type_, status, t, reason, message)
  return {type = type_, status = status, lastTransitionTime = t, lastProbeTime = json.null,
          reason = reason, message = message}
end

local function now_rfc3339() return os.date("!%Y-%m-%dT%H:%M:%SZ") end

-- A status that says why the pod waits (no instance yet): quota, a spec
-- no table holds, a DaemonSet pod.
function M.waiting(pod, host_ip, reason, message)
  local t = now_rfc3339()
  local cs = json.array()
  for i, c in ipairs(pod.spec.containers or {}) do
    cs[i] = {name = c.name, image = c.image, imageID = "", ready = false, started = false, restartCount = 0,
             state = {waiting = {reason = reason, message = message}}}
  end
  return {
    phase = "Pending", reason = reason, message = message,
    conditions = json.array {condition("PodScheduled", "True", t)},
    hostIP = host_ip, hostIPs = json.array {{ip = host_ip}},
    containerStatuses = cs,
  }
end

local function container_state(cs, instance_state)
  local st = cs.State or "Waiting"
  if st == "Running" then return {running = {startedAt = cs.StartTime}} end
  if st == "Terminated" then
    return {terminated = {exitCode = cs.ExitCode or 1, reason = cs.Reason or instance_state,
                          startedAt = cs.StartTime, finishedAt = cs.FinishTime}}
  end
  return {waiting = {reason = cs.Reason or "ContainerCreating"}}
end

-- The pod's status from its instance `g`.
function M.from_group(pod, g, host_ip)
  local phase = M.PHASE[g.Status] or "Pending"
  local t = g.StartTime or g.CreationTime
  local by_name = {}
  for _, c in ipairs(g.Containers or {}) do by_name[c.Name] = c end
  local statuses = json.array()
  local all_ready = #(pod.spec.containers or {}) > 0
  for i, c in ipairs(pod.spec.containers or {}) do
    local gc = by_name[c.name] or {}
    local ready = gc.Ready == true and phase == "Running"
    all_ready = all_ready and ready
    -- imageID only once running: a status write per change costs the API
    -- server, and Scheduling/Pending must read the same
    statuses[i] = {
      name = c.name, image = c.image, imageID = ready and ("cloud://" .. c.image) or "",
      containerID = ready and ("cloud://" .. g.ContainerGroupId .. "/" .. c.name) or nil,
      ready = ready, started = ready, restartCount = gc.RestartCount or 0,
      state = container_state(gc.CurrentState or {}, g.Status),
    }
  end
  local ready = all_ready and "True" or "False"
  local s = {
    phase = phase,
    conditions = json.array {
      condition("PodScheduled", "True", g.CreationTime),
      condition("Initialized", phase == "Pending" and "False" or "True", t),
      condition("ContainersReady", ready, t),
      condition("Ready", ready, t),
    },
    hostIP = host_ip, hostIPs = json.array {{ip = host_ip}},
    startTime = g.CreationTime,
    containerStatuses = statuses,
  }
  if g.IntranetIp then s.podIP, s.podIPs = g.IntranetIp, json.array {{ip = g.IntranetIp}} end
  if phase == "Failed" then
    local ev = (g.Events or {})[1] or {}
    s.reason = ev.Reason or g.Status
    s.message = ev.Message or ("the instance is " .. tostring(g.Status))
  elseif g.Status == "Scheduling" or g.Status == "Pending" then
    s.reason, s.message = nil, nil
  end
  return s
end

-- The status of a pod whose instance is gone from the cloud (deleted by
-- someone else, or expired): kubelet's view of a vanished sandbox.
function M.gone(pod, host_ip, id)
  local s = M.waiting(pod, host_ip, "InstanceGone", "instance " .. tostring(id) .. " is gone from the cloud")
  s.phase = "Failed"
  for _, cs in ipairs(s.containerStatuses) do
    cs.state = {terminated = {exitCode = 137, reason = "InstanceGone"}}
  end
  return s
end

return M
