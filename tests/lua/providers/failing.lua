-- Every create_pod fails: exercises ProviderCreateFailed and the retries.
local P = {}
function P.create_pod(pod) error("cannot create " .. pod.metadata.name) end
function P.delete_pod(pod) end
function P.get_pod_status(ns, name) return nil end
return P
