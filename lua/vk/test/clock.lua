-- vk test: the virtual clock.  Under `vk test`, vk.timer.sleep, every and
-- now_ms run on it: time stands still until the spec moves it.
--
--   clock.now()          virtual ms since the spec started
--   clock.advance(ms)    moves time on by ms, firing each timer due on the
--                        way, in order, and letting what it wakes run (and
--                        start new timers) before the next one fires
--   clock.settle()       lets every runnable task run, without moving time
--   clock.next_due()     when the next timer fires, or nil
--   clock.real()         use the real clock instead (for pass-through to
--                        a real containerd); before the provider starts
--                        any timer
local core = require "vk.test.core"

local M = {}

function M.now() return core.now() end
function M.advance(ms)
  if type(ms) ~= "number" then error("clock.advance: ms, a number", 2) end
  core.advance(ms)
end
function M.settle() core.advance(0) end
function M.next_due() return core.next_due() end
function M.real() core.real() end
function M.virtual() return core.virtual() end

return M
