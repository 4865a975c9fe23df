-- The kit's own test: the virtual clock runs a provider's 5-minute backoff
-- at once, mocks answer its HTTP, and what it did can be checked.
local timer = require "vk.timer"

describe("a provider that backs off for 5 minutes", function()
  local p = provider.load(spec_dir .. "/backoff_provider.lua", "url: http://cloud.test\npods: 7\n")

  it("gets its config and edits the node in init", function()
    expect(p.node.status.capacity.pods):to_be("7")
  end)

  it("retries after 5 minutes of virtual time, at once", function()
    local answers = {429, 200}
    mock.http {method = "POST", url = "http://cloud.test/create", respond = function(req)
      expect(req.body):to_be("web")
      return {status = table.remove(answers, 1)}
    end}
    local t0, wall0 = clock.now(), os.time()
    expect(pods.create [[
metadata: {name: web, namespace: shop}
spec: {containers: [{name: app, image: "busybox:1.35"}]}
]]):to_be(true)
    expect(clock.now() - t0):to_be(5 * 60 * 1000)
    expect(os.time() - wall0):to_be_at_most(60) -- generous: a busy machine, yet far below 5 minutes
    expect(#mock.calls("http")):to_be(2)
    expect(#pods.logs("again in 5 minutes")):to_be(1)
    expect(pods.events("Created")[1].message):to_be("instance for shop/web")
    expect(pods.status("shop", "web")):to_equal({phase = "Running"})
  end)

  it("runs the provider's every() as the clock moves", function()
    expect(#pods.notified()):to_be(0)
    clock.advance(60000)
    expect(pods.notified("shop", "web")[1].status.phase):to_be("Running")
    timer.sleep(120000) -- the spec's own sleep moves the clock too
    expect(#pods.notified("shop", "web")):to_be(3)
  end)

  it("runs the callbacks of several pods at once with pods.start", function()
    local answers = {a = {429, 200}, b = {200}}
    mock.http {url = "http://cloud.test/create", respond = function(req)
      return {status = table.remove(answers[req.body], 1)}
    end}
    local t0 = clock.now()
    local a = pods.start("create_pod", {metadata = {name = "a"}})
    local b = pods.start("create_pod", {metadata = {name = "b"}})
    expect(b.wait()):to_be(true)
    expect(clock.now() - t0):to_be(0) -- b did not wait for a's backoff
    expect(a.done()):to_be(false)
    expect(a.wait()):to_be(true)
    expect(clock.now() - t0):to_be(5 * 60 * 1000)
    expect(pods.status("default", "a")):to_equal({phase = "Running"})
  end)

  it("reports a callback's error and the core's Event", function()
    mock.http {url_match = "/create$", respond = {status = 503}}
    local ok, err = pods.create {metadata = {name = "db", namespace = "shop"}}
    expect(ok):to_be_nil()
    expect(err):to_match("backoff_provider%.lua:%d+: gave up on shop/db")
    expect(pods.events("ProviderCreateFailed")[1].message):to_match("gave up on shop/db")
  end)
end)
