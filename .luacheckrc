-- luacheck configuration (Debian package lua-check): `luacheck providers lua tests`,
-- run by tests/run.sh's style suite.
std = "lua54"
-- The vk table: every built-in module, loaded on first use (vk.timer, vk.spawn...),
-- with the fields the editor stubs (lua/vk.d.lua, lua/vk.*.d.lua) give them, so
-- that `vk.timer.slep` is a warning.  (tests/unit/test_luastubs.c keeps the stubs
-- equal to what vk really registers.)
local function vk_fields()
  local members, parents, class, alias = {}, {}, nil, {}
  local ls = io.popen("ls lua/vk.d.lua lua/vk.*.d.lua 2>/dev/null")
  for path in ls:lines() do
    class, alias = nil, {}
    for line in io.lines(path) do
      local c, parent = line:match("^%-%-%-@class%s+([%w_.]+)%s*:?%s*([%w_.]*)")
      if c then
        class = c
        if parent ~= "" then parents[c] = parent end
      end
      local x = line:match("^local%s+([%w_]+)%s*=%s*{}") or line:match("^([%w_]+)%s*=%s*{}")
      if x and class then alias[x] = class end
      local f = line:match("^%-%-%-@field%s+([%w_]+)")
      local obj, fn = line:match("^function%s+([%w_]+)[.:]([%w_]+)%s*%(")
      local cl = f and class or obj and (alias[obj] or obj)
      if cl then
        members[cl] = members[cl] or {}
        members[cl][f or fn] = true
      end
    end
  end
  ls:close()
  if not members.vk then return nil end -- no stubs here: any field of vk
  local function fields_of(cl)
    local t = {}
    while cl do
      for k in pairs(members[cl] or {}) do t[k] = {other_fields = true} end
      cl = parents[cl]
    end
    return t
  end
  local fields = {}
  for k in pairs(members.vk) do
    fields[k] = members["vk." .. k] and {fields = fields_of("vk." .. k)} or {other_fields = true}
  end
  return {fields = fields}
end
read_globals = {vk = vk_fields() or {other_fields = true}}
max_line_length = 120
-- A provider's callbacks take the core's arguments whether or not they use them.
unused_args = false
exclude_files = {
  "tests/lua/providers/syntax_error.lua", -- does not compile, on purpose (vk check's test)
  "build*/**",
}
files["lua/*.d.lua"] = {
  -- Type stubs for editors: `vk` is defined there, module tables are only
  -- filled with empty methods, and the annotations are long.
  globals = {"vk"},
  ignore = {"241"},
  max_line_length = false,
}
