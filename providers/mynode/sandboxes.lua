-- mynode/sandboxes.lua: removing a pod's sandbox, even when containerd has
-- left a task behind.
--
-- containerd's CRI can orphan a container's task: a StartContainer whose
-- context ends while the task is being created (vk killed in the middle of
-- the call, or the call's deadline reached) marks the container exited with
-- reason StartError, yet the task the shim made stays.  From then on
-- RemovePodSandbox fails with FAILED_PRECONDITION "cannot delete running
-- task" for ever (until containerd restarts), and no CRI call reaches the
-- task: StopContainer does nothing to a container the CRI thinks exited.
-- containerd's own task API (vk.cri.task_*) can: the task is killed, waited
-- for and deleted, and the removal is tried again.
local cri = require "vk.cri"
local log = require "vk.log"

local M = {}

-- How long a killed task may take to exit before the removal gives up for
-- this time (the caller's retry comes back to it).
M.WAIT_MS = 10000

-- Kills, waits for and deletes one container's containerd task.  True
-- when a task was deleted.
local function delete_task(sandbox_id, c)
  -- A task that has already exited refuses the kill (NOT_FOUND, "process
  -- already finished") but is still there to delete; only a kill that
  -- went through needs the wait.
  if pcall(cri.task_kill, {container_id = c.id, signal = 9, all = true}) then
    pcall(cri.task_wait, {container_id = c.id}, {timeout_ms = M.WAIT_MS})
  end
  local ok, err = pcall(cri.task_delete, {container_id = c.id})
  if ok then
    log.warn("sandbox %s: deleted the task containerd had left behind for container %s (%s, %s)",
             sandbox_id:sub(1, 12), c.id:sub(1, 12), c.metadata and c.metadata.name or "?", c.state)
    return true
  end
  -- NOT_FOUND: the container has no task; nothing was in the way here.
  if cri.code(err) ~= "NOT_FOUND" then
    log.warn("sandbox %s: cannot delete the task of container %s: %s", sandbox_id:sub(1, 12), c.id:sub(1, 12), err)
  end
  return false
end

-- The tasks of the sandbox's containers that the CRI does not think
-- running; how many were deleted.
local function delete_left_tasks(sandbox_id)
  local deleted = 0
  for _, c in ipairs(cri.list_containers{filter = {pod_sandbox_id = sandbox_id}}.containers) do
    if c.state ~= "CONTAINER_RUNNING" and delete_task(sandbox_id, c) then deleted = deleted + 1 end
  end
  return deleted
end

-- Stops and removes one sandbox (and so its containers).  Raises the
-- runtime's error when the sandbox cannot be removed.
function M.remove(sandbox_id)
  cri.stop_pod_sandbox{pod_sandbox_id = sandbox_id}
  local ok, err = pcall(cri.remove_pod_sandbox, {pod_sandbox_id = sandbox_id})
  if ok then return end
  if cri.code(err) ~= "FAILED_PRECONDITION" or delete_left_tasks(sandbox_id) == 0 then error(err, 0) end
  cri.remove_pod_sandbox{pod_sandbox_id = sandbox_id}
end

return M
