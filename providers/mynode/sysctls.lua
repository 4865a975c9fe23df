-- mynode/sysctls.lua: a pod's securityContext.sysctls, admitted as kubelet
-- 1.35 admits them, then set on the sandbox through the CRI
-- (LinuxPodSandboxConfig.sysctls).
--
--   * kubelet's safe set is allowed by default (the ones newer than the
--     node's kernel are left out, as kubelet leaves them out);
--   * `allowed_unsafe_sysctls:` in the provider config adds names or
--     prefixes ("kernel.msg*", "net.core.somaxconn"), like kubelet's
--     --allowed-unsafe-sysctls; each must be namespaced (IPC or net);
--   * names written with slashes ("net/ipv4/ip_local_port_range") are
--     normalized as kubelet does: '/' and '.' swap places;
--   * a net.* sysctl is refused on a hostNetwork pod, an IPC one on a
--     hostIPC pod;
--   * a pod with a sysctl not allowed is rejected: phase Failed, reason
--     SysctlForbidden, message "Pod was rejected: forbidden sysctl: ...",
--     and a Warning Event with the reason, as kubelet's admission does.
local M = {}

-- kubelet 1.35's safe sysctls, with the kernel each needs (namespaced since).
local SAFE = {
  {"kernel.shm_rmid_forced"},
  {"net.ipv4.ip_local_port_range"},
  {"net.ipv4.tcp_syncookies"},
  {"net.ipv4.ping_group_range"},
  {"net.ipv4.ip_unprivileged_port_start"},
  {"net.ipv4.ip_local_reserved_ports", "3.16"},
  {"net.ipv4.tcp_keepalive_time", "4.5"},
  {"net.ipv4.tcp_fin_timeout", "4.6"},
  {"net.ipv4.tcp_keepalive_intvl", "4.5"},
  {"net.ipv4.tcp_keepalive_probes", "4.5"},
  {"net.ipv4.tcp_rmem", "4.15"},
  {"net.ipv4.tcp_wmem", "4.15"},
}

-- Which kernel namespace a sysctl lives in (kubelet's table).
local IPC_NAMES = {
  ["kernel.sem"] = true, ["kernel.shmall"] = true, ["kernel.shmmax"] = true, ["kernel.shmmni"] = true,
  ["kernel.shm_rmid_forced"] = true, ["kernel.shm"] = true, ["kernel.msgmax"] = true,
  ["kernel.msgmnb"] = true, ["kernel.msgmni"] = true, ["kernel.msg"] = true,
}

local function namespace_of(name)
  if IPC_NAMES[name] then return "IPC" end
  if name:sub(1, 4) == "net." then return "Net" end
  if name:sub(1, 10) == "fs.mqueue." then return "IPC" end
  return nil
end

-- kubelet's NormalizeName: when the first separator is '/', '.' and '/'
-- swap ("net/ipv4/conf/eno2.100/rp_filter" -> "net.ipv4.conf.eno2/100.rp_filter").
function M.normalize(name)
  local first = name:find("[./]")
  if not first or name:sub(first, first) == "." then return name end
  return (name:gsub("[./]", {["."] = "/", ["/"] = "."}))
end

local function version_at_least(have, want)
  local a, b = {}, {}
  for n in have:gmatch("%d+") do a[#a + 1] = tonumber(n) end
  for n in want:gmatch("%d+") do b[#b + 1] = tonumber(n) end
  for i = 1, math.max(#a, #b) do
    local x, y = a[i] or 0, b[i] or 0
    if x ~= y then return x > y end
  end
  return true
end

-- Builds the allowlist: kubelet's safe set for `kernel` (a release such as
-- "6.1.0-18-amd64"; nil: all of them) and the extra patterns.  Raises on a
-- pattern kubelet would refuse.
function M.allowlist(kernel, extra)
  local list = {names = {}, prefixes = {}}
  for _, s in ipairs(SAFE) do
    if not s[2] or not kernel or version_at_least(kernel, s[2]) then list.names[s[1]] = namespace_of(s[1]) end
  end
  if type(extra) == "string" then extra = {extra} end
  for i, pat in ipairs(extra or {}) do
    if type(pat) ~= "string" or #pat > 253 or not pat:match("^[a-z0-9][-_a-z0-9./]*%*?$")
       or pat:find("[./][./]") then
      error(("allowed_unsafe_sysctls[%d]: %q is not a sysctl name or a prefix ending in *"):format(i, tostring(pat)), 0)
    end
    local norm = M.normalize(pat)
    local star = norm:find("*", 1, true)
    local key = star and norm:sub(1, star - 1) or norm
    local ns = namespace_of(key)
    if not ns then
      error(("allowed_unsafe_sysctls[%d]: the sysctls %q are not known to be namespaced"):format(i, key), 0)
    end
    if star then list.prefixes[key] = ns else list.names[key] = ns end
  end
  return list
end

local function check_one(list, name, host_net, host_ipc)
  name = M.normalize(name)
  local ns = list.names[name]
  if not ns then
    for p, pns in pairs(list.prefixes) do
      if name:sub(1, #p) == p then ns = pns break end
    end
  end
  if not ns then return ("%q not allowlisted"):format(name) end
  if ns == "IPC" and host_ipc then return ("%q not allowed with host IPC enabled"):format(name) end
  if ns == "Net" and host_net then return ("%q not allowed with host Net enabled"):format(name) end
  return nil
end

-- nil when the pod may run, else the admission's {reason=, message=}.
function M.admit(list, pod)
  local sc = pod.spec.securityContext or {}
  for _, s in ipairs(sc.sysctls or {}) do
    local why = check_one(list, s.name or "", pod.spec.hostNetwork == true, pod.spec.hostIPC == true)
    if why then return {reason = "SysctlForbidden", message = "forbidden sysctl: " .. why} end
  end
  return nil
end

-- The sandbox's sysctls map: normalized names (dots as separators).
function M.for_sandbox(pod)
  local out = {}
  for _, s in ipairs((pod.spec.securityContext or {}).sysctls or {}) do
    out[M.normalize(s.name)] = s.value
  end
  return out
end

return M
