-- mynode's container logs: the CRI log format and kubelet's PodLogOptions
-- (providers/mynode/cri_log.lua, pure), and the follow of a growing file
-- (providers/mynode/logs.lua) on a real file in /tmp: appends, a partial
-- line, a rotation, a truncation, the end of the container, a client that
-- leaves.  The real containers and kubectl are in the e2e test
-- kubectl_logs_follows_and_filters_like_kubelet.
package.path = spec_dir .. "/../../providers/?.lua;" .. package.path
local L = require "mynode.cri_log"
local logs = require "mynode.logs"

clock.real() -- the follow below polls a real file

local T0 = "2026-12-01T06:00:00.100000000Z"
local function line(ts, stream, tag, text) return ("%s %s %s %s\n"):format(ts, stream, tag, text) end

describe("cri_log", function()
  it("reads RFC 3339 times to nanoseconds, with fractions and offsets", function()
    expect(L.time_ns("1970-01-01T00:00:00Z")):to_be(0)
    expect(L.time_ns("1970-01-01T00:00:01.5Z")):to_be(1500000000)
    expect(L.time_ns("2026-12-01T06:00:22.556123456Z")):to_be(1796104822556123456)
    expect(L.time_ns("2026-12-01T07:00:22.556123456+01:00")):to_be(1796104822556123456)
    expect(L.time_ns("2026-12-01T01:00:22.556123456-05:00")):to_be(1796104822556123456)
    expect(L.time_ns("2000-02-29T00:00:00Z")):to_be(951782400 * 1000000000)
    for _, bad in ipairs({"yesterday", "2026-13-01T00:00:00Z", "2026-12-01 06:00:00Z", "2026-12-01T06:00:00",
                          "2026-12-01T06:00:00+0100", ""}) do
      expect(L.time_ns(bad) == nil, bad)
    end
  end)

  it("prints times as Go's RFC3339Nano: no trailing zeros", function()
    expect(L.nano("2026-12-01T06:00:22.556123400Z")):to_be("2026-12-01T06:00:22.5561234Z")
    expect(L.nano("2026-12-01T06:00:22.000000000Z")):to_be("2026-12-01T06:00:22Z")
    expect(L.nano("2026-12-01T06:00:22.1+01:00")):to_be("2026-12-01T06:00:22.1+01:00")
    expect(L.nano("2026-12-01T06:00:22Z")):to_be("2026-12-01T06:00:22Z")
  end)

  it("parses a line into time, stream, tag and text, and refuses others", function()
    local ts, stream, tag, text = L.parse(T0 .. " stderr F a b  c")
    expect(ts):to_be(T0)
    expect(stream):to_be("stderr")
    expect(tag):to_be("F")
    expect(text):to_be("a b  c")
    expect(select(4, L.parse(T0 .. " stdout F "))):to_be("")
    expect(L.parse("garbage")):to_be_nil()
    expect(L.parse(T0 .. " stdin F x")):to_be_nil()
    expect(L.parse(T0 .. " stdout X x")):to_be_nil()
  end)

  it("joins partial pieces, per stream, and keeps an unfinished line for the next feed", function()
    local a = L.assembler()
    local data = line(T0, "stdout", "P", "hel") .. line("2026-12-01T06:00:00.2Z", "stderr", "F", "err") ..
      line("2026-12-01T06:00:00.3Z", "stdout", "F", "lo") .. "2026-12-01T06:00:00.4Z stdout F wor"
    local got = a:feed(data)
    expect(#got):to_be(2)
    expect(got[1].text .. "|" .. got[1].stream):to_be("err|stderr")
    expect(got[2].text .. "|" .. got[2].ts):to_be("hello|" .. T0) -- the time of its first piece
    got = a:feed("ld\n")
    expect(#got == 1 and got[1].text == "world", #got)
    a:feed(line(T0, "stdout", "P", "no end"))
    got = a:flush()
    expect(#got == 1 and got[1].text == "no end" and got[1].eol == false):to_be_truthy()
    expect(#a:flush()):to_be(0)
  end)

  local data = line("2026-12-01T06:00:00.5Z", "stdout", "F", "one") ..
    line("2026-12-01T06:00:10.000000000Z", "stdout", "F", "two") ..
    line("2026-12-01T06:00:20.250000000Z", "stderr", "F", "three") ..
    line("2026-12-01T06:00:30Z", "stdout", "F", "four")
  local now = L.time_ns("2026-12-01T06:00:35Z") // 1000000000

  it("selects as kubelet: sinceSeconds, sinceTime, tailLines, timestamps, limitBytes", function()
    expect(L.select(data, {}, now)):to_be("one\ntwo\nthree\nfour\n")
    expect(L.select(data, {sinceSeconds = 25}, now)):to_be("two\nthree\nfour\n")
    expect(L.select(data, {sinceTime = "2026-12-01T06:00:10Z"}, now)):to_be("two\nthree\nfour\n")
    expect(L.select(data, {sinceTime = "2026-12-01T06:00:10.000000001Z"}, now)):to_be("three\nfour\n")
    expect(L.select(data, {tailLines = 2}, now)):to_be("three\nfour\n")
    expect(L.select(data, {tailLines = 0}, now)):to_be("")
    expect(L.select(data, {tailLines = 3, sinceSeconds = 20}, now)):to_be("three\nfour\n")
    expect(L.select(data, {timestamps = true, tailLines = 2}, now))
      :to_be("2026-12-01T06:00:20.25Z three\n2026-12-01T06:00:30Z four\n")
    expect(L.select(data, {limitBytes = 6}, now)):to_be("one\ntw")
    expect(L.select(data, {timestamps = true, limitBytes = 10}, now)):to_be("2026-12-01")
    expect(function() L.select(data, {sinceTime = "noon"}, now) end)
      :to_fail("sinceTime \"noon\" is not an RFC 3339 time")
  end)

  it("a partial line at the end shows without its newline once the container ended", function()
    local d = data .. line("2026-12-01T06:00:31Z", "stdout", "P", "tail")
    expect(L.select(d, {tailLines = 1}, now, true)):to_be("tail")
    expect(L.select(d, {tailLines = 1}, now, false)):to_be("four\n")
  end)
end)

-- A client: what it got, and when it leaves.
local function client()
  local c = {got = {}, gone = false, writes = 0}
  function c:write(s)
    if self.gone then return false end
    self.writes = self.writes + 1
    self.got[#self.got + 1] = s
    return true
  end
  function c:closed() return self.gone end
  function c:text() return table.concat(self.got) end
  return c
end

local function append(path, s)
  local f = assert(io.open(path, "a"))
  f:write(s)
  f:close()
end

-- Waits (really) until cond() holds, at most ms.
local function wait_for(cond, ms)
  local t = vk.timer.now_ms()
  while not cond() do
    if vk.timer.now_ms() - t > ms then return false end
    vk.timer.sleep(20)
  end
  return true
end

describe("follow", function()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
  local function ts(i) return ("2026-12-01T06:00:%02d.000000001Z"):format(i) end

  it("sends each new line, a rotated and a truncated file from their start, and ends after the last bytes",
     function()
    local path = dir .. "/0.log"
    append(path, line(ts(1), "stdout", "F", "before"))
    local out, run = client(), {on = true}
    local pos = {offset = #line(ts(1), "stdout", "F", "before"), ino = vk.fs.stat(path).ino}
    local task = vk.spawn(function()
      logs.follow(path, pos, L.assembler(), nil, false, out, function() return run.on end)
    end)
    append(path, line(ts(2), "stdout", "F", "new 1"))
    expect(wait_for(function() return out:text() == "new 1\n" end, 5000), out:text())
    append(path, line(ts(3), "stdout", "P", "half "))
    vk.timer.sleep(3 * logs.POLL_MS)
    expect(out:text()):to_be("new 1\n") -- a piece waits for the rest of its line
    append(path, line(ts(3), "stdout", "F", "and half") .. ts(4) .. " stderr F cut")
    expect(wait_for(function() return out:text() == "new 1\nhalf and half\n" end, 5000), out:text())
    append(path, " short\n")
    expect(wait_for(function() return out:text():find("cut short\n", 1, true) ~= nil end, 5000), out:text())
    -- rotation: the file is renamed and a new one takes its name
    os.rename(path, path .. ".1")
    append(path, line(ts(5), "stdout", "F", "rotated"))
    expect(wait_for(function() return out:text():find("rotated\n", 1, true) ~= nil end, 5000), out:text())
    -- truncation: the same file, shorter than what was read of it
    local f = assert(io.open(path, "w"))
    f:write(line(ts(6), "stdout", "F", "trunc"))
    f:close()
    expect(wait_for(function() return out:text():find("trunc\n", 1, true) ~= nil end, 5000), out:text())
    -- the container ends: what it wrote last still comes, then the follow returns
    append(path, line(ts(7), "stdout", "F", "last words") .. line(ts(8), "stdout", "P", "no newline"))
    run.on = false
    expect(wait_for(function() return task:done() end, 5000), "the follow did not end")
    expect(select(1, task:join())):to_be(true)
    expect(out:text()):to_be("new 1\nhalf and half\ncut short\nrotated\ntrunc\nlast words\nno newline")
  end)

  it("stops when the client leaves, with the container still running", function()
    local path = dir .. "/1.log"
    append(path, "")
    local out = client()
    local task = vk.spawn(function()
      logs.follow(path, {offset = 0, ino = vk.fs.stat(path).ino}, L.assembler(), nil, true, out,
                  function() return true end)
    end)
    append(path, line("2026-12-01T06:00:01.500Z", "stdout", "F", "seen"))
    expect(wait_for(function() return out:text() ~= "" end, 5000), "nothing came")
    expect(out:text()):to_be("2026-12-01T06:00:01.5Z seen\n")
    out.gone = true
    expect(wait_for(function() return task:done() end, 5000), "the follow did not stop")
  end)

  it("leaves out lines older than since", function()
    local path = dir .. "/2.log"
    append(path, "")
    local out, run = client(), {on = true}
    local task = vk.spawn(function()
      logs.follow(path, {offset = 0, ino = vk.fs.stat(path).ino}, L.assembler(), L.time_ns(ts(5)), false, out,
                  function() return run.on end)
    end)
    append(path, line(ts(4), "stdout", "F", "old") .. line(ts(5), "stdout", "F", "new"))
    run.on = false
    expect(wait_for(function() return task:done() end, 5000), "the follow did not end")
    expect(out:text()):to_be("new\n")
  end)

  it("reads a long log's last 8 MiB from a line, or its first bytes when asked", function()
    local path = dir .. "/big.log"
    local f = assert(io.open(path, "w"))
    local one = line(ts(1), "stdout", "F", string.rep("x", 1000))
    for _ = 1, 9 * 1024 do f:write(one) end
    f:close()
    local size = #one * 9 * 1024
    local s = logs.read_start(path)
    expect(s.offset == size and #s.data < logs.MAX_START and #s.data % #one == 0 and s.data:sub(1, #one) == one,
           ("offset %d of %d, %d bytes"):format(s.offset, size, #s.data))
    s = logs.read_start(path, 100)
    expect(s.offset == 100 and s.data == one:sub(1, 100), s.offset)
  end)

  it("(cleans up its folder)", function() expect(os.execute("rm -rf '" .. dir .. "'")):to_be(true) end)
end)
