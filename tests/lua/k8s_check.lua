-- vk.k8s checks, run by tests/unit/lua_checks.c: quantities, base64,
-- $(VAR) expansion and the backoff object, over vk's C.
local k8s = require "vk.k8s"
local P = {}
local T = require "checks"
local check, expect, eq = T.check, T.expect, T.eq

function P.init()
  check("quantity reads decimal and binary suffixes into base units", function()
    eq(k8s.quantity("500m"), 0.5, "500m")
    eq(k8s.quantity("2"), 2, "2")
    eq(math.type(k8s.quantity("2")), "integer", "a whole quantity is an integer")
    eq(k8s.quantity("0.5"), 0.5, "0.5")
    eq(k8s.quantity("128Mi"), 128 * 1024 * 1024, "128Mi")
    eq(k8s.quantity("1G"), 1000000000, "1G")
    eq(k8s.quantity("1e3"), 1000, "1e3")
    expect(math.abs(k8s.quantity("100n") - 100e-9) < 1e-18, "100n")
    eq(k8s.quantity(3), 3, "a number passes through")
  end)
  check("a bad quantity is nil and a message naming it", function()
    for _, bad in ipairs{"", "abc", "12Q", " 1", "inf", "nan", "0x10", "1Mi "} do
      local v, err = k8s.quantity(bad)
      expect(v == nil, ("%q gave %s"):format(bad, tostring(v)))
      expect(err:find(('"' .. bad .. '" is not a quantity'), 1, true), err)
    end
    local ok, err = pcall(k8s.quantity, {})
    expect(not ok and err:find("string expected", 1, true), err)
  end)
  check("base64 round-trips binary data, with padding", function()
    eq(k8s.base64_encode(""), "", "empty")
    eq(k8s.base64_encode("f"), "Zg==", "f")
    eq(k8s.base64_encode("fo"), "Zm8=", "fo")
    eq(k8s.base64_encode("foo"), "Zm9v", "foo")
    eq(k8s.base64_encode("user:pa\0ss"), "dXNlcjpwYQBzcw==", "binary")
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    local bytes = table.concat(all)
    eq(k8s.base64_decode(k8s.base64_encode(bytes)), bytes, "256 bytes round-trip")
    eq(k8s.base64_decode("Zm9v\nYmFy"), "foobar", "line breaks are ignored")
    eq(k8s.base64_decode("Zm8"), "fo", "padding is optional")
  end)
  check("bad base64 is nil and a message", function()
    local v, err = k8s.base64_decode("Zm9v!")
    expect(v == nil and err == "vk.k8s.base64_decode: not valid base64", err)
    v = k8s.base64_decode("Z")
    expect(v == nil, "a lone character is not base64")
  end)
  check("expand replaces defined $(VAR)s as kubelet does", function()
    local env = {A = "1", B = "two"}
    eq(k8s.expand("$(B)", env), "two", "defined")
    eq(k8s.expand("x$(A)y$(A)", env), "x1y1", "twice")
    eq(k8s.expand("$(C)", env), "$(C)", "undefined stays")
    eq(k8s.expand("$$(B)", env), "$(B)", "$$ escapes a reference")
    eq(k8s.expand("a$$b", env), "a$b", "$$ becomes $")
    eq(k8s.expand("$(B", env), "$(B", "unterminated stays")
    eq(k8s.expand("", env), "", "empty")
    eq(k8s.expand("$(N)", {N = 5}), "$(N)", "a value that is not a string counts as undefined")
  end)
  check("expand without escapes leaves $$ alone", function()
    eq(k8s.expand("$$(IP) $$", {IP = "10.0.0.1"}, {escapes = false}), "$10.0.0.1 $$", "no escapes")
  end)
  check("backoff doubles from base up to max, exactly without jitter", function()
    local b = k8s.backoff{base_ms = 10000, max_ms = 300000, jitter = false}
    local want = {10000, 20000, 40000, 80000, 160000, 300000, 300000}
    for i, w in ipairs(want) do eq(b:next(), w, "delay " .. i) end
    eq(b:attempts(), #want, "attempts")
    eq(b:delay(), 300000, "delay() is the last one")
    b:reset()
    eq(b:attempts(), 0, "reset clears attempts")
    eq(b:next(), 10000, "reset starts from base")
  end)
  check("an immediate backoff starts at 0 (kubelet's first restart)", function()
    local b = k8s.backoff{base_ms = 10000, max_ms = 300000, jitter = false, immediate = true}
    eq(b:next(), 0, "first")
    eq(b:next(), 10000, "second")
    eq(b:next(), 20000, "third")
    b:reset()
    eq(b:next(), 0, "after reset")
  end)
  check("jittered delays lie in [d/2, d]", function()
    local b = k8s.backoff{base_ms = 100, max_ms = 1000}
    for _, d in ipairs{100, 200, 400, 800, 1000, 1000} do
      local got = b:next()
      expect(got >= d // 2 and got <= d, ("%d not in [%d, %d]"):format(got, d // 2, d))
    end
  end)
  check("backoff refuses bad options with a clear message", function()
    local ok, err = pcall(k8s.backoff, {base_ms = 100, max_ms = 10})
    expect(not ok and err:find("max_ms (10) is below base_ms (100)", 1, true), err)
    ok, err = pcall(k8s.backoff, {base_ms = "x"})
    expect(not ok and err:find("base_ms must be a whole number", 1, true), err)
    ok, err = pcall(k8s.backoff, {jitter = 1})
    expect(not ok and err:find("jitter must be a boolean", 1, true), err)
  end)
  check("vk.podspec fills pod-IP references and leaves the rest as the core wrote it", function()
    local podspec = require "vk.podspec"
    local c = {env = {
      {name = "IP", valueFrom = {fieldRef = {fieldPath = "status.podIP"}}},
      {name = "IPS", valueFrom = {fieldRef = {fieldPath = "status.podIPs"}}},
      {name = "URL", value = "http://$(IP):80/$(OTHER) $$"},
      {name = "EMPTY"},
    }}
    local m = podspec.env_map(c, {"10.0.0.7", "fd00::7"})
    eq(m.IP, "10.0.0.7", "IP")
    eq(m.IPS, "10.0.0.7,fd00::7", "IPS")
    eq(m.URL, "http://10.0.0.7:80/$(OTHER) $$", "URL")
    eq(m.EMPTY, "", "EMPTY")
  end)
  check("vk.k8s is reachable through the vk table", function()
    expect(vk.k8s == k8s, "vk.k8s")
  end)
end

P.get_pods = T.results
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() end

return P
