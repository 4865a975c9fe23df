-- mynode/handlers.lua: one probe or lifecycle handler run against a
-- container, as kubelet runs them: exec (through the CRI's ExecSync),
-- httpGet (HTTP or HTTPS without verifying the certificate, httpHeaders),
-- tcpSocket, grpc (grpc.health.v1) and sleep.  Network handlers connect
-- from inside the pod's network namespace (mynode/netns.lua): their
-- traffic never leaves the pod, and a `host` of 127.0.0.1 is the pod's own
-- loopback.  Each returns ok, detail (kubelet's words for a failure).
local cri = require "vk.cri"
local http = require "vk.http"
local net = require "vk.net"
local timer = require "vk.timer"
local grpc_health = require "mynode.grpc_health"
local netns = require "mynode.netns"

local M = {}

local USER_AGENT = "kube-probe/1.35"

-- A port number, or a named port of the container.
local function resolve_port(c, port)
  if math.type(port) == "integer" then return port end
  if type(port) == "string" and tonumber(port) then return math.tointeger(tonumber(port)) end
  for _, p in ipairs(c.ports or {}) do
    if p.name == port then return math.tointeger(p.containerPort) end
  end
  return nil, ("port %q is not a number nor a named port of container %s"):format(tostring(port), c.name)
end

local function where(rec, h)
  local ok, ns = pcall(netns.path, rec)
  if not ok then return nil, nil, tostring(ns) end
  return ns, h.host and h.host ~= "" and h.host or netns.pod_host(rec)
end

local function run_exec(s, h, timeout)
  local ok, r = pcall(cri.exec_sync, {container_id = s.id, cmd = h.command or {}, timeout = timeout},
                      {timeout_ms = timeout * 1000 + 5000})
  if not ok then return false, tostring(r) end
  if r.exit_code == 0 then return true end
  return false, ("command %q exited with %d: %s"):format(table.concat(h.command or {}, " "), r.exit_code,
                                                         (r.stdout .. r.stderr):sub(1, 200))
end

local function run_http(rec, c, h, timeout, is_probe)
  local port, perr = resolve_port(c, h.port)
  if not port then return false, perr end
  local ns, host, err = where(rec, h)
  if err then return false, err end
  local scheme = (h.scheme or "HTTP"):lower()
  local path = h.path or ""
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  local addr = host:find(":", 1, true) and ("[" .. host .. "]") or host
  local url = ("%s://%s:%d%s"):format(scheme, addr, port, path)
  local headers = {}
  if is_probe then headers["User-Agent"], headers["Accept"] = USER_AGENT, "*/*" end
  for _, hd in ipairs(h.httpHeaders or {}) do
    -- curl keeps one line per name: a later value of the same name wins,
    -- as it does for Host in kubelet.
    headers[hd.name] = hd.value or ""
  end
  local r, rerr = http.request{url = url, netns = ns, timeout_ms = timeout * 1000, insecure = true, headers = headers}
  if not r then return false, ("Get %q: %s"):format(url, tostring(rerr)) end
  if r.status >= 200 and r.status < 400 then return true end
  return false, ("HTTP probe failed with statuscode: %d"):format(r.status)
end

local function run_tcp(rec, c, h, timeout)
  local port, perr = resolve_port(c, h.port)
  if not port then return false, perr end
  local ns, host, err = where(rec, h)
  if err then return false, err end
  local s, cerr = net.connect{netns = ns, host = host, port = port, timeout_ms = timeout * 1000}
  if not s then return false, ("dial tcp %s:%d: %s"):format(host, port, tostring(cerr)) end
  s:close()
  return true
end

local function run_grpc(rec, h, timeout)
  local port = math.tointeger(h.port)
  if not port then return false, "grpc port must be a number" end
  local ns, host, err = where(rec, {})
  if err then return false, err end
  return grpc_health.check(ns, host, port, h.service, timeout * 1000)
end

-- Runs handler h (a probe, or a lifecycle hook's handler) for container c,
-- whose current instance is s ({id=...}).  timeout in seconds.
function M.run(rec, c, s, h, timeout, is_probe)
  timeout = math.max(1, math.tointeger(timeout) or 1)
  if h.exec then return run_exec(s, h.exec, timeout)
  elseif h.httpGet then return run_http(rec, c, h.httpGet, timeout, is_probe)
  elseif h.tcpSocket then return run_tcp(rec, c, h.tcpSocket, timeout)
  elseif h.grpc then return run_grpc(rec, h.grpc, timeout)
  elseif h.sleep then
    timer.sleep(math.max(0, math.tointeger(h.sleep.seconds) or 0) * 1000)
    return true
  end
  return false, "the handler names no action (exec, httpGet, tcpSocket, grpc or sleep)"
end

return M
