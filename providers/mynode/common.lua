-- mynode/common.lua: what every part of mynode shares: the config, the
-- node's name and its pods (one record per pod), the CRI labels, and small
-- helpers.  A hot reload loads a fresh copy; mynode.lua's on_reload hands
-- the old version's pods over.
local json = require "vk.json"
local log = require "vk.log"
local vk_event = require "vk.event"

local M = {}

-- The provider config (init merges --provider-config into this very table).
M.cfg = {
  log_root = "/var/log/pods",
  pod_root = "/var/lib/vk/pods",
  cluster_domain = "cluster.local",
  sync_ms = 1000,
}

-- node_name: the Node's name; pods: "ns/name" -> record (see new_record);
-- allocatable: the Node's status.allocatable (init sets it);
-- recovered: the runtime's sandboxes have been re-adopted.
M.state = {node_name = "vk", pods = {}, recovered = false}

M.L_UID, M.L_NS, M.L_NAME = "io.kubernetes.pod.uid", "io.kubernetes.pod.namespace", "io.kubernetes.pod.name"
M.L_CONTAINER, M.L_NODE, M.L_INIT = "io.kubernetes.container.name", "vk.io/node", "vk.io/init"
M.A_POD = "vk.io/pod"

-- Reads (lists, statuses, version) answer in milliseconds; a runtime that
-- hangs must not hold up init (node registration) or a supervisor round
-- for the CRI's default 2 minutes.
M.QUICK = {timeout_ms = 10000}

function M.key_of(ns, name) return ns .. "/" .. name end

function M.rfc3339(ns_or_ms, is_ms)
  if not ns_or_ms or ns_or_ms <= 0 then return nil end
  local s = is_ms and ns_or_ms // 1000 or ns_or_ms // 1000000000
  return os.date("!%Y-%m-%dT%H:%M:%SZ", s)
end

function M.now_wall_ms() return os.time() * 1000 end

function M.array(t) return json.array(t or {}) end

function M.shallow_copy(t)
  local r = {}
  for k, v in pairs(t or {}) do r[k] = v end
  return r
end

function M.dirname(p) return p:match("^(.*)/[^/]*$") or "/" end

function M.must(ok, err)
  if not ok then error(err, 2) end
  return ok
end

function M.host_network(pod) return pod.spec.hostNetwork == true end

-- An Event about the pod, as kubelet records them (no-op without a cluster).
function M.event(rec, type_, reason, message)
  local ok, err = pcall(vk_event.record, rec.pod, type_, reason, message)
  if not ok then log.warn("%s: event: %s", rec.key, err) end
end

--[[ A record per pod:
  key, ns, name, uid, pod        the pod as last given (spec is immutable)
  state                          "images" | "creating" | "running" | "deleting";
                                 "rejected" (admission) | "ended" (deadline before any container)
  lock                           vk.mutex: one sync_pod, create or delete at a time
  sandbox_id, sbcfg, ip, attempt
  volumes                        name -> {path=, readonly=}
  written, tokens, volume_errors what the volumes last got (mynode/volumes.lua)
  image_errors                   container name -> {reason=, message=, at=}
  pull, pull_backoff_ms, pull_next_ms   the image pull's backoff
  init_done                      all init containers succeeded
  failed                         an init container failed under restartPolicy Never
  cs                             container name -> {id=, prev=, attempt=, info=(CRI status),
                                   prev_info=, backoff=, backoff_ms=, next_start_ms=, init=}
  status, status_json            the last status built / pushed
  start_time, cond_times         for the status' timestamps
]]
function M.new_record(pod)
  local md = pod.metadata
  return {
    key = M.key_of(md.namespace, md.name), ns = md.namespace, name = md.name, uid = md.uid,
    pod = pod, state = "images", image_errors = {}, cs = {}, volumes = {}, cond_times = {},
    start_time = M.rfc3339(M.now_wall_ms(), true), attempt = 0,
    init_done = #(pod.spec.initContainers or {}) == 0,
    lock = vk.mutex(),
  }
end

-- A sidecar: an init container with restartPolicy Always, which keeps
-- running beside the containers (kubelet's native sidecars).
function M.is_sidecar(c) return c.restartPolicy == "Always" end

function M.all_containers(pod)
  local list = {}
  for _, c in ipairs(pod.spec.initContainers or {}) do list[#list + 1] = {spec = c, init = true} end
  for _, c in ipairs(pod.spec.containers or {}) do list[#list + 1] = {spec = c, init = false} end
  return list
end

return M
