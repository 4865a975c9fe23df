-- mynode/recovery.lua: re-adopts the pods this node's sandboxes hold, so a
-- restarted vk recreates nothing.  Everything needed lives in the runtime:
-- sandbox labels carry the pod's uid/namespace/name and the node, an
-- annotation the pod spec, container attempts the restart counts.
local cri = require "vk.cri"
local json = require "vk.json"
local log = require "vk.log"
local C = require "mynode.common"
local containers = require "mynode.containers"
local cri_config = require "mynode.cri_config"
local hosts = require "mynode.hosts"
local sandboxes = require "mynode.sandboxes"
local volumes = require "mynode.volumes"

local S = C.state
local M = {}

local lock = vk.mutex() -- one recovery at a time; the others wait for it

local function adopt(sb, pod)
  local rec = C.new_record(pod)
  local cur = S.pods[rec.key]
  if cur and cur.uid == rec.uid then return end
  rec.sandbox_id, rec.attempt = sb.id, sb.metadata.attempt
  rec.sbcfg = cri_config.sandbox(rec, rec.attempt)
  rec.start_time = C.rfc3339(sb.created_at)
  local st = cri.pod_sandbox_status({pod_sandbox_id = sb.id}, C.QUICK).status
  rec.ip = st.network and st.network.ip ~= "" and st.network.ip or nil
  rec.volumes = volumes.recovered(rec)
  hosts.write(rec)
  rec.state = "running"
  containers.observe(rec)
  local init_ok = true
  for _, c in ipairs(pod.spec.initContainers or {}) do
    local s = rec.cs[c.name]
    if not (s and s.info and s.info.state == "CONTAINER_EXITED" and s.info.exit_code == 0) then init_ok = false end
  end
  rec.init_done = init_ok
  S.pods[rec.key] = rec
  log.info("%s: re-adopted sandbox %s", rec.key, sb.id:sub(1, 12))
end

local function recover()
  local items = cri.list_pod_sandbox({filter = {label_selector = {[C.L_NODE] = S.node_name}}}, C.QUICK).items
  for _, sb in ipairs(items) do
    local ok, pod = pcall(json.decode, sb.annotations[C.A_POD] or "")
    if sb.state == "SANDBOX_READY" and ok and type(pod) == "table" and pod.metadata then
      adopt(sb, pod)
    elseif sb.state ~= "SANDBOX_READY" then
      -- A dead sandbox of ours: the core will create the pod again if wanted.
      pcall(sandboxes.remove, sb.id)
    end
  end
  S.recovered = true
end

function M.ensure()
  if S.recovered then return end
  lock:acquire()
  local ok, err = true, nil
  if not S.recovered then ok, err = pcall(recover) end
  lock:release()
  if not ok then error(err, 0) end
end

return M
