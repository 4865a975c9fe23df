-- vk.fs checks, run by tests/unit/lua_checks.c (config.dir: a fresh folder).
local fs = require "vk.fs"
local P = {}
local T = require "checks"
local check, expect = T.check, T.expect

function P.init(config)
  local d = config.dir
  check("mkdir_p makes every missing level and accepts existing ones", function()
    expect(fs.mkdir_p(d .. "/a/b/c"))
    expect(fs.mkdir_p(d .. "/a/b/c/"))
    expect(fs.mkdir_p(d .. "/a"))
  end)
  check("write_file then read_file gives the same bytes, binary included", function()
    local data = "line1\n\0\255" .. string.rep("x", 100000)
    expect(fs.write_file(d .. "/a/b/c/f", data, 384))
    local back = assert(fs.read_file(d .. "/a/b/c/f"))
    expect(back == data, "got " .. #back .. " bytes")
    expect(fs.read_file(d .. "/a/b/c/f.vk-tmp") == nil, "no temporary file is left")
  end)
  check("write_file replaces a file's content", function()
    expect(fs.write_file(d .. "/a/r", "first version"))
    expect(fs.write_file(d .. "/a/r", "v2"))
    expect(fs.read_file(d .. "/a/r") == "v2")
  end)
  check("an empty file reads as an empty string", function()
    expect(fs.write_file(d .. "/a/empty", ""))
    expect(fs.read_file(d .. "/a/empty") == "")
  end)
  check("read_file with max_bytes and tail reads the end", function()
    expect(fs.write_file(d .. "/a/log", "0123456789"))
    expect(fs.read_file(d .. "/a/log", {max_bytes = 4}) == "0123")
    expect(fs.read_file(d .. "/a/log", {max_bytes = 4, tail = true}) == "6789")
    expect(fs.read_file(d .. "/a/log", {max_bytes = 100, tail = true}) == "0123456789")
  end)
  check("a missing file is nil plus an error naming it", function()
    local r, err = fs.read_file(d .. "/nope")
    expect(r == nil and err:find("vk.fs.read_file: " .. d .. "/nope: no such file", 1, true), err)
  end)
  check("write_file into a missing folder fails cleanly", function()
    local r, err = fs.write_file(d .. "/missing/f", "x")
    expect(r == nil and err:find("no such file", 1, true), err)
  end)
  check("relative paths are refused", function()
    local ok, err = pcall(fs.mkdir_p, "rel/dir")
    expect(not ok and err:find("must be absolute", 1, true), err)
  end)
  check("remove_all removes a tree and succeeds on a missing one", function()
    expect(fs.remove_all(d .. "/a"))
    expect(fs.read_file(d .. "/a/r") == nil)
    expect(fs.remove_all(d .. "/a"))
    local ok, err = pcall(fs.remove_all, "/")
    expect(not ok and err:find("refusing", 1, true), err)
  end)
end

P.get_pods = T.results
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() return nil end
return P
