-- vk.config.lines: the line of every key and item of a YAML text, by path.
-- Run by tests/unit/lua_checks.c.
local vkconfig = require "vk.config"
local T = require "checks"
local check, eq, expect = T.check, T.eq, T.expect

local P = {}
function P.init()
  local text = table.concat({
    "# a comment",
    "region: sim-north-1",
    "quota:",
    "  cpu: 10",
    "  memory: 20",
    "specs:",
    "  - {cpu: 0.25, memory: [0.5, 1]}",
    "  - cpu: 1",
    "    memory:",
    "      - 1",
    "      - 2",
    "poll: {tick_ms: 5}",
    "",
  }, "\n")
  local lines = vkconfig.lines(text)
  local want = {
    region = 2, quota = 3, ["quota.cpu"] = 4, ["quota.memory"] = 5, specs = 6,
    ["specs[1]"] = 7, ["specs[1].cpu"] = 7, ["specs[1].memory"] = 7, ["specs[1].memory[2]"] = 7,
    ["specs[2]"] = 8, ["specs[2].cpu"] = 8, ["specs[2].memory"] = 9, ["specs[2].memory[1]"] = 10,
    ["specs[2].memory[2]"] = 11, poll = 12, ["poll.tick_ms"] = 12,
  }
  for path, line in pairs(want) do
    check("the line of " .. path, function() eq(lines[path], line, path) end)
  end
  check("no line for a key that is not there", function() eq(lines["quota.instances"], nil, "quota.instances") end)
  check("text that is not YAML gives nil and the line", function()
    local l, err = vkconfig.lines("a: [1, 2\nb: 3\n")
    expect(l == nil and tostring(err):find("line %d"), tostring(err))
  end)
  check("file() is nil without --provider-config", function() eq(vkconfig.file(), nil, "file") end)
end
P.create_pod = function() end
P.delete_pod = function() end
P.get_pod_status = function() end
P.get_pods = T.results
return P
