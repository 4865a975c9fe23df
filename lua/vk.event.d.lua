---@meta
-- vk.event: Kubernetes Events from a provider, as kubelet records them
-- ("Failed", "BackOff", "SandboxChanged"...).  Fire and forget, no yield.

---@class vk.event
local event = {}

--- Records an Event about a Pod table (or another object: set its kind, e.g. "Node").  false without a cluster.
---@param obj table      the pod: metadata.name/namespace/uid are used, kind (default "Pod"); spec.nodeName is the source host
---@param type "Normal"|"Warning"
---@param reason string  CamelCase, e.g. "Failed"
---@param message string
---@return boolean recorded
function event.record(obj, type, reason, message) end

return event
