-- create_pod never returns: the instruction budget must stop it.
local P = {}
function P.create_pod(pod) while true do end end
function P.delete_pod(pod) end
function P.get_pod_status(ns, name) return nil end
return P
