-- cloud/sizing.lua: which instance size (spec) a pod gets, from its
-- containers' requests and limits, through a table of the sizes the cloud
-- sells.  Pure: no I/O, no clock, no vk binding but vk.k8s's quantity parser
-- (itself pure), so it can be tested exhaustively without a cloud.
--
--   local sizing = require "cloud.sizing"
--   local spec, rule, msg = sizing.pick(pod, specs, opts)
--   -- spec: {cpu = 8, memory = 14, name = "8-14Gi", source = "requests",
--   --        fallbacks = {{cpu=, memory=, name=}, ...}}
--   -- or nil, RULE, "a sentence naming the rule and the numbers"
--
-- A spec table is a list of rows {cpu = vCPU, memory = {GiB, ...}}: each row
-- one vCPU size and the memory sizes sold with it (e.g. ECI's 0.25 to 64
-- vCPU).  sizing.check_table(specs) says what is wrong with one.
--
-- The rules, in order (each has the name the Event carries):
--  * a container's demand is its limit when set, else its request (an
--    instance must hold what the container may use); cpu in vCPU, memory in
--    GiB.
--  * the pod's demand is, per resource, the larger of the sum over its
--    containers and its biggest init container (init containers run one at
--    a time, before the others), as Kubernetes computes a pod's request.
--  * a pod that asks for nothing gets opts.default (a spec name such as
--    "2-4Gi"; without it, the table's smallest spec).
--  * ROUND_UP: the demand is rounded up to the smallest spec of the table
--    (lowest vCPU first, then lowest memory) that holds both: 7 vCPU /
--    13 GiB becomes 8 / 14 when the table sells 8 vCPU with 14 GiB.
--    "no-spec-fits" when nothing in the table is big enough.
--  * "cpu-memory-ratio": with opts.ratio = {min, max} (GiB per vCPU, e.g.
--    Tencent's 1:2 to 1:8 is {2, 8}) a spec outside the ratio is never
--    picked; a demand that only such specs could hold breaks the rule.
--  * the annotation opts.annotation (default "cloud.vk.io/spec") names the
--    spec outright ("8-14Gi", or "8-14" in GiB).  Up to opts.exact_above
--    vCPU (default 4) it is rounded up like a demand; above, it must be a
--    spec of the table exactly ("exact-above-4": the cloud refuses other
--    sizes there).  It may not be smaller than the pod's demand
--    ("annotation-below-demand"); text that is no spec is
--    "annotation-malformed".
--  * the annotation opts.fallback_annotation (default
--    "cloud.vk.io/fallback-specs"), "4-8Gi,8-16Gi", lists specs to try in
--    order when the cloud has no stock of the first; each obeys the same
--    rules as the override ("fallback-malformed", "fallback-exact-above-4",
--    "fallback-below-demand").
local M = {}

M.DEFAULT_ANNOTATION = "cloud.vk.io/spec"
M.DEFAULT_FALLBACK_ANNOTATION = "cloud.vk.io/fallback-specs"

-- Sizes are compared with a tolerance: 0.1 + 0.15 is not 0.25 in floats.
local EPS = 1e-9

local function fmt(n)
  local s = ("%.3f"):format(n):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- "8-14Gi": the name a spec goes by in annotations, Events and the cloud.
function M.name(cpu, memory) return fmt(cpu) .. "-" .. fmt(memory) .. "Gi" end

local function spec(cpu, memory) return {cpu = cpu, memory = memory, name = M.name(cpu, memory)} end

-- "8-14Gi", "8-14", "0.25-0.5Gi" -> cpu, memory; nil for anything else.
function M.parse(text)
  if type(text) ~= "string" then return nil end
  local c, m = text:match("^%s*([%d%.]+)%s*%-%s*([%d%.]+)%s*G?i?%s*$")
  c, m = tonumber(c), tonumber(m)
  if not c or not m or c <= 0 or m <= 0 then return nil end
  return c, m
end

-- What is wrong with a spec table, or nil.  The message names the row
-- ("specs[3].memory[2]: ...").
function M.check_table(specs)
  if type(specs) ~= "table" or #specs == 0 then return "specs: a non-empty list of {cpu=, memory={...}} rows" end
  local prev_cpu = 0
  for i, row in ipairs(specs) do
    local where = ("specs[%d]"):format(i)
    if type(row) ~= "table" then return where .. ": a {cpu=, memory={...}} row" end
    if type(row.cpu) ~= "number" or row.cpu <= 0 then
      return where .. ".cpu: a number of vCPU above 0, not " .. tostring(row.cpu)
    end
    if row.cpu * 4 % 1 > EPS then return where .. ".cpu: vCPU come in steps of 0.25, not " .. fmt(row.cpu) end
    if row.cpu <= prev_cpu + EPS then
      return where .. ".cpu: rows go in increasing vCPU (" .. fmt(row.cpu) .. " after " .. fmt(prev_cpu) .. ")"
    end
    prev_cpu = row.cpu
    if type(row.memory) ~= "table" or #row.memory == 0 then
      return where .. ".memory: a non-empty list of GiB sizes"
    end
    local prev_mem = 0
    for j, m in ipairs(row.memory) do
      if type(m) ~= "number" or m <= 0 then
        return ("%s.memory[%d]: a size in GiB above 0, not %s"):format(where, j, tostring(m))
      end
      if m <= prev_mem + EPS then
        return ("%s.memory[%d]: sizes go in increasing order (%s after %s)"):format(where, j, fmt(m), fmt(prev_mem))
      end
      prev_mem = m
    end
  end
  return nil
end

local function quantity_of(q, parse)
  if q == nil then return nil end
  if type(q) == "number" then return q end
  local v, err = parse(q)
  if not v then error(err or ("not a quantity: " .. tostring(q)), 0) end
  return v
end

-- One container's demand: cpu (vCPU), memory (GiB); nil where it says nothing.
local function container_demand(c, parse)
  local res = c.resources or {}
  local lim, req = res.limits or {}, res.requests or {}
  local cpu = quantity_of(lim.cpu, parse) or quantity_of(req.cpu, parse)
  local mem = quantity_of(lim.memory, parse) or quantity_of(req.memory, parse)
  return cpu, mem and mem / 2 ^ 30
end

-- The pod's demand: cpu, memory, and whether anything was asked for at all.
-- Raises "sizing: spec.containers[2].resources: ..." on a bad quantity.
function M.demand(pod, parse)
  parse = parse or require("vk.k8s").quantity
  local spec_ = pod.spec or {}
  local cpu, mem, any = 0, 0, false
  for i, c in ipairs(spec_.containers or {}) do
    local ok, cc, cm = pcall(container_demand, c, parse)
    if not ok then error(("spec.containers[%d].resources: %s"):format(i, cc), 0) end
    if cc or cm then any = true end
    cpu, mem = cpu + (cc or 0), mem + (cm or 0)
  end
  for i, c in ipairs(spec_.initContainers or {}) do
    local ok, cc, cm = pcall(container_demand, c, parse)
    if not ok then error(("spec.initContainers[%d].resources: %s"):format(i, cc), 0) end
    if cc or cm then any = true end
    cpu, mem = math.max(cpu, cc or 0), math.max(mem, cm or 0)
  end
  return cpu, mem, any
end

local function ratio_ok(cpu, memory, ratio)
  if not ratio then return true end
  local r = memory / cpu
  return r >= ratio[1] - EPS and r <= ratio[2] + EPS
end

-- The smallest spec holding cpu/memory, or nil, rule, message.
local function round_up(specs, cpu, memory, ratio)
  local blocked_by_ratio = false
  for _, row in ipairs(specs) do
    if row.cpu >= cpu - EPS then
      for _, m in ipairs(row.memory) do
        if m >= memory - EPS then
          if ratio_ok(row.cpu, m, ratio) then return spec(row.cpu, m) end
          blocked_by_ratio = true
        end
      end
    end
  end
  if blocked_by_ratio then
    return nil, "cpu-memory-ratio", ("no spec of at least %s vCPU / %s GiB keeps memory between %s and %s GiB per vCPU")
      :format(fmt(cpu), fmt(memory), fmt(ratio[1]), fmt(ratio[2]))
  end
  local last = specs[#specs]
  local biggest_mem = 0
  for _, row in ipairs(specs) do biggest_mem = math.max(biggest_mem, row.memory[#row.memory]) end
  return nil, "no-spec-fits", ("no spec in the table holds %s vCPU / %s GiB (the largest are %s vCPU and %s GiB)")
    :format(fmt(cpu), fmt(memory), fmt(last.cpu), fmt(biggest_mem))
end

local function in_table(specs, cpu, memory)
  for _, row in ipairs(specs) do
    if math.abs(row.cpu - cpu) < EPS then
      for _, m in ipairs(row.memory) do
        if math.abs(m - memory) < EPS then return true end
      end
    end
  end
  return false
end

-- A spec named by the user (override or fallback): rounded up to the table
-- up to exact_above vCPU, exact above; never below the demand.
local function named_spec(text, specs, demand_cpu, demand_mem, o, prefix, where)
  local cpu, mem = M.parse(text)
  if not cpu then
    return nil, prefix .. "-malformed",
      ("%s %q is not a spec: write VCPU-MEMORYGi, e.g. \"2-4Gi\""):format(where, tostring(text))
  end
  if cpu > o.exact_above + EPS and not in_table(specs, cpu, mem) then
    return nil, prefix .. "-exact-above-" .. fmt(o.exact_above),
      ("%s %s: above %s vCPU the spec must be one the table sells exactly")
        :format(where, M.name(cpu, mem), fmt(o.exact_above))
  end
  if cpu < demand_cpu - EPS or mem < demand_mem - EPS then
    return nil, prefix .. "-below-demand", ("%s %s is smaller than the pod's demand of %s vCPU / %s GiB")
      :format(where, M.name(cpu, mem), fmt(demand_cpu), fmt(demand_mem))
  end
  local s, rule, msg = round_up(specs, cpu, mem, o.ratio)
  if not s then return nil, rule, where .. " " .. M.name(cpu, mem) .. ": " .. msg end
  return s
end

local function options(opts)
  opts = opts or {}
  return {
    annotation = opts.annotation or M.DEFAULT_ANNOTATION,
    fallback_annotation = opts.fallback_annotation or M.DEFAULT_FALLBACK_ANNOTATION,
    exact_above = opts.exact_above or 4,
    ratio = opts.ratio,
    default = opts.default,
    quantity = opts.quantity,
  }
end

-- The spec for a pod.  opts: annotation, fallback_annotation, exact_above
-- (vCPU, default 4), ratio ({min, max} GiB per vCPU), default (spec name for
-- a pod that asks for nothing), quantity (the parser; default vk.k8s's).
-- Returns spec (with .source "requests"|"default"|"annotation" and
-- .fallbacks, a list) or nil, rule, message.
function M.pick(pod, specs, opts)
  local o = options(opts)
  local bad = M.check_table(specs)
  if bad then return nil, "spec-table", bad end
  local ok, cpu, mem, any = pcall(M.demand, pod, o.quantity)
  if not ok then return nil, "bad-quantity", cpu end
  local ann = (pod.metadata or {}).annotations or {}

  local chosen, rule, msg
  if ann[o.annotation] then
    chosen, rule, msg = named_spec(ann[o.annotation], specs, cpu, mem, o, "annotation", "annotation " .. o.annotation)
    if chosen then chosen.source = "annotation" end
  elseif not any then
    if o.default then
      local dc, dm = M.parse(o.default)
      if not dc then return nil, "default-malformed", ("default spec %q is not a spec"):format(tostring(o.default)) end
      chosen, rule, msg = round_up(specs, dc, dm, o.ratio)
    else
      chosen, rule, msg = round_up(specs, 0, 0, o.ratio)
    end
    if chosen then chosen.source = "default" end
  else
    chosen, rule, msg = round_up(specs, cpu, mem, o.ratio)
    if chosen then chosen.source = "requests" end
  end
  if not chosen then return nil, rule, msg end

  chosen.fallbacks = {}
  local list = ann[o.fallback_annotation]
  if list then
    local i = 0
    for item in tostring(list):gmatch("[^,]+") do
      i = i + 1
      local fb, frule, fmsg = named_spec(item, specs, cpu, mem, o, "fallback",
        ("annotation %s[%d]"):format(o.fallback_annotation, i))
      if not fb then return nil, frule, fmsg end
      if fb.name ~= chosen.name then chosen.fallbacks[#chosen.fallbacks + 1] = fb end
    end
  end
  return chosen
end

return M
