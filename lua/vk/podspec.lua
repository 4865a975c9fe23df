-- vk.podspec: helpers for providers that turn a pod spec into a workload.
--
-- The core hands create_pod a pod whose containers' env lists are already
-- resolved to plain {name=, value=} entries (ConfigMaps, Secrets, the
-- downward API, service links), except references to the pod's own IP
-- (status.podIP / status.podIPs), which nobody knows before the provider
-- has started the pod's network.  Call resolve_env once it does.
local k8s = require "vk.k8s"

local M = {}

local function is_pod_ip_ref(e)
  local vf = e.valueFrom
  local fp = vf and vf.fieldRef and vf.fieldRef.fieldPath
  return fp == "status.podIP" or fp == "status.podIPs"
end

-- Replaces $(NAME) where NAME is one of the pod-IP variables.  The core
-- has expanded every other reference already (and turned $$ into $), so
-- $$ is left alone here.
local function expand_ip_vars(s, ipvars)
  return k8s.expand(s, ipvars, {escapes = false})
end

-- Returns the env list of `container` with pod-IP references filled in:
-- an array of {name=, value=}.  `ips` is the pod's IP, or a list of IPs
-- (status.podIPs gives them comma-separated, as kubelet does).
function M.resolve_env(container, ips)
  if type(ips) == "string" then ips = {ips} end
  ips = ips or {}
  local out, ipvars = {}, {}
  for _, e in ipairs(container.env or {}) do
    local value = e.value
    if is_pod_ip_ref(e) then
      local fp = e.valueFrom.fieldRef.fieldPath
      value = fp == "status.podIPs" and table.concat(ips, ",") or (ips[1] or "")
      ipvars[e.name] = value
    elseif value == nil then
      value = ""
    elseif next(ipvars) and value:find("$(", 1, true) then
      -- a later entry may refer to a pod-IP variable defined before it
      value = expand_ip_vars(value, ipvars)
    end
    out[#out + 1] = {name = e.name, value = value}
  end
  return out
end

-- The env as a map name -> value (the last definition wins).
function M.env_map(container, ips)
  local m = {}
  for _, e in ipairs(M.resolve_env(container, ips)) do m[e.name] = e.value end
  return m
end

return M
