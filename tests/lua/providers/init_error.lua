-- An init that raises an error unless config.token is set.
local P = {}
function P.init(config, node)
  if not config.token then
    error("config.token is required")
  end
  node.metadata.labels["example.com/token-set"] = "yes"
end
function P.create_pod(pod) end
function P.delete_pod(pod) end
function P.get_pod_status(ns, name) return nil end
return P
