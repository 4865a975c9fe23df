-- vk test's runner (src/lua/kit.c runs run(file, first, node) in a task).
--
-- A spec file is Lua run with these globals besides the standard ones
-- (lua/vk.d.lua documents them): describe, it, before_each, after_each,
-- expect, provider, pods, clock, mock.  Its top level declares; the `it`
-- bodies then run in order, each in the same task (so they may wait on
-- I/O and on the virtual clock), and print one TAP line each.
local E = require "vk.test.expect"
local R = require "vk.test.record"
local mock = require "vk.test.mock"
local pods = require "vk.test.pods"
local clock = require "vk.test.clock"

local M = {}

local function first_line(s) return (tostring(s):match("^[^\n]*")) end

-- "file:line: message" of an error: a failed expect knows its line; for
-- another error, its message starts with one, else the innermost frame of
-- the spec file in the traceback.
local function describe_error(err, spec, tb)
  if getmetatable(err) == E.FAIL then return (err.where or spec) .. ": " .. err.message end
  local msg = first_line(type(err) == "string" and err or E.show(err))
  if msg:match("^[^%s:]+:%d+: ") then return msg end
  for line in (tb or ""):gmatch("[^\n]+") do
    local pos = line:match("^%s*(" .. spec:gsub("%p", "%%%0") .. ":%d+):")
    if pos then return pos .. ": " .. msg end
  end
  return spec .. ": " .. msg
end

local function new_suite()
  return {name = nil, tests = {}, before = {}, after = {}, parent = nil}
end

function M.run(file, first, node)
  local out = io.stdout
  local n, passed, failed = first - 1, 0, 0
  local function tap(ok, name, why)
    n = n + 1
    if ok then passed = passed + 1 else failed = failed + 1 end
    out:write(("%s %d - %s\n"):format(ok and "ok" or "not ok", n, name))
    if why then
      for line in tostring(why):gmatch("[^\n]+") do out:write("# " .. line .. "\n") end
    end
    out:flush()
  end

  pods.node_template = node
  E.runner = coroutine.running()
  mock.install()
  pods.install()

  local root = new_suite()
  local cur = root
  local env = setmetatable({}, {__index = _G})
  env.describe = function(name, fn)
    if type(name) ~= "string" or type(fn) ~= "function" then error("describe(name, function)", 2) end
    local s = new_suite()
    s.name, s.parent = name, cur
    table.insert(cur.tests, {suite = s})
    cur = s
    fn()
    cur = s.parent
  end
  env.it = function(name, fn)
    if type(name) ~= "string" or type(fn) ~= "function" then error("it(name, function)", 2) end
    local info = debug.getinfo(2, "Sl")
    table.insert(cur.tests, {name = name, fn = fn, where = info.short_src .. ":" .. info.currentline})
  end
  env.before_each = function(fn) table.insert(cur.before, fn) end
  env.after_each = function(fn) table.insert(cur.after, fn) end
  env.expect = E.expect
  env.provider = {load = pods.load}
  env.pods = pods
  env.clock = clock
  env.mock = mock
  local abs = file:sub(1, 1) == "/" and file or ((os.getenv("PWD") or ".") .. "/" .. file)
  env.spec_dir = abs:match("^(.*)/[^/]*$") or "."

  local spec = file:match("([^/]*)$")
  local chunk, err = loadfile(file, "t", env)
  if not chunk then
    tap(false, spec .. " loads", first_line(err))
    return passed, failed
  end
  local ok, lerr = xpcall(chunk, debug.traceback)
  if not ok then
    tap(false, spec .. " loads", describe_error(lerr, file, lerr))
    return passed, failed
  end

  local function hooks(s, which, list)
    if s.parent then hooks(s.parent, which, list) end
    for _, h in ipairs(s[which]) do list[#list + 1] = h end
    return list
  end

  local function run_test(s, t, prefix)
    R.clear()
    E.take_unchecked()
    local mark = mock.mark()
    local tb
    local function body()
      for _, h in ipairs(hooks(s, "before", {})) do h() end
      t.fn()
    end
    local function handler(e)
      tb = debug.traceback()
      return e
    end
    local tok, terr = xpcall(body, handler)
    for _, h in ipairs(hooks(s, "after", {})) do
      local hok, herr = xpcall(h, handler)
      if tok and not hok then tok, terr = false, herr end
    end
    mock.drop_since(mark)
    local why
    if not tok then
      why = describe_error(terr, file, tb)
    else
      local left = E.take_unchecked()
      if left then
        why = left .. ": expect(...) without a matcher checks nothing (call :to_be(...), or expect(cond, message))"
      elseif #R.problems > 0 then
        why = table.concat(R.problems, "\n")
      end
    end
    tap(why == nil, prefix .. t.name, why)
  end

  local function walk(s, prefix)
    for _, t in ipairs(s.tests) do
      if t.suite then
        walk(t.suite, prefix .. t.suite.name .. " > ")
      else
        run_test(s, t, prefix)
      end
    end
  end
  walk(root, "")
  if n == first - 1 then tap(false, spec .. " has tests", file .. ": no it(...) in the spec") end
  return passed, failed
end

return M
