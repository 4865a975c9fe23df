-- vk test: expect(value), the spec's assertions (lua/vk.d.lua, vk.test).
--
--   expect(v):to_be(w)        v == w
--   expect(v):to_equal(w)     the same contents, tables compared deeply
--   expect(v):to_be_truthy() / to_be_falsy() / to_be_nil()
--   expect(s):to_match(pattern)   / to_contain(text or element)
--   expect(n):to_be_at_least(m) / to_be_at_most(m)
--   expect(fn):to_fail(pattern)   fn() raises an error matching pattern
--   expect(v):never():to_be(w)    any matcher, negated
--   expect(cond, message)      cond is truthy, else fail with message; so
--                              is expect(f()) when f returns 2 values or
--                              more (value, err): a matcher may follow
--
-- A failure is raised as a table {where = "file:line", message = ...}:
-- the line of the spec that called the matcher.  An expect(v) whose
-- matcher is never called fails its test too (a check that cannot fail).
local json = require "vk.json"

local M = {}
local FAIL = {}
FAIL.__index = FAIL
FAIL.__tostring = function(f) return (f.where and f.where .. ": " or "") .. f.message end
M.FAIL = FAIL

local unchecked = {} -- expect objects made but not yet checked: [obj] = where

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline
  end
  return nil
end

-- A failure inside the provider's own task (an expect in a mock's respond
-- function) might be caught there: it is also recorded for the test.
function M.fail(message, level)
  local f = setmetatable({where = where((level or 1) + 1), message = message}, FAIL)
  if M.runner and coroutine.running() ~= M.runner then require("vk.test.record").problem(tostring(f)) end
  error(f, 0)
end

local function show(v)
  local s = tostring(v)
  if type(v) == "string" then
    s = ("%q"):format(v)
  elseif type(v) == "table" then
    local ok, j = pcall(json.encode, v)
    if ok then s = j end
  end
  if #s > 400 then s = s:sub(1, 400) .. "...(" .. #s .. " characters)" end
  return s
end
M.show = show

local function deep_equal(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deep_equal(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end
M.deep_equal = deep_equal

local E = {}
E.__index = E

-- Each matcher: returns ok, what it expected (for the message).
local matchers = {}
function matchers.to_be(v, w) return v == w, "to be " .. show(w) end
function matchers.to_equal(v, w) return deep_equal(v, w), "to equal " .. show(w) end
function matchers.to_be_truthy(v) return not not v, "to be truthy" end
function matchers.to_be_falsy(v) return not v, "to be falsy" end
function matchers.to_be_nil(v) return v == nil, "to be nil" end
function matchers.to_match(v, pat)
  return type(v) == "string" and v:match(pat) ~= nil, "to match " .. show(pat)
end
function matchers.to_contain(v, x)
  if type(v) == "string" then return type(x) == "string" and v:find(x, 1, true) ~= nil, "to contain " .. show(x) end
  if type(v) == "table" then
    for _, e in pairs(v) do if deep_equal(e, x) then return true, "to contain " .. show(x) end end
  end
  return false, "to contain " .. show(x)
end
function matchers.to_be_at_least(v, n) return type(v) == "number" and v >= n, "to be at least " .. show(n) end
function matchers.to_be_at_most(v, n) return type(v) == "number" and v <= n, "to be at most " .. show(n) end
function matchers.to_fail(fn, pat)
  if type(fn) ~= "function" then return false, "to be a function that fails" end
  local ok, err = pcall(fn)
  if ok then return false, "to fail" .. (pat and " with " .. show(pat) or "") .. ", but it returned" end
  local msg = type(err) == "table" and tostring(err) or tostring(err)
  if pat and not msg:match(pat) then
    return false, "to fail with " .. show(pat) .. ", but it failed with " .. show(msg)
  end
  return true, "to fail"
end

for name, m in pairs(matchers) do
  E[name] = function(self, ...)
    unchecked[self] = nil
    local ok, what = m(self.value, ...)
    if self.negated then ok, what = not ok, "never " .. what end
    if not ok then
      M.fail(("expected %s %s"):format(show(self.value), what), 2)
    end
    return self
  end
end

function E:never()
  self.negated = not self.negated
  return self
end

function M.expect(value, ...)
  local e = setmetatable({value = value}, E)
  if select("#", ...) > 0 then
    -- expect(cond, message), or expect(f()) of a function that returns
    -- value, err: an assertion now that it is truthy (a matcher may follow)
    local msg = ...
    if not value then
      M.fail(msg == nil and ("expected a true value, got " .. show(value)) or
             (type(msg) == "string" and msg or show(msg)), 2)
    end
    return e
  end
  unchecked[e] = where(2) or "?"
  return e
end

-- The expect(v) left without a matcher since the last call, as "file:line".
function M.take_unchecked()
  local left
  for _, w in pairs(unchecked) do left = left or w end
  unchecked = {}
  return left
end

return M
