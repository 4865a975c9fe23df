-- mynode/containers.lua: a pod's containers driven forward, kubelet's way:
-- init containers one by one to completion, then the containers; restarts
-- per restartPolicy with the crash backoff; a sandbox that died re-created.
local cri = require "vk.cri"
local k8s = require "vk.k8s"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"
local cri_config = require "mynode.cri_config"
local deadline = require "mynode.deadline"
local ephemeral = require "mynode.ephemeral"
local hooks = require "mynode.hooks"
local hosts = require "mynode.hosts"
local images = require "mynode.images"
local probes = require "mynode.probes"
local sandboxes = require "mynode.sandboxes"
local security = require "mynode.security"
local sidecars = require "mynode.sidecars"
local status = require "mynode.status"
local termination = require "mynode.termination"

local M = {}

-- kubelet's crash backoff: the first restart is immediate, then 10 s,
-- doubling up to 5 min; a container that ran 10 min starts afresh.
local BACKOFF_BASE_MS, BACKOFF_MAX_MS = 10000, 300000
local BACKOFF_RESET_MS = 600000

local function next_backoff(s)
  s.backoff = s.backoff or k8s.backoff{base_ms = BACKOFF_BASE_MS, max_ms = BACKOFF_MAX_MS, jitter = false,
                                        immediate = true}
  local info = s.info
  if info and info.started_at > 0 and info.finished_at > 0 and
     (info.finished_at - info.started_at) // 1000000 > BACKOFF_RESET_MS then
    s.backoff:reset()
  end
  return s.backoff:next()
end

-- kubelet retries a container whose config it cannot make after its pod
-- worker's back-off (10 s), recording the error each time.
local CONFIG_RETRY_MS = 10000

