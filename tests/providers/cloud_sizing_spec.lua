-- providers/cloud.lua's sizing, through the provider itself (vk test): every
-- spec of examples/cloud.yaml's table, rounding up, the exact-match rule
-- above 4 vCPU, the annotation override, the fallback list and the init
-- containers' max.  The cloud's API is answered by the mocks below, which
-- keep the instances it was asked for; what the provider asked is the test.
local fs = require "vk.fs"
local json = require "vk.json"
local yaml = require "vk.yaml"

local root = spec_dir:match("^(.*)/tests/providers$")
local example = yaml.decode(assert(fs.read_file(root .. "/examples/cloud.yaml")))

-- Credentials come from a file, as in production.
local creds = os.tmpname()
assert(fs.write_file(creds, "access_key: AKTEST\nsecret_key: sktest\n"))

local config = {}
for k, v in pairs(example) do config[k] = v end
config.credentials_file = creds
config.endpoint = "http://cloud.test"

-- ---- a cloud, scripted -------------------------------------------------
local groups, seq, no_stock = {}, 0, {}
local function answer(action, fn)
  mock.http {method = "POST", url = "http://cloud.test/v1/" .. action, respond = function(req)
    expect(req.headers["X-Sim-Signature"], "every request is signed")
    local status, body = fn(json.decode(req.body))
    return {status = status, json = body}
  end}
