-- vk.k8s through the real Lua host (vk test): quantities, base64,
-- $(VAR) expansion and the backoff object, over vk's C.
local k8s = require "vk.k8s"
describe("vk.k8s", function()
  it("quantity reads decimal and binary suffixes into base units", function()
    expect(k8s.quantity("500m")):to_be(0.5) -- 500m
    expect(k8s.quantity("2")):to_be(2) -- 2
    expect(math.type(k8s.quantity("2"))):to_be("integer") -- a whole quantity is an integer
    expect(k8s.quantity("0.5")):to_be(0.5) -- 0.5
    expect(k8s.quantity("128Mi")):to_be(128 * 1024 * 1024) -- 128Mi
    expect(k8s.quantity("1G")):to_be(1000000000) -- 1G
    expect(k8s.quantity("1e3")):to_be(1000) -- 1e3
    expect(math.abs(k8s.quantity("100n") - 100e-9) < 1e-18, "100n")
    expect(k8s.quantity(3)):to_be(3) -- a number passes through
  end)
  it("a bad quantity is nil and a message naming it", function()
    for _, bad in ipairs{"", "abc", "12Q", " 1", "inf", "nan", "0x10", "1Mi "} do
      local v, err = k8s.quantity(bad)
      expect(v == nil, ("%q gave %s"):format(bad, tostring(v)))
      expect(err:find(('"' .. bad .. '" is not a quantity'), 1, true), err)
    end
    local ok, err = pcall(k8s.quantity, {})
    expect(not ok and err:find("string expected", 1, true), err)
  end)
  it("base64 round-trips binary data, with padding", function()
    expect(k8s.base64_encode("")):to_be("") -- empty
    expect(k8s.base64_encode("f")):to_be("Zg==") -- f
    expect(k8s.base64_encode("fo")):to_be("Zm8=") -- fo
    expect(k8s.base64_encode("foo")):to_be("Zm9v") -- foo
    expect(k8s.base64_encode("user:pa\0ss")):to_be("dXNlcjpwYQBzcw==") -- binary
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    local bytes = table.concat(all)
    expect(k8s.base64_decode(k8s.base64_encode(bytes))):to_be(bytes) -- 256 bytes round-trip
    expect(k8s.base64_decode("Zm9v\nYmFy")):to_be("foobar") -- line breaks are ignored
    expect(k8s.base64_decode("Zm8")):to_be("fo") -- padding is optional
  end)
  it("bad base64 is nil and a message", function()
    local v, err = k8s.base64_decode("Zm9v!")
    expect(v == nil and err == "vk.k8s.base64_decode: not valid base64", err)
    v = k8s.base64_decode("Z")
    expect(v == nil, "a lone character is not base64")
  end)
  it("expand replaces defined $(VAR)s as kubelet does", function()
    local env = {A = "1", B = "two"}
    expect(k8s.expand("$(B)", env)):to_be("two") -- defined
    expect(k8s.expand("x$(A)y$(A)", env)):to_be("x1y1") -- twice
    expect(k8s.expand("$(C)", env)):to_be("$(C)") -- undefined stays
    expect(k8s.expand("$$(B)", env)):to_be("$(B)") -- $$ escapes a reference
    expect(k8s.expand("a$$b", env)):to_be("a$b") -- $$ becomes $
    expect(k8s.expand("$(B", env)):to_be("$(B") -- unterminated stays
    expect(k8s.expand("", env)):to_be("") -- empty
    expect(k8s.expand("$(N)", {N = 5})):to_be("$(N)") -- a value that is not a string counts as undefined
  end)
  it("expand without escapes leaves $$ alone", function()
    expect(k8s.expand("$$(IP) $$", {IP = "10.0.0.1"}, {escapes = false})):to_be("$10.0.0.1 $$") -- no escapes
  end)
  it("backoff doubles from base up to max, exactly without jitter", function()
    local b = k8s.backoff{base_ms = 10000, max_ms = 300000, jitter = false}
    local want = {10000, 20000, 40000, 80000, 160000, 300000, 300000}
    for i, w in ipairs(want) do expect(b:next(), "delay " .. i):to_be(w) end
    expect(b:attempts()):to_be(#want) -- attempts
    expect(b:delay()):to_be(300000) -- delay() is the last one
    b:reset()
    expect(b:attempts()):to_be(0) -- reset clears attempts
    expect(b:next()):to_be(10000) -- reset starts from base
  end)
  it("an immediate backoff starts at 0 (kubelet's first restart)", function()
    local b = k8s.backoff{base_ms = 10000, max_ms = 300000, jitter = false, immediate = true}
    expect(b:next()):to_be(0) -- first
    expect(b:next()):to_be(10000) -- second
    expect(b:next()):to_be(20000) -- third
    b:reset()
    expect(b:next()):to_be(0) -- after reset
  end)
  it("jittered delays lie in [d/2, d]", function()
    local b = k8s.backoff{base_ms = 100, max_ms = 1000}
    for _, d in ipairs{100, 200, 400, 800, 1000, 1000} do
      local got = b:next()
      expect(got >= d // 2 and got <= d, ("%d not in [%d, %d]"):format(got, d // 2, d))
    end
  end)
  it("backoff refuses bad options with a clear message", function()
    local ok, err = pcall(k8s.backoff, {base_ms = 100, max_ms = 10})
    expect(not ok and err:find("max_ms (10) is below base_ms (100)", 1, true), err)
    ok, err = pcall(k8s.backoff, {base_ms = "x"})
    expect(not ok and err:find("base_ms must be a whole number", 1, true), err)
    ok, err = pcall(k8s.backoff, {jitter = 1})
    expect(not ok and err:find("jitter must be a boolean", 1, true), err)
  end)
  it("vk.podspec fills pod-IP references and leaves the rest as the core wrote it", function()
    local podspec = require "vk.podspec"
    local c = {env = {
      {name = "IP", valueFrom = {fieldRef = {fieldPath = "status.podIP"}}},
      {name = "IPS", valueFrom = {fieldRef = {fieldPath = "status.podIPs"}}},
      {name = "URL", value = "http://$(IP):80/$(OTHER) $$"},
      {name = "EMPTY"},
    }}
    local m = podspec.env_map(c, {"10.0.0.7", "fd00::7"})
    expect(m.IP):to_be("10.0.0.7") -- IP
    expect(m.IPS):to_be("10.0.0.7,fd00::7") -- IPS
    expect(m.URL):to_be("http://10.0.0.7:80/$(OTHER) $$") -- URL
    expect(m.EMPTY):to_be("") -- EMPTY
  end)
  it("vk.k8s is reachable through the vk table", function()
    expect(vk.k8s == k8s, "vk.k8s")
  end)
end)
