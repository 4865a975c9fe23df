-- cloud/request.lua: the CreateContainerGroup request for a pod, with what
-- the cloud cannot fetch itself inlined: ConfigMap and Secret volumes as
-- files (base64), image-pull Secrets as registry credentials.  Reads the
-- objects through vk.kube (the core's client and cache).
local json = require "vk.json"
local kube = require "vk.kube"
local k8s = require "vk.k8s"

local M = {}

local function secret_bytes(data, key)
  local v = data and data[key]
  if not v then return nil end
  return k8s.base64_decode(v)
end

-- ConfigMap/Secret volume -> {Name, Type = "ConfigFileVolume",
-- ConfigFileToPaths = {{Path, Content (base64)}}}; raises on a missing
-- object that is not optional.
local function file_volume(ns, v)
  local src, is_secret = v.configMap, false
  if v.secret then src, is_secret = v.secret, true end
  local name = is_secret and src.secretName or src.name
  local obj, err
  if is_secret then obj, err = kube.get_secret(ns, name) else obj, err = kube.get_configmap(ns, name) end
  if not obj then
    if src.optional then return {Name = v.name, Type = "ConfigFileVolume", ConfigFileToPaths = json.array()} end
    error(("volume %s: %s %s/%s: %s"):format(v.name, is_secret and "Secret" or "ConfigMap", ns, name, err), 0)
  end
  -- key -> bytes
  local files = {}
  if is_secret then
    for k in pairs(obj.data or {}) do files[k] = secret_bytes(obj.data, k) end
  else
    for k, s in pairs(obj.data or {}) do files[k] = s end
    for k, b in pairs(obj.binaryData or {}) do files[k] = k8s.base64_decode(b) end
  end
  local out = json.array()
  if src.items and #src.items > 0 then
    for _, it in ipairs(src.items) do
      if files[it.key] then
        out[#out + 1] = {Path = it.path, Content = k8s.base64_encode(files[it.key])}
      elseif not src.optional then
        error(("volume %s: key %q is not in %s"):format(v.name, it.key, name), 0)
      end
    end
  else
    local keys = {}
    for k in pairs(files) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do out[#out + 1] = {Path = k, Content = k8s.base64_encode(files[k])} end
  end
  return {Name = v.name, Type = "ConfigFileVolume", ConfigFileToPaths = out}
end

local function volumes(pod)
  local out = json.array()
  for _, v in ipairs(pod.spec.volumes or {}) do
    if v.configMap or v.secret then
      out[#out + 1] = file_volume(pod.metadata.namespace, v)
    elseif v.emptyDir then
      out[#out + 1] = {Name = v.name, Type = "EmptyDirVolume"}
    end
    -- others (projected service-account tokens, hostPath...) have no
    -- meaning on a cloud instance: not sent
  end
  return out
end

-- imagePullSecrets -> {{Server, UserName, Password}}, from
-- kubernetes.io/dockerconfigjson (or dockercfg) Secrets.
local function credentials(pod)
  local out = json.array()
  for _, ref in ipairs(pod.spec.imagePullSecrets or {}) do
    local sec = kube.get_secret(pod.metadata.namespace, ref.name)
    local data = sec and sec.data or {}
    local raw = secret_bytes(data, ".dockerconfigjson") or secret_bytes(data, ".dockercfg")
    local ok, conf = pcall(json.decode, raw or "")
    if ok and type(conf) == "table" then
      local hosts = {}
      for host in pairs(conf.auths or conf) do hosts[#hosts + 1] = host end
      table.sort(hosts)
      for _, host in ipairs(hosts) do
        local a = (conf.auths or conf)[host]
        if type(a) == "table" then
          local user, pass = a.username, a.password
          if (not user or user == "") and type(a.auth) == "string" then
            user, pass = (k8s.base64_decode(a.auth) or ""):match("^([^:]*):(.*)$")
          end
          out[#out + 1] = {Server = host, UserName = user or "", Password = pass or ""}
        end
      end
    end
  end
  return out
end

local function containers(list)
  local out = json.array()
  for i, c in ipairs(list or {}) do
    local env = json.array()
    for _, e in ipairs(c.env or {}) do
      if type(e.value) == "string" then env[#env + 1] = {Key = e.name, Value = e.value} end
    end
    local mounts = json.array()
    for _, m in ipairs(c.volumeMounts or {}) do
      mounts[#mounts + 1] = {Name = m.name, MountPath = m.mountPath, ReadOnly = m.readOnly == true}
    end
    out[i] = {Name = c.name, Image = c.image, Command = json.array(c.command or {}),
              Args = json.array(c.args or {}), EnvironmentVars = env, VolumeMounts = mounts,
              WorkingDir = c.workingDir, ImagePullPolicy = c.imagePullPolicy}
  end
  return out
end

-- The request body, for `spec` ({cpu, memory}) and `tags`.
function M.create(pod, spec, tags, zone, name)
  return {
    ZoneId = zone,
    ContainerGroupName = name,
    ClientToken = pod.metadata.uid, -- a retried create makes no second instance
    Cpu = spec.cpu, Memory = spec.memory,
    RestartPolicy = pod.spec.restartPolicy or "Always",
    Containers = containers(pod.spec.containers),
    InitContainers = containers(pod.spec.initContainers),
    Volumes = volumes(pod),
    ImageRegistryCredentials = credentials(pod),
    Tags = tags,
  }
end

return M
