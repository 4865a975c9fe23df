-- mynode/volumes/pvc.lua: persistentVolumeClaim volumes bound to `local`
-- or `hostPath` PersistentVolumes: the claim must be Bound; its volume's
-- path on this node is mounted.  (The Node authorizer lets a node read the
-- claims of its pods and the volumes bound to them.)
local json = require "vk.json"
local kube = require "vk.kube"
local host_path = require "mynode.volumes.host_path"
local fs = require "vk.fs"

local M = {}

-- -> {path=, readonly=, kind="local"|"hostPath", pv=NAME}
function M.resolve(rec, v)
  local src = v.persistentVolumeClaim
  local claim = src.claimName
  local pvc, err = kube.get(("/api/v1/namespaces/%s/persistentvolumeclaims/%s"):format(rec.ns, claim))
  if not pvc then error(("persistentvolumeclaim %q: %s"):format(claim, err), 0) end
  local pvname = (pvc.spec or {}).volumeName
  if (pvc.status or {}).phase ~= "Bound" or not pvname or pvname == "" or pvname == json.null then
    error(("persistentvolumeclaim %q is not bound"):format(claim), 0)
  end
  local pv
  pv, err = kube.get("/api/v1/persistentvolumes/" .. pvname)
  if not pv then error(("persistentvolume %q (of claim %q): %s"):format(pvname, claim, err), 0) end
  local spec = pv.spec or {}
  local ro = src.readOnly == true
  if spec.hostPath then
    return {path = host_path.check(spec.hostPath.path, spec.hostPath.type), readonly = ro, kind = "hostPath",
            pv = pvname}
  end
  local l = spec["local"]
  if l then
    local st = fs.stat(l.path or "")
    if not st then
      error(("persistentvolume %q: local path %q does not exist on this node"):format(pvname, l.path), 0)
    end
    return {path = l.path, readonly = ro, kind = "local", pv = pvname}
  end
  error(("persistentvolume %q: only local and hostPath volumes are supported by mynode"):format(pvname), 0)
end

return M
