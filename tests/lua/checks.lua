-- The helpers every Lua check driver shares (tests/lua/*_check.lua).  A
-- driver is a provider: its init runs the checks through the real Lua host,
-- and its get_pods hands back one {name, ok, err} per check for
-- tests/unit/lua_checks.c to print as TAP.
--
--   local T = require "checks"
--   T.check("what it proves", function() T.expect(cond, "why") end)
--   P.get_pods = T.results
local T = {}
local results = {}

-- Runs fn and records whether it raised; returns true when it did not.
function T.check(name, fn)
  local ok, err = pcall(fn)
  results[#results + 1] = {name = name, ok = ok, err = (not ok) and tostring(err) or nil}
  return ok
end

function T.expect(cond, msg)
  if not cond then error(msg or "expectation failed", 2) end
end

function T.eq(got, want, what)
  if got ~= want then error(("%s: got %s, want %s"):format(what, tostring(got), tostring(want)), 2) end
end

function T.results() return results end

return T
