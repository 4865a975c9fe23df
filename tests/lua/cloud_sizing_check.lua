-- providers/cloud/sizing.lua through the real Lua host (vk.k8s's quantity
-- parser), with the spec table of examples/cloud.yaml.  Run by
-- tests/unit/lua_checks.c as the unit test lua_cloud_sizing.
local yaml = require "vk.yaml"
local timer = require "vk.timer"
local T = require "checks"
local check, expect, eq = T.check, T.expect, T.eq

local P = {}

-- This file is tests/lua/cloud_sizing_check.lua: the source root is two up.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")
local root = here .. "/../.."
package.path = root .. "/providers/?.lua;" .. package.path
local sizing = require "cloud.sizing"

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

local function pod(containers, annotations, inits)
  local function list(cs)
    local out = {}
    for i, c in ipairs(cs or {}) do
      out[i] = {name = "c" .. i, image = "busybox:1.35", resources = {requests = {cpu = c[1], memory = c[2]},
        limits = (c[3] or c[4]) and {cpu = c[3], memory = c[4]} or nil}}
    end
    return out
  end
  return {metadata = {name = "p", namespace = "default", annotations = annotations},
    spec = {containers = list(containers), initContainers = list(inits)}}
end

function P.init()
  local cfg = yaml.decode(read(root .. "/examples/cloud.yaml"))
  local specs = cfg.specs
  local opts = {default = cfg.default_spec, exact_above = cfg.exact_above}

  local function picks(what, p, want_name, want_source, o)
    check(what, function()
      local s, rule, msg = sizing.pick(p, specs, o or opts)
      expect(s, ("no spec: %s %s"):format(tostring(rule), tostring(msg)))
      eq(s.name, want_name, "spec")
      if want_source then eq(s.source, want_source, "source") end
    end)
  end
  local function refuses(what, p, want_rule, msg_part, o)
    check(what, function()
      local s, rule, msg = sizing.pick(p, specs, o or opts)
      expect(not s, "picked " .. tostring(s and s.name))
      eq(rule, want_rule, "rule")
      expect(tostring(msg):find(msg_part, 1, true), ("message %q lacks %q"):format(tostring(msg), msg_part))
    end)
  end

  check("the example spec table passes check_table", function() eq(sizing.check_table(specs), nil, "problem") end)

  picks("7 vCPU / 13 GiB rounds up to 8 / 14", pod{{"7", "13Gi"}}, "8-14Gi", "requests")
  picks("an exact spec stays as it is", pod{{"2", "4Gi"}}, "2-4Gi")
  picks("millicores and MiB: 250m / 512Mi is the smallest spec", pod{{"250m", "512Mi"}}, "0.25-0.5Gi")
  picks("memory alone picks the smallest vCPU that sells it", pod{{nil, "30Gi"}}, "4-32Gi")
  picks("cpu alone picks that row's smallest memory", pod{{"3", nil}}, "4-4Gi")
  picks("containers are summed: 3 x (1 vCPU, 1.5 GiB) -> 4 / 8", pod{{"1", "1536Mi"}, {"1", "1536Mi"}, {"1",
    "1536Mi"}}, "4-8Gi")
  picks("a limit counts over its request", pod{{"500m", "1Gi", "2", "3Gi"}}, "2-4Gi")
  picks("the biggest init container wins when it is larger than the sum",
    pod({{"500m", "1Gi"}}, nil, {{"4", "2Gi"}, {"1", "16Gi"}}), "4-16Gi")
  picks("the sum wins when it is larger than every init container",
    pod({{"2", "4Gi"}, {"2", "4Gi"}}, nil, {{"1", "1Gi"}}), "4-8Gi")
  picks("a pod that asks for nothing gets default_spec", pod{{}}, "1-2Gi", "default")
  picks("without default_spec, the smallest spec", pod{{}}, "0.25-0.5Gi", "default", {})
  picks("the largest spec still fits", pod{{"64", "512Gi"}}, "64-512Gi")
  refuses("beyond the largest spec: no-spec-fits", pod{{"65", "1Gi"}}, "no-spec-fits", "65 vCPU")
  refuses("memory beyond every row: no-spec-fits", pod{{"1", "600Gi"}}, "no-spec-fits", "600 GiB")

  picks("annotation override up to 4 vCPU is rounded up", pod({{"1", "1Gi"}},
    {["cloud.vk.io/spec"] = "3-5Gi"}), "4-8Gi", "annotation")
  picks("annotation override above 4 vCPU that the table sells", pod({{"1", "1Gi"}},
    {["cloud.vk.io/spec"] = "8-14Gi"}), "8-14Gi", "annotation")
  picks("annotation may be written without Gi", pod({{"1", "1Gi"}}, {["cloud.vk.io/spec"] = "2-4"}), "2-4Gi",
    "annotation")
  refuses("annotation above 4 vCPU not in the table: exact-above-4", pod({{"1", "1Gi"}},
    {["cloud.vk.io/spec"] = "7-13Gi"}),
    "annotation-exact-above-4", "7-13Gi")
  refuses("annotation below the pod's demand", pod({{"4", "8Gi"}}, {["cloud.vk.io/spec"] = "1-2Gi"}),
    "annotation-below-demand", "4 vCPU / 8 GiB")
  refuses("annotation that is no spec", pod({{"1", "1Gi"}}, {["cloud.vk.io/spec"] = "big"}),
    "annotation-malformed", "\"big\"")
  refuses("exact_above is configurable", pod({{"1", "1Gi"}}, {["cloud.vk.io/spec"] = "3-5Gi"}),
    "annotation-exact-above-2",
    "above 2 vCPU", {exact_above = 2})

  check("fallbacks are listed in order, without the first spec", function()
    local s = sizing.pick(pod({{"1", "2Gi"}}, {["cloud.vk.io/fallback-specs"] = "1-2Gi, 2-4Gi,8-16Gi"}), specs, opts)
    eq(s.name, "1-2Gi", "spec")
    eq(#s.fallbacks, 2, "fallbacks")
    eq(s.fallbacks[1].name, "2-4Gi", "first fallback")
    eq(s.fallbacks[2].name, "8-16Gi", "second fallback")
  end)
  refuses("a fallback above 4 vCPU not in the table", pod({{"1", "2Gi"}},
    {["cloud.vk.io/fallback-specs"] = "2-4Gi,6-12Gi"}),
    "fallback-exact-above-4", "[2]")
  refuses("a fallback smaller than the demand", pod({{"2", "2Gi"}}, {["cloud.vk.io/fallback-specs"] = "1-2Gi"}),
    "fallback-below-demand", "1-2Gi")

  picks("cpu:memory ratio 1:2..1:8 skips 1 vCPU / 1 GiB", pod{{"1", "1Gi"}}, "1-2Gi", nil, {ratio = {2, 8}})
  refuses("cpu:memory ratio that nothing meets", pod{{"1", "500Gi"}}, "cpu-memory-ratio", "between 2 and 4",
    {ratio = {2, 4}})
  refuses("a bad quantity names the container", pod{{"1", "1Gi"}, {"lots", "1Gi"}}, "bad-quantity",
    "spec.containers[2]")

  -- Exhaustive: every spec of the table, asked for exactly, is picked as
  -- is; and asked for a little less, rounds up to itself or a smaller one.
  check("every spec of the table is picked for its own size", function()
    for _, row in ipairs(specs) do
      timer.sleep(0)
      for _, m in ipairs(row.memory) do
        local want = sizing.name(row.cpu, m)
        local s = sizing.pick(pod{{tostring(row.cpu), ("%dMi"):format(math.floor(m * 1024))}}, specs, opts)
        eq(s and s.name, want, "spec for " .. want)
        local a = sizing.pick(pod({{"250m", "256Mi"}}, {["cloud.vk.io/spec"] = want}), specs, opts)
        eq(a and a.name, want, "annotation " .. want)
      end
    end
  end)
  check("every demand on a 0.25 vCPU x 0.5 GiB grid gets the smallest spec that holds it", function()
    for c4 = 1, 260 do
      timer.sleep(0) -- a yield: the host's budget counts time between yields
      for m2 = 1, 130, 7 do
        local cpu, mem = c4 / 4, m2 / 2
        local s = sizing.pick(pod{{("%dm"):format(c4 * 250), ("%dMi"):format(m2 * 512)}}, specs, opts)
        -- the expected answer, by brute force over the table
        local best
        for _, row in ipairs(specs) do
          for _, m in ipairs(row.memory) do
            if row.cpu >= cpu and m >= mem and not best then best = sizing.name(row.cpu, m) end
          end
        end
        eq(s and s.name, best, ("spec for %s vCPU / %s GiB"):format(cpu, mem))
      end
    end
  end)

  local bad_tables = {
    {{}, "non-empty"},
    {{{cpu = 0.3, memory = {1}}}, "specs[1].cpu: vCPU come in steps of 0.25"},
    {{{cpu = 1, memory = {1}}, {cpu = 1, memory = {2}}}, "specs[2].cpu: rows go in increasing vCPU"},
    {{{cpu = 1, memory = {2, 1}}}, "specs[1].memory[2]: sizes go in increasing order"},
    {{{cpu = 1, memory = {}}}, "specs[1].memory: a non-empty list"},
    {{{cpu = "1", memory = {1}}}, "specs[1].cpu: a number"},
  }
  for i, bt in ipairs(bad_tables) do
    check("check_table refuses bad table " .. i, function()
      local msg = sizing.check_table(bt[1])
      expect(msg and msg:find(bt[2], 1, true), ("got %q, want %q"):format(tostring(msg), bt[2]))
    end)
  end
end

P.create_pod = function() end
P.delete_pod = function() end
P.get_pod_status = function() end
P.get_pods = T.results
return P
