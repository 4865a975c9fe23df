-- providers/mynode.lua: the reference provider.  Pods become real containers
-- through the node's container runtime (containerd) over the CRI, the way a
-- kubelet runs them.
--
--   vk --provider providers/mynode.lua --provider-config examples/mynode.yaml ...
--
-- Config (all optional):
--   runtime_endpoint: unix:///run/containerd/containerd.sock   (crictl's form)
--   log_root:         /var/log/pods         pod log folders (CRI log_directory)
--   pod_root:         /var/lib/vk/pods      volumes (emptyDir, configMap, secret...)
--   node_ip:          the node's InternalIP (hostIP, and podIP of hostNetwork pods)
--   cluster_dns:      [10.96.0.10]           nameservers for dnsPolicy ClusterFirst
--   cluster_domain:   cluster.local
--   sync_ms:          1000                   how often containers are supervised
--   capacity:         {cpu: "4", memory: "8Gi", pods: "110"}
--
-- How it works.  create_pod pulls the images (per imagePullPolicy; a failed
-- pull is retried with backoff, shown as ErrImagePull/ImagePullBackOff and
-- recorded as an Event), sets up
-- the volumes, runs the pod sandbox and hands the pod to sync_pod, which
-- runs the init containers one by one to completion and then starts the
-- containers.  A supervisor (vk.timer.every) calls sync_pod for every pod:
-- it reads the containers back from the CRI, restarts them per restartPolicy
-- with kubelet's backoff (10 s doubling to 5 min, CrashLoopBackOff), and
-- pushes the pod status through vk.notify when it changes.  Everything the
-- provider needs to recover lives in the runtime: sandbox labels carry the
-- pod's uid/namespace/name and the node, an annotation the pod spec, and
-- container attempts the restart counts, so a restarted vk re-adopts its
-- pods and recreates nothing.
--
-- Not (yet) supported: probes (a running container is ready), lifecycle
-- hooks, ephemeral containers, PVC/projected token volumes (projected
-- volumes get ca.crt when readable and the namespace file, no token).
local cri = require "vk.cri"
local vk_event = require "vk.event"
local fs = require "vk.fs"
local json = require "vk.json"
local kube = require "vk.kube"
local log = require "vk.log"
local timer = require "vk.timer"

local P = {name = "mynode"}

local cfg = {
  log_root = "/var/log/pods",
  pod_root = "/var/lib/vk/pods",
  cluster_domain = "cluster.local",
  sync_ms = 1000,
}
local node_name = "vk"
local pods = {}          -- "ns/name" -> record (see new_record)
local recovered = false

local L_UID, L_NS, L_NAME = "io.kubernetes.pod.uid", "io.kubernetes.pod.namespace", "io.kubernetes.pod.name"
local L_CONTAINER, L_NODE, L_INIT = "io.kubernetes.container.name", "vk.io/node", "vk.io/init"
local A_POD = "vk.io/pod"

local BACKOFF_BASE_MS, BACKOFF_MAX_MS = 10000, 300000
local BACKOFF_RESET_MS = 600000 -- a container that ran 10 min starts its backoff afresh

---------------------------------------------------------------------------
-- small helpers
---------------------------------------------------------------------------

local function key_of(ns, name) return ns .. "/" .. name end

local function rfc3339(ns_or_ms, is_ms)
  if not ns_or_ms or ns_or_ms <= 0 then return nil end
  local s = is_ms and ns_or_ms // 1000 or ns_or_ms // 1000000000
  return os.date("!%Y-%m-%dT%H:%M:%SZ", s)
end

local function now_wall_ms() return os.time() * 1000 end

local function array(t) return json.array(t or {}) end

local function shallow_copy(t)
  local r = {}
  for k, v in pairs(t or {}) do r[k] = v end
  return r
end

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64index = {}
for i = 1, #b64chars do b64index[b64chars:sub(i, i)] = i - 1 end

