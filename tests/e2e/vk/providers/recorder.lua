-- A provider for vk's end-to-end tests.  It runs pods "in memory" like
-- mock.lua, records every callback it gets as one JSON line in
-- config.record (so a test can count create_pod calls, read the env it was
-- handed, ...), and keeps its pods in config.state so that a restarted vk
-- finds them again through get_pods.
--
-- Behaviour per pod, from annotations:
--   vk-test/create: "error"        create_pod raises an error
--                   "loop"         create_pod never returns (budget test)
--                   "sleep:MS"     create_pod sleeps MS on a timer first
--                   "fail-once"    the first create_pod of the pod fails
--                   "hold:PATH"    create_pod waits while the file PATH exists
--   vk-test/delete: "error"        delete_pod raises an error
--                   "sleep:MS"     delete_pod sleeps MS on a timer first
--                   "hold:PATH"    delete_pod deletes the pod (its file saved),
--                                  records "delete_held", then waits while the
--                                  file PATH exists (a test kills vk there)
--   vk-test/notify: "no"           status only through polling
--   vk-test/log: TEXT              create_pod logs TEXT with vk.log.info
--   vk-test/running-after: MS      get_pod_status says Pending until MS after create
--   vk-test/status-sleep: MS       get_pod_status sleeps MS on a timer first
--   vk-test/status-hold: PATH      get_pod_status waits while the file PATH
--                                  exists (the test decides when it ends)
--   vk-test/status-hold-after: N   ... but the first N reads do not wait
--   vk-test/events: "N REASON"     create_pod records N Events with that reason,
--                                  messages "event number 1" ... "event number N"
-- Provider-wide, from config:
--   ping_fail_file: while this file exists, ping() raises an error
--   get_pods_fail: N  the first N get_pods raise an error (a runtime that
--                     does not answer while vk starts)
--   message: the Ready condition's message (default MESSAGE below)
--   internal_ip: the node's InternalIP (127.0.0.1 lets the API server reach
--                vk's kubelet API: kubectl logs)
--   log_text: what container_logs returns (default: one line naming the container)
-- Hot reload: on_reload takes the pods over from the previous version, and
-- the hot-reload tests edit MESSAGE in a copy of this file.
local json = require "vk.json"
local timer = require "vk.timer"
local log = require "vk.log"
local podspec = require "vk.podspec"

local MESSAGE = "running in recorder"
local P = {name = "recorder"}
local cfg = {}
local pods = {}       -- key -> {pod=, status=}
local failed_once = {}

local function key(ns, name) return ns .. "/" .. name end

local function record(what, data)
  if not cfg.record then return end
  local f = assert(io.open(cfg.record, "a"))
  f:write(json.encode({call = what, data = data}), "\n")
  f:close()
end

-- The state file (a JSON array of {pod, status, created_ms}) is written
-- again after every change, so that a vk killed at any moment leaves what
-- the provider ran.  Each pod's entry is encoded once, when it changes, and
-- kept as text: a save joins the texts.  Encoding every pod at every save
-- cost 25 ms of the loop per call at 220 pods, seconds under a loaded
-- machine's churn, in which vk's Lease went unrenewed (a fault test saw its
-- node go Unknown).
local texts = {}      -- key -> the encoded entry of pods[key]

