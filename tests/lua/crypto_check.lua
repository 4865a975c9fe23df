-- vk.crypto against published answers (FIPS 180-2's "abc", RFC 4231's
-- HMAC-SHA256 test cases 1 and 2).  Run by tests/unit/lua_checks.c.
local crypto = require "vk.crypto"
local T = require "checks"
local check, eq, expect = T.check, T.eq, T.expect

local P = {}
function P.init()
  check("sha256 of \"abc\"", function()
    eq(crypto.hex(crypto.sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "digest")
  end)
  check("sha256 of the empty string", function()
    eq(crypto.hex(crypto.sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "digest")
  end)
  check("hmac_sha256, RFC 4231 case 1", function()
    eq(crypto.hex(crypto.hmac_sha256(("\x0b"):rep(20), "Hi There")),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "mac")
  end)
  check("hmac_sha256, RFC 4231 case 2", function()
    eq(crypto.hex(crypto.hmac_sha256("Jefe", "what do ya want for nothing?")),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "mac")
  end)
  check("hex keeps every byte", function() eq(crypto.hex("\0\255\16"), "00ff10", "hex") end)
  check("a non-string argument is refused with its name", function()
    local ok, err = pcall(crypto.hmac_sha256, {}, "x")
    expect(not ok and tostring(err):find("bad argument #1", 1, true), tostring(err))
  end)
end
P.create_pod = function() end
P.delete_pod = function() end
P.get_pod_status = function() end
P.get_pods = T.results
return P
