-- mynode/security.lua: who a container runs as, as kubelet 1.35 tells the
-- CRI, and kubelet's runAsNonRoot check.
--
--   * runAsUser, runAsGroup (the container's over the pod's), the pod's
--     fsGroup and supplementalGroups as supplemental groups,
--     allowPrivilegeEscalation: false as no_new_privs; the sandbox gets the
--     pod's user, group and groups;
--   * no runAsUser: the image's user (CRI ImageStatus: uid, or a user name)
--     is passed, as kubelet passes it;
--   * runAsNonRoot with a root user (runAsUser 0, or an image whose user is
--     0 or unset) or a user name that cannot be checked: the container is not
--     created; it waits with CreateContainerConfigError and kubelet's
--     message, and a Warning Event "Error: ..." is recorded at each try.
-- supplementalGroupsPolicy is not passed: containerd 1.6 has no such field.
local cri = require "vk.cri"

local M = {}

local function effective(pod, c)
  local psc, sc = pod.spec.securityContext or {}, c.securityContext or {}
  local function pick(k)
    if sc[k] ~= nil then return sc[k] end
    return psc[k]
  end
  return {runAsUser = pick("runAsUser"), runAsGroup = pick("runAsGroup"), runAsNonRoot = pick("runAsNonRoot")}
end

local function groups_of(psc)
  local g = {}
  if psc.fsGroup then g[#g + 1] = psc.fsGroup end
  for _, x in ipairs(psc.supplementalGroups or {}) do g[#g + 1] = x end
  return g
end

-- Fills a LinuxContainerSecurityContext table (`out`) for container c.
function M.container(pod, c, out)
  local e = effective(pod, c)
  if e.runAsUser then out.run_as_user = {value = e.runAsUser} end
  if e.runAsGroup then out.run_as_group = {value = e.runAsGroup} end
  local g = groups_of(pod.spec.securityContext or {})
  if #g > 0 then out.supplemental_groups = g end
  local sc = c.securityContext or {}
  if sc.allowPrivilegeEscalation == false then out.no_new_privs = true end
  return out
end

-- Fills a LinuxSandboxSecurityContext table (`out`) for the pod.
function M.sandbox(pod, out)
  local psc = pod.spec.securityContext or {}
  if psc.runAsUser then out.run_as_user = {value = psc.runAsUser} end
  if psc.runAsGroup then out.run_as_group = {value = psc.runAsGroup} end
  local g = groups_of(psc)
  if #g > 0 then out.supplemental_groups = g end
  return out
end

local function pod_desc(pod)
  local md = pod.metadata
  return ("%s_%s(%s)"):format(md.name, md.namespace, md.uid)
end

-- kubelet's verifyRunAsNonRoot: nil, or the error message.
function M.verify_run_as_non_root(pod, c, uid, username)
  local e = effective(pod, c)
  if e.runAsNonRoot ~= true then return nil end
  if e.runAsUser then
    if e.runAsUser == 0 then
      return ("container's runAsUser breaks non-root policy (pod: %q, container: %s)"):format(pod_desc(pod), c.name)
    end
    return nil
  end
  if uid == nil and username and username ~= "" then
    return ("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root "
            .. "(pod: %q, container: %s)"):format(username, pod_desc(pod), c.name)
  end
  if uid == 0 then
    return ("container has runAsNonRoot and image will run as root (pod: %q, container: %s)")
      :format(pod_desc(pod), c.name)
  end
  if uid and (uid < 0 or uid > 2147483647) then
    return ("container has runAsNonRoot and image has an invalid user id (%d). (Must be 1-(2147483647)) "
            .. "(pod: %q, container: %s)"):format(uid, pod_desc(pod), c.name)
  end
  return nil
end

-- Before CreateContainer: the image's user where the pod names none, and
-- the runAsNonRoot check.  `cc` is the ContainerConfig about to be sent.
-- Returns nil, or the CreateContainerConfigError message.
function M.finish(pod, c, cc)
  local img = cri.image_status{image = {image = c.image}}.image
  local uid, username = 0, ""
  if img then
    if img.uid then uid = img.uid.value
    elseif img.username and img.username ~= "" then uid, username = nil, img.username end
  end
  local err = M.verify_run_as_non_root(pod, c, uid, username)
  if err then return err end
  local sc = cc.linux.security_context
  if not sc.run_as_user then
    if uid then sc.run_as_user = {value = uid} end
    if username ~= "" then sc.run_as_username = username end
  end
  return nil
end

return M
