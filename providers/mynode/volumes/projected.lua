-- mynode/volumes/projected.lua: the files of a projected volume: its
-- configMap, secret, downwardAPI and serviceAccountToken sources merged
-- (the service account volume kube-api-access-* is one: a token, the
-- cluster's CA from the kube-root-ca.crt ConfigMap, the namespace).
local downward = require "mynode.volumes.downward"
local ownership = require "mynode.volumes.ownership"
local sa_token = require "mynode.volumes.sa_token"
local sources = require "mynode.volumes.sources"

local M = {}

-- path -> {data=, mode=}; ctx as downward.field's.
function M.files(rec, v, ctx)
  local pr = v.projected
  local dm = math.tointeger(pr.defaultMode) or sources.DEFAULT_MODE
  local files = {}
  local function merge(t)
    for p, f in pairs(t) do files[p] = f end
  end
  for _, src in ipairs(pr.sources or {}) do
    if src.configMap then
      local cm = src.configMap
      local data = sources.configmap_data(rec.ns, cm.name, cm.optional)
      merge(sources.select(data, cm.items, "configmap " .. cm.name, cm.optional, dm))
    elseif src.secret then
      local s = src.secret
      local data = sources.secret_data(rec.ns, s.name, s.optional)
      merge(sources.select(data, s.items, "secret " .. s.name, s.optional, dm))
    elseif src.downwardAPI then
      merge(downward.files(rec, src.downwardAPI.items, dm, ctx))
    elseif src.serviceAccountToken then
      -- kubelet: with an fsGroup or a single runAsUser the token is 0600
      -- (fsGroup then makes it 0640) and belongs to that user.
      local t = src.serviceAccountToken
      local uid = ownership.fs_user(rec.pod)
      local mode = (uid or ownership.of(rec.pod)) and 384 or dm
      files[t.path] = {data = sa_token.get(rec, t), mode = mode, uid = uid}
    else
      local kind = next(src) or "?"
      error(("projected volume %q: source %q is not supported"):format(v.name, kind), 0)
    end
  end
  return files
end

return M
