-- mynode/stats.lua: the pods of kubelet's /stats/summary (stats/v1alpha1
-- Summary) from the runtime: ListPodSandboxStats for each pod's CPU,
-- memory, network and process count (its sandbox's cgroup), and its
-- containers' CPU, memory and writable layer (rootfs).
-- containerd answers ListPodSandboxStats only for sandboxes with a cgroup
-- parent, and then with the parent's figures: with mynode's one shared
-- `cgroup_parent` those would be every pod's together, so it is not asked
-- then.  When it fails (or says UNIMPLEMENTED), ListContainerStats is
-- used for 5 minutes: the pod's CPU and memory are then the sums of its
-- containers', and its network is read from the sandbox process's
-- /proc/PID/net/dev (its network namespace; none for hostNetwork pods).
-- Logs: the size of each container's log file.
-- The node's own figures (CPU, memory, fs, network) are the core's: it
-- merges them into whatever this returns.
local cri = require "vk.cri"
local fs = require "vk.fs"
local host = require "vk.host"
local json = require "vk.json"
local log = require "vk.log"
local timer = require "vk.timer"
local C = require "mynode.common"

local S = C.state
local M = {}

M.RETRY_SANDBOX_STATS_MS = 300000
-- When ListPodSandboxStats may be tried again (0: now), and why it failed.
M.sandbox_stats_after, M.sandbox_stats_err = 0, nil

local function v(x) return x and x.value or nil end

-- CRI timestamps are ns since the epoch; the Summary's are RFC 3339 with
-- ns (metrics-server takes rates between two of them).
function M.time(ns)
  if not ns or ns <= 0 then return nil end
  return os.date("!%Y-%m-%dT%H:%M:%S", ns // 1000000000) .. (".%09dZ"):format(ns % 1000000000)
end

function M.cpu(cpu)
  if not cpu then return nil end
  return {time = M.time(cpu.timestamp), usageNanoCores = v(cpu.usage_nano_cores),
          usageCoreNanoSeconds = v(cpu.usage_core_nano_seconds)}
end

function M.memory(mem)
  if not mem then return nil end
  return {time = M.time(mem.timestamp), availableBytes = v(mem.available_bytes), usageBytes = v(mem.usage_bytes),
          workingSetBytes = v(mem.working_set_bytes), rssBytes = v(mem.rss_bytes),
          pageFaults = v(mem.page_faults), majorPageFaults = v(mem.major_page_faults)}
end

local function iface(i)
  return {name = i.name, rxBytes = v(i.rx_bytes), rxErrors = v(i.rx_errors), txBytes = v(i.tx_bytes),
          txErrors = v(i.tx_errors)}
end

function M.network(net)
  if not net or not net.default_interface or (net.default_interface.name or "") == "" then return nil end
  local out = iface(net.default_interface)
  out.time = M.time(net.timestamp)
  local list = {}
  for _, i in ipairs(net.interfaces or {}) do list[#list + 1] = iface(i) end
  out.interfaces = C.array(list)
  return out
end

-- statfs of path (or nil): capacity and available for an FsStats.
local function fs_of(path)
  local ok, st = pcall(host.statfs, path)
  if not ok or not st then return {} end
  return {capacityBytes = st.size, availableBytes = st.avail, inodes = st.inodes, inodesFree = st.inodes_free}
end

local function with(base, extra)
  local t = C.shallow_copy(base)
  for k, x in pairs(extra) do t[k] = x end
  return t
end

-- A container's ContainerStats from its CRI stats and mynode's record.
function M.container(st, rec, fsinfo)
  local a = st.attributes or {labels = {}}
  local name = a.labels[C.L_CONTAINER] or (a.metadata and a.metadata.name)
  local cs = rec.cs[name]
  local info = cs and cs.info
  local c = {name = name, startTime = info and M.time(info.started_at), cpu = M.cpu(st.cpu),
             memory = M.memory(st.memory)}
  local wl = st.writable_layer
  if wl then
    c.rootfs = with(fsinfo.image, {time = M.time(wl.timestamp), usedBytes = v(wl.used_bytes),
                                   inodesUsed = v(wl.inodes_used)})
  end
  if info and (info.log_path or "") ~= "" then
    local ls = fs.stat(info.log_path)
    if ls then c.logs = with(fsinfo.logs, {time = C.rfc3339(C.now_wall_ms(), true), usedBytes = ls.size}) end
  end
  return c
end

local function new_pod(rec)
  return {podRef = {name = rec.name, namespace = rec.ns, uid = rec.uid}, startTime = rec.start_time,
          containers = {}}
end

-- The record of a pod whose sandbox or container carries these labels.
local function record_of(labels)
  local uid = labels and labels[C.L_UID]
  local rec = uid and S.pods[C.key_of(labels[C.L_NS] or "", labels[C.L_NAME] or "")]
  if rec and rec.uid == uid then return rec end
end

-- The pod's CPU and memory as the sum of its containers' (no sandbox stats).
local function sum_containers(p)
  local cpu, mem = {usageNanoCores = 0, usageCoreNanoSeconds = 0}, {usageBytes = 0, workingSetBytes = 0, rssBytes = 0}
  for _, c in ipairs(p.containers) do
    cpu.time = c.cpu and c.cpu.time or cpu.time
    mem.time = c.memory and c.memory.time or mem.time
    for k in pairs(cpu) do if k ~= "time" then cpu[k] = cpu[k] + (c.cpu and c.cpu[k] or 0) end end
    for k in pairs(mem) do if k ~= "time" then mem[k] = mem[k] + (c.memory and c.memory[k] or 0) end end
  end
  p.cpu, p.memory = cpu, mem
end

-- "/proc/net/dev" -> a NetworkStats: every interface, eth0 (else the
-- first that is not lo) at the top.  nil when there is none.
function M.parse_net_dev(text, time)
  local list, top = {}, nil
  for name, rest in (text or ""):gmatch("\n%s*([^%s:]+):([^\n]*)") do
    local f = {}
    for n in rest:gmatch("%d+") do f[#f + 1] = math.tointeger(tonumber(n)) end
    if #f >= 11 then
      local i = {name = name, rxBytes = f[1], rxErrors = f[3], txBytes = f[9], txErrors = f[11]}
      list[#list + 1] = i
      if name == "eth0" or (not top and name ~= "lo") then top = i end
    end
  end
  if not top then return nil end
  local out = C.shallow_copy(top)
  out.time, out.interfaces = time, C.array(list)
  return out
end

-- The network of rec's sandbox from its process's /proc/PID/net/dev.
local function sandbox_network(rec)
  if C.host_network(rec.pod) or not rec.sandbox_id then return nil end
  if rec.stats_pid_for ~= rec.sandbox_id then
    local ok, r = pcall(cri.pod_sandbox_status, {pod_sandbox_id = rec.sandbox_id, verbose = true}, C.QUICK)
    local okj, info = pcall(json.decode, ok and r.info and r.info.info or "")
    rec.stats_pid = okj and type(info) == "table" and math.tointeger(info.pid) or nil
    rec.stats_pid_for = rec.sandbox_id
  end
  if not rec.stats_pid then return nil end
  local text = fs.read_file(("/proc/%d/net/dev"):format(rec.stats_pid), {max_bytes = 1 << 16})
  return M.parse_net_dev(text, M.time(C.now_wall_ms() * 1000000))
end

local function from_sandboxes(fsinfo)
  local ok, r = pcall(cri.list_pod_sandbox_stats, {filter = {label_selector = {[C.L_NODE] = S.node_name}}})
  if not ok then
    if M.sandbox_stats_err ~= tostring(r) then
      log.info("stats: ListPodSandboxStats failed (%s); pods are the sums of their containers' stats for %d s",
               tostring(r):match("^[^\n]*"), M.RETRY_SANDBOX_STATS_MS // 1000)
    end
    M.sandbox_stats_err = tostring(r)
    M.sandbox_stats_after = timer.now_ms() + M.RETRY_SANDBOX_STATS_MS
    return nil
  end
  M.sandbox_stats_err = nil
  local out = {}
  for _, sb in ipairs(r.stats or {}) do
    local rec = record_of(sb.attributes and sb.attributes.labels)
    local lx = sb.linux
    if rec and lx and (sb.attributes.id == rec.sandbox_id or not out[rec.uid]) then
      local p = new_pod(rec)
      p.cpu, p.memory = M.cpu(lx.cpu), M.memory(lx.memory)
      p.network = M.network(lx.network) or sandbox_network(rec)
      if lx.process and v(lx.process.process_count) then
        p.process_stats = {process_count = v(lx.process.process_count)}
      end
      for _, st in ipairs(lx.containers or {}) do p.containers[#p.containers + 1] = M.container(st, rec, fsinfo) end
      out[rec.uid] = p
    end
  end
  return out
end

local function from_containers(fsinfo)
  local stats = cri.list_container_stats{filter = {label_selector = {[C.L_NODE] = S.node_name}}}.stats
  local out = {}
  for _, st in ipairs(stats or {}) do
    local rec = record_of(st.attributes and st.attributes.labels)
    if rec then
      out[rec.uid] = out[rec.uid] or new_pod(rec)
      table.insert(out[rec.uid].containers, M.container(st, rec, fsinfo))
    end
  end
  for uid, p in pairs(out) do
    sum_containers(p)
    for _, rec in pairs(S.pods) do
      if rec.uid == uid then p.network = sandbox_network(rec) end
    end
  end
  return out
end

function M.summary()
  local cfg = C.cfg
  local fsinfo = {image = fs_of(cfg.image_fs or cfg.pod_root), logs = fs_of(cfg.log_root)}
  local by_uid = not cfg.cgroup_parent and timer.now_ms() >= M.sandbox_stats_after and from_sandboxes(fsinfo)
                 or from_containers(fsinfo)
  local pods = {}
  for _, rec in pairs(S.pods) do
    local p = by_uid[rec.uid]
    if p then
      table.sort(p.containers, function(a, b) return (a.name or "") < (b.name or "") end)
      p.containers = C.array(p.containers)
      pods[#pods + 1] = p
    end
  end
  local function key(p) return p.podRef.namespace .. "/" .. p.podRef.name end
  table.sort(pods, function(a, b) return key(a) < key(b) end)
  return {node = {nodeName = S.node_name}, pods = C.array(pods)}
end

return M
