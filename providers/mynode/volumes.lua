-- mynode/volumes.lua: the pod's volumes as folders under pod_root:
-- emptyDir, hostPath, configMap, secret, downwardAPI and projected (the
-- service account volume without a token).
local fs = require "vk.fs"
local k8s = require "vk.k8s"
local kube = require "vk.kube"
local C = require "mynode.common"

local cfg, must = C.cfg, C.must

local M = {}

local function volume_dir(rec, kind, name)
  return ("%s/%s/volumes/kubernetes.io~%s/%s"):format(cfg.pod_root, rec.uid, kind, name)
end

-- Writes {path = bytes} under dir (paths may hold folders).
local function write_files(dir, files, mode)
  must(fs.mkdir_p(dir))
  for path, data in pairs(files) do
    if path:find("%.%.") or path:sub(1, 1) == "/" then error("volume item path '" .. path .. "' is not allowed") end
    local full = dir .. "/" .. path
    must(fs.mkdir_p(C.dirname(full)))
    must(fs.write_file(full, data, mode or 420))
  end
end

-- The files of a configMap/secret volume: every key, or the listed items.
local function select_items(data, items, what, optional)
  local files = {}
  if items and #items > 0 then
    for _, it in ipairs(items) do
      if data[it.key] == nil then
        if not optional then error(("%s has no key %q"):format(what, it.key)) end
      else
        files[it.path] = data[it.key]
      end
    end
  else
    for k, v in pairs(data) do files[k] = v end
  end
  return files
end

local function decode(v, what, key)
  local bytes = k8s.base64_decode(v)
  if not bytes then error(("%s: key %q is not valid base64"):format(what, key)) end
  return bytes
end

function M.configmap_data(ns, name, optional)
  local cm, err = kube.get_configmap(ns, name)
  if not cm then
    if optional and err == "not found" then return {} end
    error(("configmap %s/%s: %s"):format(ns, name, err))
  end
  local data = {}
  for k, v in pairs(cm.data or {}) do data[k] = v end
  for k, v in pairs(cm.binaryData or {}) do data[k] = decode(v, "configmap " .. ns .. "/" .. name, k) end
  return data
end

function M.secret_data(ns, name, optional)
  local s, err = kube.get_secret(ns, name)
  if not s then
    if optional and err == "not found" then return {} end
    error(("secret %s/%s: %s"):format(ns, name, err))
  end
  local data = {}
  for k, v in pairs(s.data or {}) do data[k] = decode(v, "secret " .. ns .. "/" .. name, k) end
  for k, v in pairs(s.stringData or {}) do data[k] = v end
  return data
end

local function downward_value(pod, ref)
  local path = ref and ref.fieldPath or ""
  local md = pod.metadata
  if path == "metadata.name" then return md.name end
  if path == "metadata.namespace" then return md.namespace end
  if path == "metadata.uid" then return md.uid end
  local function kv(t)
    local keys, out = {}, {}
    for k in pairs(t or {}) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do out[#out + 1] = ("%s=%q"):format(k, t[k]) end
    return table.concat(out, "\n")
  end
  if path == "metadata.labels" then return kv(md.labels) end
  if path == "metadata.annotations" then return kv(md.annotations) end
  return ""
end

-- Prepares every volume of the pod; returns name -> {path=, readonly=}.
function M.setup(rec)
  local pod, ns = rec.pod, rec.ns
  local vols = {}
  for _, v in ipairs(pod.spec.volumes or {}) do
    if v.emptyDir then
      local d = volume_dir(rec, "empty-dir", v.name)
      must(fs.mkdir_p(d, 511))
      vols[v.name] = {path = d}
    elseif v.hostPath then
      local t = v.hostPath.type or ""
      if t == "DirectoryOrCreate" then must(fs.mkdir_p(v.hostPath.path)) end
      vols[v.name] = {path = v.hostPath.path}
    elseif v.configMap then
      local cmv = v.configMap
      local data = M.configmap_data(ns, cmv.name, cmv.optional)
      local d = volume_dir(rec, "configmap", v.name)
      write_files(d, select_items(data, cmv.items, "configmap " .. cmv.name, cmv.optional), cmv.defaultMode)
      vols[v.name] = {path = d, readonly = true}
    elseif v.secret then
      local sv = v.secret
      local data = M.secret_data(ns, sv.secretName, sv.optional)
      local d = volume_dir(rec, "secret", v.name)
      write_files(d, select_items(data, sv.items, "secret " .. sv.secretName, sv.optional), sv.defaultMode)
      vols[v.name] = {path = d, readonly = true}
    elseif v.downwardAPI then
      local files = {}
      for _, it in ipairs(v.downwardAPI.items or {}) do files[it.path] = downward_value(pod, it.fieldRef) end
      local d = volume_dir(rec, "downward-api", v.name)
      write_files(d, files)
      vols[v.name] = {path = d, readonly = true}
    elseif v.projected then
      -- The service account volume (kube-api-access-*): ca.crt and namespace;
      -- vk cannot mint tokens under the node identity here.
      local files = {}
      for _, src in ipairs(v.projected.sources or {}) do
        if src.configMap then
          local ok, data = pcall(M.configmap_data, ns, src.configMap.name, true)
          if ok then
            for p, d in pairs(select_items(data, src.configMap.items, "configmap", true)) do files[p] = d end
          end
        elseif src.secret then
          local ok, data = pcall(M.secret_data, ns, src.secret.name, true)
          if ok then
            for p, d in pairs(select_items(data, src.secret.items, "secret", true)) do files[p] = d end
          end
        elseif src.downwardAPI then
          for _, it in ipairs(src.downwardAPI.items or {}) do files[it.path] = downward_value(pod, it.fieldRef) end
        end
      end
      local d = volume_dir(rec, "projected", v.name)
      write_files(d, files)
      vols[v.name] = {path = d, readonly = true}
    else
      error(("volume %q: only emptyDir, hostPath, configMap, secret, downwardAPI and projected are supported")
        :format(v.name))
    end
  end
  return vols
end

-- The volumes of a re-adopted pod: the folders exist; their paths are
-- recomputed.
function M.recovered(rec)
  local vols = {}
  for _, v in ipairs(rec.pod.spec.volumes or {}) do
    local kind = v.emptyDir and "empty-dir" or v.configMap and "configmap" or v.secret and "secret"
                 or v.downwardAPI and "downward-api" or v.projected and "projected"
    if v.hostPath then vols[v.name] = {path = v.hostPath.path}
    elseif kind then vols[v.name] = {path = volume_dir(rec, kind, v.name), readonly = kind ~= "empty-dir"} end
  end
  return vols
end

-- Removes the pod's volume folders.
function M.remove(uid)
  fs.remove_all(("%s/%s"):format(cfg.pod_root, uid))
end

return M
