-- The kit's own test: the virtual clock fires timers in order of due time,
-- lets what a timer wakes run (and start its next timer) before the next
-- one fires, and stands still until it is moved.
local timer = require "vk.timer"

describe("the virtual clock", function()
  it("stands still until it is moved", function()
    local t0 = timer.now_ms()
    expect(clock.now()):to_be(t0)
    clock.settle()
    expect(timer.now_ms()):to_be(t0)
  end)

  it("fires timers in order, a woken task's next timer included", function()
    local seen = {}
    local t0 = clock.now()
    local function at(what) seen[#seen + 1] = ("%s@%d"):format(what, clock.now() - t0) end
    vk.spawn(function()
      timer.sleep(1000); at("a")
      timer.sleep(500); at("a") -- due at 1500: after b's 1200
    end)
    vk.spawn(function() timer.sleep(1200); at("b") end)
    local every = timer.every(700, function() at("e") end)
    clock.advance(2000)
    every:stop()
    expect(seen):to_equal({"e@700", "a@1000", "b@1200", "e@1400", "a@1500"})
    expect(clock.now() - t0):to_be(2000)
  end)

  it("goes no further than asked", function()
    local fired = false
    vk.spawn(function() timer.sleep(5000); fired = true end)
    clock.advance(4999)
    expect(fired):to_be(false)
    clock.advance(1)
    expect(fired):to_be(true)
  end)
end)
