-- mynode/hosts.lua: the pod's hostname and its /etc/hosts, as kubelet 1.35
-- makes them.
--
--   * hostname: spec.hostname, else the pod's name, cut to 63 characters
--     (and then of trailing '-' and '.'); with spec.subdomain the domain is
--     SUBDOMAIN.NAMESPACE.svc.CLUSTER_DOMAIN.  setHostnameAsFQDN makes the
--     sandbox's (kernel) hostname the FQDN, which must fit in 64 characters.
--   * /etc/hosts: written to POD_ROOT/UID/etc-hosts once the pod has its IP
--     and bind-mounted (read-write, as kubelet does) into every container
--     that does not mount something on /etc/hosts itself.  A pod on the pod
--     network gets the managed file (header, localhost lines, the pod IP with
--     its FQDN and hostname); a hostNetwork pod gets the node's /etc/hosts
--     under the "(host network)" header.  hostAliases follow in both.
local fs = require "vk.fs"
local C = require "mynode.common"

local cfg, must = C.cfg, C.must

local M = {}

local HEADER = "# Kubernetes-managed hosts file.\n"
local HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
local NODE_HOSTS = "/etc/hosts"

-- hostname, domain (or "") of a pod; raises on a name kubelet refuses.
function M.hostname(pod)
  local spec, md = pod.spec, pod.metadata
  local name = md.name
  if spec.hostname and spec.hostname ~= "" then
    local h = spec.hostname
    if #h > 63 or not h:match("^[a-z0-9][-a-z0-9]*$") or h:sub(-1) == "-" then
      error(("pod Hostname %q is not a valid DNS label"):format(spec.hostname), 0)
    end
    name = spec.hostname
  end
  if #name > 63 then
    name = name:sub(1, 63):gsub("[-.]+$", "")
    if name == "" then error(("hostname for pod %q was invalid"):format(md.name), 0) end
  end
  local domain = ""
  if spec.subdomain and spec.subdomain ~= "" then
    domain = ("%s.%s.svc.%s"):format(spec.subdomain, md.namespace, cfg.cluster_domain)
  end
  return name, domain
end

-- The sandbox's hostname (nil on the host network, whose UTS namespace is
-- the node's): the FQDN when setHostnameAsFQDN asks and there is a domain.
function M.kernel_hostname(pod)
  if C.host_network(pod) then return nil end
  local name, domain = M.hostname(pod)
  if domain ~= "" and pod.spec.setHostnameAsFQDN == true then
    local fqdn = name .. "." .. domain
    if #fqdn > 64 then
      error(("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long "
             .. "(64 characters is the max, %d characters requested)"):format(fqdn, #fqdn), 0)
    end
    return fqdn
  end
  return name
end

local function aliases(pod)
  local list = pod.spec.hostAliases or {}
  if #list == 0 then return "" end
  local out = {"\n# Entries added by HostAliases.\n"}
  for _, a in ipairs(list) do
    out[#out + 1] = ("%s\t%s\n"):format(a.ip, table.concat(a.hostnames or {}, "\t"))
  end
  return table.concat(out)
end

-- The managed file of a pod on the pod network with these IPs.
function M.managed_content(pod, ips)
  local name, domain = M.hostname(pod)
  local out = {HEADER,
    "127.0.0.1\tlocalhost\n",
    "::1\tlocalhost ip6-localhost ip6-loopback\n",
    "fe00::0\tip6-localnet\n",
    "fe00::0\tip6-mcastprefix\n",
    "fe00::1\tip6-allnodes\n",
    "fe00::2\tip6-allrouters\n"}
  for _, ip in ipairs(ips) do
    if domain ~= "" then
      out[#out + 1] = ("%s\t%s.%s\t%s\n"):format(ip, name, domain, name)
    else
      out[#out + 1] = ("%s\t%s\n"):format(ip, name)
    end
  end
  out[#out + 1] = aliases(pod)
  return table.concat(out)
end

-- The file of a hostNetwork pod, from the node's.
function M.host_network_content(pod, node_hosts)
  return HEADER_HOST_NETWORK .. node_hosts .. aliases(pod)
end

function M.path(rec) return ("%s/%s/etc-hosts"):format(cfg.pod_root, rec.uid) end

-- Writes the pod's hosts file (after its sandbox got its IP, and again when
-- a new sandbox brings a new one).  Without an IP on the pod network there
-- is none, as with kubelet.
function M.write(rec)
  local pod = rec.pod
  local content
  if C.host_network(pod) then
    content = M.host_network_content(pod, must(fs.read_file(NODE_HOSTS)))
  elseif rec.ip then
    content = M.managed_content(pod, {rec.ip})
  else
    rec.hosts_file = nil
    return
  end
  local path = M.path(rec)
  must(fs.mkdir_p(C.dirname(path)))
  must(fs.write_file(path, content, 420))
  rec.hosts_file = path
end

-- Adds the /etc/hosts mount to a container's CRI mounts, unless the
-- container mounts a volume there itself.
function M.add_mount(rec, c, mounts)
  if not rec.hosts_file then return end
  for _, m in ipairs(c.volumeMounts or {}) do
    if m.mountPath == NODE_HOSTS then return end
  end
  mounts[#mounts + 1] = {container_path = NODE_HOSTS, host_path = rec.hosts_file, readonly = false,
                         propagation = "PROPAGATION_PRIVATE"}
end

return M