local function b64decode(s)
  s = s:gsub("[^%w%+/=]", "")
  local out, bits, n = {}, 0, 0
  for c in s:gmatch(".") do
    if c == "=" then break end
    bits = (bits << 6) | b64index[c]
    n = n + 6
    if n >= 8 then
      n = n - 8
      out[#out + 1] = string.char((bits >> n) & 0xff)
    end
  end
  return table.concat(out)
end

-- Kubernetes quantities: "500m", "2", "0.5", "128Mi", "1G", "1e3".
local suffixes = {
  Ki = 2 ^ 10, Mi = 2 ^ 20, Gi = 2 ^ 30, Ti = 2 ^ 40, Pi = 2 ^ 50, Ei = 2 ^ 60,
  k = 1e3, M = 1e6, G = 1e9, T = 1e12, P = 1e15, E = 1e18, m = 1e-3, [""] = 1,
}
local suffix_order = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", "m"}
local function quantity(q)
  if q == nil then return nil end
  if type(q) == "number" then return q end
  q = tostring(q)
  local n = tonumber(q)
  if n then return n end
  for _, suf in ipairs(suffix_order) do
    if q:sub(-#suf) == suf then
      local v = tonumber(q:sub(1, -#suf - 1))
      if v then return v * suffixes[suf] end
    end
  end
  error("cannot parse quantity '" .. q .. "'")
end

-- $(VAR) references in command/args, as kubelet expands them ($$ escapes).
local function expand(s, env)
  s = s:gsub("%$%$", "\1")
  s = s:gsub("%$%(([%w_%.%-]+)%)", function(name)
    local v = env[name]
    if v ~= nil then return v end
    return "$(" .. name .. ")"
  end)
  return (s:gsub("\1", "$"))
end

local function dirname(p) return p:match("^(.*)/[^/]*$") or "/" end

local function must(ok, err)
  if not ok then error(err, 2) end
  return ok
end

---------------------------------------------------------------------------
-- images
---------------------------------------------------------------------------

local function pull_policy(c)
  if c.imagePullPolicy then return c.imagePullPolicy end
  local image = c.image or ""
  local tag = image:match(":([^/:]+)$")
  if image:find("@", 1, true) then return "IfNotPresent" end
  if not tag or tag == "latest" then return "Always" end
  return "IfNotPresent"
end

-- Returns nil, or {reason=, message=} when the image is not usable.
local function ensure_image(c)
  local policy = pull_policy(c)
  local present = cri.image_status{image = {image = c.image}}.image ~= nil
  if policy == "Never" then
    if present then return nil end
    return {reason = "ErrImageNeverPull",
            message = ("Container image %q is not present with pull policy of Never"):format(c.image)}
  end
  if present and policy == "IfNotPresent" then return nil end
  local ok, err = pcall(cri.pull_image, {image = {image = c.image}}, {timeout_ms = 600000})
  if ok then return nil end
  err = tostring(err):gsub("^[^ ]*:%d+: ", "") -- the runtime's words, without our file:line
  return {reason = "ErrImagePull", message = ("Failed to pull image %q: %s"):format(c.image, err)}
end

---------------------------------------------------------------------------
-- volumes
---------------------------------------------------------------------------

local function volume_dir(rec, kind, name)
  return ("%s/%s/volumes/kubernetes.io~%s/%s"):format(cfg.pod_root, rec.uid, kind, name)
end

-- Writes {path = bytes} under dir (paths may hold folders).
local function write_files(dir, files, mode)
  must(fs.mkdir_p(dir))
  for path, data in pairs(files) do
    if path:find("%.%.") or path:sub(1, 1) == "/" then error("volume item path '" .. path .. "' is not allowed") end
    local full = dir .. "/" .. path
    must(fs.mkdir_p(dirname(full)))
    must(fs.write_file(full, data, mode or 420))
  end
end

-- The files of a configMap/secret volume: every key, or the listed items.
local function select_items(data, items, what, optional)
  local files = {}
  if items and #items > 0 then
    for _, it in ipairs(items) do
      if data[it.key] == nil then
        if not optional then error(("%s has no key %q"):format(what, it.key)) end
      else
        files[it.path] = data[it.key]
      end
    end
  else
    for k, v in pairs(data) do files[k] = v end
  end
  return files
end

local function configmap_data(ns, name, optional)
  local cm, err = kube.get_configmap(ns, name)
  if not cm then
    if optional and err == "not found" then return {} end
    error(("configmap %s/%s: %s"):format(ns, name, err))
  end
  local data = {}
  for k, v in pairs(cm.data or {}) do data[k] = v end
  for k, v in pairs(cm.binaryData or {}) do data[k] = b64decode(v) end
  return data
end

local function secret_data(ns, name, optional)
  local s, err = kube.get_secret(ns, name)
  if not s then
    if optional and err == "not found" then return {} end
    error(("secret %s/%s: %s"):format(ns, name, err))
  end
  local data = {}
  for k, v in pairs(s.data or {}) do data[k] = b64decode(v) end
  for k, v in pairs(s.stringData or {}) do data[k] = v end
  return data
end

local function downward_value(pod, ref)
  local path = ref and ref.fieldPath or ""
  local md = pod.metadata
  if path == "metadata.name" then return md.name end
  if path == "metadata.namespace" then return md.namespace end
  if path == "metadata.uid" then return md.uid end
  local function kv(t)
    local keys, out = {}, {}
    for k in pairs(t or {}) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do out[#out + 1] = ("%s=%q"):format(k, t[k]) end
    return table.concat(out, "\n")
  end
  if path == "metadata.labels" then return kv(md.labels) end
  if path == "metadata.annotations" then return kv(md.annotations) end
  return ""
end

-- Prepares every volume of the pod; returns name -> {path=, readonly=}.
local function setup_volumes(rec)
  local pod, ns = rec.pod, rec.ns
  local vols = {}
  for _, v in ipairs(pod.spec.volumes or {}) do
    if v.emptyDir then
      local d = volume_dir(rec, "empty-dir", v.name)
      must(fs.mkdir_p(d, 511))
      vols[v.name] = {path = d}
    elseif v.hostPath then
      local t = v.hostPath.type or ""
      if t == "DirectoryOrCreate" then must(fs.mkdir_p(v.hostPath.path)) end
      vols[v.name] = {path = v.hostPath.path}
    elseif v.configMap then
      local cmv = v.configMap
      local data = configmap_data(ns, cmv.name, cmv.optional)
      local d = volume_dir(rec, "configmap", v.name)
      write_files(d, select_items(data, cmv.items, "configmap " .. cmv.name, cmv.optional), cmv.defaultMode)
      vols[v.name] = {path = d, readonly = true}
    elseif v.secret then
      local sv = v.secret
      local data = secret_data(ns, sv.secretName, sv.optional)
      local d = volume_dir(rec, "secret", v.name)
      write_files(d, select_items(data, sv.items, "secret " .. sv.secretName, sv.optional), sv.defaultMode)
      vols[v.name] = {path = d, readonly = true}
    elseif v.downwardAPI then
      local files = {}
      for _, it in ipairs(v.downwardAPI.items or {}) do files[it.path] = downward_value(pod, it.fieldRef) end
      local d = volume_dir(rec, "downward-api", v.name)
      write_files(d, files)
      vols[v.name] = {path = d, readonly = true}
    elseif v.projected then
      -- The service account volume (kube-api-access-*): ca.crt and namespace;
      -- vk cannot mint tokens under the node identity here.
      local files = {}
      for _, src in ipairs(v.projected.sources or {}) do
        if src.configMap then
          local ok, data = pcall(configmap_data, ns, src.configMap.name, true)
          if ok then
            for p, d in pairs(select_items(data, src.configMap.items, "configmap", true)) do files[p] = d end
          end
        elseif src.secret then
          local ok, data = pcall(secret_data, ns, src.secret.name, true)
          if ok then
            for p, d in pairs(select_items(data, src.secret.items, "secret", true)) do files[p] = d end
          end
        elseif src.downwardAPI then
          for _, it in ipairs(src.downwardAPI.items or {}) do files[it.path] = downward_value(pod, it.fieldRef) end
        end
      end
      local d = volume_dir(rec, "projected", v.name)
      write_files(d, files)
      vols[v.name] = {path = d, readonly = true}
    else
      error(("volume %q: only emptyDir, hostPath, configMap, secret, downwardAPI and projected are supported"):format(v.name))
    end
  end
  return vols
end

---------------------------------------------------------------------------
-- sandbox and container configs
---------------------------------------------------------------------------

local function host_network(pod) return pod.spec.hostNetwork == true end

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

local function sandbox_config(rec, attempt)
  local pod = rec.pod
  local md = pod.metadata
  local labels = {}
  for k, v in pairs(md.labels or {}) do labels[k] = v end
  labels[L_UID], labels[L_NS], labels[L_NAME], labels[L_NODE] = md.uid, md.namespace, md.name, node_name
  local ann = {}
  for k, v in pairs(md.annotations or {}) do ann[k] = v end
  ann[A_POD] = pod_annotation(pod)
  local privileged = false
  for _, list in ipairs{pod.spec.initContainers or {}, pod.spec.containers or {}} do
    for _, c in ipairs(list) do
      if c.securityContext and c.securityContext.privileged then privileged = true end
    end
  end
  local sysctls = {}
  for _, s in ipairs((pod.spec.securityContext or {}).sysctls or {}) do sysctls[s.name] = s.value end
  local hn = not host_network(pod)
  local hostname = (pod.spec.hostname or md.name):sub(1, 63)
  return {
    metadata = {name = md.name, uid = md.uid, namespace = md.namespace, attempt = attempt or 0},
    hostname = hn and hostname or nil,
    log_directory = ("%s/%s_%s_%s"):format(cfg.log_root, md.namespace, md.name, md.uid),
    dns_config = dns_config(pod),
    port_mappings = port_mappings(pod),
    labels = labels,
    annotations = ann,
    linux = {
      cgroup_parent = cfg.cgroup_parent,
      sysctls = sysctls,
      security_context = {
        namespace_options = {
          network = hn and "POD" or "NODE",
          pid = pod.spec.hostPID and "NODE" or "CONTAINER",
          ipc = pod.spec.hostIPC and "NODE" or "POD",
        },
        privileged = privileged,
      },
    },
  }
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
  local psc, sc = pod.spec.securityContext or {}, c.securityContext or {}
  local out = {
    namespace_options = {
      network = host_network(pod) and "NODE" or "POD",
      pid = pod.spec.hostPID and "NODE" or (pod.spec.shareProcessNamespace and "POD" or "CONTAINER"),
      ipc = pod.spec.hostIPC and "NODE" or "POD",
    },
    privileged = sc.privileged == true,
    readonly_rootfs = sc.readOnlyRootFilesystem == true,
  }
  local uid, gid = sc.runAsUser or psc.runAsUser, sc.runAsGroup or psc.runAsGroup
  if uid then out.run_as_user = {value = uid} end
  if gid then out.run_as_group = {value = gid} end
  if psc.supplementalGroups then out.supplemental_groups = psc.supplementalGroups end
  if sc.capabilities then
    out.capabilities = {add_capabilities = sc.capabilities.add or {}, drop_capabilities = sc.capabilities.drop or {}}
  end
  return out
end

local function container_config(rec, c, is_init, attempt)
  local pod = rec.pod
  local env, envs = {}, {}
  for _, e in ipairs(c.env or {}) do
    local v = e.value
    if type(v) ~= "string" then v = v ~= nil and tostring(v) or "" end
    if v == json.null then v = "" end
    env[e.name] = v
    envs[#envs + 1] = {key = e.name, value = v}
  end
  local command, args = {}, {}
  for _, s in ipairs(c.command or {}) do command[#command + 1] = expand(s, env) end
  for _, s in ipairs(c.args or {}) do args[#args + 1] = expand(s, env) end
  local mounts = {}
  for _, m in ipairs(c.volumeMounts or {}) do
    local v = rec.volumes[m.name]
    if not v then error(("container %s mounts unknown volume %q"):format(c.name, m.name)) end
    local host = v.path
    if m.subPath and m.subPath ~= "" then host = host .. "/" .. m.subPath end
    local ro = m.readOnly
    if ro == nil then ro = v.readonly == true end
    mounts[#mounts + 1] = {container_path = m.mountPath, host_path = host, readonly = ro == true,
                           propagation = (m.mountPropagation == "HostToContainer" and "PROPAGATION_HOST_TO_CONTAINER")
                             or (m.mountPropagation == "Bidirectional" and "PROPAGATION_BIDIRECTIONAL")
                             or "PROPAGATION_PRIVATE"}
  end
  local md = pod.metadata
  return {
    metadata = {name = c.name, attempt = attempt},
    image = {image = c.image},
    command = command, args = args,
    working_dir = c.workingDir,
    envs = envs,
    mounts = mounts,
    labels = {[L_CONTAINER] = c.name, [L_UID] = md.uid, [L_NS] = md.namespace, [L_NAME] = md.name,
              [L_NODE] = node_name, [L_INIT] = is_init and "true" or "false"},
    annotations = {["io.kubernetes.container.restartCount"] = tostring(attempt)},
    log_path = ("%s/%d.log"):format(c.name, attempt),
    stdin = c.stdin == true, stdin_once = c.stdinOnce == true, tty = c.tty == true,
    linux = {resources = resources(c), security_context = security_context(pod, c)},
  }
end

---------------------------------------------------------------------------
-- records
---------------------------------------------------------------------------

--[[ A record per pod:
  key, ns, name, uid, pod        the pod as last given (spec is immutable)
  state                          "images" | "creating" | "running" | "deleting"
  sandbox_id, sbcfg, ip, attempt
  volumes                        name -> {path=, readonly=}
  image_errors                   container name -> {reason=, message=, at=}
  init_done                      all init containers succeeded
  failed                         an init container failed under restartPolicy Never
  cs                             container name -> {id=, prev=, attempt=, info=(CRI status),
                                   prev_info=, backoff_ms=, next_start_ms=, init=}
  busy                           sync_pod or delete running (at most one at a time)
  status, status_json            the last status built / pushed
  start_time, cond_times         for the status' timestamps
]]
local function new_record(pod)
  local md = pod.metadata
  return {
    key = key_of(md.namespace, md.name), ns = md.namespace, name = md.name, uid = md.uid,
    pod = pod, state = "images", image_errors = {}, cs = {}, volumes = {}, cond_times = {},
    start_time = rfc3339(now_wall_ms(), true), attempt = 0,
    init_done = #(pod.spec.initContainers or {}) == 0,
  }
end

local function all_containers(pod)
  local list = {}
  for _, c in ipairs(pod.spec.initContainers or {}) do list[#list + 1] = {spec = c, init = true} end
  for _, c in ipairs(pod.spec.containers or {}) do list[#list + 1] = {spec = c, init = false} end
  return list
end

---------------------------------------------------------------------------
-- status
---------------------------------------------------------------------------

local function terminated_of(info)
  return {
    exitCode = info.exit_code,
    reason = (info.reason ~= "" and info.reason) or (info.exit_code == 0 and "Completed" or "Error"),
    message = info.message ~= "" and info.message or nil,
    startedAt = rfc3339(info.started_at), finishedAt = rfc3339(info.finished_at),
    containerID = "containerd://" .. info.id,
  }
end

local function container_status(rec, c, is_init)
  local s = rec.cs[c.name]
  local st = {name = c.name, image = c.image, imageID = "", restartCount = s and s.attempt or 0,
              ready = false, started = false}
  local info = s and s.info
  local err = rec.image_errors[c.name]
  if info then
    st.containerID = "containerd://" .. info.id
    st.imageID = info.image_ref or ""
    if info.state == "CONTAINER_RUNNING" then
      st.state = {running = {startedAt = rfc3339(info.started_at)}}
      st.ready, st.started = not is_init, true
    elseif info.state == "CONTAINER_EXITED" then
      if s.next_start_ms then
        st.state = {waiting = {reason = "CrashLoopBackOff",
          message = ("back-off %ds restarting failed container=%s pod=%s_%s(%s)"):format(
            s.backoff_ms // 1000, c.name, rec.name, rec.ns, rec.uid)}}
        st.lastState = {terminated = terminated_of(info)}
      else
        st.state = {terminated = terminated_of(info)}
      end
    else
      st.state = {waiting = {reason = "ContainerCreating"}}
    end
    if s.prev_info and not st.lastState then st.lastState = {terminated = terminated_of(s.prev_info)} end
  elseif err then
    local reason = err.reason
    if reason == "ErrImagePull" and timer.now_ms() - err.at > 2000 then reason = "ImagePullBackOff" end
    st.state = {waiting = {reason = reason, message = err.message}}
  elseif is_init or rec.init_done then
    st.state = {waiting = {reason = "ContainerCreating"}}
  else
    st.state = {waiting = {reason = "PodInitializing"}}
  end
  st.lastState = st.lastState or {}
  return st
end

local function condition(rec, type_, ok)
  local status = ok and "True" or "False"
  local ct = rec.cond_times[type_]
  if not ct or ct.status ~= status then
    ct = {status = status, at = rfc3339(now_wall_ms(), true)}
    rec.cond_times[type_] = ct
  end
  return {type = type_, status = status, lastTransitionTime = ct.at, lastProbeTime = json.null}
end

local function build_status(rec)
  local pod = rec.pod
  local policy = pod.spec.restartPolicy or "Always"
  local init_st, main_st = {}, {}
  for _, c in ipairs(pod.spec.initContainers or {}) do init_st[#init_st + 1] = container_status(rec, c, true) end
  local running, started, all_ready, all_done, any_failed, n = 0, 0, true, true, false, 0
  for _, c in ipairs(pod.spec.containers or {}) do
    local st = container_status(rec, c, false)
    main_st[#main_st + 1] = st
    n = n + 1
    if st.state.running then running = running + 1 end
    if st.state.running or st.state.terminated or st.lastState.terminated then started = started + 1 end
    if not st.ready then all_ready = false end
    local term = st.state.terminated
    if not term then
      all_done = false
    elseif term.exitCode ~= 0 then
      any_failed = true
    end
  end
  -- kubelet's phases: terminal only when no container will run again.
  local phase
  if rec.failed then
    phase = "Failed"
  elseif not rec.init_done then
    phase = "Pending"
  elseif n > 0 and all_done and (policy == "Never" or (policy == "OnFailure" and not any_failed)) then
    phase = any_failed and "Failed" or "Succeeded"
  elseif running > 0 or started > 0 then
    phase = "Running" -- running, or restarting
  else
    phase = "Pending"
  end
  local ready = all_ready and n > 0 and phase == "Running"
  local ip = rec.ip
  if host_network(pod) then ip = cfg.node_ip or ip end
  local status = {
    phase = phase,
    conditions = array{
      condition(rec, "PodScheduled", true),
      condition(rec, "Initialized", rec.init_done == true),
      condition(rec, "ContainersReady", ready),
      condition(rec, "Ready", ready),
    },
    hostIP = cfg.node_ip or ip,
    podIP = ip,
    podIPs = ip and array{{ip = ip}} or array{},
    startTime = rec.start_time,
    initContainerStatuses = array(init_st),
    containerStatuses = array(main_st),
  }
  if phase == "Failed" and rec.failed then
    status.reason, status.message = "InitContainerFailed", rec.failed
  end
  return status
end

-- Pushes the status when it changed.  The JSON form (without condition
-- times, which only change with the statuses) is the comparison key.
local function publish(rec)
  local status = build_status(rec)
  rec.status = status
  local j = json.encode(status)
  if j ~= rec.status_json then
    rec.status_json = j
    vk.notify{namespace = rec.ns, name = rec.name, status = status}
  end
  return status
end

-- An Event about the pod, as kubelet records them (no-op without a cluster).
local function event(rec, type_, reason, message)
  local ok, err = pcall(vk_event.record, rec.pod, type_, reason, message)
  if not ok then log.warn("%s: event: %s", rec.key, err) end
end

---------------------------------------------------------------------------
-- running containers
---------------------------------------------------------------------------

-- kubelet's crash backoff: the first restart is immediate, then 10 s,
-- doubling up to 5 min; a container that ran 10 min starts afresh.
local function next_backoff(s)
  local info = s.info
  if info and info.started_at > 0 and info.finished_at > 0 and
     (info.finished_at - info.started_at) // 1000000 > BACKOFF_RESET_MS then
    return 0
  end
  if s.backoff_ms == nil then return 0 end
  if s.backoff_ms == 0 then return BACKOFF_BASE_MS end
  return math.min(s.backoff_ms * 2, BACKOFF_MAX_MS)
end

local function start_container(rec, c, is_init, attempt)
  local cc = container_config(rec, c, is_init, attempt)
  local id = cri.create_container{pod_sandbox_id = rec.sandbox_id, config = cc, sandbox_config = rec.sbcfg}.container_id
  cri.start_container{container_id = id}
  return id
end

-- Reads the pod's containers back from the CRI into rec.cs.  `list` is
-- the supervisor's one ListContainers for the whole node, or nil.
local function observe(rec, list)
  list = list or cri.list_containers{filter = {pod_sandbox_id = rec.sandbox_id}}.containers
  local newest = {}
  for _, ct in ipairs(list) do
    local name = ct.labels[L_CONTAINER] or ct.metadata.name
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
      local ok, r = pcall(cri.container_status, {container_id = ct.id})
      if ok then s.info = r.status end
    end
  end
end

-- Removes exited instances older than the previous one (kept for logs).
local function collect_garbage(rec)
  for name, s in pairs(rec.cs) do
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
local function step_container(rec, c, is_init, policy)
  local s = rec.cs[c.name]
  if rec.image_errors[c.name] then return "waiting" end
  if not s or not s.id then
    -- First start, or again in a re-created sandbox (the count goes on).
    local attempt = s and s.attempt and s.attempt + 1 or 0
    local id = start_container(rec, c, is_init, attempt)
    rec.cs[c.name] = {id = id, attempt = attempt, backoff_ms = s and s.backoff_ms}
    return "started"
  end
  local info = s.info
  if not info then return "unknown" end
  if info.state == "CONTAINER_RUNNING" or info.state == "CONTAINER_CREATED" then
    return info.state == "CONTAINER_RUNNING" and "running" or "created"
  end
  if info.state ~= "CONTAINER_EXITED" then return "unknown" end
  if is_init and info.exit_code == 0 then return "succeeded" end
  if not restart_due(s, is_init and (policy == "Never" and "Never" or "OnFailure") or policy) then
    return "exited"
  end
  local now = timer.now_ms()
  if not s.next_start_ms then
    s.backoff_ms = next_backoff(s)
    s.next_start_ms = now + s.backoff_ms
    log.info("%s: container %s exited with %d; restarting in %d s", rec.key, c.name, info.exit_code,
             s.backoff_ms // 1000)
  end
  if now < s.next_start_ms then return "backoff" end
  local attempt = (s.attempt or 0) + 1
  local old_prev = s.prev
  local id = start_container(rec, c, is_init, attempt)
  s.stale = old_prev
  s.prev, s.prev_info = s.id, s.info
  s.id, s.attempt, s.info, s.next_start_ms = id, attempt, nil, nil
  return "started"
end

-- A pod whose sandbox died (node reboot, someone's crictl stopp) gets a new
-- one, as kubelet does: the next attempt, init containers run again, every
-- container restarts with its restart count going on.
local function recreate_sandbox(rec)
  event(rec, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
  log.info("%s: sandbox %s is gone or not ready; re-creating it", rec.key, rec.sandbox_id:sub(1, 12))
  pcall(cri.stop_pod_sandbox, {pod_sandbox_id = rec.sandbox_id})
  pcall(cri.remove_pod_sandbox, {pod_sandbox_id = rec.sandbox_id})
  rec.attempt = (rec.attempt or 0) + 1
  rec.sbcfg = sandbox_config(rec, rec.attempt)
  rec.sandbox_id = cri.run_pod_sandbox{config = rec.sbcfg}.pod_sandbox_id
  local st = cri.pod_sandbox_status{pod_sandbox_id = rec.sandbox_id}.status
  rec.ip = st.network and st.network.ip ~= "" and st.network.ip or nil
  for _, cs in pairs(rec.cs) do
    cs.id, cs.info, cs.next_start_ms, cs.prev, cs.prev_info, cs.stale = nil, nil, nil, nil, nil, nil
  end
  rec.init_done = #(rec.pod.spec.initContainers or {}) == 0
end

-- Drives one pod forward; safe to call any time (serialised by rec.busy).
-- sandbox_state: the supervisor's view of the pod's sandbox, or nil.
local function sync_pod(rec, list, sandbox_state)
  if rec.busy or rec.state ~= "running" then return end
  rec.busy = true
  local ok, err = pcall(function()
    if sandbox_state and sandbox_state ~= "SANDBOX_READY" then
      recreate_sandbox(rec)
      list = {}
    end
    observe(rec, list)
    local policy = rec.pod.spec.restartPolicy or "Always"
    if not rec.init_done and not rec.failed then
      local all = true
      for _, c in ipairs(rec.pod.spec.initContainers or {}) do
        local r = step_container(rec, c, true, policy)
        if r ~= "succeeded" then
          all = false
          if r == "exited" and policy == "Never" then
            rec.failed = ("init container %s failed with exit code %d"):format(c.name, rec.cs[c.name].info.exit_code)
          end
          break
        end
      end
      rec.init_done = all
    end
    local started = false
    if rec.init_done then
      for _, c in ipairs(rec.pod.spec.containers or {}) do
        if step_container(rec, c, false, policy) == "started" then started = true end
      end
    end
    collect_garbage(rec)
    -- Read what was just started back, so the status says Running now
    -- rather than at the next supervisor round.
    if started then observe(rec) end
  end)
  rec.busy = false
  if not ok then log.warn("%s: sync: %s", rec.key, err) end
  publish(rec)
end

---------------------------------------------------------------------------
-- recovery: re-adopt the pods this node's sandboxes hold
---------------------------------------------------------------------------

local recovering = false
local function ensure_recovered()
  while recovering do timer.sleep(20) end -- another callback is at it
  if recovered then return end
  recovering = true
  local ok, err = pcall(function()
  local items = cri.list_pod_sandbox{filter = {label_selector = {[L_NODE] = node_name}}}.items
  for _, sb in ipairs(items) do
    local pod_json = sb.annotations[A_POD]
    local ok, pod = pcall(json.decode, pod_json or "")
    if sb.state == "SANDBOX_READY" and ok and type(pod) == "table" and pod.metadata then
      local rec = new_record(pod)
      local cur = pods[rec.key]
      if not cur or cur.uid ~= rec.uid then
        rec.sandbox_id, rec.attempt = sb.id, sb.metadata.attempt
        rec.sbcfg = sandbox_config(rec, rec.attempt)
        rec.start_time = rfc3339(sb.created_at)
        local st = cri.pod_sandbox_status{pod_sandbox_id = sb.id}.status
        rec.ip = st.network and st.network.ip ~= "" and st.network.ip or nil
        -- volumes: the folders exist; their paths are recomputed.
        for _, v in ipairs(pod.spec.volumes or {}) do
          local kind = v.emptyDir and "empty-dir" or v.configMap and "configmap" or v.secret and "secret"
                       or v.downwardAPI and "downward-api" or v.projected and "projected"
          if v.hostPath then rec.volumes[v.name] = {path = v.hostPath.path}
          elseif kind then rec.volumes[v.name] = {path = volume_dir(rec, kind, v.name),
                                                  readonly = kind ~= "empty-dir"} end
        end
        rec.state = "running"
        observe(rec)
        local init_ok = true
        for _, c in ipairs(pod.spec.initContainers or {}) do
          local s = rec.cs[c.name]
          if not (s and s.info and s.info.state == "CONTAINER_EXITED" and s.info.exit_code == 0) then init_ok = false end
        end
        rec.init_done = init_ok
        pods[rec.key] = rec
        log.info("%s: re-adopted sandbox %s", rec.key, sb.id:sub(1, 12))
      end
    elseif sb.state ~= "SANDBOX_READY" then
      -- A dead sandbox of ours: the core will create the pod again if wanted.
      pcall(cri.stop_pod_sandbox, {pod_sandbox_id = sb.id})
      pcall(cri.remove_pod_sandbox, {pod_sandbox_id = sb.id})
    end
  end
  recovered = true
  end)
  recovering = false
  if not ok then error(err, 0) end
end

---------------------------------------------------------------------------
-- the provider callbacks
---------------------------------------------------------------------------

local supervisor -- the vk.timer.every handle
local supervisor_busy = false
local retry_create -- defined with create_pod below
local function supervise()
  if supervisor_busy then return end
  supervisor_busy = true
  local ok, err = pcall(function()
    if not recovered then ensure_recovered() end
    if next(pods) == nil then return end
    -- One ListContainers for the node per round, split by sandbox.
    local by_sandbox = {}
    local all = cri.list_containers{filter = {label_selector = {[L_NODE] = node_name}}}.containers
    for _, ct in ipairs(all) do
      local l = by_sandbox[ct.pod_sandbox_id]
      if not l then
        l = {}
        by_sandbox[ct.pod_sandbox_id] = l
      end
      l[#l + 1] = ct
    end
    local sandboxes = {}
    for _, sb in ipairs(cri.list_pod_sandbox{filter = {label_selector = {[L_NODE] = node_name}}}.items) do
      sandboxes[sb.id] = sb.state
    end
    -- A snapshot: other callbacks add and remove pods while this one
    -- yields, and a table must not grow during pairs().
    local recs = {}
    for _, rec in pairs(pods) do recs[#recs + 1] = rec end
    for _, rec in ipairs(recs) do
      if rec.state == "images" then
        retry_create(rec)
      elseif rec.sandbox_id and rec.state == "running" then
        -- (a sandbox made after the two lists were read is not judged yet)
        local st = sandboxes[rec.sandbox_id]
        if st or rec.listed_once then
          sync_pod(rec, by_sandbox[rec.sandbox_id] or {}, st or "SANDBOX_GONE")
        end
        rec.listed_once = st ~= nil or rec.listed_once
      end
    end
  end)
  supervisor_busy = false
  if not ok then log.warn("supervisor: %s", err) end
end

function P.init(config, node)
  for k, v in pairs(config or {}) do cfg[k] = v end
  if type(cfg.cluster_dns) == "string" then cfg.cluster_dns = {cfg.cluster_dns} end
  if cfg.runtime_endpoint then cri.set_endpoint(cfg.runtime_endpoint) end
  node_name = (node and node.metadata and node.metadata.name) or node_name
  if node then
    node.status = node.status or {}
    local cap = cfg.capacity or {}
    local res = {cpu = tostring(cap.cpu or "4"), memory = tostring(cap.memory or "8Gi"), pods = tostring(cap.pods or "110")}
    node.status.capacity = shallow_copy(res)
    node.status.allocatable = shallow_copy(res)
    if cfg.node_ip then node.status.addresses = array{{type = "InternalIP", address = cfg.node_ip}} end
    local ok, v = pcall(cri.version, {})
    if ok then
      node.status.nodeInfo = node.status.nodeInfo or {}
      node.status.nodeInfo.containerRuntimeVersion = v.runtime_name .. "://" .. v.runtime_version
    else
      log.warn("runtime %s: %s", cri.endpoint(), v)
    end
  end
  local ok, err = pcall(ensure_recovered)
  if not ok then log.warn("recovering pods from the runtime: %s", err) end
  supervisor = timer.every(math.tointeger(cfg.sync_ms) or 1000, supervise)
end

-- Stops the supervisor (tests; a hot reload's new version calls it on the old).
function P.stop()
  if supervisor then supervisor:stop() end
  supervisor = nil
end

-- Hot reload: take the old version's pods instead of re-reading the runtime.
function P.on_reload(previous)
  if previous and previous.stop then previous.stop() end
  if previous and previous.state then pods, recovered = previous.state(), true end
end

function P.state() return pods end

local PULL_BACKOFF_BASE_MS, PULL_BACKOFF_MAX_MS = 10000, 300000

-- Pulls the images, sets up the volumes and runs the sandbox.  A failed
-- pull is kubelet's ErrImagePull: it shows in the container's waiting
-- reason (ImagePullBackOff while waiting), becomes an Event, and is retried
-- by the supervisor with backoff; try_create then returns false.  Other
-- failures raise (the core records them and retries create_pod).
local function try_create(rec)
  local pod = rec.pod
  rec.image_errors = {}
  local failed
  for _, it in ipairs(all_containers(pod)) do
    local e = ensure_image(it.spec)
    if e then
      e.at = timer.now_ms()
      rec.image_errors[it.spec.name] = e
      failed = failed or e
      event(rec, "Warning", "Failed", e.message)
    end
  end
  if failed then
    rec.pull_backoff_ms = rec.pull_backoff_ms and math.min(rec.pull_backoff_ms * 2, PULL_BACKOFF_MAX_MS)
                          or PULL_BACKOFF_BASE_MS
    rec.pull_next_ms = timer.now_ms() + rec.pull_backoff_ms
    event(rec, "Warning", "Failed", "Error: " .. failed.reason)
    log.warn("%s: %s; retrying in %d s", rec.key, failed.message, rec.pull_backoff_ms // 1000)
    publish(rec)
    return false
  end
  rec.pull_backoff_ms, rec.pull_next_ms = nil, nil
  rec.state = "creating"
  local ok, err = pcall(function()
    rec.volumes = setup_volumes(rec)
    rec.sbcfg = sandbox_config(rec, rec.attempt)
    rec.sandbox_id = cri.run_pod_sandbox{config = rec.sbcfg}.pod_sandbox_id
    local st = cri.pod_sandbox_status{pod_sandbox_id = rec.sandbox_id}.status
    rec.ip = st.network and st.network.ip ~= "" and st.network.ip or nil
  end)
  if not ok then
    rec.state = "images" -- a retry starts over
    error(err, 0)
  end
  rec.state = "running"
  return true
end

-- The supervisor's step for a pod still waiting for its images.
retry_create = function(rec)
  if rec.busy or not rec.pull_next_ms or timer.now_ms() < rec.pull_next_ms then
    publish(rec) -- ErrImagePull turns into ImagePullBackOff meanwhile
    return
  end
  rec.busy = true
  local ok, r = pcall(try_create, rec)
  rec.busy = false
  if not ok then
    rec.pull_backoff_ms = math.min((rec.pull_backoff_ms or PULL_BACKOFF_BASE_MS // 2) * 2, PULL_BACKOFF_MAX_MS)
    rec.pull_next_ms = timer.now_ms() + rec.pull_backoff_ms
    event(rec, "Warning", "FailedCreatePodSandBox", tostring(r))
    log.warn("%s: %s", rec.key, r)
  elseif r then
    sync_pod(rec)
  end
end

function P.create_pod(pod)
  if not recovered then ensure_recovered() end
  local md = pod.metadata
  local key = key_of(md.namespace, md.name)
  local rec = pods[key]
  if rec and rec.uid == md.uid and rec.state ~= "images" then
    return -- already ours (re-adopted after a restart, or a repeated create)
  end
  if not rec or rec.uid ~= md.uid then
    rec = new_record(pod)
    pods[key] = rec
  end
  rec.pod = pod
  while rec.busy do timer.sleep(20) end
  rec.busy = true
  local ok, created = pcall(try_create, rec)
  rec.busy = false
  if not ok then error(created, 0) end
  -- Init containers, then containers: the first step runs now.
  if created then sync_pod(rec) end
end

function P.update_pod(pod)
  local rec = pods[key_of(pod.metadata.namespace, pod.metadata.name)]
  if rec and rec.uid == pod.metadata.uid then
    rec.pod.metadata.labels, rec.pod.metadata.annotations = pod.metadata.labels, pod.metadata.annotations
  end
end

-- Runs fn in a task of its own (a one-shot vk.timer.every), so that several
-- containers can be stopped at once, each with its full grace period.
local function spawn(fn)
  local h
  h = timer.every(1, function()
    h:stop()
    fn()
  end)
end

local function remove_sandboxes_of(uid)
  local items = cri.list_pod_sandbox{filter = {label_selector = {[L_UID] = uid, [L_NODE] = node_name}}}.items
  for _, sb in ipairs(items) do
    cri.stop_pod_sandbox{pod_sandbox_id = sb.id}
    cri.remove_pod_sandbox{pod_sandbox_id = sb.id}
  end
end

function P.delete_pod(pod)
  local md = pod.metadata
  local key = key_of(md.namespace, md.name)
  local rec = pods[key]
  if rec and rec.uid ~= md.uid then rec = nil end
  local grace = md.deletionGracePeriodSeconds or pod.spec and pod.spec.terminationGracePeriodSeconds or 30
  if rec then
    rec.state = "deleting"
    while rec.busy do timer.sleep(20) end
    if rec.sandbox_id then
      -- SIGTERM to every running container at once, SIGKILL after the grace.
      local pending = 0
      local ok, list = pcall(cri.list_containers, {filter = {pod_sandbox_id = rec.sandbox_id,
                                                            state = {state = "CONTAINER_RUNNING"}}})
      for _, ct in ipairs(ok and list.containers or {}) do
        pending = pending + 1
        spawn(function()
          local sok, serr = pcall(cri.stop_container, {container_id = ct.id, timeout = math.tointeger(grace) or 30},
                                  {timeout_ms = (math.tointeger(grace) or 30) * 1000 + 30000})
          if not sok then log.warn("%s: stop container %s: %s", key, ct.id:sub(1, 12), serr) end
          pending = pending - 1
        end)
      end
      while pending > 0 do timer.sleep(50) end
    end
  end
  remove_sandboxes_of(md.uid)
  if pods[key] == rec and rec then pods[key] = nil end
  fs.remove_all(("%s/%s"):format(cfg.pod_root, md.uid))
  fs.remove_all(("%s/%s_%s_%s"):format(cfg.log_root, md.namespace, md.name, md.uid))
end

function P.get_pod_status(ns, name)
  local rec = pods[key_of(ns, name)]
  if not rec then return nil end
  return build_status(rec)
end

function P.get_pod(ns, name)
  local rec = pods[key_of(ns, name)]
  if not rec then return nil end
  local pod = shallow_copy(rec.pod)
  pod.status = rec.status or build_status(rec)
  return pod
end

function P.get_pods()
  ensure_recovered()
  local out = {}
  for _, rec in pairs(pods) do
    local pod = shallow_copy(rec.pod)
    pod.status = rec.status or build_status(rec)
    out[#out + 1] = pod
  end
  return array(out)
end

function P.ping()
  local st = cri.status{}
  for _, c in ipairs(st.status.conditions) do
    if c.type == "RuntimeReady" and not c.status then
      error("container runtime not ready: " .. c.reason .. " " .. c.message)
    end
  end
end

-- /stats/summary (kubelet's stats/v1alpha1 Summary) from ListContainerStats.
function P.stats_summary()
  local stats = cri.list_container_stats{filter = {label_selector = {[L_NODE] = node_name}}}.stats
  local by_uid, order = {}, {}
  local function v(x) return x and x.value or nil end
  for _, st in ipairs(stats) do
    local a = st.attributes or {labels = {}}
    local uid = a.labels[L_UID]
    local rec = uid and pods[key_of(a.labels[L_NS] or "", a.labels[L_NAME] or "")]
    if uid and rec and rec.uid == uid then
      local p = by_uid[uid]
      if not p then
        p = {podRef = {name = rec.name, namespace = rec.ns, uid = uid}, startTime = rec.start_time,
             containers = {}, cpu = {usageNanoCores = 0, usageCoreNanoSeconds = 0},
             memory = {usageBytes = 0, workingSetBytes = 0, rssBytes = 0}}
        by_uid[uid] = p
        order[#order + 1] = p
      end
      local cpu, mem = st.cpu or {}, st.memory or {}
      local c = {
        name = a.labels[L_CONTAINER] or (a.metadata and a.metadata.name),
        cpu = {time = rfc3339(cpu.timestamp), usageNanoCores = v(cpu.usage_nano_cores),
               usageCoreNanoSeconds = v(cpu.usage_core_nano_seconds)},
        memory = {time = rfc3339(mem.timestamp), usageBytes = v(mem.usage_bytes),
                  workingSetBytes = v(mem.working_set_bytes), rssBytes = v(mem.rss_bytes),
                  pageFaults = v(mem.page_faults), majorPageFaults = v(mem.major_page_faults)},
      }
      p.containers[#p.containers + 1] = c
      p.cpu.time, p.memory.time = c.cpu.time, c.memory.time
      p.cpu.usageNanoCores = p.cpu.usageNanoCores + (c.cpu.usageNanoCores or 0)
      p.cpu.usageCoreNanoSeconds = p.cpu.usageCoreNanoSeconds + (c.cpu.usageCoreNanoSeconds or 0)
      p.memory.usageBytes = p.memory.usageBytes + (c.memory.usageBytes or 0)
      p.memory.workingSetBytes = p.memory.workingSetBytes + (c.memory.workingSetBytes or 0)
      p.memory.rssBytes = p.memory.rssBytes + (c.memory.rssBytes or 0)
    end
  end
  for _, p in ipairs(order) do p.containers = array(p.containers) end
  return {node = {nodeName = node_name}, pods = array(order)}
end

-- Container logs from the CRI log file ("TIME STREAM P|F text" lines).
-- opts: tailLines, limitBytes, timestamps, previous.
function P.container_logs(ns, name, container, opts)
  opts = opts or {}
  local rec = pods[key_of(ns, name)]
  if not rec then error(("pod %s/%s not found"):format(ns, name)) end
  local s = rec.cs[container]
  if not s then error(("container %s not found in pod %s/%s"):format(container, ns, name)) end
  local info = opts.previous and s.prev_info or s.info
  if not info then
    if opts.previous then error(("previous terminated container %s not found"):format(container)) end
    local ok, r = pcall(cri.container_status, {container_id = s.id})
    info = ok and r.status or nil
  end
  if not info or info.log_path == "" then return "" end
  local limit = math.tointeger(opts.limitBytes) or (8 << 20)
  local data = fs.read_file(info.log_path, {max_bytes = limit, tail = true}) or ""
  local out, partial = {}, ""
  for line in data:gmatch("[^\n]+") do
    local ts, tag, text = line:match("^(%S+) %S+ (%S+) ?(.*)$")
    if ts then
      local piece = (opts.timestamps and partial == "" and (ts .. " ") or "") .. text
      if tag == "P" then
        partial = partial .. piece
      else
        out[#out + 1] = partial .. piece
        partial = ""
      end
    end
  end
  local n = math.tointeger(opts.tailLines)
  if n and n < #out then out = table.move(out, #out - n + 1, #out, 1, {}) end
  if #out == 0 then return "" end
  return table.concat(out, "\n") .. "\n"
end

return P
