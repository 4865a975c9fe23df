-- create_pod sleeps (config sleep_ms, default 30 s) through vk.timer.sleep:
-- the loop stays free, so leases and other pods go on.
local timer = require "vk.timer"
local P = {}
local pods, sleep_ms = {}, 30000

function P.init(config) sleep_ms = tonumber(config.sleep_ms) or sleep_ms end

function P.create_pod(pod)
  timer.sleep(sleep_ms)
  local key = pod.metadata.namespace .. "/" .. pod.metadata.name
  pods[key] = { phase = "Running" }
end

function P.delete_pod(pod) pods[pod.metadata.namespace .. "/" .. pod.metadata.name] = nil end
function P.get_pod_status(ns, name) return pods[ns .. "/" .. name] end

return P
