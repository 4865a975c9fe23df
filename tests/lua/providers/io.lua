-- vk.http and vk.kube from callbacks, for tests/unit/test_luaio.c: the pod
-- name picks the action, config.url is the local test server.
local http = require "vk.http"
local kube = require "vk.kube"

local P = {}
local url

function P.init(config) url = config.url end

local actions = {}

function actions.post(pod)
  local r, err = http.request { url = url .. "/echo", method = "POST", body = "hi there",
                                headers = { ["X-A"] = "b", ["Content-Type"] = "text/plain" } }
  if not r then error(err) end
  return { status = r.status, body = r.body, reply = r.headers["x-reply"] }
end

function actions.get(pod)
  local r = assert(http.request { url = url .. "/echo" })
  return { status = r.status, body = r.body }
end

function actions.refused(pod)
  local r, err = http.request { url = "http://127.0.0.1:1/", timeout_ms = 2000 }
  return { r = r, err = err }
end

function actions.slow(pod)
  http.request { url = url .. "/slow" }
  return "finished"
end

function actions.configmap(pod)
  local cm = assert(kube.get_configmap("default", "cm1"))
  local missing, err = kube.get_configmap("default", "missing")
  return { name = cm.metadata.name, value = cm.data.k, missing = missing, err = err }
end

function actions.badname(pod)
  kube.get_secret("default", "Bad/Name")
end

function P.create_pod(pod) return actions[pod.metadata.name](pod) end
function P.delete_pod(pod) end
function P.get_pod_status(ns, name) return nil end

return P
