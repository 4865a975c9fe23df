-- mynode's volume logic without a cluster or a runtime, run by
-- tests/unit/lua_checks.c (config.dir: a fresh folder): the token refresh
-- rule on a clock the check sets, RFC 3339 times, the downward API's
-- formats and resource arithmetic, and the atomic writer's ..data layout.
local fs = require "vk.fs"
local T = require "checks"
local check, expect = T.check, T.expect
local P = {}

-- providers/ beside tests/lua/ (the host put tests/lua/ on the path).
local function add_providers_path()
  local root = package.path:match("([^;]*)/tests/lua/%?%.lua")
  if root and not package.path:find(root .. "/providers/?.lua", 1, true) then
    package.path = root .. "/providers/?.lua;" .. package.path
  end
end

local function raises(fn, pattern)
  local ok, err = pcall(fn)
  expect(not ok and tostring(err):find(pattern, 1, true), "expected an error with " .. pattern .. ", got " ..
         tostring(err))
end

function P.init(config)
  add_providers_path()
  local C = require "mynode.common"
  local sa = require "mynode.volumes.sa_token"
  local dw = require "mynode.volumes.downward"
  local aw = require "mynode.volumes.atomic_writer"

  check("parse_time reads RFC 3339 UTC times", function()
    expect(sa.parse_time("1970-01-01T00:00:00Z") == 0)
    expect(sa.parse_time("2026-12-02T08:30:00Z") == 1796200200, tostring(sa.parse_time("2026-12-02T08:30:00Z")))
    expect(sa.parse_time("2000-02-29T23:59:59Z") == 951868799)
    expect(sa.parse_time("yesterday") == nil)
  end)
  check("a token is renewed once 80 % of its lifetime passed, or at 24 h", function()
    local tok = {exp = 10000 + 3600, lifetime = 3600} -- issued at 10000
    expect(not sa.requires_refresh(tok, 10000 + 2879), "not at 79.97 %")
    expect(sa.requires_refresh(tok, 10000 + 2880), "at 80 %")
    local week = {exp = 10000 + 7 * 86400, lifetime = 7 * 86400}
    expect(not sa.requires_refresh(week, 10000 + 86399), "a week-long token: not before 24 h")
    expect(sa.requires_refresh(week, 10000 + 86400), "a week-long token: at 24 h")
  end)
  check("token_refresh_fraction and token_max_age_s move the points", function()
    C.cfg.token_refresh_fraction, C.cfg.token_max_age_s = 0.02, 5
    local tok = {exp = 600, lifetime = 600} -- issued at 0
    expect(not sa.requires_refresh(tok, 4) and sa.requires_refresh(tok, 5), "max age 5 s")
    C.cfg.token_max_age_s = nil
    expect(not sa.requires_refresh(tok, 11) and sa.requires_refresh(tok, 12), "2 % of 600 s is 12 s")
    C.cfg.token_refresh_fraction = nil
  end)
  check("labels and annotations as kubelet formats them (sorted, Go's %q)", function()
    expect(dw.format_map{b = "2", a = 'say "hi"\n\\', c = "\1"} == 'a="say \\"hi\\"\\n\\\\"\nb="2"\nc="\\x01"',
           dw.format_map{b = "2", a = 'say "hi"\n\\', c = "\1"})
    expect(dw.format_map{} == "")
    local pod = {metadata = {name = "p", namespace = "n", uid = "u", labels = {app = "x"}},
                 spec = {nodeName = "node", serviceAccountName = "sa"}}
    expect(dw.field(pod, "metadata.labels['app']") == "x")
    expect(dw.field(pod, 'metadata.labels["none"]') == "")
    expect(dw.field(pod, "spec.nodeName") == "node" and dw.field(pod, "spec.serviceAccountName") == "sa")
    expect(dw.field(pod, "status.podIPs", {pod_ips = {"10.0.0.2", "fd00::2"}}) == "10.0.0.2,fd00::2")
    expect(dw.field(pod, "status.hostIP", {host_ip = "127.0.0.1"}) == "127.0.0.1")
    raises(function() dw.field(pod, "spec.nope") end, 'unsupported fieldRef "spec.nope"')
  end)
  check("resourceFieldRef: divisors, rounding up, unset request 0, unset limit the allocatable", function()
    local pod = {spec = {containers = {
      {name = "a", resources = {limits = {cpu = "500m", memory = "64Mi"}, requests = {cpu = "250m"}}},
      {name = "b"},
    }}}
    local alloc = {cpu = "3500m", memory = "1Gi"}
    local function v(res, cname, div)
      return dw.resource(pod, {resource = res, containerName = cname, divisor = div}, nil, alloc)
    end
    expect(v("limits.cpu", "a", "1m") == "500")
    expect(v("limits.cpu", "a", "0") == "1", "divisor 0 (the API's default) is 1; 0.5 rounds up")
    expect(v("limits.memory", "a", "1Mi") == "64")
    expect(v("requests.cpu", "a", "1m") == "250")
    expect(v("requests.memory", "a") == "0", "no memory request: 0")
    expect(v("limits.cpu", "b") == "4", "no limit: allocatable 3500m, rounded up to 4")
    expect(v("limits.memory", "b", "1Mi") == "1024")
    raises(function() v("limits.gpu", "a") end, 'unsupported resource "limits.gpu"')
    raises(function() v("limits.cpu", "zz") end, 'no container "zz"')
  end)
  check("the atomic writer: a timestamped folder, ..data, links through it", function()
    local d = config.dir .. "/vol"
    expect(aw.write(d, {a = {data = "1", mode = 420}, ["x/y"] = {data = "2", mode = 384}}) == true)
    expect(fs.readlink(d .. "/a") == "..data/a" and fs.readlink(d .. "/x") == "..data/x")
    expect(fs.read_file(d .. "/x/y") == "2" and fs.stat(d .. "/x/y").mode == 384)
    local first = fs.readlink(d .. "/..data")
    expect(first:match("^%.%.%d%d%d%d_%d%d_%d%d_%d%d_%d%d_%d%d%.%d+_%d+$"), first)
    expect(aw.write(d, {a = {data = "1", mode = 420}, ["x/y"] = {data = "2", mode = 384}}) == false,
           "the same payload writes nothing")
    expect(aw.write(d, {a = {data = "1b", mode = 420}}) == true)
    local second = fs.readlink(d .. "/..data")
    expect(second ~= first and fs.read_file(d .. "/a") == "1b")
    expect(fs.lstat(d .. "/x") == nil, "x's link went with it")
    local names = fs.readdir(d)
    table.sort(names)
    expect(table.concat(names, " ") == ".." .. second:sub(3) .. " ..data a", table.concat(names, " "))
    raises(function() aw.write(d, {["../e"] = {data = "", mode = 420}}) end, "must not contain '..'")
    raises(function() aw.write(d, {["/abs"] = {data = "", mode = 420}}) end, "must be a relative path")
  end)
end

P.get_pods = T.results
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() return nil end
return P
