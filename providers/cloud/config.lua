-- cloud/config.lua: providers/cloud.lua's config: defaults, and every
-- problem with a given one, each naming its key ("specs[3].memory[2]: ...").
-- Pure.
local sizing = require "cloud.sizing"

local M = {}

-- The regions this provider may use (ECI's region whitelist): those of the
-- simulator by default; `regions:` in the config replaces the list.
M.REGIONS = {"sim-north-1", "sim-south-1"}

M.DEFAULTS = {
  cluster = "vk",
  exact_above = 4,
  rate_limit = 20,          -- API requests per second, all callers together
  retries = 6,              -- per call, on 429, 5xx or no answer
  timeout_ms = 10000,
  max_ids = 100,            -- ContainerGroupIds per DescribeContainerGroups
  poll = {tick_ms = 250, min_ms = 500, pending_max_ms = 2000, steady_ms = 30000},
  quota_refresh_ms = 60000, -- how often node_status reads the account's quota
  retry_tick_ms = 1000,     -- refused creates (quota, stock) are tried again
  retry_base_ms = 2000,     -- after 2 s, doubling
  retry_max_ms = 60000,     -- to 1 min
  annotation = sizing.DEFAULT_ANNOTATION,
  fallback_annotation = sizing.DEFAULT_FALLBACK_ANNOTATION,
}

local function copy(t)
  if type(t) ~= "table" then return t end
  local r = {}
  for k, v in pairs(t) do r[k] = copy(v) end
  return r
end

-- The config with defaults filled in (the argument is not changed).
function M.merge(cfg)
  local out = copy(M.DEFAULTS)
  for k, v in pairs(cfg or {}) do
    if k == "poll" and type(v) == "table" then
      for pk, pv in pairs(v) do out.poll[pk] = pv end
    else
      out[k] = copy(v)
    end
  end
  return out
end

local KNOWN = {
  endpoint = true, region = true, zone = true, credentials_file = true, cluster = true, specs = true,
  default_spec = true, exact_above = true, ratio = true, quota = true, regions = true, rate_limit = true,
  retries = true, timeout_ms = true, max_ids = true, poll = true, quota_refresh_ms = true, annotation = true,
  fallback_annotation = true, skip_daemonsets = true, retry_tick_ms = true, retry_base_ms = true,
  retry_max_ms = true, node_ip = true,
}

local function positive(v) return type(v) == "number" and v > 0 end

-- Every problem of a merged config, as a list of "key: message" (empty
-- when it is good).
function M.problems(c)
  local p = {}
  local function bad(key, msg) p[#p + 1] = key .. ": " .. msg end
  local keys = {}
  for k in pairs(c) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not KNOWN[k] then bad(k, "unknown setting") end
  end
  if type(c.endpoint) ~= "string" or not c.endpoint:match("^https?://[^/]+") then
    bad("endpoint", "the API's URL, http:// or https://, is required")
  end
  local regions = c.regions or M.REGIONS
  if type(regions) ~= "table" or #regions == 0 then
    bad("regions", "a list of region names")
    regions = {}
  end
  local allowed = false
  for _, r in ipairs(regions) do allowed = allowed or r == c.region end
  if type(c.region) ~= "string" then
    bad("region", "required (one of " .. table.concat(regions, ", ") .. ")")
  elseif not allowed then
    bad("region", ("%q is not a region this provider may use (%s)"):format(c.region, table.concat(regions, ", ")))
  end
  if c.zone ~= nil and type(c.zone) ~= "string" then bad("zone", "a zone name") end
  if c.node_ip ~= nil and (type(c.node_ip) ~= "string" or not c.node_ip:match("^[%x%.:]+$")) then
    bad("node_ip", "the node's InternalIP, an IPv4 or IPv6 address")
  end
  if type(c.credentials_file) ~= "string" or c.credentials_file:sub(1, 1) ~= "/" then
    bad("credentials_file", "required: the absolute path of a YAML file with access_key and secret_key")
  end
  if type(c.cluster) ~= "string" or c.cluster == "" then bad("cluster", "a name for the tags") end
  local table_problem = sizing.check_table(c.specs)
  if table_problem then p[#p + 1] = table_problem end -- it names the row
  if c.default_spec ~= nil and not sizing.parse(c.default_spec) then
    bad("default_spec", ("%q is not a spec (VCPU-MEMORYGi, e.g. \"1-2Gi\")"):format(tostring(c.default_spec)))
  end
  if not positive(c.exact_above) then bad("exact_above", "a number of vCPU above 0") end
  if c.ratio ~= nil and (type(c.ratio) ~= "table" or not positive(c.ratio[1]) or not positive(c.ratio[2])
      or c.ratio[1] > c.ratio[2]) then
    bad("ratio", "[MIN, MAX] GiB per vCPU, MIN <= MAX")
  end
  if c.quota ~= nil then
    if type(c.quota) ~= "table" then
      bad("quota", "{cpu, memory, instances}")
    else
      for _, k in ipairs({"cpu", "memory", "instances"}) do
        if c.quota[k] ~= nil and not positive(c.quota[k]) then bad("quota." .. k, "a number above 0") end
      end
    end
  end
  for _, k in ipairs({"rate_limit", "timeout_ms", "max_ids", "quota_refresh_ms", "retry_tick_ms", "retry_base_ms",
      "retry_max_ms"}) do
    if not positive(c[k]) then bad(k, "a number above 0") end
  end
  if type(c.retries) ~= "number" or c.retries < 0 then bad("retries", "a number, 0 or more") end
  if type(c.poll) ~= "table" then
    bad("poll", "{tick_ms, min_ms, pending_max_ms, steady_ms}")
  else
    for _, k in ipairs({"tick_ms", "min_ms", "pending_max_ms", "steady_ms"}) do
      if not positive(c.poll[k]) then bad("poll." .. k, "a number of ms above 0") end
    end
  end
  return p
end

-- The credentials file's text -> access_key, secret_key, or nil, message.
function M.credentials(text, path, decode)
  local ok, t = pcall(decode, text)
  if not ok or type(t) ~= "table" then return nil, path .. ": not YAML with access_key and secret_key" end
  if type(t.access_key) ~= "string" or t.access_key == "" then return nil, path .. ": access_key is missing" end
  if type(t.secret_key) ~= "string" or t.secret_key == "" then return nil, path .. ": secret_key is missing" end
  return t.access_key, t.secret_key
end

return M
