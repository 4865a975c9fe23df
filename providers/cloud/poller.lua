-- cloud/poller.lua: ONE poller for every instance of the node.  Each
-- instance has a time it is due; each tick, the due ones are described in
-- batches of up to `max_ids` per DescribeContainerGroups call, so 500 pods
-- cost a handful of calls, never a loop per pod.
--
-- An instance still starting is polled with backoff (min_ms, doubling to
-- pending_max_ms); a steady one every steady_ms.  When a batch is made, the
-- steady instances due within half their period ride along, so the steady
-- polls of many pods fall into the same calls.
--
--   local p = poller.new{api = api, max_ids = 100, tick_ms = 250, min_ms = 500,
--     pending_max_ms = 2000, steady_ms = 30000,
--     on_update = function(id, group) return "pending"|"steady"|"done" end}
--   -- group is the API's ContainerGroup, or nil when the API no longer has it
--   p:watch(id, "pending"); p:forget(id); p:start(); p:stop()
local timer = require "vk.timer"
local log = require "vk.log"

local M = {}
local Poller = {}
Poller.__index = Poller

function M.new(o)
  local p = setmetatable({}, Poller)
  p.api, p.on_update = o.api, o.on_update
  p.max_ids = o.max_ids or 100
  p.tick_ms = o.tick_ms or 250
  p.min_ms = o.min_ms or 500
  p.pending_max_ms = o.pending_max_ms or 2000
  p.steady_ms = o.steady_ms or 30000
  p.items = {}    -- id -> {due = now_ms, delay = ms, mode = "pending"|"steady"}
  p.calls = 0     -- Describe calls made
  p.polled = 0    -- instance descriptions asked for
  return p
end

function Poller:watch(id, mode)
  local now = timer.now_ms()
  local it = self.items[id] or {}
  it.mode = mode or "pending"
  it.delay = self.min_ms
  it.due = now + (it.mode == "steady" and self.steady_ms or self.min_ms)
  self.items[id] = it
end

-- Polls `id` at the next tick (after a create, a status read that wants news).
function Poller:soon(id)
  local it = self.items[id]
  if it then it.due = timer.now_ms() end
end

function Poller:forget(id) self.items[id] = nil end

function Poller:count()
  local n = 0
  for _ in pairs(self.items) do n = n + 1 end
  return n
end

local function reschedule(self, id, verdict, now)
  local it = self.items[id]
  if not it then return end
  if verdict == "done" then
    self.items[id] = nil
  elseif verdict == "steady" then
    it.mode, it.delay, it.due = "steady", self.min_ms, now + self.steady_ms
  else
    it.mode = "pending"
    it.due = now + it.delay
    it.delay = math.min(it.delay * 2, self.pending_max_ms)
  end
end

-- One round: every due instance, in batches.
function Poller:round()
  local now = timer.now_ms()
  local due, early = {}, {}
  for id, it in pairs(self.items) do
    if it.due <= now then
      due[#due + 1] = id
    elseif it.mode == "steady" and it.due - now <= self.steady_ms / 2 then
      early[#early + 1] = id
    end
  end
  if #due == 0 then return end
  table.sort(due, function(a, b) return self.items[a].due < self.items[b].due end)
  -- fill the last batch with steady instances that are nearly due
  local room = (self.max_ids - #due % self.max_ids) % self.max_ids
  for i = 1, math.min(room, #early) do due[#due + 1] = early[i] end
  for first = 1, #due, self.max_ids do
    local batch = {}
    for i = first, math.min(first + self.max_ids - 1, #due) do batch[#batch + 1] = due[i] end
    self.calls = self.calls + 1
    self.polled = self.polled + #batch
    local answer, err = self.api:call("DescribeContainerGroups", {ContainerGroupIds = batch})
    local at = timer.now_ms()
    if not answer then
      log.warn("cloud: describing %d instances: %s", #batch, err)
      for _, id in ipairs(batch) do reschedule(self, id, "pending", at) end
    else
      local seen = {}
      for _, g in ipairs(answer.ContainerGroups or {}) do
        seen[g.ContainerGroupId] = true
        if self.items[g.ContainerGroupId] then
          reschedule(self, g.ContainerGroupId, self.on_update(g.ContainerGroupId, g), at)
        end
      end
      for _, id in ipairs(batch) do
        if not seen[id] and self.items[id] then reschedule(self, id, self.on_update(id, nil), at) end
      end
    end
  end
end

function Poller:start()
  if self.timer then return end
  self.timer = timer.every(self.tick_ms, function() self:round() end)
end

function Poller:stop()
  if self.timer then self.timer:stop() end
  self.timer = nil
end

return M
