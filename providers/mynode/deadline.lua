-- mynode/deadline.lua: activeDeadlineSeconds.  A pod active on the node
-- longer than its deadline (counted from status.startTime, as kubelet
-- does) is Failed with reason DeadlineExceeded; its containers are
-- stopped and none is started again.
local C = require "mynode.common"

local M = {}

M.REASON = "DeadlineExceeded"
M.MESSAGE = "Pod was active on the node longer than the specified deadline"

-- Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ" (UTC), or nil.
local function epoch_of(rfc3339)
  local y, mo, d, h, mi, s = tostring(rfc3339 or ""):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from 1970-01-01 of a civil date (Howard Hinnant's algorithm)
  if mo <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end
M.epoch_of = epoch_of

-- True when rec's pod has an activeDeadlineSeconds and has passed it.
function M.exceeded(rec)
  local ads = math.tointeger(rec.pod.spec.activeDeadlineSeconds)
  if not ads then return false end
  local start = epoch_of(rec.pod.status and rec.pod.status.startTime) or epoch_of(rec.start_time)
  if not start then return false end
  return C.now_wall_ms() // 1000 - start >= ads
end

return M
