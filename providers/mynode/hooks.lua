-- mynode/hooks.lua: lifecycle hooks, kubelet's way.
-- postStart runs right after the container started (exec, httpGet,
-- sleep; mynode/handlers.lua); the pod's sync waits for it.  If it fails
-- the container is killed (FailedPostStartHook) and restarts per
-- restartPolicy.  preStop runs before a container is stopped, for a
-- deletion or a probe's kill, within the grace period: what it leaves of
-- the grace (at least 2 s, as kubelet gives) is the stop's timeout, and a
-- hook still running when the grace is over is abandoned.
local cri = require "vk.cri"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"
local handlers = require "mynode.handlers"

local M = {}

-- A postStart hook has no timeout in kubelet; a bound keeps a hook that
-- hangs from holding the pod's sync for ever.
local POST_START_MAX_S = 300
local MIN_GRACE_S = 2

local function hook_of(c, name)
  return c.lifecycle and c.lifecycle[name]
end

local function failure(kind, rec, c, detail)
  return ("%s lifecycle hook for Container %q in Pod %q failed - error: %s"):format(
    kind, c.name, rec.name .. "_" .. rec.ns .. "(" .. rec.uid .. ")", tostring(detail))
end

-- Runs c's postStart for instance id; returns true when there is none or
-- it passed.  On failure the container is stopped (it restarts per policy).
function M.post_start(rec, c, id)
  local h = hook_of(c, "postStart")
  if not h then return true end
  local ok, detail = handlers.run(rec, c, {id = id}, h, POST_START_MAX_S, false)
  if ok then return true end
  local kind = h.exec and "Exec" or h.httpGet and "HTTP" or "Sleep"
  local msg = failure(kind, rec, c, detail)
  C.event(rec, "Warning", "FailedPostStartHook", msg)
  C.event(rec, "Normal", "Killing", ("Container %s failed postStart hook, will be restarted"):format(c.name))
  log.info("%s: container %s: postStart failed (%s); killing it", rec.key, c.name, tostring(detail))
  local grace = math.tointeger(rec.pod.spec.terminationGracePeriodSeconds) or 30
  pcall(cri.stop_container, {container_id = id, timeout = grace}, {timeout_ms = grace * 1000 + 30000})
  return false
end

-- Runs c's preStop on instance s (s.id) within `grace` seconds; returns
-- the seconds left for stopping the container.
function M.pre_stop(rec, c, s, grace)
  local h = hook_of(c, "preStop")
  if not h or not s or not s.id then return grace end
  local t0 = timer.now_ms()
  local done, ok, detail = false, nil, nil
  vk.spawn(function()
    ok, detail = handlers.run(rec, c, s, h, math.max(1, grace), false)
    done = true
  end)
  -- The hook's own timeout is the grace; sleep-handlers and slow peers
  -- are cut at the grace too.
  while not done and timer.now_ms() - t0 < grace * 1000 do timer.sleep(100) end
  if not done then
    C.event(rec, "Warning", "FailedPreStopHook",
            ("PreStopHook for container %s did not finish within the grace period of %d s"):format(c.name, grace))
  elseif not ok then
    local kind = h.exec and "Exec" or h.httpGet and "HTTP" or "Sleep"
    C.event(rec, "Warning", "FailedPreStopHook", failure(kind, rec, c, detail))
  end
  local left = grace - (timer.now_ms() - t0) // 1000
  return math.max(MIN_GRACE_S, left)
end

return M
