-- mynode/stats.lua: kubelet's /stats/summary (stats/v1alpha1 Summary) from
-- the runtime's ListContainerStats.
local cri = require "vk.cri"
local C = require "mynode.common"

local S = C.state
local M = {}

local function v(x) return x and x.value or nil end

function M.summary()
  local stats = cri.list_container_stats{filter = {label_selector = {[C.L_NODE] = S.node_name}}}.stats
  local by_uid, order = {}, {}
  for _, st in ipairs(stats) do
    local a = st.attributes or {labels = {}}
    local uid = a.labels[C.L_UID]
    local rec = uid and S.pods[C.key_of(a.labels[C.L_NS] or "", a.labels[C.L_NAME] or "")]
    if uid and rec and rec.uid == uid then
      local p = by_uid[uid]
      if not p then
        p = {podRef = {name = rec.name, namespace = rec.ns, uid = uid}, startTime = rec.start_time,
             containers = {}, cpu = {usageNanoCores = 0, usageCoreNanoSeconds = 0},
             memory = {usageBytes = 0, workingSetBytes = 0, rssBytes = 0}}
        by_uid[uid] = p
        order[#order + 1] = p
      end
      local cpu, mem = st.cpu or {}, st.memory or {}
      local c = {
        name = a.labels[C.L_CONTAINER] or (a.metadata and a.metadata.name),
        cpu = {time = C.rfc3339(cpu.timestamp), usageNanoCores = v(cpu.usage_nano_cores),
               usageCoreNanoSeconds = v(cpu.usage_core_nano_seconds)},
        memory = {time = C.rfc3339(mem.timestamp), usageBytes = v(mem.usage_bytes),
                  workingSetBytes = v(mem.working_set_bytes), rssBytes = v(mem.rss_bytes),
                  pageFaults = v(mem.page_faults), majorPageFaults = v(mem.major_page_faults)},
      }
      p.containers[#p.containers + 1] = c
      p.cpu.time, p.memory.time = c.cpu.time, c.memory.time
      p.cpu.usageNanoCores = p.cpu.usageNanoCores + (c.cpu.usageNanoCores or 0)
      p.cpu.usageCoreNanoSeconds = p.cpu.usageCoreNanoSeconds + (c.cpu.usageCoreNanoSeconds or 0)
      p.memory.usageBytes = p.memory.usageBytes + (c.memory.usageBytes or 0)
      p.memory.workingSetBytes = p.memory.workingSetBytes + (c.memory.workingSetBytes or 0)
      p.memory.rssBytes = p.memory.rssBytes + (c.memory.rssBytes or 0)
    end
  end
  for _, p in ipairs(order) do p.containers = C.array(p.containers) end
  return {node = {nodeName = S.node_name}, pods = C.array(order)}
end

return M
