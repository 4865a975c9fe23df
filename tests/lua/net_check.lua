-- vk.net and vk.http's netns= against servers the e2e script started inside
-- a network namespace of its own (tests/e2e/vk/net_stream_connects_inside_a_network_namespace.sh).
-- config: netns (the namespace's path), port (an echo server on its
-- 127.0.0.1), http_port (an HTTP server on its 127.0.0.1), closed_port (a
-- server that answers "bye" and closes).  Nothing listens on those ports in
-- the host's namespace (the script checks).
local net = require "vk.net"
local http = require "vk.http"
local P = {}
local T = require "checks"
local check, expect, eq = T.check, T.expect, T.eq

function P.init(config)
  local ns, port = config.netns, math.tointeger(tonumber(config.port))
  local http_port = math.tointeger(tonumber(config.http_port))
  local closed_port = math.tointeger(tonumber(config.closed_port))
  check("a stream made in the namespace reaches its 127.0.0.1, writes and reads back", function()
    local s = assert(net.connect{netns = ns, host = "127.0.0.1", port = port, timeout_ms = 10000})
    eq(s:write("hello through the namespace\n"), true, "write")
    local got = ""
    while #got < 28 do got = got .. assert(s:read()) end
    eq(got, "hello through the namespace\n", "echo")
    s:close()
    local ok, err = pcall(s.read, s)
    expect(not ok and tostring(err):find("the stream is closed", 1, true), "read after close: " .. tostring(err))
  end)
  check("read(max) returns at most max bytes and keeps the rest", function()
    local s = assert(net.connect{netns = ns, port = port})
    assert(s:write("abcdef"))
    local a = assert(s:read(2))
    eq(a, "ab", "first read")
    local rest = ""
    while #rest < 4 do rest = rest .. assert(s:read(100)) end
    eq(rest, "cdef", "the rest")
    s:close()
  end)
  check("the same address in vk's own namespace is refused (the stream really was in the pod's)", function()
    local s, err = net.connect{host = "127.0.0.1", port = port, timeout_ms = 5000}
    expect(s == nil and err:find("connection refused", 1, true), "got " .. tostring(s) .. " " .. tostring(err))
    expect(err:find("127.0.0.1:" .. port, 1, true), "the error names the peer: " .. err)
  end)
  check("a peer that closes gives its data, then nil, \"closed\"", function()
    local s = assert(net.connect{netns = ns, port = closed_port})
    local got = ""
    while true do
      local d, err = s:read()
      if not d then
        eq(err, "closed", "end")
        break
      end
      got = got .. d
    end
    eq(got, "bye\n", "data before the end")
    s:close()
  end)
  check("a read and a write wait at once from two tasks (4 MiB each way through the echo)", function()
    local s = assert(net.connect{netns = ns, port = port, timeout_ms = 20000})
    local chunk = ("0123456789abcdef"):rep(4096) -- 64 KiB
    -- The echo answers while it reads: written all before reading, 4 MiB
    -- would fill both sockets' buffers and the write would wait forever.
    local writer = vk.spawn(function()
      for _ = 1, 64 do assert(s:write(chunk)) end
      return true
    end)
    local parts, n = {}, 0
    while n < 64 * 65536 do
      local d = assert(s:read())
      parts[#parts + 1] = d
      n = n + #d
    end
    local ok, wrote = writer:join()
    eq(ok and wrote, true, "the writer ended")
    eq(n, 64 * 65536, "bytes read back")
    expect(table.concat(parts) == chunk:rep(64), "the bytes came back in order")
    local waiting = false
    local reader = vk.spawn(function()
      waiting = true
      return s:read()
    end)
    for _ = 1, 500 do
      if waiting then break end
      require("vk.timer").sleep(10)
    end
    eq(waiting, true, "the reader task runs")
    local ok2, err2 = pcall(s.read, s)
    expect(not ok2 and tostring(err2):find("another read is waiting", 1, true), "a second read: " .. tostring(err2))
    s:close()
    local _, d, why = reader:join()
    expect(d == nil and why == "closed", "the waiting read is answered by close: " .. tostring(why))
  end)
  check("shutdown ends the sending side and reading goes on", function()
    local s = assert(net.connect{netns = ns, port = port, timeout_ms = 10000})
    assert(s:write("last words"))
    s:shutdown()
    s:shutdown() -- idempotent
    local got = ""
    while true do
      local d, err = s:read()
      if not d then
        eq(err, "closed", "the echo saw EOF and closed")
        break
      end
      got = got .. d
    end
    eq(got, "last words", "what was written before the shutdown came back")
    s:close()
  end)
  check("a read times out and leaves the stream usable", function()
    local s = assert(net.connect{netns = ns, port = port, timeout_ms = 300})
    local d, err = s:read()
    expect(d == nil and err:find("timed out", 1, true), "got " .. tostring(err))
    assert(s:write("x"))
    eq(assert(s:read()), "x", "after the timeout")
    s:close()
  end)
  check("a namespace file that does not exist is a clear error", function()
    local s, err = net.connect{netns = config.netns .. "-missing", port = port}
    expect(s == nil and err:find("network namespace", 1, true) and err:find("no such file", 1, true), tostring(err))
  end)
  check("a file that is not a network namespace is refused", function()
    local s, err = net.connect{netns = "/etc/hostname", port = port}
    expect(s == nil and err:find("invalid argument", 1, true), tostring(err))
  end)
  check("bad arguments raise, naming them", function()
    local ok, err = pcall(net.connect, {port = 0})
    expect(not ok and err:find("port must be 1..65535", 1, true), err)
    ok, err = pcall(net.connect, {host = "example.com", port = 80})
    expect(not ok and err:find("host must be an IP address", 1, true), err)
  end)
  check("vk.http.request with netns reaches the namespace's HTTP server", function()
    local r = assert(http.request{url = ("http://127.0.0.1:%d/x"):format(http_port), netns = ns, timeout_ms = 10000,
                                  headers = {["X-Probe"] = "yes"}})
    eq(r.status, 200, "status")
    expect(r.body:find("x-probe: yes", 1, true), "the server saw the header: " .. r.body)
    local r2, err = http.request{url = ("http://127.0.0.1:%d/x"):format(http_port), timeout_ms = 5000}
    expect(r2 == nil and err, "without netns the host's 127.0.0.1 has no such server: " .. tostring(err))
  end)
  check("vk.http.request with netns wants an IP address", function()
    local ok, err = pcall(http.request, {url = "http://localhost:1/", netns = ns})
    expect(not ok and err:find("must be an IP address", 1, true), err)
  end)
end

P.get_pods = T.results
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() end
return P
