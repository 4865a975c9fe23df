-- mynode/status.lua: the pod status kubelet would write (phase,
-- conditions, container states with CrashLoopBackOff and ImagePullBackOff),
-- pushed through vk.notify when it changes.
local json = require "vk.json"
local timer = require "vk.timer"
local C = require "mynode.common"
local probes = require "mynode.probes"

local cfg, rfc3339, array = C.cfg, C.rfc3339, C.array

local M = {}

function M.terminated_of(info)
  return {
    exitCode = info.exit_code,
    reason = (info.reason ~= "" and info.reason) or (info.exit_code == 0 and "Completed" or "Error"),
    message = info.term_message or (info.message ~= "" and info.message) or nil,
    startedAt = rfc3339(info.started_at), finishedAt = rfc3339(info.finished_at),
    containerID = "containerd://" .. info.id,
  }
end

local function container_status(rec, c, is_init)
  local s = rec.cs[c.name]
  local st = {name = c.name, image = c.image, imageID = "", restartCount = s and s.attempt or 0,
              ready = false, started = false}
  local info = s and s.info
  local err = rec.image_errors[c.name] or (rec.config_errors and rec.config_errors[c.name])
  if info and err and info.state == "CONTAINER_EXITED" then
    -- restarting with a new image that cannot be pulled (mynode/update.lua)
    st.lastState = {terminated = M.terminated_of(info)}
    info = nil
  end
  if info then
    st.containerID = "containerd://" .. info.id
    st.imageID = info.image_ref or ""
    if info.state == "CONTAINER_RUNNING" then
      st.state = {running = {startedAt = rfc3339(info.started_at)}}
      -- Started: its startup probe (if any) passed; ready: started, and
      -- its readiness probe (if any) passes.
      st.started = probes.started(c, s)
      st.ready = (not is_init or C.is_sidecar(c)) and probes.ready(c, s)
    elseif info.state == "CONTAINER_EXITED" then
      if rec.failed then
        -- the pod has ended: its exit stands, no restart is waited for
        st.state = {terminated = M.terminated_of(info)}
      elseif s.force_restart then
        -- to be started again from a new image (mynode/update.lua): it is
        -- not terminated for good (the API forbids leaving that state)
        st.state = {waiting = {reason = "ContainerCreating"}}
        st.lastState = {terminated = M.terminated_of(info)}
      elseif s.next_start_ms then
        st.state = {waiting = {reason = "CrashLoopBackOff",
          message = ("back-off %ds restarting failed container=%s pod=%s_%s(%s)"):format(
            s.backoff_ms // 1000, c.name, rec.name, rec.ns, rec.uid)}}
        st.lastState = {terminated = M.terminated_of(info)}
      else
        st.state = {terminated = M.terminated_of(info)}
        -- kubelet: an init container that completed is ready
        if is_init and not C.is_sidecar(c) and info.exit_code == 0 then st.ready = true end
      end
    else
      st.state = {waiting = {reason = "ContainerCreating"}}
    end
    if s.prev_info and not st.lastState then st.lastState = {terminated = M.terminated_of(s.prev_info)} end
  elseif err then
    local reason = err.reason
    if reason == "ErrImagePull" and timer.now_ms() - err.at > 2000 then reason = "ImagePullBackOff" end
    st.state = {waiting = {reason = reason, message = err.message}}
  elseif #(rec.pod.spec.initContainers or {}) == 0 then
    st.state = {waiting = {reason = "ContainerCreating"}}
  else -- kubelet's default for every container of a pod with init containers
    st.state = {waiting = {reason = "PodInitializing"}}
  end
  st.lastState = st.lastState or {}
  return st
end

-- kubelet's last word on a pod that ended (its status manager's
-- TerminatePod): no container is left waiting.  Once the pod has
-- initialized, each container that never ran is terminated with reason
-- ContainerStatusUnknown and exit code 137; so is each init container up
-- to the last one that shows it started (the first, at least).  A pod
-- that fails at its activeDeadlineSeconds before its containers were
-- created ends this way.
local function has_initialized(pod, init_st, main_st)
  local inits = pod.spec.initContainers or {}
  if #inits == 0 then return true end
  for _, st in ipairs(main_st) do
    if not st.state.waiting or st.lastState.terminated then return true end
  end
  local last = init_st[#init_st]
  if not last then return false end
  if C.is_sidecar(inits[#inits]) then return last.state.running ~= nil and last.started end
  local t, lt = last.state.terminated, last.lastState.terminated
  return (t ~= nil and t.exitCode == 0) or (lt ~= nil and lt.exitCode == 0)
end

local function never_ran_ended(pod, init_st, main_st)
  -- (a container still running is left so: its stop is under way)
  local function ended(st)
    if st.state.waiting then
      st.state = {terminated = {exitCode = 137, reason = "ContainerStatusUnknown",
                                message = "The container could not be located when the pod was terminated"}}
    end
  end
  if has_initialized(pod, init_st, main_st) then
    for _, st in ipairs(main_st) do ended(st) end
  end
  local upto = math.min(1, #init_st)
  for i, st in ipairs(init_st) do
    if not st.state.waiting or st.lastState.terminated then upto = i end
  end
  for i = 1, upto do ended(init_st[i]) end
end

local function condition(rec, type_, ok)
  local status = ok and "True" or "False"
  local ct = rec.cond_times[type_]
  if not ct or ct.status ~= status then
    ct = {status = status, at = rfc3339(C.now_wall_ms(), true)}
    rec.cond_times[type_] = ct
  end
  return {type = type_, status = status, lastTransitionTime = ct.at, lastProbeTime = json.null}
end

function M.build(rec)
  local pod = rec.pod
  if rec.rejected then -- by kubelet's admission (sysctls): nothing ran
    return {phase = "Failed", reason = rec.rejected.reason, message = "Pod was rejected: " .. rec.rejected.message,
            startTime = rec.start_time}
  end
  local policy = pod.spec.restartPolicy or "Always"
  local init_st, main_st = {}, {}
  for _, c in ipairs(pod.spec.initContainers or {}) do init_st[#init_st + 1] = container_status(rec, c, true) end
  local running, started, all_ready, all_done, any_failed, n = 0, 0, true, true, false, 0
  for _, c in ipairs(pod.spec.containers or {}) do
    local st = container_status(rec, c, false)
    main_st[#main_st + 1] = st
    n = n + 1
    if st.state.running then running = running + 1 end
    if st.state.running or st.state.terminated or st.lastState.terminated then started = started + 1 end
    if not st.ready then all_ready = false end
    local term = st.state.terminated
    if not term then
      all_done = false
    elseif term.exitCode ~= 0 then
      any_failed = true
    end
  end
  -- kubelet's phases: terminal only when no container will run again.
  local phase
  if rec.failed then
    phase = "Failed"
  elseif not rec.init_done then
    phase = "Pending"
  elseif n > 0 and all_done and (policy == "Never" or (policy == "OnFailure" and not any_failed)) then
    phase = any_failed and "Failed" or "Succeeded"
  elseif running > 0 or started > 0 then
    phase = "Running" -- running, or restarting
  else
    phase = "Pending"
  end
  if rec.failed then never_ran_ended(pod, init_st, main_st) end
  local ready = all_ready and n > 0 and phase == "Running"
  local ip = rec.ip
  if C.host_network(pod) then ip = cfg.node_ip or ip end
  local status = {
    phase = phase,
    conditions = array{
      condition(rec, "PodScheduled", true),
      condition(rec, "Initialized", rec.init_done == true),
      condition(rec, "ContainersReady", ready),
      condition(rec, "Ready", ready),
    },
    hostIP = cfg.node_ip or ip,
    podIP = ip,
    podIPs = ip and array{{ip = ip}} or array{},
    startTime = rec.start_time,
    initContainerStatuses = array(init_st),
    containerStatuses = array(main_st),
  }
  local eph_st = {}
  for _, c in ipairs(pod.spec.ephemeralContainers or {}) do eph_st[#eph_st + 1] = container_status(rec, c, true) end
  if #eph_st > 0 then status.ephemeralContainerStatuses = array(eph_st) end
  if phase == "Failed" and rec.failed_reason then
    status.reason, status.message = rec.failed_reason, rec.failed
  end
  return status
end

-- Pushes the status when it changed.  The JSON form (without condition
-- times, which only change with the statuses) is the comparison key.
function M.publish(rec)
  local status = M.build(rec)
  rec.status = status
  local j = json.encode(status)
  if j ~= rec.status_json then
    rec.status_json = j
    vk.notify{namespace = rec.ns, name = rec.name, status = status}
  end
  return status
end

return M