end
answer("DescribeAccountQuota", function() return 200, {Cpu = 1000, Memory = 4000, Instances = 500} end)
answer("DescribeContainerGroups", function(b)
  local out = json.array()
  for _, id in ipairs(b.ContainerGroupIds or {}) do
    if groups[id] then out[#out + 1] = groups[id] end
  end
  return 200, {ContainerGroups = out}
end)
answer("CreateContainerGroup", function(b)
  local name = ("%g-%gGi"):format(b.Cpu, b.Memory)
  if no_stock[name] then return 400, {Code = "NoStock", Message = "no stock of " .. name} end
  seq = seq + 1
  local id = "eci-" .. seq
  groups[id] = {ContainerGroupId = id, Status = "Running", Cpu = b.Cpu, Memory = b.Memory, Tags = b.Tags,
                Containers = json.array()}
  return 200, {ContainerGroupId = id, Price = 0.01 * b.Cpu}
end)
answer("DeleteContainerGroup", function(b)
  groups[b.ContainerGroupId] = nil
  return 200, {}
end)
mock.kube {path_match = "^/api/v1/namespaces/[^/]+/pods/[^/]+/status$", object = {}}

local cloud = provider.load(root .. "/providers/cloud.lua", config)

-- ---- helpers --------------------------------------------------------------
local n, made = 0, {}
-- A pod whose containers ask for {cpu, memory, limit_cpu, limit_memory}.
local function pod(containers, annotations, init)
  n = n + 1
  local function list(cs)
    local out = {}
    for i, c in ipairs(cs or {}) do
      local r = {requests = {cpu = c[1], memory = c[2]}, limits = {cpu = c[3], memory = c[4]}}
      out[i] = {name = "c" .. i, image = "busybox:1.35", resources = r}
    end
    return out
  end
  made[n] = {metadata = {name = "p" .. n, namespace = "sizing", annotations = annotations},
             spec = {containers = list(containers), initContainers = init and list(init) or nil}}
  return made[n]
end

-- Creates the pod; returns the spec of the instance the provider asked for
-- ("8-14Gi"), or nil and the SpecNotAvailable Event's message.
local function billed(p)
  local before = #mock.calls("http")
  local ok, err = pods.create(p)
  expect(ok, err)
  for i = #mock.calls("http"), before + 1, -1 do
    local c = mock.calls("http")[i]
    if c.url:match("/CreateContainerGroup$") then
      local b = json.decode(c.body)
      local st = pods.status(p.metadata.namespace, p.metadata.name)
      expect(st and st.phase, "the pod has a status")
      return ("%g-%gGi"):format(b.Cpu, b.Memory)
    end
  end
  local ev = pods.events("SpecNotAvailable")
  return nil, ev[#ev] and ev[#ev].message
end

local function mi(gib) return ("%dMi"):format(math.floor(gib * 1024 + 0.5)) end

describe("cloud sizing", function()
  it("the node's capacity comes from the account's quota", function()
    expect(cloud.node.status.capacity):to_equal({cpu = "1000", memory = "4000Gi", pods = "500"})
  end)

  it("every spec of the table is billed as itself", function()
    local count = 0
    for _, row in ipairs(config.specs) do
      for _, m in ipairs(row.memory) do
        local want = ("%g-%gGi"):format(row.cpu, m)
        expect(billed(pod {{tostring(row.cpu), mi(m)}})):to_be(want)
        count = count + 1
      end
    end
    expect(count):to_be(36) -- examples/cloud.yaml sells 36 sizes
  end)

  it("a demand just under each spec rounds up to it", function()
    local prev_cpu = 0
    for _, row in ipairs(config.specs) do
      local prev_mem = 0
      for _, m in ipairs(row.memory) do
        -- more cpu than the previous row and more memory than the previous size
        local cpu = prev_cpu + (row.cpu - prev_cpu) / 2
        local mem = prev_mem + (m - prev_mem) / 2
        local want = ("%g-%gGi"):format(row.cpu, m)
        expect(billed(pod {{("%dm"):format(math.ceil(cpu * 1000)), mi(mem)}})):to_be(want)
        prev_mem = m
      end
      prev_cpu = row.cpu
    end
  end)

  it("7 vCPU / 13 GiB rounds up to 8 / 14 (ECI's example)", function()
    expect(billed(pod {{"7", "13Gi"}})):to_be("8-14Gi")
  end)

  it("memory alone can pick a bigger row: 1 vCPU / 9 GiB is 2-16Gi", function()
    expect(billed(pod {{"1", "9Gi"}})):to_be("2-16Gi")
  end)

  it("limits count over requests", function()
    expect(billed(pod {{"1", "1Gi", "3", "6Gi"}})):to_be("4-8Gi")
  end)

  it("containers add up", function()
    expect(billed(pod {{"1", "2Gi"}, {"1", "2Gi"}, {"500m", "1Gi"}})):to_be("4-8Gi")
  end)

  it("a pod that asks for nothing gets default_spec", function()
    expect(billed(pod {{}})):to_be("1-2Gi")
  end)

  it("the biggest init container counts when it is bigger than the sum", function()
    expect(billed(pod({{"1", "1Gi"}, {"1", "1Gi"}}, nil, {{"4", "1Gi"}, {"1", "16Gi"}}))):to_be("4-16Gi")
    expect(billed(pod({{"1", "1Gi"}, {"1", "1Gi"}}, nil, {{"500m", "512Mi"}}))):to_be("2-2Gi")
  end)

  it("a size bigger than the table is an Event naming the rule, and no API call", function()
    local before = #mock.calls("http")
    local got, why = billed(pod {{"65", "128Gi"}})
    expect(got):to_be_nil()
    expect(why):to_match("rule no%-spec%-fits")
    got, why = billed(pod {{"64", "600Gi"}})
    expect(got):to_be_nil()
    expect(why):to_match("rule no%-spec%-fits")
    for i = before + 1, #mock.calls("http") do
      expect(mock.calls("http")[i].url):never():to_match("CreateContainerGroup")
    end
    local st = pods.status("sizing", "p" .. n)
    expect(st.containerStatuses[1].state.waiting.reason):to_be("SpecNotAvailable")
  end)

  describe("the annotation cloud.vk.io/spec", function()
    local function ann(spec) return {["cloud.vk.io/spec"] = spec} end
    it("names the spec outright", function()
      expect(billed(pod({{"1", "2Gi"}}, ann "2-4Gi"))):to_be("2-4Gi")
      expect(billed(pod({{"1", "2Gi"}}, ann "8-14"))):to_be("8-14Gi")
    end)
    it("is rounded up like a demand up to 4 vCPU", function()
      expect(billed(pod({{"1", "2Gi"}}, ann "3-5Gi"))):to_be("4-8Gi")
      expect(billed(pod({{"100m", "100Mi"}}, ann "4-30Gi"))):to_be("4-32Gi")
    end)
    it("must be a spec of the table exactly above 4 vCPU", function()
      for _, s in ipairs {"6-12Gi", "8-15Gi", "12-20Gi", "65-128Gi"} do
        local got, why = billed(pod({{"1", "2Gi"}}, ann(s)))
        expect(got):to_be_nil()
        expect(why):to_match("rule annotation%-exact%-above%-4")
      end
      for _, row in ipairs(config.specs) do
        if row.cpu > 4 then
          for _, m in ipairs(row.memory) do
            local s = ("%g-%gGi"):format(row.cpu, m)
            expect(billed(pod({{"1", "2Gi"}}, ann(s)))):to_be(s)
          end
        end
      end
    end)
    it("may not be smaller than the demand", function()
      local got, why = billed(pod({{"4", "8Gi"}}, ann "2-4Gi"))
      expect(got):to_be_nil()
      expect(why):to_match("rule annotation%-below%-demand")
    end)
    it("that is no spec is refused", function()
      local got, why = billed(pod({{"1", "2Gi"}}, ann "large"))
      expect(got):to_be_nil()
      expect(why):to_match("rule annotation%-malformed")
    end)
  end)

  describe("the fallback list cloud.vk.io/fallback-specs", function()
    local function fb(list, spec) return {["cloud.vk.io/fallback-specs"] = list, ["cloud.vk.io/spec"] = spec} end
    it("is tried in order while the cloud has no stock", function()
      no_stock["2-4Gi"], no_stock["4-8Gi"] = true, true
      local p = pod({{"2", "4Gi"}}, fb "4-8Gi,8-16Gi")
      expect(billed(p)):to_be("8-16Gi")
      local fell = pods.events("SpecFallback")
      expect(#fell):to_be(2)
      expect(fell[1].message):to_match("2%-4Gi has no stock; trying 4%-8Gi")
      no_stock = {}
    end)
    it("is not used while the first spec has stock", function()
      expect(billed(pod({{"2", "4Gi"}}, fb "4-8Gi,8-16Gi"))):to_be("2-4Gi")
      expect(#pods.events("SpecFallback")):to_be(0)
    end)
    it("follows the same rules as the override", function()
      local cases = {
        {"4-8Gi,junk", "fallback%-malformed"},
        {"6-12Gi", "fallback%-exact%-above%-4"},
        {"1-1Gi", "fallback%-below%-demand"},
      }
      for _, c in ipairs(cases) do
        local got, why = billed(pod({{"2", "4Gi"}}, fb(c[1])))
        expect(got):to_be_nil()
        expect(why):to_match("rule " .. c[2])
      end
    end)
    it("rounds its entries up to 4 vCPU, like the override", function()
      no_stock["2-4Gi"] = true
      expect(billed(pod({{"2", "4Gi"}}, fb "3-6Gi"))):to_be("4-8Gi")
      no_stock = {}
    end)
  end)

  it("leaves no instance behind when the pods go", function()
    for _, p in ipairs(made) do expect(pods.delete(p)):to_be(true) end
    local left = {}
    for id, g in pairs(groups) do left[#left + 1] = id .. " " .. json.encode(g.Tags) end
    expect(left):to_equal({})
    os.remove(creds)
  end)
end)
