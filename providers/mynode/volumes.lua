-- mynode/volumes.lua: the pod's volumes as folders under
-- pod_root/UID/volumes/kubernetes.io~KIND/NAME, as kubelet lays them out.
-- One module per kind under mynode/volumes/:
--   atomic_writer.lua  configMap, secret, downwardAPI, projected: the
--                      `..data` link swapped in one rename
--   sources.lua        ConfigMap and Secret data, items and modes
--   downward.lua       fieldRef and resourceFieldRef values
--   projected.lua      projected sources; sa_token.lua: TokenRequest tokens
--   empty_dir.lua      0777 folders, tmpfs for medium Memory
--   host_path.lua      the hostPath type checks
--   pvc.lua            claims bound to local or hostPath PersistentVolumes
--   ownership.lua      fsGroup and fsGroupChangePolicy
-- A failure to set a volume up is kubelet's FailedMount Event and the pod
-- does not start (create_pod raises; the core retries it).  configMap,
-- secret, downwardAPI and projected volumes are written again every
-- `volume_sync_ms` (default 60000) when what they show changed (a new
-- ConfigMap or Secret version, new labels, a token due for rotation).
local fs = require "vk.fs"
local json = require "vk.json"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"
local atomic = require "mynode.volumes.atomic_writer"
local downward = require "mynode.volumes.downward"
local empty_dir = require "mynode.volumes.empty_dir"
local host_path = require "mynode.volumes.host_path"
local ownership = require "mynode.volumes.ownership"
local projected = require "mynode.volumes.projected"
local pvc = require "mynode.volumes.pvc"
local sources = require "mynode.volumes.sources"

local cfg, must = C.cfg, C.must

local M = {}

M.configmap_data, M.secret_data = sources.configmap_data, sources.secret_data

local function pod_dir(uid) return ("%s/%s"):format(cfg.pod_root, uid) end

local function volume_dir(rec, kind, name)
  return ("%s/volumes/kubernetes.io~%s/%s"):format(pod_dir(rec.uid), kind, name)
end

-- What the downward API's IP fields give now.
local function ctx_of(rec)
  local ips = {}
  if rec.ip then ips[1] = rec.ip elseif C.host_network(rec.pod) and cfg.node_ip then ips[1] = cfg.node_ip end
  return {host_ip = cfg.node_ip, pod_ips = ips}
end

-- The files of an atomically written volume, its kind, or nil.
local function payload(rec, v)
  if v.configMap then
    local s = v.configMap
    local data = sources.configmap_data(rec.ns, s.name, s.optional)
    return sources.select(data, s.items, "configmap " .. s.name, s.optional, s.defaultMode), "configmap"
  elseif v.secret then
    local s = v.secret
    local data = sources.secret_data(rec.ns, s.secretName, s.optional)
    return sources.select(data, s.items, "secret " .. s.secretName, s.optional, s.defaultMode), "secret"
  elseif v.downwardAPI then
    local dm = math.tointeger(v.downwardAPI.defaultMode) or sources.DEFAULT_MODE
    return downward.files(rec, v.downwardAPI.items, dm, ctx_of(rec)), "downward-api"
  elseif v.projected then
    return projected.files(rec, v, ctx_of(rec)), "projected"
  end
end

-- Writes an atomically written volume; returns its folder and whether it changed.
local function write(rec, v)
  local files, kind = payload(rec, v)
  local d = volume_dir(rec, kind, v.name)
  local gid = ownership.of(rec.pod)
  rec.written = rec.written or {}
  local changed = atomic.write(d, files, {
    memo = rec.written,
    key = gid and tostring(gid),
    set_perms = gid and function(ts)
      ownership.apply(ts, gid, true)
      ownership.apply(d, gid, true, "OnRootMismatch")
    end,
  })
  return d, changed
end

local function setup_one(rec, v)
  if v.emptyDir then
    local d = empty_dir.setup(rec, v, volume_dir(rec, "empty-dir", v.name))
    local gid, policy = ownership.of(rec.pod)
    if gid then ownership.apply(d, gid, false, policy) end
    return {path = d}
  elseif v.hostPath then
    return {path = host_path.check(v.hostPath.path, v.hostPath.type)}
  elseif v.persistentVolumeClaim then
    local r = pvc.resolve(rec, v)
    local gid, policy = ownership.of(rec.pod)
    if gid and r.kind == "local" and not r.readonly then ownership.apply(r.path, gid, false, policy) end
    return {path = r.path, readonly = r.readonly}
  elseif v.configMap or v.secret or v.downwardAPI or v.projected then
    return {path = (write(rec, v)), readonly = true}
  end
  error("only emptyDir, hostPath, configMap, secret, downwardAPI, projected and persistentVolumeClaim "
        .. "volumes are supported", 0)
