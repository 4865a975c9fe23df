-- providers/mock.lua, the README's example spec:  vk test tests/providers/mock_spec.lua
describe("providers/mock.lua", function()
  local p = provider.load(spec_dir .. "/../../providers/mock.lua", [[
pods: "5"
startup_delay_ms: 30000
]])

  it("registers the node with the capacity of its config", function()
    expect(p.node.status.capacity.pods):to_be("5")
  end)

  it("starts a pod after startup_delay_ms and tells the core at once", function()
    local t0 = clock.now()
    expect(pods.create [[
metadata: {name: web, namespace: shop}
spec: {containers: [{name: app, image: "nginx:1.27"}]}
]]):to_be(true)
    expect(clock.now() - t0):to_be(30000) -- virtual time: no real wait
    expect(pods.status("shop", "web").phase):to_be("Running")
    expect(pods.notified("shop", "web")[1].status.phase):to_be("Running")
  end)
end)
