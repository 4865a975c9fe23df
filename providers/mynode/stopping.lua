-- mynode/stopping.lua: stopping a pod's running containers for its
-- deletion, kubelet's way: the containers all at once, each running its
-- preStop hook first (mynode/hooks.lua) within the grace period; then the
-- sidecars, one at a time in reverse order, with what is left of the
-- grace (at least 2 s each).
local cri = require "vk.cri"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"
local hooks = require "mynode.hooks"

local M = {}

local MIN_GRACE_S = 2

local function stop_one(rec, c, ct, grace)
  local s = rec.cs[c and c.name or ""]
  if c and s and s.id == ct.id then grace = hooks.pre_stop(rec, c, s, grace) end
  local ok, err = pcall(cri.stop_container, {container_id = ct.id, timeout = grace},
                        {timeout_ms = grace * 1000 + 30000})
  if not ok then log.warn("%s: stop container %s: %s", rec.key, ct.id:sub(1, 12), err) end
end

-- running: the CRI's running containers of the pod's sandbox.
function M.stop_all(rec, running, grace)
  local specs, order = {}, {}
  for i, c in ipairs(rec.pod.spec.initContainers or {}) do
    specs[c.name] = c
    if C.is_sidecar(c) then order[c.name] = i end
  end
  for _, c in ipairs(rec.pod.spec.containers or {}) do specs[c.name] = c end
  local t0 = timer.now_ms()
  local mains, side = {}, {}
  for _, ct in ipairs(running) do
    local name = ct.labels[C.L_CONTAINER] or ct.metadata.name
    if order[name] then side[#side + 1] = ct else mains[#mains + 1] = ct end
  end
  local tasks = {}
  for _, ct in ipairs(mains) do
    local c = specs[ct.labels[C.L_CONTAINER] or ct.metadata.name]
    tasks[#tasks + 1] = vk.spawn(stop_one, rec, c, ct, grace)
  end
  for _, h in ipairs(tasks) do h:join() end
  table.sort(side, function(a, b)
    return order[a.labels[C.L_CONTAINER] or a.metadata.name] > order[b.labels[C.L_CONTAINER] or b.metadata.name]
  end)
  for _, ct in ipairs(side) do
    local left = math.max(MIN_GRACE_S, grace - (timer.now_ms() - t0) // 1000)
    stop_one(rec, specs[ct.labels[C.L_CONTAINER] or ct.metadata.name], ct, left)
  end
end

return M
