-- mynode/probes.lua: readiness and liveness probes, exec and httpGet
-- (tcpSocket, grpc and startup probes are not run; they count as passing).
local cri = require "vk.cri"
local http = require "vk.http"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"

local M = {}

-- Runs one probe; returns ok, detail.
local function run_probe(rec, c, s, probe)
  local timeout = math.tointeger(probe.timeoutSeconds) or 1
  if probe.exec then
    local ok, r = pcall(cri.exec_sync, {container_id = s.id, cmd = probe.exec.command or {}, timeout = timeout},
                        {timeout_ms = timeout * 1000 + 5000})
    if not ok then return false, tostring(r) end
    if r.exit_code == 0 then return true end
    return false, ("command exited with %d: %s"):format(r.exit_code, (r.stdout .. r.stderr):sub(1, 200))
  elseif probe.httpGet then
    local g = probe.httpGet
    local port = g.port
    if type(port) == "string" and not tonumber(port) then
      for _, p in ipairs(c.ports or {}) do
        if p.name == port then port = p.containerPort end
      end
    end
    local host = g.host or rec.ip or C.cfg.node_ip or "127.0.0.1"
    local url = ("%s://%s:%s%s"):format((g.scheme or "HTTP"):lower(), host, tostring(port), g.path or "/")
    local r, err = http.request{url = url, timeout_ms = timeout * 1000, insecure = true}
    if not r then return false, tostring(err) end
    if r.status >= 200 and r.status < 400 then return true end
    return false, ("HTTP probe failed with statuscode: %d"):format(r.status)
  end
  return true -- tcpSocket/grpc: not checked here
end

local function readiness(rec, pr, probe, ok, detail)
  if ok then
    pr.rs, pr.rf = pr.rs + 1, 0
    if pr.rs >= (math.tointeger(probe.successThreshold) or 1) then pr.ready = true end
  else
    pr.rf, pr.rs = pr.rf + 1, 0
    if pr.rf >= (math.tointeger(probe.failureThreshold) or 3) then pr.ready = false end
    C.event(rec, "Warning", "Unhealthy", "Readiness probe failed: " .. tostring(detail))
  end
end

-- Returns true when the container was stopped for a restart.
local function liveness(rec, c, s, pr, probe, ok, detail)
  pr.lf = ok and 0 or pr.lf + 1
  if ok then return false end
  C.event(rec, "Warning", "Unhealthy", "Liveness probe failed: " .. tostring(detail))
  if pr.lf < (math.tointeger(probe.failureThreshold) or 3) then return false end
  C.event(rec, "Normal", "Killing", ("Container %s failed liveness probe, will be restarted"):format(c.name))
  log.info("%s: container %s failed its liveness probe; restarting it", rec.key, c.name)
  local grace = math.tointeger(rec.pod.spec.terminationGracePeriodSeconds) or 30
  pcall(cri.stop_container, {container_id = s.id, timeout = grace}, {timeout_ms = grace * 1000 + 30000})
  pr.lf = 0
  return true
end

-- Readiness and liveness of one running container, kubelet's way: first
-- run after initialDelaySeconds, then every periodSeconds; success/failure
-- thresholds; a container failing liveness is stopped and restarted.
function M.run(rec, c, s)
  local info = s.info
  if not info or info.state ~= "CONTAINER_RUNNING" then
    if s.probe then s.probe.ready = false end
    return
  end
  s.probe = s.probe or {}
  local pr, now = s.probe, timer.now_ms()
  if pr.for_id ~= s.id then -- a new instance starts unready, counts afresh
    pr.for_id, pr.ready, pr.rs, pr.rf, pr.lf, pr.next_r, pr.next_l = s.id, false, 0, 0, 0, nil, nil
  end
  local started_ms = now - math.max(0, (os.time() * 1000 - info.started_at // 1000000))
  for _, kind in ipairs{"readinessProbe", "livenessProbe"} do
    local probe = c[kind]
    if probe then
      local key = kind == "readinessProbe" and "next_r" or "next_l"
      pr[key] = pr[key] or (started_ms + (math.tointeger(probe.initialDelaySeconds) or 0) * 1000)
      if now >= pr[key] then
        pr[key] = now + (math.tointeger(probe.periodSeconds) or 10) * 1000
        local ok, detail = run_probe(rec, c, s, probe)
        if kind == "readinessProbe" then
          readiness(rec, pr, probe, ok, detail)
        elseif liveness(rec, c, s, pr, probe, ok, detail) then
          return
        end
      end
    end
  end
end

return M
