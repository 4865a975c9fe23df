-- mynode/probes.lua: startup, readiness and liveness probes, kubelet's way.
-- Each kind runs after its initialDelaySeconds (from the container's
-- start), then every periodSeconds, counting successThreshold and
-- failureThreshold.  While a container has a startupProbe that has not
-- passed, neither liveness nor readiness runs and it is neither started
-- nor ready; a startup or liveness probe that fails failureThreshold
-- times stops the container, which restarts per restartPolicy.  What a
-- probe runs is in mynode/handlers.lua (exec, httpGet, tcpSocket, grpc;
-- network probes connect inside the pod's network namespace).
local cri = require "vk.cri"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"
local handlers = require "mynode.handlers"
local hooks = require "mynode.hooks"

local M = {}

local function has_probe(c) return c.startupProbe or c.readinessProbe or c.livenessProbe end
M.has_probe = has_probe

-- The container's `started`, as its status reports it.
function M.started(c, s)
  if not s or not s.info or s.info.state ~= "CONTAINER_RUNNING" then return false end
  if not c.startupProbe then return true end
  return s.probe ~= nil and s.probe.for_id == s.id and s.probe.started == true
end

-- The container's `ready`: started, and its readiness probe (if any) passes.
function M.ready(c, s)
  if not M.started(c, s) then return false end
  if not c.readinessProbe then return true end
  return s.probe ~= nil and s.probe.for_id == s.id and s.probe.ready == true
end

local function kill(rec, c, s, what)
  C.event(rec, "Normal", "Killing", ("Container %s failed %s probe, will be restarted"):format(c.name, what))
  log.info("%s: container %s failed its %s probe; restarting it", rec.key, c.name, what)
  local grace = math.tointeger(rec.pod.spec.terminationGracePeriodSeconds) or 30
  local probe = c[what .. "Probe"]
  if probe and math.tointeger(probe.terminationGracePeriodSeconds) then
    grace = math.tointeger(probe.terminationGracePeriodSeconds) -- probe-level override
  end
  grace = hooks.pre_stop(rec, c, s, grace)
  pcall(cri.stop_container, {container_id = s.id, timeout = grace}, {timeout_ms = grace * 1000 + 30000})
end

local EVENT_NAME = {startup = "Startup", readiness = "Readiness", liveness = "Liveness"}

-- One probe's result counted; returns true when the container was stopped.
local function count(rec, c, s, pr, what, probe, ok, detail)
  local st = pr[what]
  if ok then
    st.succ, st.fail = st.succ + 1, 0
  else
    st.fail, st.succ = st.fail + 1, 0
    C.event(rec, "Warning", "Unhealthy", EVENT_NAME[what] .. " probe failed: " .. tostring(detail))
  end
  local need_succ = what == "readiness" and (math.tointeger(probe.successThreshold) or 1) or 1
  local need_fail = math.tointeger(probe.failureThreshold) or 3
  if what == "readiness" then
    if st.succ >= need_succ then pr.ready = true end
    if st.fail >= need_fail then pr.ready = false end
    return false
  end
  if ok then
    if what == "startup" then pr.started = true end
    return false
  end
  if st.fail < need_fail then return false end
  st.fail = 0
  kill(rec, c, s, what)
  return true
end

-- The probes of one running container that are due now.  Called from the
-- pod's sync, in a task of its own (a slow probe holds up nothing else).
function M.run(rec, c, s)
  local info = s.info
  if not info or info.state ~= "CONTAINER_RUNNING" then
    if s.probe then s.probe.ready = false end
    return
  end
  s.probe = s.probe or {}
  local pr, now = s.probe, timer.now_ms()
  if pr.for_id ~= s.id then -- a new instance: unstarted, unready, counts afresh
    pr.for_id, pr.ready, pr.started = s.id, false, false
    for _, what in ipairs{"startup", "readiness", "liveness"} do pr[what] = {succ = 0, fail = 0, next = nil} end
  end
  -- Its start on the monotonic clock, from the runtime's wall-clock start.
  local started_ms = now - math.max(0, (C.now_wall_ms() - info.started_at // 1000000))
  for _, what in ipairs{"startup", "readiness", "liveness"} do
    local probe = c[what .. "Probe"]
    local gated = c.startupProbe and not pr.started
    if probe and (what == "startup" and not pr.started or what ~= "startup" and not gated) then
      local st = pr[what]
      st.next = st.next or (started_ms + (math.tointeger(probe.initialDelaySeconds) or 0) * 1000)
      if now >= st.next then
        st.next = now + math.max(1, math.tointeger(probe.periodSeconds) or 10) * 1000
        local ok, detail = handlers.run(rec, c, s, probe, probe.timeoutSeconds or 1, true)
        if pr.for_id ~= s.id then return end -- restarted meanwhile
        if count(rec, c, s, pr, what, probe, ok, detail) then return end
      end
    end
  end
end

return M