-- Creates and starts an instance of c (a sidecar is labelled an init
-- container), with its termination-message file, then runs its postStart.
-- Returns its ID, or nil when its config is refused (runAsNonRoot meets a
-- root user): it then waits with CreateContainerConfigError.
local function start_container(rec, c, is_init, attempt)
  rec.config_errors = rec.config_errors or {}
  local cc = cri_config.container(rec, c, is_init or C.is_sidecar(c), attempt)
  local refused = security.finish(rec.pod, c, cc)
  if refused then
    rec.config_errors[c.name] = {reason = "CreateContainerConfigError", message = refused,
                                 retry_ms = timer.now_ms() + CONFIG_RETRY_MS}
    C.event(rec, "Warning", "Failed", "Error: " .. refused)
    log.warn("%s: container %s: %s", rec.key, c.name, refused)
    return nil
  end
  rec.config_errors[c.name] = nil
  cc.mounts[#cc.mounts + 1] = termination.mount(rec, c, attempt)
  local id = cri.create_container{pod_sandbox_id = rec.sandbox_id, config = cc, sandbox_config = rec.sbcfg}.container_id
  C.event(rec, "Normal", "Created", "Created container: " .. c.name)
  cri.start_container{container_id = id}
  C.event(rec, "Normal", "Started", "Started container " .. c.name)
  hooks.post_start(rec, c, id)
  return id
end

local function spec_of(pod, name)
  for _, list in ipairs{pod.spec.initContainers or {}, pod.spec.containers or {}} do
    for _, c in ipairs(list) do
      if c.name == name then return c end
    end
  end
end

-- Reads the pod's containers back from the CRI into rec.cs.  `list` is
-- the supervisor's one ListContainers for the whole node, or nil.
function M.observe(rec, list)
  list = list or cri.list_containers({filter = {pod_sandbox_id = rec.sandbox_id}}, C.QUICK).containers
  local newest = {}
  for _, ct in ipairs(list) do
    local name = ct.labels[C.L_CONTAINER] or ct.metadata.name
    local n = newest[name]
    if not n or ct.metadata.attempt > n.metadata.attempt then newest[name] = ct end
  end
  for name, ct in pairs(newest) do
    local s = rec.cs[name] or {}
    rec.cs[name] = s
    if s.id ~= ct.id then
      if s.id then s.prev, s.prev_info = s.id, s.info end
      s.id, s.attempt, s.info = ct.id, ct.metadata.attempt, nil
    end
    -- ContainerStatus only when the state moved (an exited container's
    -- status no longer changes; a running one's start time neither).
    if not s.info or s.info.state ~= ct.state then
      local ok, r = pcall(cri.container_status, {container_id = ct.id}, C.QUICK)
      if ok then s.info = r.status end
    end
    -- An exited instance's termination message, read once.
    local info, spec = s.info, spec_of(rec.pod, name)
    if info and info.state == "CONTAINER_EXITED" and not info.term_read and spec then
      local ok, msg = pcall(termination.message, spec, info)
      info.term_read, info.term_message = true, ok and msg or nil
    end
  end
end

-- Removes exited instances older than the previous one (kept for logs).
local function collect_garbage(rec)
  for _, s in pairs(rec.cs) do
    if s.prev and s.stale then
      pcall(cri.remove_container, {container_id = s.stale})
      s.stale = nil
    end
  end
end

local function restart_due(s, policy)
  local info = s.info
  if not info or info.state ~= "CONTAINER_EXITED" then return false end
  if policy == "Never" then return false end
  if policy == "OnFailure" and info.exit_code == 0 then return false end
  return true
end

-- One container's step: start it, or restart it after its backoff.
-- Returns the container's state name after the step.
local function sandbox_ready(rec)
  local ok, r = pcall(cri.pod_sandbox_status, {pod_sandbox_id = rec.sandbox_id}, C.QUICK)
  return ok and r.status and r.status.state == "SANDBOX_READY"
end

local function step_container(rec, c, is_init, policy)
  local s = rec.cs[c.name]
  if rec.image_errors[c.name] and not images.retry(rec, c) then return "waiting" end
  local cerr = rec.config_errors and rec.config_errors[c.name]
  if cerr and timer.now_ms() < cerr.retry_ms then return "waiting" end
  if not s or not s.id then
    -- First start, or again in a re-created sandbox (the count goes on).
    local attempt = s and s.attempt and s.attempt + 1 or 0
    local id = start_container(rec, c, is_init, attempt)
    if not id then return "waiting" end
    rec.cs[c.name] = {id = id, attempt = attempt, backoff = s and s.backoff, backoff_ms = s and s.backoff_ms}
    return "started"
  end
  local info = s.info
  if not info then return "unknown" end
  if info.state == "CONTAINER_RUNNING" then return "running" end
  if info.state == "CONTAINER_CREATED" then
    -- Created and never started: vk was killed (or StartContainer failed)
    -- between the two calls.  The pod's lock is ours, so no start is on
    -- its way: start this one, the same attempt (restartCount stays).
    cri.start_container{container_id = s.id}
    C.event(rec, "Normal", "Started", "Started container " .. c.name)
    log.info("%s: container %s was created but not started; started it", rec.key, c.name)
    hooks.post_start(rec, c, s.id)
    s.info = nil
    return "started"
  end
  if info.state ~= "CONTAINER_EXITED" then return "unknown" end
  -- A changed image (mynode/update.lua) restarts it whatever the policy, at once.
  local forced = s.force_restart
  if is_init and info.exit_code == 0 and not forced then return "succeeded" end
  if not forced and not restart_due(s, is_init and (policy == "Never" and "Never" or "OnFailure") or policy) then
    return "exited"
  end
  local now = timer.now_ms()
  if not forced and not s.next_start_ms then
    s.backoff_ms = next_backoff(s)
    s.next_start_ms = now + s.backoff_ms
    log.info("%s: container %s exited with %d; restarting in %d s", rec.key, c.name, info.exit_code,
             s.backoff_ms // 1000)
    C.event(rec, "Warning", "BackOff", ("Back-off restarting failed container %s in pod %s_%s(%s)"):format(
      c.name, rec.name, rec.ns, rec.uid))
  end
  if not forced and now < s.next_start_ms then return "backoff" end
  -- It may have died with its sandbox: stopping a sandbox stops its
  -- containers first, and a round between the two saw the sandbox ready.
  -- Not restarted in a sandbox going away (a wasted attempt, counted):
  -- the next round re-creates the sandbox and starts it there.
  if not sandbox_ready(rec) then return "waiting" end
  local attempt = (s.attempt or 0) + 1
  local old_prev = s.prev
  local id = start_container(rec, c, is_init, attempt)
  if not id then return "waiting" end
  s.stale = old_prev
  s.prev, s.prev_info = s.id, s.info
  s.id, s.attempt, s.info, s.next_start_ms, s.force_restart = id, attempt, nil, nil, nil
  return "started"
end

-- A pod whose sandbox died (node reboot, someone's crictl stopp) gets a new
-- one, as kubelet does: the next attempt, init containers run again, every
-- container restarts with its restart count going on.
local function recreate_sandbox(rec)
  C.event(rec, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
  log.info("%s: sandbox %s is gone or not ready; re-creating it", rec.key, rec.sandbox_id:sub(1, 12))
  pcall(sandboxes.remove, rec.sandbox_id)
  rec.attempt = (rec.attempt or 0) + 1
  rec.sbcfg = cri_config.sandbox(rec, rec.attempt)
  rec.sandbox_id = cri.run_pod_sandbox{config = rec.sbcfg}.pod_sandbox_id
  local st = cri.pod_sandbox_status{pod_sandbox_id = rec.sandbox_id}.status
  rec.ip = st.network and st.network.ip ~= "" and st.network.ip or nil
  hosts.write(rec)
  for _, cs in pairs(rec.cs) do
    cs.id, cs.info, cs.next_start_ms, cs.prev, cs.prev_info, cs.stale = nil, nil, nil, nil, nil, nil
  end
  rec.init_done = #(rec.pod.spec.initContainers or {}) == 0
end

-- activeDeadlineSeconds passed: every running container is stopped
-- (preStop first), the pod is Failed and nothing starts again.  Also for a
-- pod still waiting for its images (mynode.lua's supervisor), which has
-- none to stop.
function M.end_at_deadline(rec)
  rec.failed, rec.failed_reason = deadline.MESSAGE, deadline.REASON
  C.event(rec, "Normal", deadline.REASON, deadline.MESSAGE)
  log.info("%s: %s; stopping its containers", rec.key, deadline.MESSAGE)
  local grace = math.tointeger(rec.pod.spec.terminationGracePeriodSeconds) or 30
  local stops = {}
  for name, s in pairs(rec.cs) do
    local c = spec_of(rec.pod, name)
    if c and s.info and s.info.state == "CONTAINER_RUNNING" then
      stops[#stops + 1] = vk.spawn(function()
        local left = hooks.pre_stop(rec, c, s, grace)
        pcall(cri.stop_container, {container_id = s.id, timeout = left}, {timeout_ms = left * 1000 + 30000})
      end)
    end
  end
  for _, h in ipairs(stops) do h:join() end
end

-- True when no container of the pod will run again (restartPolicy Never
-- or OnFailure, each exited for good).
local function mains_done(rec, policy)
  if policy == "Always" then return false end
  for _, c in ipairs(rec.pod.spec.containers or {}) do
    local s = rec.cs[c.name]
    local info = s and s.info
    if not info or info.state ~= "CONTAINER_EXITED" or s.next_start_ms then return false end
    if policy == "OnFailure" and info.exit_code ~= 0 then return false end
  end
  return true
end

local function spawn_probes(rec, c)
  local cs = rec.cs[c.name]
  if cs and not cs.probing and probes.has_probe(c) then
    cs.probing = true
    vk.spawn(function()
      local pok, perr = pcall(probes.run, rec, c, cs)
      cs.probing = false
      if not pok then log.warn("%s: probe of %s: %s", rec.key, c.name, perr) end
    end)
  end
end

local function step_pod(rec, list, sandbox_state)
  if rec.failed then -- terminal: only watched
    M.observe(rec, list)
    return
  end
  if sandbox_state and sandbox_state ~= "SANDBOX_READY" then
    recreate_sandbox(rec)
    list = {}
  end
  M.observe(rec, list)
  local policy = rec.pod.spec.restartPolicy or "Always"
  -- (a pod that already ended keeps its phase, as with kubelet)
  if deadline.exceeded(rec) and not (rec.init_done and mains_done(rec, policy)) then
    M.end_at_deadline(rec)
    M.observe(rec)
    return
  end
  if not rec.init_done then
    local all, failed = sidecars.step_init(rec, step_container, policy)
    rec.init_done, rec.failed = all, failed
  end
  local started = false
  if rec.init_done then
    for _, c in ipairs(rec.pod.spec.containers or {}) do
      if step_container(rec, c, false, policy) == "started" then started = true end
    end
    sidecars.keep(rec, step_container, mains_done(rec, policy))
  end
  if ephemeral.step(rec, step_container) then started = true end
  collect_garbage(rec)
  -- Read what was just started back, so the status says Running now
  -- rather than at the next supervisor round.
  if started then M.observe(rec) end
  -- Probes run in tasks of their own: a slow one (or a liveness kill
  -- waiting out the grace period) must not hold up the other pods.
  for _, c in ipairs(sidecars.of(rec.pod)) do spawn_probes(rec, c) end
  if rec.init_done then
    for _, c in ipairs(rec.pod.spec.containers or {}) do spawn_probes(rec, c) end
  end
end

-- Drives one pod forward; safe to call any time: it does nothing while
-- another task holds the pod (a create, a delete, another sync).
-- sandbox_state: the supervisor's view of the pod's sandbox, or nil.
function M.sync_pod(rec, list, sandbox_state)
  if rec.state ~= "running" or not rec.lock:try_acquire() then return end
  local ok, err = pcall(step_pod, rec, list, sandbox_state)
  rec.lock:release()
  if not ok then log.warn("%s: sync: %s", rec.key, err) end
  status.publish(rec)
end

return M
