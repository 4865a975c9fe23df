-- A provider for the kit's own tests: create_pod asks a cloud over HTTP
-- and, when refused, waits 5 minutes (vk.timer.sleep) before it tries
-- again; a poller (vk.timer.every, 1 min) notifies each pod's status.
local http = require "vk.http"
local timer = require "vk.timer"

local P = {}
local pods, url = {}, nil

function P.init(config, node)
  url = config.url
  node.status.capacity.pods = tostring(config.pods or 10)
  timer.every(60000, function()
    for key, p in pairs(pods) do
      local ns, name = key:match("^(.-)/(.*)$")
      vk.notify {namespace = ns, name = name, status = {phase = p.phase}}
    end
  end)
end

function P.create_pod(pod)
  local key = pod.metadata.namespace .. "/" .. pod.metadata.name
  for _ = 1, 3 do
    local r, err = http.request {method = "POST", url = url .. "/create", body = pod.metadata.name}
    if r and r.status == 200 then
      pods[key] = {phase = "Running"}
      vk.event.record(pod, "Normal", "Created", "instance for " .. key)
      return
    end
    vk.log.warn("create %s refused (%s); again in 5 minutes", key, r and r.status or err)
    timer.sleep(5 * 60 * 1000)
  end
  error("gave up on " .. key)
end

function P.delete_pod(pod) pods[pod.metadata.namespace .. "/" .. pod.metadata.name] = nil end

function P.get_pod_status(ns, name) return pods[ns .. "/" .. name] end

return P
