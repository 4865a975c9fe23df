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
--   volume_sync_ms:   60000                  how often configMap/secret/downwardAPI/projected
--                                            volumes are refreshed (and tokens rotated)
--   token_refresh_fraction: 0.8              a token is renewed past this part of its lifetime
--   token_max_age_s:  86400                  ... or at this age
--   capacity:         {cpu: "4", memory: "8Gi", pods: "110"}  (default: the host's;
--                     reserves and eviction thresholds: see mynode/node.lua)
--   allowed_unsafe_sysctls: ["kernel.msg*", "net.core.somaxconn"]  beyond kubelet's safe set
--
-- How it works.  create_pod pulls the images (per imagePullPolicy, with the
-- pod's imagePullSecrets; a failed pull is retried with backoff, shown as
-- ErrImagePull/ImagePullBackOff and recorded as an Event), sets up the
-- volumes, runs the pod sandbox and hands the pod to sync_pod, which runs
-- the init containers one by one to completion and then starts the
-- containers.  A supervisor (vk.timer.every) calls sync_pod for every pod:
-- it reads the containers back from the CRI (one ListContainers a round),
-- restarts them per restartPolicy with kubelet's backoff (immediately, then
-- 10 s doubling to 5 min: CrashLoopBackOff), runs their probes, re-creates
-- a sandbox that died, and pushes the pod status through vk.notify when it
-- changes.  Everything needed to recover lives in the runtime, so a
-- restarted vk re-adopts its pods and recreates nothing.
--
-- This file keeps the callbacks and the supervisor; the rest is in
-- providers/mynode/, one module per concern:
--   common.lua      config, the pods' records, labels, small helpers
--   images.lua      pull policy and imagePullSecrets
--   node.lua        capacity, allocatable and pressure conditions from the host
--   volumes.lua     the pod's volumes; one module per kind in mynode/volumes/
--   cri_config.lua  the CRI's sandbox and container configs
--   hosts.lua       the pod's hostname and /etc/hosts
--   security.lua    runAsUser/Group, groups, runAsNonRoot
--   sysctls.lua     securityContext.sysctls: kubelet's allowlist and admission
--   ephemeral.lua   ephemeral containers (kubectl debug)
--   containers.lua  starting and restarting containers: sync_pod
--   probes.lua      startup, readiness and liveness probes (handlers.lua runs them)
--   status.lua      the pod status, pushed when it changes
--   update.lua      update_pod: a changed image restarts its container
--   terminal.lua    the status a deleted pod ends with (real exit codes)
--   recovery.lua    re-adopting the runtime's sandboxes after a restart
--   sandboxes.lua   removing a sandbox, and the tasks containerd leaves behind
--   stats.lua       /stats/summary;  logs.lua: container logs
--   streaming.lua   kubectl exec, attach (the runtime's streaming server) and port-forward
-- Hot reload sees them all (vk watches every module the provider loads
-- from its folder).
--
-- Probes and lifecycle: startup/readiness/liveness probes of every kind
-- (probes.lua, handlers.lua; network ones from inside the pod's network
-- namespace, netns.lua), postStart/preStop hooks (hooks.lua), sidecars
-- (sidecars.lua), termination messages (termination.lua),
-- activeDeadlineSeconds (deadline.lua), stopping in order (stopping.lua).
-- Ephemeral containers (ephemeral.lua), /etc/hosts and the hostname
-- (hosts.lua), security contexts (security.lua), sysctls (sysctls.lua).
-- Not supported (yet): PVCs other than local and hostPath volumes.
local cri = require "vk.cri"
local k8s = require "vk.k8s"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"
local containers = require "mynode.containers"
local cri_config = require "mynode.cri_config"
local deadline = require "mynode.deadline"
local ephemeral = require "mynode.ephemeral"
local hosts = require "mynode.hosts"
local images = require "mynode.images"
local logs = require "mynode.logs"
local node_info = require "mynode.node"
local recovery = require "mynode.recovery"
local sandboxes = require "mynode.sandboxes"
local stats = require "mynode.stats"
local status = require "mynode.status"
local stopping = require "mynode.stopping"
local streaming = require "mynode.streaming"
local sysctls = require "mynode.sysctls"
local terminal = require "mynode.terminal"
local update = require "mynode.update"
local volumes = require "mynode.volumes"

local P = {name = "mynode"}

local cfg, S = C.cfg, C.state

local PULL_BACKOFF_BASE_MS, PULL_BACKOFF_MAX_MS = 10000, 300000

-- The sysctls pods may set (init builds it from the config and the kernel).
local sysctl_allow = sysctls.allowlist(nil, nil)

-- Pulls the images, sets up the volumes and runs the sandbox.  A failed
-- pull is kubelet's ErrImagePull: it shows in the container's waiting
-- reason (ImagePullBackOff while waiting), becomes an Event, and is retried
-- by the supervisor with backoff; try_create then returns false.  Other
-- failures raise (the core records them and retries create_pod).
local function try_create(rec)
  local pod = rec.pod
  rec.image_errors = {}
  rec.pull = rec.pull or k8s.backoff{base_ms = PULL_BACKOFF_BASE_MS, max_ms = PULL_BACKOFF_MAX_MS, jitter = false}
  local failed
  for _, it in ipairs(C.all_containers(pod)) do
    local e = images.ensure(it.spec, function() return images.pull_auth(rec, it.spec.image) end, rec)
    if e then
      e.at = timer.now_ms()
      rec.image_errors[it.spec.name] = e
      failed = failed or e
      C.event(rec, "Warning", "Failed", e.message)
    end
  end
  if failed then
    rec.pull_backoff_ms = rec.pull:next()
    rec.pull_next_ms = timer.now_ms() + rec.pull_backoff_ms
    C.event(rec, "Warning", "Failed", "Error: " .. failed.reason)
    log.warn("%s: %s; retrying in %d s", rec.key, failed.message, rec.pull_backoff_ms // 1000)
    status.publish(rec)
    return false
  end
  rec.pull:reset()
  rec.pull_backoff_ms, rec.pull_next_ms = nil, nil
  rec.state = "creating"
  local ok, err = pcall(function()
    rec.volumes = volumes.setup(rec)
    rec.sbcfg = cri_config.sandbox(rec, rec.attempt)
    rec.sandbox_id = cri.run_pod_sandbox{config = rec.sbcfg}.pod_sandbox_id
    local st = cri.pod_sandbox_status{pod_sandbox_id = rec.sandbox_id}.status
    rec.ip = st.network and st.network.ip ~= "" and st.network.ip or nil
    hosts.write(rec)
  end)
  if not ok then
    rec.state = "images" -- a retry starts over
    error(err, 0)
  end
  rec.state = "running"
  return true
end

-- The supervisor's step for a pod still waiting for its images.  Its
-- activeDeadlineSeconds counts meanwhile, as kubelet checks it on every
-- sync: past it, the pod is Failed without a container ever made.
local function retry_create(rec)
  if deadline.exceeded(rec) then
    if rec.lock:try_acquire() then
      rec.state = "ended"
      containers.end_at_deadline(rec)
      rec.lock:release()
      status.publish(rec)
    end
    return
  end
  if not rec.pull_next_ms or timer.now_ms() < rec.pull_next_ms or not rec.lock:try_acquire() then
    status.publish(rec) -- ErrImagePull turns into ImagePullBackOff meanwhile
    return
  end
  local ok, r = pcall(try_create, rec)
  rec.lock:release()
  if not ok then
    rec.pull_backoff_ms = rec.pull:next()
    rec.pull_next_ms = timer.now_ms() + rec.pull_backoff_ms
    C.event(rec, "Warning", "FailedCreatePodSandBox", tostring(r))
    log.warn("%s: %s", rec.key, r)
  elseif r then
    containers.sync_pod(rec)
  end
end

---------------------------------------------------------------------------
-- the supervisor
---------------------------------------------------------------------------

local supervisor -- the vk.timer.every handle (it skips a tick while the last one runs)
local last_super_err, last_super_err_ms = nil, 0

local function supervise_round()
  recovery.ensure()
  if next(S.pods) == nil then return end
  -- One ListContainers for the node per round, split by sandbox.
  local mine = {filter = {label_selector = {[C.L_NODE] = S.node_name}}}
  local by_sandbox = {}
  for _, ct in ipairs(cri.list_containers(mine, C.QUICK).containers) do
    local l = by_sandbox[ct.pod_sandbox_id]
    if not l then
      l = {}
      by_sandbox[ct.pod_sandbox_id] = l
    end
    l[#l + 1] = ct
  end
  local sandbox_states = {}
  for _, sb in ipairs(cri.list_pod_sandbox(mine, C.QUICK).items) do sandbox_states[sb.id] = sb.state end
  -- A snapshot: other callbacks add and remove pods while this one
  -- yields, and a table must not grow during pairs().
  local recs = {}
  for _, rec in pairs(S.pods) do recs[#recs + 1] = rec end
  for _, rec in ipairs(recs) do
    if rec.state == "images" then
      retry_create(rec)
    elseif rec.sandbox_id and rec.state == "running" then
      -- (a sandbox made after the two lists were read is not judged yet)
      local st = sandbox_states[rec.sandbox_id]
      if st or rec.listed_once then
        containers.sync_pod(rec, by_sandbox[rec.sandbox_id] or {}, st or "SANDBOX_GONE")
      end
      rec.listed_once = st ~= nil or rec.listed_once
    end
  end
end

local function supervise()
  local ok, err = pcall(supervise_round)
  -- While the runtime is away every round fails alike: say it once a minute.
  if not ok then
    local now = timer.now_ms()
    if err ~= last_super_err or now - last_super_err_ms > 60000 then
      log.warn("supervisor: %s", err)
      last_super_err, last_super_err_ms = err, now
    end
  elseif last_super_err then
    log.info("supervisor: the runtime answers again")
    last_super_err = nil
  end
end

---------------------------------------------------------------------------
-- the provider callbacks
---------------------------------------------------------------------------

function P.init(config, node)
  for k, v in pairs(config or {}) do cfg[k] = v end
  if type(cfg.cluster_dns) == "string" then cfg.cluster_dns = {cfg.cluster_dns} end
  if cfg.runtime_endpoint then cri.set_endpoint(cfg.runtime_endpoint) end
  -- The node's kernel (uname, as the core reports it): kubelet leaves out
  -- the safe sysctls it does not namespace yet.
  local info = node and node.status and node.status.nodeInfo
  sysctl_allow = sysctls.allowlist(info and info.kernelVersion, cfg.allowed_unsafe_sysctls)
  S.node_name = (node and node.metadata and node.metadata.name) or S.node_name
  if node then
    node.status = node.status or {}
    node_info.check_config()
    node_info.refresh(node)
    if cfg.node_ip then node.status.addresses = C.array{{type = "InternalIP", address = cfg.node_ip}} end
    S.allocatable = node.status.allocatable -- the downward API's unset limits
    local ok, v = pcall(cri.version, {}, {timeout_ms = 3000})
    if ok then
      node.status.nodeInfo = node.status.nodeInfo or {}
      node.status.nodeInfo.containerRuntimeVersion = v.runtime_name .. "://" .. v.runtime_version
    else
      log.warn("runtime %s: %s", cri.endpoint(), v)
    end
  end
  -- The runtime's sandboxes are re-adopted by the first of get_pods (the
  -- core's first call for pods), create_pod or the supervisor's round, not
  -- here: init holds up the Node's registration, and a restart after a
  -- crash must say Ready at once (a busy containerd took 10 s to answer
  -- for 11 pods).
  supervisor = timer.every(math.tointeger(cfg.sync_ms) or 1000, supervise)
  volumes.start()
end

-- Stops the supervisor (tests; a hot reload's new version calls it on the old).
function P.stop()
  if supervisor then supervisor:stop() end
  supervisor = nil
  volumes.stop()
end

-- Hot reload: take the old version's pods instead of re-reading the runtime.
function P.on_reload(previous)
  if previous and previous.stop then previous.stop() end
  -- The pressure conditions keep their state (transition period, what was logged).
  if previous and previous.node_state then node_info.pressure, node_info.said = previous.node_state() end
  if previous and previous.state then
    S.pods, S.recovered = previous.state(), true
    for _, rec in pairs(S.pods) do rec.lock = rec.lock or vk.mutex() end -- from a version without locks
  end
end

function P.state() return S.pods end
function P.node_state() return node_info.pressure, node_info.said end

-- For tests: the AuthConfig a pull of `image` for `pod` would carry.
function P.pull_auth_for(pod, image) return images.pull_auth(C.new_record(pod), image) end

function P.create_pod(pod)
  recovery.ensure()
  local md = pod.metadata
  local key = C.key_of(md.namespace, md.name)
  local rec = S.pods[key]
  if rec and rec.uid == md.uid and rec.state ~= "images" then
    return -- already ours (re-adopted after a restart, or a repeated create)
  end
  if not rec or rec.uid ~= md.uid then
    rec = C.new_record(pod)
    S.pods[key] = rec
  end
  rec.pod = pod
  -- kubelet's admission: a pod with a sysctl not allowed never runs.
  local rejected = sysctls.admit(sysctl_allow, pod)
  if rejected then
    rec.state, rec.rejected = "rejected", rejected
    C.event(rec, "Warning", rejected.reason, rejected.message)
    log.warn("%s: rejected: %s", key, rejected.message)
    status.publish(rec)
    return
  end
  rec.lock:acquire()
  local ok, created = pcall(try_create, rec)
  rec.lock:release()
  if not ok then error(created, 0) end
  -- Init containers, then containers: the first step runs now.
  if created then
    ephemeral.update(rec, pod)
    containers.sync_pod(rec)
  end
end

-- Labels, annotations and changed images (mynode/update.lua).
function P.update_pod(pod)
  local rec = S.pods[C.key_of(pod.metadata.namespace, pod.metadata.name)]
  if rec and rec.uid == pod.metadata.uid then
    if pod.spec.ephemeralContainers then ephemeral.update(rec, pod) end
    update.update_pod(rec, pod)
    if pod.spec.ephemeralContainers then containers.sync_pod(rec) end
  end
end

local function remove_sandboxes_of(uid)
  local items = cri.list_pod_sandbox{filter = {label_selector = {[C.L_UID] = uid, [C.L_NODE] = S.node_name}}}.items
  for _, sb in ipairs(items) do sandboxes.remove(sb.id) end
end

-- Every running container at once: its preStop hook, then SIGTERM, then
-- SIGKILL after what the hook left of the grace; sidecars after the
-- containers, in reverse order (mynode/stopping.lua).
local function stop_containers(rec, grace)
  local ok, list = pcall(cri.list_containers, {filter = {pod_sandbox_id = rec.sandbox_id,
                                                        state = {state = "CONTAINER_RUNNING"}}})
  stopping.stop_all(rec, ok and list.containers or {}, grace)
end

function P.delete_pod(pod)
  -- The runtime's sandboxes are adopted first: a sandbox adopted after its
  -- pod's delete_pod (a restart whose get_pods timed out) would otherwise
  -- run on, and the supervisor would even make its sandbox again.
  recovery.ensure()
  local md = pod.metadata
  local key = C.key_of(md.namespace, md.name)
  local rec = S.pods[key]
  if rec and rec.uid ~= md.uid then rec = nil end
  local grace = md.deletionGracePeriodSeconds or pod.spec and pod.spec.terminationGracePeriodSeconds or 30
  if rec then
    rec.state = "deleting"
    rec.lock:acquire()
    local ok, err = true, nil
    if rec.sandbox_id then ok, err = pcall(stop_containers, rec, math.tointeger(grace) or 30) end
    rec.lock:release()
    if not ok then error(err, 0) end
  end
  -- How the containers ended, read before the sandbox goes: the core
  -- writes it as the pod's last status (mynode/terminal.lua).
  local final = rec and terminal.final_status(rec) or nil
  remove_sandboxes_of(md.uid)
  if rec and S.pods[key] == rec then S.pods[key] = nil end
  volumes.remove(md.uid)
  logs.remove(md)
  return final
end

function P.get_pod_status(ns, name)
  local rec = S.pods[C.key_of(ns, name)]
  if not rec then return nil end
  return status.build(rec)
end

local function pod_of(rec)
  local pod = C.shallow_copy(rec.pod)
  pod.status = rec.status or status.build(rec)
  return pod
end

function P.get_pod(ns, name)
  local rec = S.pods[C.key_of(ns, name)]
  return rec and pod_of(rec) or nil
end

function P.get_pods()
  recovery.ensure()
  local out = {}
  for _, rec in pairs(S.pods) do out[#out + 1] = pod_of(rec) end
  return C.array(out)
end

function P.ping()
  local st = cri.status({}, C.QUICK)
  for _, c in ipairs(st.status.conditions) do
    if c.type == "RuntimeReady" and not c.status then
      error("container runtime not ready: " .. c.reason .. " " .. c.message)
    end
  end
end

-- Capacity, allocatable and the pressure conditions, read again before
-- each node status update (mynode/node.lua).
function P.node_status(node) return node_info.refresh(node) end

P.stats_summary = stats.summary
P.container_logs = logs.container_logs
P.exec, P.attach, P.port_forward = streaming.exec, streaming.attach, streaming.port_forward

return P
