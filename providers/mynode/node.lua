-- mynode/node.lua: the node's capacity, allocatable and pressure
-- conditions, read from the host as kubelet reads them.
--
-- Capacity: CPU and memory of the machine, or the limit of vk's own cgroup
-- (v2 cpu.max/memory.max, or v1 cfs quota/memory.limit_in_bytes, the
-- lowest on the way up to the root) when that is lower; ephemeral-storage
-- the size of the filesystem holding pod_root; pods 110.  `capacity:` in
-- the config overrides any of them.
--
-- Allocatable: capacity minus kube_reserved and system_reserved, and for
-- memory and ephemeral-storage minus the hard eviction threshold of
-- memory.available and nodefs.available, as kubelet computes it.
--
-- Conditions: kubelet's eviction signals against eviction_hard (kubelet's
-- defaults: memory.available<100Mi, nodefs.available<10%,
-- nodefs.inodesFree<5%, imagefs.available<15%, imagefs.inodesFree<5%; no
-- pid.available):
--   MemoryPressure  memory.available  (cgroup limit - working set, or MemAvailable)
--   DiskPressure    nodefs.available, nodefs.inodesFree (statfs of pod_root),
--                   imagefs.available, imagefs.inodesFree (statfs of image_fs,
--                   default: the same filesystem)
--   PIDPressure     pid.available (min(pid_max, threads-max) - running)
-- A condition that went True stays True for eviction_pressure_transition_period
-- (kubelet's 5m) after its signal is back above the threshold.
--
-- Config (all optional):
--   capacity:         {cpu: "4", memory: "8Gi", pods: "110", ephemeral-storage: "100Gi"}
--   kube_reserved:    {cpu: "100m", memory: "256Mi", ephemeral-storage: "1Gi"}
--   system_reserved:  the same keys
--   eviction_hard:    {memory.available: "100Mi", nodefs.available: "10%", ...}
--                     (merged over kubelet's defaults; "" turns one off)
--   eviction_pressure_transition_period: "5m"   (Ns, Nm or Nh)
--   image_fs:         the runtime's image folder (containerd's root)
local fs = require "vk.fs"
local host = require "vk.host"
local k8s = require "vk.k8s"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"

local cfg = C.cfg

local M = {}

M.DEFAULT_EVICTION_HARD = {
  ["memory.available"] = "100Mi",
  ["nodefs.available"] = "10%",
  ["nodefs.inodesFree"] = "5%",
  ["imagefs.available"] = "15%",
  ["imagefs.inodesFree"] = "5%",
}

local SIGNALS = {"memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
                 "imagefs.inodesFree", "pid.available"}

-- condition type -> its signals, and kubelet's reasons and messages.
local CONDITIONS = {
  {type = "MemoryPressure", signals = {"memory.available"},
   yes = {"KubeletHasInsufficientMemory", "vk has insufficient memory available"},
   no = {"KubeletHasSufficientMemory", "vk has sufficient memory available"}},
  {type = "DiskPressure",
   signals = {"nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree"},
   yes = {"KubeletHasDiskPressure", "vk has disk pressure"},
   no = {"KubeletHasNoDiskPressure", "vk has no disk pressure"}},
  {type = "PIDPressure", signals = {"pid.available"},
   yes = {"KubeletHasInsufficientPID", "vk has insufficient PID available"},
   no = {"KubeletHasSufficientPID", "vk has sufficient PID available"}},
}

---------------------------------------------------------------------------
-- parsing (pure: the unit checks call these)
---------------------------------------------------------------------------

-- "5m" -> 300000; a number is seconds.  nil, err when malformed.
function M.duration_ms(v)
  if type(v) == "number" then return math.floor(v * 1000) end
  local n, unit = tostring(v):match("^(%d+%.?%d*)([smh]?)$")
  if not n then return nil, ("%q is not a duration (e.g. 30s, 5m, 1h)"):format(tostring(v)) end
  return math.floor(tonumber(n) * ({s = 1000, m = 60000, h = 3600000, [""] = 1000})[unit])
end

-- A threshold: {quantity = n} or {percent = p}; nil for "" (off).
function M.threshold(signal, v)
  if v == nil or v == "" or v == false then return nil end
  local s = tostring(v)
  local p = s:match("^(%d+%.?%d*)%%$")
  if p then
    p = tonumber(p)
    if p < 0 or p > 100 then error(("eviction_hard.%s: %q is not a percentage in 0..100"):format(signal, s), 0) end
    return {percent = p}
  end
  local q = k8s.quantity(s)
  if not q or q < 0 then
    error(("eviction_hard.%s: %q is neither a quantity (100Mi) nor a percentage (10%%)"):format(signal, s), 0)
  end
  return {quantity = q}
end

-- The effective thresholds: kubelet's defaults, then the config.
function M.thresholds(conf)
  local merged = C.shallow_copy(M.DEFAULT_EVICTION_HARD)
  for k, v in pairs(conf or {}) do
    local known = false
    for _, s in ipairs(SIGNALS) do known = known or s == k end
    if not known then
      error(("eviction_hard: unknown signal %q (known: %s)"):format(k, table.concat(SIGNALS, ", ")), 0)
    end
    merged[k] = v
  end
  local out = {}
  for _, s in ipairs(SIGNALS) do out[s] = M.threshold(s, merged[s]) end
  return out
end

-- The threshold's value against a total (capacity, fs size, inodes, pids).
function M.threshold_value(t, total)
  if not t then return nil end
  if t.quantity then return t.quantity end
  return total * t.percent / 100
end

-- Sum of the reserved resources of both reserves, by resource name.
function M.reserved(...)
  local sum = {}
  for i = 1, select("#", ...) do
    local r = select(i, ...)
    for k, v in pairs(r or {}) do
      local q = k8s.quantity(tostring(v))
      if not q then error(("reserved %s: %q is not a quantity"):format(k, tostring(v)), 0) end
      sum[k] = (sum[k] or 0) + q
    end
  end
  return sum
end

-- cgroup v2 "max 100000" / "50000 100000"; v1 quota -1.  -> cores or nil.
function M.cpu_limit(quota, period)
  quota, period = tonumber(quota), tonumber(period)
  if not quota or not period or quota <= 0 or period <= 0 then return nil end
  return quota / period
end

-- "/proc/self/cgroup" -> {v2 = "/path", memory = "/path", cpu = "/path"}.
function M.parse_proc_cgroup(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    local id, ctrls, path = line:match("^(%d+):([^:]*):(.*)$")
    if id == "0" and ctrls == "" then
      out.v2 = path
    elseif ctrls then
      for c in ctrls:gmatch("[^,]+") do out[c] = path end
    end
  end
  return out
end

-- "/proc/meminfo" -> MemAvailable in bytes.
function M.parse_meminfo(text, field)
  local kb = (text or ""):match((field or "MemAvailable") .. ":%s*(%d+) kB")
  return kb and tonumber(kb) * 1024 or nil
end

-- memory.stat's field (bytes) or nil.
function M.stat_field(text, field)
  local v = (text or ""):match("%f[%w_]" .. field .. " (%d+)")
  return v and tonumber(v) or nil
end

-- Formats: cores as "2" or "1500m"; bytes in Ki as kubelet does.
function M.cpu_string(cores)
  local m = math.floor(cores * 1000 + 0.5)
  if m % 1000 == 0 then return tostring(m // 1000) end
  return m .. "m"
end

function M.ki_string(bytes)
  bytes = math.max(0, math.floor(bytes))
  return tostring(bytes // 1024) .. "Ki"
end

---------------------------------------------------------------------------
-- reading the host
---------------------------------------------------------------------------

M.CGROUP_ROOT = "/sys/fs/cgroup"

local function read(path)
  local data = fs.read_file(path, {max_bytes = 1 << 20})
  return data
end

local function number_file(path)
  local d = read(path)
  if not d then return nil end
  d = d:match("^%s*(%S+)")
  if d == "max" then return math.huge end
  return tonumber(d)
end

-- The lowest value parse(DIR/FILE) gives from vk's cgroup up to the
-- hierarchy's root (a parent's limit binds its children too), and the
-- folder it was found in.
local function lowest_up(dir, file, parse)
  local best, where
  while true do
    local v = parse(dir .. "/" .. file)
    if v and (not best or v < best) then best, where = v, dir end
    local up = dir:match("^(.*)/[^/]*$")
    if not up or #up < #M.CGROUP_ROOT then break end
    dir = up
  end
  return best, where
end

local function cgroup_dirs()
  local paths = M.parse_proc_cgroup(read("/proc/self/cgroup"))
  local root = M.CGROUP_ROOT
  local d = {}
  if paths.v2 and fs.read_file(root .. "/cgroup.controllers", {max_bytes = 4096}) then
    local p = paths.v2 == "/" and "" or paths.v2
    d.cpu, d.memory, d.v2 = root .. p, root .. p, true
  else
    if paths.memory then d.memory = root .. "/memory" .. (paths.memory == "/" and "" or paths.memory) end
    local cpu = paths.cpu or paths.cpuacct
    if cpu then d.cpu = root .. "/cpu" .. (cpu == "/" and "" or cpu) end
  end
  return d
end

-- {cores=, limit_source=} ; cgroup's quota when lower than the machine's CPUs.
local function cpu_capacity(si, cg)
  local cores = si.cpus
  if cg.cpu then
    local lim
    if cg.v2 then
      lim = lowest_up(cg.cpu, "cpu.max", function(p)
        local d = read(p)
        if not d then return nil end
        local q, per = d:match("^(%S+)%s+(%S+)")
        return M.cpu_limit(q, per)
      end)
    else
      lim = lowest_up(cg.cpu, "cpu.cfs_quota_us", function(p)
        return M.cpu_limit(number_file(p), number_file(M.dirname(p) .. "/cpu.cfs_period_us"))
      end)
    end
    if lim and lim < cores then cores = lim end
  end
  return cores
end

function M.dirname(p) return C.dirname(p) end

-- The memory a cgroup limit allows, and what its working set leaves of it.
local function memory_reading(si, cg)
  local total = si.memory
  local limit, limit_dir
  if cg.memory then
    limit, limit_dir = lowest_up(cg.memory, cg.v2 and "memory.max" or "memory.limit_in_bytes", number_file)
  end
  if limit and limit < total then
    -- kubelet's working set: usage minus inactive file pages.
    local usage = number_file(limit_dir .. "/" .. (cg.v2 and "memory.current" or "memory.usage_in_bytes")) or 0
    local stat = read(limit_dir .. "/memory.stat")
    local inactive = M.stat_field(stat, cg.v2 and "inactive_file" or "total_inactive_file") or 0
    local ws = math.max(0, usage - inactive)
    return limit, limit - ws
  end
  local avail = M.parse_meminfo(read("/proc/meminfo"), "MemAvailable") or total
  return total, avail
end

-- statfs of path, or of its nearest existing parent.
local function statfs_up(path)
  local p = path
  while true do
    local st, err = host.statfs(p)
    if st then return st end
    if p == "/" then error(err, 0) end
    p = C.dirname(p)
  end
end

-- Everything the node's status needs, read now.
function M.read_host()
  local si = host.sysinfo()
  local cg = cgroup_dirs()
  local r = {}
  r.cpu = cpu_capacity(si, cg)
  r.memory, r.memory_available = memory_reading(si, cg)
  r.nodefs = statfs_up(cfg.pod_root)
  r.imagefs = cfg.image_fs and statfs_up(cfg.image_fs) or r.nodefs
  local pid_max = number_file("/proc/sys/kernel/pid_max") or 32768
  local threads_max = number_file("/proc/sys/kernel/threads-max") or pid_max
  r.pid_max = math.min(pid_max, threads_max)
  r.pid_available = r.pid_max - si.procs
  return r
end

---------------------------------------------------------------------------
-- capacity, allocatable, conditions
---------------------------------------------------------------------------

-- signal -> {value=, total=} from a host reading.
function M.observations(h)
  return {
    ["memory.available"] = {value = h.memory_available, total = h.memory},
    ["nodefs.available"] = {value = h.nodefs.avail, total = h.nodefs.size},
    ["nodefs.inodesFree"] = {value = h.nodefs.inodes_free, total = h.nodefs.inodes},
    ["imagefs.available"] = {value = h.imagefs.avail, total = h.imagefs.size},
    ["imagefs.inodesFree"] = {value = h.imagefs.inodes_free, total = h.imagefs.inodes},
    ["pid.available"] = {value = h.pid_available, total = h.pid_max},
  }
end

function M.capacity(h)
  local over = cfg.capacity or {}
  return {
    cpu = over.cpu and tostring(over.cpu) or M.cpu_string(h.cpu),
    memory = over.memory and tostring(over.memory) or M.ki_string(h.memory),
    ["ephemeral-storage"] = over["ephemeral-storage"] and tostring(over["ephemeral-storage"])
                            or M.ki_string(h.nodefs.size),
    pods = tostring(over.pods or "110"),
  }
end

function M.allocatable(cap, th)
  local res = M.reserved(cfg.kube_reserved, cfg.system_reserved)
  local cpu = k8s.quantity(cap.cpu) - (res.cpu or 0)
  local mem = k8s.quantity(cap.memory)
  local eph = k8s.quantity(cap["ephemeral-storage"])
  mem = mem - (res.memory or 0) - (M.threshold_value(th["memory.available"], mem) or 0)
  eph = eph - (res["ephemeral-storage"] or 0) - (M.threshold_value(th["nodefs.available"], eph) or 0)
  return {
    cpu = M.cpu_string(math.max(0, cpu)),
    memory = M.ki_string(mem),
    ["ephemeral-storage"] = M.ki_string(eph),
    pods = cap.pods,
  }
end

local function human(signal, v)
  if signal:find("inodes", 1, true) or signal == "pid.available" then return tostring(math.floor(v)) end
  for _, u in ipairs{{"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} do
    if v >= u[2] then return ("%.1f%s"):format(v / u[2], u[1]) end
  end
  return tostring(math.floor(v))
end

-- The signals under their thresholds: signal -> "nodefs.available 1234Ki < 5678Ki".
function M.crossed(obs, th)
  local out = {}
  for _, s in ipairs(SIGNALS) do
    local o, t = obs[s], th[s]
    local limit = o and o.value and M.threshold_value(t, o.total or 0)
    if limit and o.value < limit then
      out[s] = ("%s %s < %s"):format(s, human(s, o.value), human(s, limit))
    end
  end
  return out
end

-- The state of pressure kept between calls: type -> {on=, last_seen_ms=, why=};
-- and the status last logged per type.
M.pressure, M.said = {}, {}

-- The three pressure conditions; a condition that was True stays so until
-- its signals have been clear for the transition period.
function M.conditions(obs, th, now_ms, period_ms)
  local crossed = M.crossed(obs, th)
  local out = {}
  for _, c in ipairs(CONDITIONS) do
    local why = {}
    for _, s in ipairs(c.signals) do if crossed[s] then why[#why + 1] = crossed[s] end end
    local p = M.pressure[c.type] or {}
    M.pressure[c.type] = p
    if #why > 0 then
      p.on, p.last_seen_ms, p.why = true, now_ms, table.concat(why, ", ")
    elseif p.on and now_ms - (p.last_seen_ms or 0) >= period_ms then
      p.on, p.why = false, nil
    end
    local rm = p.on and c.yes or c.no
    local msg = rm[2]
    if p.on then
      msg = msg .. ": " .. (#why > 0 and table.concat(why, ", ") or
                            ("signals clear, waiting out the transition period (was: " .. (p.why or "?") .. ")"))
    end
    out[#out + 1] = {type = c.type, status = p.on and "True" or "False", reason = rm[1], message = msg}
  end
  return out
end

-- Checks the node config once at init: a bad threshold or reserve is a
-- clear error there rather than at every status update.
function M.check_config()
  M.thresholds(cfg.eviction_hard)
  M.reserved(cfg.kube_reserved, cfg.system_reserved)
  local ok, err = M.duration_ms(cfg.eviction_pressure_transition_period or "5m")
  if not ok then error("eviction_pressure_transition_period: " .. err, 0) end
end

-- Fills node.status's capacity, allocatable and pressure conditions.
function M.refresh(node)
  local h = M.read_host()
  local th = M.thresholds(cfg.eviction_hard)
  local period = M.duration_ms(cfg.eviction_pressure_transition_period or "5m")
  node.status = node.status or {}
  local cap = M.capacity(h)
  node.status.capacity = cap
  node.status.allocatable = M.allocatable(cap, th)
  local conds = M.conditions(M.observations(h), th, timer.now_ms(), period)
  -- A transition is said once in the log.
  for _, c in ipairs(conds) do
    if (M.said[c.type] or "False") ~= c.status then
      log[c.status == "True" and "warn" or "info"]("node: %s is %s: %s", c.type, c.status, c.message)
    end
    M.said[c.type] = c.status
  end
  -- Merged by type into the node's conditions (Ready stays the core's).
  local list = node.status.conditions or {}
  for _, c in ipairs(conds) do
    local found
    for _, have in ipairs(list) do
      if have.type == c.type then found = have end
    end
    if not found then
      found = {type = c.type}
      list[#list + 1] = found
    end
    if found.status ~= c.status then found.lastTransitionTime = C.rfc3339(C.now_wall_ms(), true) end
    found.status, found.reason, found.message = c.status, c.reason, c.message
  end
  node.status.conditions = C.array(list)
  return node
end

return M
