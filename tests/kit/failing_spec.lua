-- The kit's own test: each `it` here fails in its own way (tests/unit/kit.sh
-- checks the TAP lines, file:line and the exit code).
describe("failures", function()
  it("passes", function() expect(2 + 2):to_be(4) end)
  it("a failed expect", function()
    expect(2 + 2):to_be(5)
  end)
  it("an error", function()
    local t = nil
    return t.field
  end)
  it("an expect without a matcher", function()
    expect(true)
  end)
  it("a call no mock answers", function()
    local r = require("vk.http").request {url = "http://nowhere.test/x"}
    expect(r):to_be_nil()
  end)
end)
