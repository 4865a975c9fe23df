-- Fields of the wrong type, for `vk check`: each is reported with its line.
local P = {}
P.name = 7
function P.create_pod(pod) end
function P.delete_pod(pod) end
P.get_pod_status = "not a function"
P.ping = 5
P.init = true
P.exec = {}
P.port_forward = "no"
return P
