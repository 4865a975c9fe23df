-- mynode/node.lua checks, run by tests/unit/lua_checks.c with
-- providers=DIR (the providers folder): kubelet's eviction thresholds,
-- allocatable, the pressure conditions with their transition period (time
-- is given, not waited for), the cgroup and /proc parsers, and a real
-- reading of this machine through vk.host and vk.fs.
local host = require "vk.host"
local fs = require "vk.fs"
local P = {}
local T = require "checks"
local check, expect, eq = T.check, T.expect, T.eq

function P.init(config)
  package.path = config.providers .. "/?.lua;" .. package.path
  local C = require "mynode.common"
  local N = require "mynode.node"

  check("kubelet's default hard thresholds, overridden or turned off by the config", function()
    local th = N.thresholds(nil)
    eq(th["memory.available"].quantity, 100 * 1024 * 1024, "memory.available<100Mi")
    eq(th["nodefs.available"].percent, 10, "nodefs.available<10%")
    eq(th["nodefs.inodesFree"].percent, 5, "nodefs.inodesFree<5%")
    eq(th["imagefs.available"].percent, 15, "imagefs.available<15%")
    eq(th["pid.available"], nil, "no pid.available by default")
    th = N.thresholds{["memory.available"] = "1Gi", ["pid.available"] = "50%", ["nodefs.available"] = ""}
    eq(th["memory.available"].quantity, 1 << 30, "memory.available set")
    eq(th["pid.available"].percent, 50, "pid.available set")
    eq(th["nodefs.available"], nil, "\"\" turns nodefs.available off")
  end)

  check("a bad threshold, signal or duration is an error naming it", function()
    local ok, err = pcall(N.thresholds, {["memory.available"] = "lots"})
    expect(not ok and err:find('eviction_hard.memory.available: "lots"', 1, true), err)
    ok, err = pcall(N.thresholds, {["memory.avail"] = "1Gi"})
    expect(not ok and err:find('unknown signal "memory.avail"', 1, true), err)
    ok, err = pcall(N.thresholds, {["nodefs.available"] = "120%"})
    expect(not ok and err:find("0..100", 1, true), err)
    eq(N.duration_ms("5m"), 300000, "5m")
    eq(N.duration_ms("30s"), 30000, "30s")
    eq(N.duration_ms(0), 0, "0")
    local v, derr = N.duration_ms("soon")
    expect(v == nil and derr:find('"soon" is not a duration', 1, true), derr)
  end)

  check("allocatable is capacity minus both reserves and the hard eviction threshold", function()
    C.cfg.kube_reserved = {cpu = "100m", memory = "100Mi"}
    C.cfg.system_reserved = {cpu = "150m", memory = "156Mi", ["ephemeral-storage"] = "4Mi"}
    local cap = {cpu = "2", memory = "4Gi", ["ephemeral-storage"] = "32Mi", pods = "110"}
    local a = N.allocatable(cap, N.thresholds(nil))
    eq(a.cpu, "1750m", "cpu")
    eq(a.memory, tostring(4 * 1024 * 1024 - 102400 - 159744 - 102400) .. "Ki", "memory")
    -- 32Mi - 4Mi - 10% of 32Mi = 26004684.8 bytes
    eq(a["ephemeral-storage"], "25395Ki", "ephemeral-storage")
    eq(a.pods, "110", "pods")
    C.cfg.kube_reserved, C.cfg.system_reserved = nil, nil
  end)

  check("pressure follows the signals, and stays for the transition period", function()
    local th = N.thresholds{["pid.available"] = "10%"}
    local function obs(mem_avail, fs_avail, pids)
      return {
        ["memory.available"] = {value = mem_avail, total = 1 << 30},
        ["nodefs.available"] = {value = fs_avail, total = 1000},
        ["nodefs.inodesFree"] = {value = 500, total = 1000},
        ["imagefs.available"] = {value = 900, total = 1000},
        ["imagefs.inodesFree"] = {value = 900, total = 1000},
        ["pid.available"] = {value = pids, total = 1000},
      }
    end
    local function by_type(list)
      local m = {}
      for _, c in ipairs(list) do m[c.type] = c end
      return m
    end
    N.pressure = {}
    local c = by_type(N.conditions(obs(1 << 29, 500, 900), th, 0, 60000))
    eq(c.MemoryPressure.status .. c.DiskPressure.status .. c.PIDPressure.status, "FalseFalseFalse", "all clear")
    eq(c.DiskPressure.reason, "KubeletHasNoDiskPressure", "reason when clear")
    c = by_type(N.conditions(obs(50 << 20, 99, 50), th, 1000, 60000))
    eq(c.MemoryPressure.status .. c.DiskPressure.status .. c.PIDPressure.status, "TrueTrueTrue", "all crossed")
    eq(c.MemoryPressure.reason, "KubeletHasInsufficientMemory", "memory reason")
    eq(c.PIDPressure.reason, "KubeletHasInsufficientPID", "pid reason")
    expect(c.DiskPressure.message:find("nodefs.available 99 < 100", 1, true), c.DiskPressure.message)
    -- clear again, 30 s later: still True (transition period 60 s) ...
    c = by_type(N.conditions(obs(1 << 29, 500, 900), th, 31000, 60000))
    eq(c.DiskPressure.status, "True", "within the transition period")
    expect(c.DiskPressure.message:find("waiting out the transition period", 1, true), c.DiskPressure.message)
    -- ... and False once the signal has been clear for 60 s.
    c = by_type(N.conditions(obs(1 << 29, 500, 900), th, 61000, 60000))
    eq(c.MemoryPressure.status .. c.DiskPressure.status .. c.PIDPressure.status, "FalseFalseFalse", "after the period")
    -- imagefs alone is DiskPressure too
    local o = obs(1 << 29, 500, 900)
    o["imagefs.available"].value = 100
    c = by_type(N.conditions(o, th, 70000, 0))
    eq(c.DiskPressure.status, "True", "imagefs.available<15%")
    N.pressure = {}
  end)

  check("cgroup, meminfo and memory.stat are parsed as the kernel writes them", function()
    local p = N.parse_proc_cgroup("12:cpu,cpuacct:/a/b\n4:memory:/x/y\n0::/init.scope\n")
    eq(p.cpu, "/a/b", "v1 cpu")
    eq(p.cpuacct, "/a/b", "v1 cpuacct")
    eq(p.memory, "/x/y", "v1 memory")
    eq(p.v2, "/init.scope", "v2")
    eq(N.cpu_limit("max", "100000"), nil, "no quota (v2 max)")
    eq(N.cpu_limit(-1, 100000), nil, "no quota (v1 -1)")
    eq(N.cpu_limit("150000", "100000"), 1.5, "1.5 cores")
    eq(N.cpu_string(1.5), "1500m", "cores as millis")
    eq(N.cpu_string(2), "2", "whole cores")
    eq(N.parse_meminfo("MemTotal:  100 kB\nMemAvailable:   2048 kB\n"), 2048 * 1024, "MemAvailable")
    eq(N.stat_field("active_file 5\ninactive_file 4096\n", "inactive_file"), 4096, "inactive_file")
    eq(N.stat_field("total_inactive_file 7\ninactive_file 1\n", "inactive_file"), 1, "not total_inactive_file")
  end)

  check("this machine's reading: CPUs, memory, filesystems and PIDs", function()
    local si = host.sysinfo()
    expect(si.cpus >= 1 and si.memory > 0 and si.procs > 0, "sysinfo")
    local st = host.statfs("/")
    expect(st.size > 0 and st.avail <= st.size and st.inodes_free <= st.inodes, "statfs /")
    local none, err = host.statfs("/nonexistent/vk")
    expect(none == nil and err:find("vk.host.statfs: /nonexistent/vk:", 1, true), err)
    local meminfo = fs.read_file("/proc/meminfo")
    expect(meminfo and meminfo:find("MemTotal:", 1, true), "vk.fs reads /proc/meminfo to its end")
    local dir = config.dir or "/tmp"
    C.cfg.pod_root = dir .. "/vk-node-check-not-made/pods"
    local h = N.read_host()
    expect(h.cpu > 0 and h.cpu <= si.cpus, "cpu " .. h.cpu)
    expect(h.memory > 0 and h.memory <= si.memory, "memory")
    expect(h.memory_available > 0 and h.memory_available <= h.memory, "memory.available")
    eq(h.nodefs.size, host.statfs(dir).size, "nodefs is the filesystem of pod_root's nearest folder")
    expect(h.pid_available > 0 and h.pid_available < h.pid_max, "pid.available")
    local node = {status = {conditions = {{type = "Ready", status = "True"}}}}
    N.refresh(node)
    eq(node.status.conditions[1].type, "Ready", "Ready is kept")
    eq(#node.status.conditions, 4, "Ready and the three pressure conditions")
    expect(node.status.capacity["ephemeral-storage"]:match("^%d+Ki$"), "ephemeral-storage")
  end)
end

P.get_pods = T.results
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() end
return P
