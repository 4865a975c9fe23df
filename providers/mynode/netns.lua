-- mynode/netns.lua: the network namespace of a pod's sandbox, where its
-- probes (and port-forward) connect, so that their traffic never leaves
-- the pod: vk.net.connect{netns=...} and vk.http.request{netns=...}.
-- The path comes from the CRI: PodSandboxStatus with verbose=true carries
-- the runtime's info, whose OCI spec names the namespace
-- (/var/run/netns/cni-...); failing that, the sandbox process's
-- /proc/PID/ns/net.  hostNetwork pods have none (nil: vk's own).
local cri = require "vk.cri"
local json = require "vk.json"
local C = require "mynode.common"

local M = {}

local function from_info(info)
  local ok, v = pcall(json.decode, info or "")
  if not ok or type(v) ~= "table" then return nil end
  local spec = type(v.runtimeSpec) == "table" and v.runtimeSpec or {}
  for _, n in ipairs(spec.linux and spec.linux.namespaces or {}) do
    if n.type == "network" and type(n.path) == "string" and n.path ~= "" then return n.path end
  end
  local pid = math.tointeger(v.pid)
  if pid and pid > 0 then return ("/proc/%d/ns/net"):format(pid) end
  return nil
end

-- The namespace path of rec's sandbox, or nil for a hostNetwork pod.
-- Raises when the runtime does not say (the probe then fails, naming it).
function M.path(rec)
  if C.host_network(rec.pod) then return nil end
  if rec.netns and rec.netns_for == rec.sandbox_id then return rec.netns end
  local sb = rec.sandbox_id
  local r = cri.pod_sandbox_status({pod_sandbox_id = sb, verbose = true}, C.QUICK)
  local path = from_info(r.info and r.info.info)
  if not path then error("the runtime does not say where sandbox " .. sb:sub(1, 12) .. "'s network namespace is") end
  rec.netns, rec.netns_for = path, sb
  return path
end

-- The address a probe without `host` connects to: the pod's IP, seen from
-- inside its namespace (its loopback when it has no IP).
function M.pod_host(rec)
  if C.host_network(rec.pod) then return C.cfg.node_ip or "127.0.0.1" end
  return rec.ip or "127.0.0.1"
end

return M
