-- container_logs' `out` as test_luafollow.c drives it: pod names pick
-- what the callback does with it.
local P = {}
local kept -- an out kept beyond its call

function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() end

function P.container_logs(_, pod, _, _, out)
  if pod == "none" then return type(out) end
  if pod == "keep" then
    kept = out
    return "kept"
  end
  if pod == "stale" then return tostring(kept:write("late")) .. " " .. tostring(kept:closed()) end
  if pod == "bad" then return out:write({}) end
  local oks = {}
  for i = 1, 3 do oks[#oks + 1] = tostring(out:write("line " .. i .. "\n")) end
  oks[#oks + 1] = tostring(out:closed())
  return table.concat(oks, ",")
end

return P