end

-- The claims' paths, kept beside the volumes for a restarted vk.
local function claims_file(uid) return pod_dir(uid) .. "/claims.json" end

-- Prepares every volume of the pod; returns name -> {path=, readonly=}.
-- A volume that cannot be set up gives kubelet's FailedMount Event.
function M.setup(rec)
  local vols, claims = {}, {}
  must(fs.mkdir_p(pod_dir(rec.uid) .. "/volumes", 488))
  for _, v in ipairs(rec.pod.spec.volumes or {}) do
    local ok, r = pcall(setup_one, rec, v)
    if not ok then
      local msg = ("MountVolume.SetUp failed for volume %q : %s"):format(v.name, tostring(r))
      C.event(rec, "Warning", "FailedMount", msg)
      error(msg, 0)
    end
    vols[v.name] = r
    if v.persistentVolumeClaim then claims[v.name] = r end
  end
  if next(claims) then must(fs.write_file(claims_file(rec.uid), json.encode(claims), 384)) end
  return vols
end

-- The volumes of a re-adopted pod: the folders exist; their paths are
-- recomputed (a claim's from what setup kept).
function M.recovered(rec)
  local vols = {}
  local claims = {}
  local text = fs.read_file(claims_file(rec.uid))
  if text then
    local ok, t = pcall(json.decode, text)
    if ok and type(t) == "table" then claims = t end
  end
  for _, v in ipairs(rec.pod.spec.volumes or {}) do
    local kind = v.emptyDir and "empty-dir" or v.configMap and "configmap" or v.secret and "secret"
                 or v.downwardAPI and "downward-api" or v.projected and "projected"
    if v.hostPath then vols[v.name] = {path = v.hostPath.path}
    elseif v.persistentVolumeClaim then vols[v.name] = claims[v.name]
    elseif kind then vols[v.name] = {path = volume_dir(rec, kind, v.name), readonly = kind ~= "empty-dir"} end
  end
  return vols
end

-- Writes the pod's configMap, secret, downwardAPI and projected volumes
-- again where what they show changed.  Failures are logged once per
-- message and leave the old files in place (kubelet keeps them too).
function M.refresh(rec)
  for _, v in ipairs(rec.pod.spec.volumes or {}) do
    if v.configMap or v.secret or v.downwardAPI or v.projected then
      local ok, err, changed = pcall(write, rec, v) -- (err is the folder on success)
      rec.volume_errors = rec.volume_errors or {}
      if not ok then
        if rec.volume_errors[v.name] ~= err then
          log.warn("%s: volume %s: %s", rec.key, v.name, err)
          rec.volume_errors[v.name] = err
        end
      else
        rec.volume_errors[v.name] = nil
        if changed then log.info("%s: volume %s updated", rec.key, v.name) end
      end
    end
  end
end

local refresher

local function refresh_all()
  local recs = {}
  for _, rec in pairs(C.state.pods) do recs[#recs + 1] = rec end
  for _, rec in ipairs(recs) do
    if rec.state == "running" and rec.lock:try_acquire() then
      local ok, err = pcall(M.refresh, rec)
      rec.lock:release()
      if not ok then log.warn("%s: refreshing volumes: %s", rec.key, err) end
    end
  end
end

-- Starts (or restarts) the refresh timer.
function M.start()
  M.stop()
  refresher = timer.every(math.tointeger(cfg.volume_sync_ms) or 60000, refresh_all)
end

function M.stop()
  if refresher then refresher:stop() end
  refresher = nil
end

-- Removes the pod's volume folders (a tmpfs is unmounted first).
function M.remove(uid)
  local d = pod_dir(uid)
  local ok, err = pcall(empty_dir.unmount_all, d)
  if not ok then log.warn("pod %s: unmounting its emptyDirs: %s", uid, err) end
  atomic.forget(d .. "/")
  fs.remove_all(d)
end

return M
