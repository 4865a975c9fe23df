-- Compares the Lua API vk offers (gathered from a live host by
-- tests/unit/test_luastubs.c) with its documentation: the LuaLS stubs
-- lua/vk.d.lua and lua/vk.*.d.lua, the man pages docs/man/vk-lua.7.scd and
-- docs/man/vk.1.scd.  Returns {{desc=, missing="a, b" or nil}, ...}.
--
-- The stubs are read as LuaLS reads them, as far as needed here:
--   ---@class NAME[: PARENT]   starts a class (a class may span files)
--   local X = {} / X = {}      X names the last class
--   ---@field F ...            F is a member of the last class
--   function X.F / X:F         F is a member of X's class (":" a method)
-- A member is documented on a class or on any of its parents.
local offered, root = ...

local function read(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

local members, parents, methods = {}, {}, {}
local function member(class, name, is_method)
  members[class] = members[class] or {}
  members[class][name] = true
  if is_method then methods[name] = true end
end

local function parse_stub(text)
  local class, alias = nil, {}
  for line in text:gmatch("[^\n]*") do
    local c, parent = line:match("^%-%-%-@class%s+([%w_.]+)%s*:?%s*([%w_.]*)")
    if c then
      class = c
      if parent ~= "" then parents[c] = parent end
    end
    local x = line:match("^local%s+([%w_]+)%s*=%s*{}") or line:match("^([%w_]+)%s*=%s*{}")
    if x and class then alias[x] = class end
    local f, ftype = line:match("^%-%-%-@field%s+([%w_]+)%??%s+(.*)")
    if f and class then member(class, f, ftype:match("^fun%(self") ~= nil) end
    local obj, sep, fn = line:match("^function%s+([%w_]+)([.:])([%w_]+)%s*%(")
    if obj then member(alias[obj] or obj, fn, sep == ":") end
  end
end

local stubs = {}
local p = io.popen("ls " .. root .. "/lua/*.d.lua")
for path in p:lines() do
  stubs[#stubs + 1] = path
  parse_stub(read(path))
end
p:close()

local function documented(class, name)
  while class do
    if members[class] and members[class][name] then return true end
    class = parents[class]
  end
  return false
end

local results = {}
local function result(desc, missing)
  table.sort(missing)
  results[#results + 1] = {desc = desc, missing = #missing > 0 and table.concat(missing, ", ") or nil}
end

local names = {}
for m in pairs(offered.modules) do names[#names + 1] = m end
table.sort(names)

-- Every module: a field of the class vk, and each of its own fields.
local missing = {}
for _, m in ipairs(names) do
  if not documented("vk", m:sub(4)) then missing[#missing + 1] = m end
end
result(("the stubs name every module vk registers (%d) as a field of vk"):format(#names), missing)
for _, m in ipairs(names) do
  missing = {}
  for _, k in ipairs(offered.modules[m]) do
    if not documented(m, k) then missing[#missing + 1] = m .. "." .. k end
  end
  result(("the stubs document every field of %s (%d)"):format(m, #offered.modules[m]), missing)
end
missing = {}
for _, k in ipairs(offered.vk) do
  if not documented("vk", k) then missing[#missing + 1] = "vk." .. k end
end
result("the stubs document vk's own functions (vk.spawn, ...)", missing)
missing = {}
for _, k in ipairs(offered.methods) do
  if not methods[k] and not k:match("^__") then missing[#missing + 1] = ":" .. k end
end
result(("the stubs document every method of vk's objects (%d)"):format(#offered.methods), missing)
missing = {}
for _, k in ipairs(offered.callbacks) do
  if not documented("vk.Provider", k) then missing[#missing + 1] = k end
end
result(("the stubs document every provider callback (%d) on vk.Provider"):format(#offered.callbacks), missing)

-- The man pages: a section per module and every callback in vk-lua(7),
-- every flag of the flag table (src/app/flags.c) in vk(1).
local man7 = read(root .. "/docs/man/vk-lua.7.scd")
missing = {}
for _, m in ipairs(names) do
  if not man7:find("\n# " .. m .. "\n", 1, true) then missing[#missing + 1] = m end
end
result("vk-lua(7) has a section for every module", missing)
missing = {}
for _, k in ipairs(offered.callbacks) do
  if not man7:find("*" .. k, 1, true) then missing[#missing + 1] = k end
end
result("vk-lua(7) describes every provider callback", missing)
local man1, flags = read(root .. "/docs/man/vk.1.scd"), 0
missing = {}
for flag in read(root .. "/src/app/flags.c"):gmatch('FLAG%("([%w%.-]+)",') do
  flags = flags + 1
  if not man1:find("*--" .. flag .. "*", 1, true) then missing[#missing + 1] = "--" .. flag end
end
if flags == 0 then missing[#missing + 1] = "(no FLAG(...) entries read from src/app/flags.c)" end
result(("vk(1) describes every flag of src/app/flags.c (%d)"):format(flags), missing)
result(("the stubs were read (%d files)"):format(#stubs), #stubs > 0 and {} or {"lua/*.d.lua"})
return results
