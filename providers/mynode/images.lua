-- mynode/images.lua: images as kubelet pulls them: imagePullPolicy, and
-- the registry credentials of the pod's imagePullSecrets.
local cri = require "vk.cri"
local json = require "vk.json"
local k8s = require "vk.k8s"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"
local volumes = require "mynode.volumes"

local M = {}

local function pull_policy(c)
  if c.imagePullPolicy then return c.imagePullPolicy end
  local image = c.image or ""
  local tag = image:match(":([^/:]+)$")
  if image:find("@", 1, true) then return "IfNotPresent" end
  if not tag or tag == "latest" then return "Always" end
  return "IfNotPresent"
end

-- Returns nil, or {reason=, message=} when the image is not usable.
-- get_auth() -> the AuthConfig for c.image (imagePullSecrets) or nil; only
-- called when a pull is due.  rec (optional): the pod's record, for
-- kubelet's Pulling/Pulled Events.
function M.ensure(c, get_auth, rec)
  local function event(reason, msg) if rec then C.event(rec, "Normal", reason, msg) end end
  local policy = pull_policy(c)
  local present = cri.image_status{image = {image = c.image}}.image ~= nil
  if policy == "Never" then
    if present then return nil end
    return {reason = "ErrImageNeverPull",
            message = ("Container image %q is not present with pull policy of Never"):format(c.image)}
  end
  if present and policy == "IfNotPresent" then
    event("Pulled", ("Container image %q already present on machine"):format(c.image))
    return nil
  end
  event("Pulling", ("Pulling image %q"):format(c.image))
  local t0 = timer.now_ms()
  local ok, err = pcall(cri.pull_image, {image = {image = c.image}, auth = get_auth and get_auth()},
                        {timeout_ms = 600000})
  if ok then
    event("Pulled", ("Successfully pulled image %q in %.3fs"):format(c.image, (timer.now_ms() - t0) / 1000))
    return nil
  end
  err = tostring(err):gsub("^[^ ]*:%d+: ", "") -- the runtime's words, without our file:line
  return {reason = "ErrImagePull", message = ("Failed to pull image %q: %s"):format(c.image, err)}
end

-- A running pod's container whose (new) image could not be pulled:
-- ErrImagePull in its status and an Event, retried by M.retry after
-- kubelet's image backoff (10 s doubling to 5 min).
function M.failed(rec, c, e)
  local was = rec.image_errors[c.name]
  e.at = was and was.at or timer.now_ms()
  e.backoff = was and was.backoff or k8s.backoff{base_ms = 10000, max_ms = 300000, jitter = false}
  e.next_ms = timer.now_ms() + e.backoff:next()
  rec.image_errors[c.name] = e
  C.event(rec, "Warning", "Failed", e.message)
  C.event(rec, "Warning", "Failed", "Error: " .. e.reason)
end

-- The pull again once its backoff is over; true when the image is there.
function M.retry(rec, c)
  local e = rec.image_errors[c.name]
  if not e.next_ms or timer.now_ms() < e.next_ms then return false end
  local ne = M.ensure(c, function() return M.pull_auth(rec, c.image) end, rec)
  if not ne then
    rec.image_errors[c.name] = nil
    return true
  end
  M.failed(rec, c, ne)
  return false
end

-- imagePullSecrets: the registry credentials for an image, from the pod's
-- kubernetes.io/dockerconfigjson (or legacy dockercfg) secrets, matched by
-- registry host as kubelet does (no host: Docker Hub).
local function registry_of(image)
  local first = image:match("^([^/]+)/")
  if first and (first:find("[%.:]") or first == "localhost") then return first end
  return "docker.io"
end

local function norm_registry(k)
  k = k:gsub("^%a+://", ""):gsub("/.*$", "")
  if k == "index.docker.io" or k == "registry-1.docker.io" then k = "docker.io" end
  return k
end

function M.pull_auth(rec, image)
  local want = registry_of(image)
  for _, ref in ipairs(rec.pod.spec.imagePullSecrets or {}) do
    local ok, data = pcall(volumes.secret_data, rec.ns, ref.name, true)
    local raw = ok and (data[".dockerconfigjson"] or data[".dockercfg"])
    local okj, conf = pcall(json.decode, raw or "")
    if okj and type(conf) == "table" then
      for host, a in pairs(conf.auths or conf) do
        if type(a) == "table" and norm_registry(host) == want then
          local user, pass = a.username, a.password
          if (not user or user == "") and type(a.auth) == "string" then
            user, pass = (k8s.base64_decode(a.auth) or ""):match("^([^:]*):(.*)$")
          end
          -- containerd matches server_address by URL host: "HOST:PORT"
          -- alone does not parse as a URL, so it gets a scheme.
          local server = host:find("://", 1, true) and host or ("https://" .. host)
          return {username = user, password = pass, server_address = server,
                  identity_token = a.identitytoken, registry_token = a.registrytoken}
        end
      end
    elseif not ok then
      log.warn("%s: imagePullSecret %s: %s", rec.key, ref.name, data)
    end
  end
  return nil
end

return M
