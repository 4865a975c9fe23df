-- The kit's own test: provider.load refuses what vk refuses, the way vk
-- says it (the providers of vk check's tests, tests/lua/providers/).
local dir = spec_dir .. "/../lua/providers"

describe("provider.load", function()
  it("refuses a provider missing required callbacks, as vk check does", function()
    expect(function() provider.load(dir .. "/missing.lua") end)
      :to_fail("missing%.lua: the required callback delete_pod is missing")
  end)
  it("gives an error in init with the provider's file:line", function()
    expect(function() provider.load(dir .. "/init_error.lua") end):to_fail("init_error%.lua:%d+: ")
  end)
  it("refuses I/O at the provider's top level, as in production", function()
    expect(function() provider.load(dir .. "/toplevel_io.lua") end):to_fail("cannot do I/O here")
  end)
  it("loads a good one and runs its init with the config", function()
    local p = provider.load(dir .. "/behaviours.lua", {greeting = "hi"})
    expect(type(p.module.create_pod)):to_be("function")
    expect(p.name):to_be("behaviours")
  end)
end)