local function save(k)
  if not cfg.state then return end
  if k then texts[k] = pods[k] and json.encode(pods[k]) or nil end
  local list = {}
  for pk, p in pairs(pods) do
    if not texts[pk] then texts[pk] = json.encode(p) end
    list[#list + 1] = texts[pk]
  end
  local f = assert(io.open(cfg.state .. ".tmp", "w"))
  f:write("[", table.concat(list, ","), "]")
  f:close()
  os.rename(cfg.state .. ".tmp", cfg.state)
end

local function load()
  if not cfg.state then return end
  local f = io.open(cfg.state, "r")
  if not f then return end
  local text = f:read("a")
  f:close()
  for _, p in ipairs(json.decode(text)) do
    pods[key(p.pod.metadata.namespace, p.pod.metadata.name)] = p
  end
end

local function annotation(pod, name)
  local a = pod.metadata.annotations
  return a and a["vk-test/" .. name]
end

local function running_status(pod)
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local cs = json.array and json.array() or {}
  for _, c in ipairs(pod.spec.containers) do
    cs[#cs + 1] = {
      name = c.name, image = c.image, imageID = "", ready = true, restartCount = 0,
      started = true, state = {running = {startedAt = now}},
    }
  end
  local msg = cfg.message or MESSAGE
  return {
    phase = "Running",
    startTime = now,
    podIP = "10.250.0." .. tostring((#pod.metadata.name % 250) + 1),
    conditions = {
      {type = "PodScheduled", status = "True", lastTransitionTime = now},
      {type = "Initialized", status = "True", lastTransitionTime = now},
      {type = "ContainersReady", status = "True", lastTransitionTime = now},
      {type = "Ready", status = "True", lastTransitionTime = now, message = msg},
    },
    containerStatuses = cs,
  }
end

function P.init(config, node)
  cfg = config or {}
  load()
  node.status.capacity = {cpu = cfg.cpu or "8", memory = cfg.memory or "16Gi", pods = cfg.pods or "110"}
  node.status.allocatable = {cpu = cfg.cpu or "8", memory = cfg.memory or "16Gi", pods = cfg.pods or "110"}
  for k, v in pairs(cfg.labels or {}) do node.metadata.labels[k] = v end
  if cfg.internal_ip then
    node.status.addresses = json.array {
      {type = "InternalIP", address = tostring(cfg.internal_ip)},
      {type = "Hostname", address = node.metadata.name},
    }
  end
  local n = 0
  for _ in pairs(pods) do n = n + 1 end
  record("init", {pods = n})
end

-- What a new version takes over on a hot reload (the pods it runs).
function P.state() return {pods = pods, failed_once = failed_once} end

function P.on_reload(previous)
  local st = previous.state and previous.state() or {}
  pods = st.pods or pods
  failed_once = st.failed_once or failed_once
  local n = 0
  for _ in pairs(pods) do n = n + 1 end
  -- lua_kb after a full collection: what the Lua heap really holds (the
  -- memory test sees old versions freed).
  collectgarbage("collect")
  record("on_reload", {pods = n, message = cfg.message or MESSAGE, lua_kb = math.floor(collectgarbage("count"))})
end

-- Yields until the test removes the file at path (a hold the test releases).
local function wait_while_file(path)
  while true do
    local f = io.open(path)
    if not f then return end
    f:close()
    timer.sleep(50)
  end
end

function P.create_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  record("create_pod", {key = k, uid = pod.metadata.uid, pod = pod})
  local how = annotation(pod, "create") or ""
  if annotation(pod, "log") then log.info(annotation(pod, "log")) end
  if how == "error" then error("create refused for " .. k) end
  if how == "loop" then while true do end end
  if how == "fail-once" and not failed_once[k] then
    failed_once[k] = true
    error("first create of " .. k .. " fails")
  end
  local ms = how:match("^sleep:(%d+)$")
  if ms then timer.sleep(tonumber(ms)) end
  local hold = how:match("^hold:(.+)$")
  if hold then wait_while_file(hold) end
  local n, reason = (annotation(pod, "events") or ""):match("^(%d+) (%w+)$")
  for i = 1, tonumber(n) or 0 do require("vk.event").record(pod, "Normal", reason, "event number " .. i) end
  local st = running_status(pod)
  local envs = {}
  for _, c in ipairs(pod.spec.containers) do envs[c.name] = podspec.env_map(c, st.podIP) end
  record("env", {key = k, env = envs})
  pods[k] = {pod = pod, status = st, created_ms = timer.now_ms()}
  save(k)
  if annotation(pod, "notify") ~= "no" then
    vk.notify({namespace = pod.metadata.namespace, name = pod.metadata.name, status = st})
  end
end

function P.update_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  record("update_pod", {key = k, uid = pod.metadata.uid})
  if pods[k] then pods[k].pod = pod; save(k) end
end

function P.delete_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  record("delete_pod", {key = k, uid = pod.metadata.uid})
  local how = annotation(pod, "delete") or ""
  if how == "error" then error("delete refused for " .. k) end
  local ms = how:match("^sleep:(%d+)$")
  if ms then timer.sleep(tonumber(ms)) end
  pods[k] = nil
  save(k)
  local hold = how:match("^hold:(.+)$")
  if hold then
    record("delete_held", {key = k, uid = pod.metadata.uid})
    wait_while_file(hold)
  end
end

function P.get_pod(ns, name)
  local p = pods[key(ns, name)]
  return p and p.pod
end

function P.get_pod_status(ns, name)
  local p = pods[key(ns, name)]
  if not p then return nil end
  local nap = tonumber(annotation(p.pod, "status-sleep") or "")
  local hold = annotation(p.pod, "status-hold")
  p.reads = (p.reads or 0) + 1
  if p.reads <= (tonumber(annotation(p.pod, "status-hold-after") or "") or 0) then hold = nil end
  if nap or hold then
    record("get_pod_status", {key = key(ns, name), message = cfg.message or MESSAGE})
  end
  if nap then timer.sleep(nap) end
  if hold then wait_while_file(hold) end
  local after = tonumber(annotation(p.pod, "running-after") or "")
  if after and p.created_ms and timer.now_ms() - p.created_ms < after then
    return {phase = "Pending"}
  end
  for _, c in ipairs(p.status.conditions or {}) do
    if c.type == "Ready" then c.message = cfg.message or MESSAGE end
  end
  return p.status
end

local get_pods_failed = 0

function P.get_pods()
  if get_pods_failed < (tonumber(cfg.get_pods_fail) or 0) then
    get_pods_failed = get_pods_failed + 1
    record("get_pods_failed", {n = get_pods_failed})
    error("the runtime does not answer (get_pods_fail " .. get_pods_failed .. ")")
  end
  local list = json.array and json.array() or {}
  for _, p in pairs(pods) do list[#list + 1] = p.pod end
  record("get_pods", {n = #list})
  return list
end

function P.ping()
  if cfg.ping_fail_file then
    local f = io.open(cfg.ping_fail_file, "r")
    if f then
      f:close()
      record("ping_failed", {})
      error("ping: " .. cfg.ping_fail_file .. " exists")
    end
  end
end

function P.node_status(node)
  return node
end

function P.container_logs(ns, name, container, opts)
  record("container_logs", {key = key(ns, name), container = container, opts = opts})
  if not pods[key(ns, name)] then error("pod " .. key(ns, name) .. " not found") end
  return cfg.log_text or ("recorder: logs of " .. key(ns, name) .. "/" .. container .. "\n")
end

log.info("recorder provider loaded")
return P
