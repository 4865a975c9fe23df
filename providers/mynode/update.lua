-- mynode/update.lua: a changed pod applied as kubelet applies it.  Labels
-- and annotations are taken.  A container whose image changed (`kubectl
-- set image` on a bare pod; the image is the only field of a container the
-- API lets change) is killed ("Container c definition changed, will be
-- restarted") and started again with the new image, whatever the
-- restartPolicy, pulled per its imagePullPolicy with the pod's
-- imagePullSecrets; its restartCount goes on.  A pull that fails shows as
-- ErrImagePull/ImagePullBackOff and is retried with kubelet's backoff
-- (images.retry).  An init container's new image is for its next run
-- (kubelet does not run a finished init container again), and so is a
-- container that ended for good under its restartPolicy.
local cri = require "vk.cri"
local log = require "vk.log"
local C = require "mynode.common"
local containers = require "mynode.containers"
local images = require "mynode.images"

local M = {}

local function by_name(list)
  local m = {}
  for _, c in ipairs(list or {}) do m[c.name] = c end
  return m
end

-- Takes the new images into rec.pod's spec; returns the main containers
-- whose image changed.
local function take_images(rec, pod)
  local changed = {}
  for _, kind in ipairs{"initContainers", "containers"} do
    local new = by_name(pod.spec[kind])
    for _, c in ipairs(rec.pod.spec[kind] or {}) do
      local n = new[c.name]
      if n and n.image and n.image ~= c.image then
        log.info("%s: container %s: image %s -> %s", rec.key, c.name, c.image, n.image)
        c.image, c.imagePullPolicy = n.image, n.imagePullPolicy or c.imagePullPolicy
        if kind == "containers" then changed[#changed + 1] = c end
      end
    end
  end
  return changed
end

local function restart_with_new_image(rec, c)
  local s = rec.cs[c.name]
  -- From now on its status says waiting, not terminated (mynode/status.lua).
  if s then s.force_restart = true end
  C.event(rec, "Normal", "Killing", ("Container %s definition changed, will be restarted"):format(c.name))
  if s and s.id and s.info and s.info.state ~= "CONTAINER_EXITED" then
    local grace = math.tointeger(rec.pod.spec.terminationGracePeriodSeconds) or 30
    cri.stop_container({container_id = s.id, timeout = grace}, {timeout_ms = grace * 1000 + 30000})
    s.info = nil -- read again: exited now
  end
  local e = images.ensure(c, function() return images.pull_auth(rec, c.image) end, rec)
  rec.image_errors[c.name] = nil
  if e then images.failed(rec, c, e) end
end

-- A container that ended for good (exited under restartPolicy Never, or
-- exit 0 under OnFailure) is not started again, as kubelet does not: the
-- API forbids a terminated container to leave that state.
local function finished(rec, c)
  local s = rec.cs[c.name]
  local info = s and s.info
  if not info or info.state ~= "CONTAINER_EXITED" or s.force_restart then return false end
  local policy = rec.pod.spec.restartPolicy or "Always"
  return policy == "Never" or (policy == "OnFailure" and info.exit_code == 0)
end

function M.update_pod(rec, pod)
  rec.pod.metadata.labels, rec.pod.metadata.annotations = pod.metadata.labels, pod.metadata.annotations
  local changed = take_images(rec, pod)
  -- A pod still pulling or being created goes on with the new images.
  if #changed == 0 or rec.state ~= "running" then return end
  rec.lock:acquire()
  local ok, err = pcall(function()
    containers.observe(rec)
    for _, c in ipairs(changed) do
      if not finished(rec, c) then restart_with_new_image(rec, c) end
    end
  end)
  rec.lock:release()
  if not ok then error(err, 0) end
  containers.sync_pod(rec)
end

return M
