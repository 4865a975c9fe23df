-- mynode/volumes/downward.lua: the downward API's values as kubelet writes
-- them into files: fieldRef (metadata, labels and annotations as
-- `key="value"` lines, spec.nodeName, spec.serviceAccountName, the host's
-- and the pod's IPs) and resourceFieldRef (requests and limits with a
-- divisor; an unset limit is the node's allocatable).
local k8s = require "vk.k8s"
local json = require "vk.json"
local C = require "mynode.common"

local M = {}

local ESC = {["\a"] = "\\a", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
             ["\v"] = "\\v", ["\\"] = "\\\\", ['"'] = '\\"'}

-- Go's %q (strconv.Quote) for the values kubelet formats: escapes,
-- other control bytes as \xNN; UTF-8 text kept as it is.
function M.go_quote(s)
  return '"' .. s:gsub('[%c"\\]', function(ch)
    return ESC[ch] or ("\\x%02x"):format(ch:byte())
  end) .. '"'
end

-- kubelet's fieldpath.FormatMap: sorted `key="value"` lines.
function M.format_map(t)
  local keys, out = {}, {}
  for k, v in pairs(t or {}) do
    if type(v) == "string" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. M.go_quote(t[k]) end
  return table.concat(out, "\n")
end

local function subscript(path, prefix)
  local key = path:match("^" .. prefix:gsub("%.", "%%.") .. "%[['\"](.-)['\"]%]$")
  return key
end

local function str(v)
  if v == nil or v == json.null then return "" end
  return tostring(v)
end

-- The value of a fieldRef.  ctx: {host_ip=, pod_ips={...}}.
function M.field(pod, path, ctx)
  local md, spec = pod.metadata, pod.spec or {}
  ctx = ctx or {}
  if path == "metadata.name" then return str(md.name) end
  if path == "metadata.namespace" then return str(md.namespace) end
  if path == "metadata.uid" then return str(md.uid) end
  if path == "metadata.labels" then return M.format_map(md.labels) end
  if path == "metadata.annotations" then return M.format_map(md.annotations) end
  local k = subscript(path, "metadata.labels")
  if k then return str((md.labels or {})[k]) end
  k = subscript(path, "metadata.annotations")
  if k then return str((md.annotations or {})[k]) end
  if path == "spec.nodeName" then return str(spec.nodeName) end
  if path == "spec.serviceAccountName" then return str(spec.serviceAccountName) end
  if path == "status.hostIP" or path == "status.hostIPs" then return str(ctx.host_ip) end
  if path == "status.podIP" then return str((ctx.pod_ips or {})[1]) end
  if path == "status.podIPs" then return table.concat(ctx.pod_ips or {}, ",") end
  error(("unsupported fieldRef %q"):format(path), 0)
end

local RESOURCES = {cpu = true, memory = true, ["ephemeral-storage"] = true}

local function number(q, what)
  local v, err = k8s.quantity(q)
  if not v then error(what .. ": " .. err, 0) end
  return v
end

-- The value of a resourceFieldRef, as kubelet computes it: an unset
-- request is 0, an unset (or zero) limit is the node's allocatable;
-- divided by the divisor and rounded up (cpu in millicores first).
-- allocatable: the node's status.allocatable.
function M.resource(pod, ref, default_container, allocatable)
  local res = ref.resource or ""
  local kind, name = res:match("^(%a+)%.(.+)$")
  if (kind ~= "limits" and kind ~= "requests") or not RESOURCES[name] then
    error(("resourceFieldRef: unsupported resource %q"):format(res), 0)
  end
  local c = default_container
  if ref.containerName and ref.containerName ~= "" then
    c = nil
    for _, x in ipairs(pod.spec.containers or {}) do
      if x.name == ref.containerName then c = x end
    end
  end
  if not c then error(("resourceFieldRef %s: no container %q"):format(res, str(ref.containerName)), 0) end
  local r = c.resources or {}
  local q = (r[kind] or {})[name]
  local v = q and number(q, "resourceFieldRef " .. res) or 0
  if v == 0 and kind == "limits" and allocatable and allocatable[name] then
    v = number(allocatable[name], "the node's allocatable " .. name)
  end
  local div = ref.divisor and number(ref.divisor, "resourceFieldRef " .. res .. " divisor") or 1
  if div < 0 then error(("resourceFieldRef %s: divisor must be positive"):format(res), 0) end
  if div == 0 then div = 1 end -- the API server's default for an unset divisor
  if name == "cpu" then
    v, div = math.ceil(v * 1000 - 1e-9), math.ceil(div * 1000 - 1e-9)
  else
    v, div = math.ceil(v - 1e-9), math.ceil(div - 1e-9)
  end
  if div < 1 then div = 1 end
  return ("%d"):format(math.ceil(v / div - 1e-9))
end

-- The files of a downwardAPI volume or projection: path -> {data=, mode=}.
function M.files(rec, items, default_mode, ctx)
  local files = {}
  for _, it in ipairs(items or {}) do
    local data
    if it.fieldRef then
      data = M.field(rec.pod, it.fieldRef.fieldPath or "", ctx)
    elseif it.resourceFieldRef then
      data = M.resource(rec.pod, it.resourceFieldRef, nil, C.state.allocatable)
    else
      error(("downwardAPI item %q has neither fieldRef nor resourceFieldRef"):format(str(it.path)), 0)
    end
    files[it.path] = {data = data, mode = math.tointeger(it.mode) or default_mode}
  end
  return files
end

return M
