-- mynode/grpc_health.lua: one gRPC health check (grpc.health.v1.Health/Check)
-- over libcurl's HTTP/2 (vk.http, http2 = prior knowledge, as gRPC over
-- cleartext is spoken), made inside the pod's network namespace.  The two
-- messages are one field each, so they are coded here:
--   HealthCheckRequest  { string service = 1; }
--   HealthCheckResponse { ServingStatus status = 1; }  (1 = SERVING)
local http = require "vk.http"

local M = {}

local STATUS = {[0] = "UNKNOWN", [1] = "SERVING", [2] = "NOT_SERVING", [3] = "SERVICE_UNKNOWN"}

local function varint(n)
  local out = {}
  repeat
    local b = n & 0x7f
    n = n >> 7
    out[#out + 1] = string.char(n > 0 and (b | 0x80) or b)
  until n == 0
  return table.concat(out)
end

local function read_varint(s, i)
  local n, shift = 0, 0
  while i <= #s do
    local b = s:byte(i)
    n = n | ((b & 0x7f) << shift)
    i = i + 1
    if b < 0x80 then return n, i end
    shift = shift + 7
    if shift > 63 then break end
  end
  return nil, i
end

local function request_body(service)
  local msg = ""
  if service and service ~= "" then msg = "\10" .. varint(#service) .. service end
  return string.pack(">B I4", 0, #msg) .. msg -- gRPC framing: flag, length
end

-- The status field of a framed HealthCheckResponse (0 when absent).
local function response_status(body)
  if #body < 5 then return nil, "short gRPC response" end
  local flag, len = string.unpack(">B I4", body)
  if flag ~= 0 then return nil, "compressed gRPC response" end
  local msg = body:sub(6, 5 + len)
  local i, status = 1, 0
  while i <= #msg do
    local key
    key, i = read_varint(msg, i)
    if not key then return nil, "bad HealthCheckResponse" end
    local field, wire = key >> 3, key & 7
    if wire == 0 then
      local v
      v, i = read_varint(msg, i)
      if not v then return nil, "bad HealthCheckResponse" end
      if field == 1 then status = v end
    elseif wire == 2 then
      local l
      l, i = read_varint(msg, i)
      if not l then return nil, "bad HealthCheckResponse" end
      i = i + l
    else
      return nil, "bad HealthCheckResponse"
    end
  end
  return status
end

-- Checks `service` at host:port in netns; returns ok, detail (kubelet's words).
function M.check(netns, host, port, service, timeout_ms)
  local addr = host:find(":", 1, true) and ("[" .. host .. "]") or host
  local r, err = http.request{
    url = ("http://%s:%d/grpc.health.v1.Health/Check"):format(addr, port), method = "POST",
    http2 = true, netns = netns, timeout_ms = timeout_ms,
    headers = {["content-type"] = "application/grpc", te = "trailers", ["user-agent"] = "kube-probe/1.35"},
    body = request_body(service),
  }
  if not r then
    return false, ("timeout: failed to connect service %q within %ds: %s"):format(
      addr .. ":" .. port, timeout_ms // 1000, tostring(err))
  end
  local gs = tonumber(r.headers["grpc-status"])
  if r.status ~= 200 or gs == nil then
    return false, ("error: this server does not implement the grpc health protocol (HTTP %d)"):format(r.status)
  end
  if gs ~= 0 then
    if gs == 12 then
      return false,
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unimplemented"
    end
    return false, ("error: health rpc failed: code %d: %s"):format(gs, r.headers["grpc-message"] or "")
  end
  local st, perr = response_status(r.body)
  if not st then return false, "error: " .. perr end
  if st ~= 1 then return false, ("service unhealthy (responded with %q)"):format(STATUS[st] or tostring(st)) end
  return true
end

return M
