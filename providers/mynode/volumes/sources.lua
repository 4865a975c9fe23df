-- mynode/volumes/sources.lua: the data of ConfigMaps and Secrets, and the
-- files a configMap or secret volume (or projection) makes of it: every
-- key, or the listed items, each with its mode (item mode, else the
-- volume's defaultMode, else 0644).
local k8s = require "vk.k8s"
local kube = require "vk.kube"

local M = {}

M.DEFAULT_MODE = 420 -- 0644

local function decode(v, what, key)
  local bytes = k8s.base64_decode(v)
  if not bytes then error(("%s: key %q is not valid base64"):format(what, key), 0) end
  return bytes
end

-- key -> bytes; {} for a missing optional one; raises otherwise.
function M.configmap_data(ns, name, optional)
  local cm, err = kube.get_configmap(ns, name)
  if not cm then
    if optional and err == "not found" then return {}, true end
    error(("configmap %s/%s: %s"):format(ns, name, err), 0)
  end
  local data = {}
  for k, v in pairs(cm.data or {}) do data[k] = v end
  for k, v in pairs(cm.binaryData or {}) do data[k] = decode(v, "configmap " .. ns .. "/" .. name, k) end
  return data
end

function M.secret_data(ns, name, optional)
  local s, err = kube.get_secret(ns, name)
  if not s then
    if optional and err == "not found" then return {}, true end
    error(("secret %s/%s: %s"):format(ns, name, err), 0)
  end
  local data = {}
  for k, v in pairs(s.data or {}) do data[k] = decode(v, "secret " .. ns .. "/" .. name, k) end
  for k, v in pairs(s.stringData or {}) do data[k] = v end
  return data
end

-- path -> {data=, mode=}: every key, or the listed items.  A listed key
-- that is missing is an error unless the source is optional (kubelet).
function M.select(data, items, what, optional, default_mode)
  local files = {}
  default_mode = math.tointeger(default_mode) or M.DEFAULT_MODE
  if items and #items > 0 then
    for _, it in ipairs(items) do
      if data[it.key] == nil then
        if not optional then error(("%s: configured to use key %q, but it does not exist"):format(what, it.key), 0) end
      else
        files[it.path] = {data = data[it.key], mode = math.tointeger(it.mode) or default_mode}
      end
    end
  else
    for k, v in pairs(data) do files[k] = {data = v, mode = default_mode} end
  end
  return files
end

return M
