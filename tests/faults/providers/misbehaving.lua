-- A provider for the fault suite that misbehaves on purpose, pod by pod,
-- as the annotation "vk-test/bad" says; pods without it run (in memory,
-- like mock.lua), and the test checks they are unaffected.
--   wrong-type     get_pod_status returns a number instead of a status
--   wrong-fields   get_pod_status returns a status whose fields have the
--                  wrong types (phase a table, containerStatuses a string)
--   huge           get_pod_status returns a 10 MiB status (one message)
--   loop           create_pod never returns (a busy loop: the budget ends it)
--   hang           create_pod never returns (sleeps for ever, yielding)
--   raise-timer    create_pod starts a vk.timer.every whose callback raises
local json = require "vk.json"
local timer = require "vk.timer"
local log = require "vk.log"

local P = {name = "misbehaving"}
local pods = {}
local timers = {}

local function key(ns, name) return ns .. "/" .. name end
local function bad(pod)
  local a = pod.metadata.annotations
  return a and a["vk-test/bad"] or ""
end

local function running(pod)
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local cs = json.array()
  for _, c in ipairs(pod.spec.containers) do
    cs[#cs + 1] = {name = c.name, image = c.image, imageID = "", ready = true, restartCount = 0,
                   started = true, state = {running = {startedAt = now}}}
  end
  return {
    phase = "Running", startTime = now, podIP = "10.251.0.1",
    conditions = json.array {
      {type = "PodScheduled", status = "True", lastTransitionTime = now},
      {type = "Initialized", status = "True", lastTransitionTime = now},
      {type = "ContainersReady", status = "True", lastTransitionTime = now},
      {type = "Ready", status = "True", lastTransitionTime = now},
    },
    containerStatuses = cs,
  }
end

function P.init(_, node)
  node.status.capacity = {cpu = "8", memory = "16Gi", pods = "110"}
  node.status.allocatable = {cpu = "8", memory = "16Gi", pods = "110"}
  node.status.addresses = json.array {{type = "InternalIP", address = "127.0.0.1"}}
end

function P.create_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  local how = bad(pod)
  if how == "loop" then
    while true do end
  elseif how == "hang" then
    while true do timer.sleep(3600000) end
  elseif how == "raise-timer" then
    timers[k] = timer.every(200, function() error("misbehaving: raised in a timer callback for " .. k) end)
  end
  pods[k] = {pod = pod}
end

function P.update_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  if pods[k] then pods[k].pod = pod end
end

function P.delete_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  if timers[k] then timers[k]:stop(); timers[k] = nil end
  pods[k] = nil
end

function P.get_pod(ns, name)
  local p = pods[key(ns, name)]
  return p and p.pod
end

function P.get_pod_status(ns, name)
  local p = pods[key(ns, name)]
  if not p then return nil end
  local how = bad(p.pod)
  if how == "wrong-type" then return 42 end
  local st = running(p.pod)
  if how == "wrong-fields" then
    st.phase = {running = true}
    st.containerStatuses = "all fine"
  elseif how == "huge" then
    st.conditions[4].message = string.rep("x", 10 * 1024 * 1024)
  end
  return st
end

function P.get_pods()
  local list = json.array()
  for _, p in pairs(pods) do list[#list + 1] = p.pod end
  return list
end

log.info("misbehaving provider loaded")
return P
