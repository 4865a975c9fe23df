-- mynode/cri_config.lua: the CRI's PodSandboxConfig and ContainerConfig
-- of a pod, as kubelet builds them: DNS, ports, namespaces, security,
-- resources, mounts, env with $(VAR) expansion, labels and log paths.
local json = require "vk.json"
local k8s = require "vk.k8s"
local podspec = require "vk.podspec"
local C = require "mynode.common"
local ephemeral = require "mynode.ephemeral"
local hosts = require "mynode.hosts"
local security = require "mynode.security"
local sysctls = require "mynode.sysctls"

local cfg, host_network = C.cfg, C.host_network

local M = {}

local function dns_config(pod)
  local policy = pod.spec.dnsPolicy or "ClusterFirst"
  if policy == "ClusterFirstWithHostNet" then policy = "ClusterFirst"
  elseif policy == "ClusterFirst" and host_network(pod) then policy = "Default" end
  local servers, searches, options = {}, {}, {}
  if policy == "ClusterFirst" and cfg.cluster_dns and #cfg.cluster_dns > 0 then
    for _, s in ipairs(cfg.cluster_dns) do servers[#servers + 1] = s end
    local d = cfg.cluster_domain
    searches = {pod.metadata.namespace .. ".svc." .. d, "svc." .. d, d}
    options = {"ndots:5"}
  elseif policy ~= "None" and not pod.spec.dnsConfig then
    return nil -- the runtime copies the node's resolv.conf
  end
  local dc = pod.spec.dnsConfig or {}
  for _, s in ipairs(dc.nameservers or {}) do servers[#servers + 1] = s end
  for _, s in ipairs(dc.searches or {}) do searches[#searches + 1] = s end
  for _, o in ipairs(dc.options or {}) do
    options[#options + 1] = o.value and (o.name .. ":" .. o.value) or o.name
  end
  if #servers == 0 and #searches == 0 and #options == 0 then return nil end
  return {servers = servers, searches = searches, options = options}
end

local function port_mappings(pod)
  local pm = {}
  for _, c in ipairs(pod.spec.containers or {}) do
    for _, p in ipairs(c.ports or {}) do
      if p.hostPort and p.hostPort > 0 then
        pm[#pm + 1] = {protocol = p.protocol or "TCP", container_port = p.containerPort,
                       host_port = p.hostPort, host_ip = p.hostIP or ""}
      end
    end
  end
  return pm
end

-- The pod as stored on the sandbox: enough to re-adopt it after a restart.
local function pod_annotation(pod)
  local md = pod.metadata
  return json.encode{
    apiVersion = "v1", kind = "Pod",
    metadata = {name = md.name, namespace = md.namespace, uid = md.uid, labels = md.labels,
                annotations = md.annotations, creationTimestamp = md.creationTimestamp},
    spec = pod.spec,
  }
end

function M.sandbox(rec, attempt)
  local pod = rec.pod
  local md = pod.metadata
  local labels = {}
  for k, v in pairs(md.labels or {}) do labels[k] = v end
  labels[C.L_UID], labels[C.L_NS], labels[C.L_NAME], labels[C.L_NODE] = md.uid, md.namespace, md.name,
    C.state.node_name
  local ann = {}
  for k, v in pairs(md.annotations or {}) do ann[k] = v end
  ann[C.A_POD] = pod_annotation(pod)
  local privileged = false
  for _, list in ipairs{pod.spec.initContainers or {}, pod.spec.containers or {}} do
    for _, c in ipairs(list) do
      if c.securityContext and c.securityContext.privileged then privileged = true end
    end
  end
  local hn = not host_network(pod)
  return {
    metadata = {name = md.name, uid = md.uid, namespace = md.namespace, attempt = attempt or 0},
    hostname = hosts.kernel_hostname(pod),
    log_directory = ("%s/%s_%s_%s"):format(cfg.log_root, md.namespace, md.name, md.uid),
    dns_config = dns_config(pod),
    port_mappings = port_mappings(pod),
    labels = labels,
    annotations = ann,
    linux = {
      cgroup_parent = cfg.cgroup_parent,
      sysctls = sysctls.for_sandbox(pod),
      security_context = security.sandbox(pod, {
        namespace_options = {
          network = hn and "POD" or "NODE",
          pid = pod.spec.hostPID and "NODE" or "CONTAINER",
          ipc = pod.spec.hostIPC and "NODE" or "POD",
        },
        privileged = privileged,
      }),
    },
  }
end

local function quantity(q)
  if q == nil then return nil end
  local v, err = k8s.quantity(q)
  if not v then error(err, 2) end
  return v
end

local function resources(c)
  local r = c.resources or {}
  local lim, req = r.limits or {}, r.requests or {}
  local out = {}
  local cpu_req = quantity(req.cpu or lim.cpu)
  if cpu_req then out.cpu_shares = math.max(2, math.floor(cpu_req * 1024)) end
  local cpu_lim = quantity(lim.cpu)
  if cpu_lim then
    out.cpu_period = 100000
    out.cpu_quota = math.max(1000, math.floor(cpu_lim * 100000))
  end
  local mem = quantity(lim.memory)
  if mem then out.memory_limit_in_bytes = math.floor(mem) end
  return out
end

local function security_context(pod, c)
  local sc = c.securityContext or {}
  local out = {
    namespace_options = {
      network = host_network(pod) and "NODE" or "POD",
      pid = pod.spec.hostPID and "NODE" or (pod.spec.shareProcessNamespace and "POD" or "CONTAINER"),
      ipc = pod.spec.hostIPC and "NODE" or "POD",
    },
    privileged = sc.privileged == true,
    readonly_rootfs = sc.readOnlyRootFilesystem == true,
  }
  security.container(pod, c, out)
  if sc.capabilities then
    out.capabilities = {add_capabilities = sc.capabilities.add or {}, drop_capabilities = sc.capabilities.drop or {}}
  end
  return out
end

local PROPAGATION = {HostToContainer = "PROPAGATION_HOST_TO_CONTAINER", Bidirectional = "PROPAGATION_BIDIRECTIONAL"}

function M.container(rec, c, is_init, attempt)
  local pod = rec.pod
  local env, envs = {}, {}
  -- The core resolved every env entry but status.podIP(s), which wait for
  -- the sandbox's IP (a hostNetwork pod's is the node's).
  local ips = rec.ip and {rec.ip} or (host_network(pod) and cfg.node_ip and {cfg.node_ip}) or {}
  for _, e in ipairs(podspec.resolve_env(c, ips)) do
    local v = e.value
    if v == json.null or v == nil then v = "" end
    if type(v) ~= "string" then v = tostring(v) end
    env[e.name] = v
    envs[#envs + 1] = {key = e.name, value = v}
  end
  -- $(VAR) references in command/args, as kubelet expands them ($$ escapes).
  local command, args = {}, {}
  for _, s in ipairs(c.command or {}) do command[#command + 1] = k8s.expand(s, env) end
  for _, s in ipairs(c.args or {}) do args[#args + 1] = k8s.expand(s, env) end
  local mounts = {}
  for _, m in ipairs(c.volumeMounts or {}) do
    local v = rec.volumes[m.name]
    if not v then error(("container %s mounts unknown volume %q"):format(c.name, m.name)) end
    local host = v.path
    if m.subPath and m.subPath ~= "" then host = host .. "/" .. m.subPath end
    local ro = m.readOnly
    if ro == nil then ro = v.readonly == true end
    mounts[#mounts + 1] = {container_path = m.mountPath, host_path = host, readonly = ro == true,
                           propagation = PROPAGATION[m.mountPropagation] or "PROPAGATION_PRIVATE"}
  end
  hosts.add_mount(rec, c, mounts)
  local sc = security_context(pod, c)
  local target = ephemeral.target_id(rec, c) -- kubectl debug --target: its process namespace
  if target then sc.namespace_options.pid, sc.namespace_options.target_id = "TARGET", target end
  local md = pod.metadata
  return {
    metadata = {name = c.name, attempt = attempt},
    image = {image = c.image},
    command = command, args = args,
    working_dir = c.workingDir,
    envs = envs,
    mounts = mounts,
    labels = {[C.L_CONTAINER] = c.name, [C.L_UID] = md.uid, [C.L_NS] = md.namespace, [C.L_NAME] = md.name,
              [C.L_NODE] = C.state.node_name, [C.L_INIT] = is_init and "true" or "false"},
    annotations = {["io.kubernetes.container.restartCount"] = tostring(attempt)},
    log_path = ("%s/%d.log"):format(c.name, attempt),
    stdin = c.stdin == true, stdin_once = c.stdinOnce == true, tty = c.tty == true,
    linux = {resources = resources(c), security_context = sc},
  }
end

return M
