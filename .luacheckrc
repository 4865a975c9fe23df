-- luacheck configuration (Debian package lua-check): `luacheck providers lua tests`,
-- run by tests/run.sh's style suite.
std = "lua54"
-- The vk table: every built-in module, loaded on first use (vk.timer, vk.spawn...).
read_globals = {"vk"}
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
-- Specs run by `vk test` (lua/vk/test.lua) see the kit's globals.
files["**/*_spec.lua"] = {
  read_globals = {"describe", "it", "before_each", "after_each", "expect", "provider", "pods", "clock", "mock",
                 "spec_dir"},
}
files["lua/vk.test.d.lua"] = {
  globals = {"describe", "it", "before_each", "after_each", "expect", "provider", "pods", "clock", "mock",
             "spec_dir"},
}
