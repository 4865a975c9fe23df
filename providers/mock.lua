-- providers/mock.lua: a provider that runs nothing.
--
-- Pods "run" in memory: create_pod marks a pod Running (at once, or after
-- startup_delay_ms) with a fake pod IP it never contacts, and pushes the
-- status with vk.notify.  Useful for exercising the core and for scale
-- tests.  Configuration (--provider-config, YAML or JSON), all optional:
--
--   cpu: "20"                 node capacity and allocatable
--   memory: 100Gi
--   pods: "110"
--   ephemeral_storage: 100Gi
--   labels: {zone: lab}       extra node labels
--   internal_ip: 192.0.2.10   the node's InternalIP (default: the core's, else 127.0.0.1)
--   startup_delay_ms: 0       how long a pod stays Pending
--   pod_ip: 10.1.2.3          one fixed pod IP (default: 10.0.x.y, one per pod)
--   log_text: "..."           what container_logs returns
--   ping_fail_file: /tmp/x    ping() fails while this file exists (tests;
--                             ping_error_file is the same)
--
-- Streaming, so that tests can drive the kubelet API's wire without a
-- runtime: exec writes its command line to stdout, then runs a few
-- "commands" of its own: `cat` echoes stdin until its end (with a tty, a
-- Ctrl-D ends it too), `stty size` prints the first terminal size as
-- "ROWS COLS", `bytes N` writes N bytes; a command line with "exit N" in it
-- exits N.  attach echoes stdin.  port_forward echoes what it reads on the
-- ports the pod's containers declare (containerPort); any other port is
-- refused as a runtime would refuse a port nobody listens on.  `via-proxy
-- URL CMD...` hands the session to the streaming server at URL (a
-- 127.0.0.1 test double) with stream:proxy, asking it for /exec of CMD.
local timer = require "vk.timer"
local json = require "vk.json"
local log = require "vk.log"

local P = { name = "mock" }

local cfg = {}
local pods = {}          -- "namespace/name" -> the pod, with its status
local ip_counter = 1
local host_ip = "127.0.0.1"

local function key(ns, name) return (ns or "default") .. "/" .. name end
local function now() return os.date("!%Y-%m-%dT%H:%M:%SZ") end

-- 10.0.0.2, 10.0.0.3, ... 10.0.0.254, 10.0.1.2, ...: never .0, .1, .255.
local function fake_ip()
  local n = ip_counter
  ip_counter = ip_counter + 1
  local per = 253
  local b = (n - 1) // per
  return string.format("10.%d.%d.%d", (b // 256) % 256, b % 256, (n - 1) % per + 2)
end

local function condition(type_, status, t)
  return { type = type_, status = status, lastTransitionTime = t, lastProbeTime = json.null }
end

local function pending_status(pod, t)
  local waiting = json.array()
  for i, c in ipairs(pod.spec.containers or {}) do
    waiting[i] = { name = c.name, image = c.image, imageID = "", ready = false, started = false,
                   restartCount = 0, state = { waiting = { reason = "ContainerCreating" } } }
  end
  return {
    phase = "Pending",
    conditions = json.array { condition("PodScheduled", "True", t) },
    hostIP = host_ip,
    hostIPs = json.array { { ip = host_ip } },
    startTime = t,
    containerStatuses = waiting,
  }
end

local function running_status(pod, ip, t)
  local uid = pod.metadata.uid or pod.metadata.name
  local function cstatus(c, state, ready)
    return { name = c.name, image = c.image, imageID = "mock://" .. tostring(c.image),
             containerID = "mock://" .. uid .. "/" .. c.name, ready = ready, started = ready,
             restartCount = 0, state = state }
  end
  local running = json.array()
  for i, c in ipairs(pod.spec.containers or {}) do
    running[i] = cstatus(c, { running = { startedAt = t } }, true)
  end
  local s = {
    phase = "Running",
    conditions = json.array {
      condition("Initialized", "True", t), condition("Ready", "True", t),
      condition("ContainersReady", "True", t), condition("PodScheduled", "True", t),
    },
    hostIP = host_ip,
    hostIPs = json.array { { ip = host_ip } },
    podIP = ip,
    podIPs = json.array { { ip = ip } },
    startTime = t,
    containerStatuses = running,
  }
  local inits = pod.spec.initContainers or {}
  if #inits > 0 then
    s.initContainerStatuses = json.array()
    for i, c in ipairs(inits) do
      local done = { terminated = { exitCode = 0, reason = "Completed", startedAt = t, finishedAt = t } }
      s.initContainerStatuses[i] = cstatus(c, done, false)
      s.initContainerStatuses[i].ready = true
    end
  end
  return s
end

local function quantity(v, default)
  if v == nil or v == json.null then return default end
  return tostring(v)
end

local function set_capacity(node)
  node.status = node.status or {}
  local cap = {
    cpu = quantity(cfg.cpu, "20"),
    memory = quantity(cfg.memory, "100Gi"),
    pods = quantity(cfg.pods, "110"),
    ["ephemeral-storage"] = quantity(cfg.ephemeral_storage, "100Gi"),
  }
  node.status.capacity = cap
  node.status.allocatable = { cpu = cap.cpu, memory = cap.memory, pods = cap.pods,
                              ["ephemeral-storage"] = cap["ephemeral-storage"] }
end

function P.init(config, node)
  cfg = config or {}
  node.metadata = node.metadata or {}
  node.metadata.labels = node.metadata.labels or {}
  if type(cfg.labels) == "table" then
    for k, v in pairs(cfg.labels) do node.metadata.labels[k] = tostring(v) end
  end
  set_capacity(node)
  local addrs = node.status.addresses
  if cfg.internal_ip then
    addrs = json.array { { type = "InternalIP", address = tostring(cfg.internal_ip) } }
    if node.metadata.name then addrs[2] = { type = "Hostname", address = node.metadata.name } end
    node.status.addresses = addrs
  elseif not addrs or #addrs == 0 then
    node.status.addresses = json.array { { type = "InternalIP", address = "127.0.0.1" } }
  end
  for _, a in ipairs(node.status.addresses) do
    if a.type == "InternalIP" then host_ip = a.address break end
  end
  node.status.nodeInfo = node.status.nodeInfo or {}
  node.status.nodeInfo.operatingSystem = node.status.nodeInfo.operatingSystem or "linux"
  log.info("mock provider ready: cpu=%s memory=%s pods=%s host IP %s", node.status.capacity.cpu,
           node.status.capacity.memory, node.status.capacity.pods, host_ip)
end

-- A pod is kept as packed JSON text (json.pack, a tenth of the text), its
-- status too (a Running pod's status is most of a kilobyte of text, a few
-- hundred bytes packed): a node holding ten thousand pods keeps them in a
-- fraction of the memory their tables would take, and get_pod_status hands
-- the core the packed status as it is, which the core unpacks and parses in
-- C: the poll of every pod every few seconds makes no garbage here.
local function record(pod)
  local status = pod.status
  pod.status = nil
  local r = { packed = json.pack(pod) }
  pod.status = status
  return r
end

local function set_status(r, status) r.status = json.pack(json.encode(status)) end
local function status_text(r) return r.status and json.unpack(r.status) end

-- The pod's JSON with its status in it (the text ends with its closing brace).
local function pod_text(r)
  local text = json.unpack(r.packed)
  if not r.status then return text end
  return text:sub(1, -2) .. ',"status":' .. status_text(r) .. "}"
end

function P.create_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  local r = record(pod)
  set_status(r, pending_status(pod, now()))
  pods[k] = r
  local delay = tonumber(cfg.startup_delay_ms) or 0
  if delay > 0 then
    timer.sleep(delay)
    if pods[k] ~= r then return end -- deleted or replaced meanwhile
  end
  local ip = (pod.spec.hostNetwork and host_ip) or (cfg.pod_ip and tostring(cfg.pod_ip)) or fake_ip()
  set_status(r, running_status(pod, ip, now()))
  vk.notify { namespace = pod.metadata.namespace, name = pod.metadata.name, status = status_text(r) }
end

function P.update_pod(pod)
  local k = key(pod.metadata.namespace, pod.metadata.name)
  local old = pods[k]
  local r = record(pod)
  if old then r.status = old.status end
  pods[k] = r
end

function P.delete_pod(pod)
  pods[key(pod.metadata.namespace, pod.metadata.name)] = nil
end

function P.get_pod(namespace, name)
  local r = pods[key(namespace, name)]
  return r and pod_text(r)
end

function P.get_pod_status(namespace, name)
  local r = pods[key(namespace, name)]
  return r and r.status
end

function P.get_pods()
  local list = {}
  for _, r in pairs(pods) do list[#list + 1] = pod_text(r) end
  return "[" .. table.concat(list, ",") .. "]"
end

-- Hot reload: the new version takes the old one's pods (packed as they are:
-- vk.json.pack's dictionary outlives a version), so a pod it ran before the
-- edit is still found by exec, logs and the status poll.
function P.state() return pods end

function P.on_reload(previous)
  if previous and previous.state then pods = previous.state() end
end

function P.ping()
  local file = cfg.ping_fail_file or cfg.ping_error_file
  if file then
    local f = io.open(tostring(file), "r")
    if f then
      f:close()
      error("mock: ping fails while " .. tostring(file) .. " exists")
    end
  end
end

function P.node_status(node)
  set_capacity(node)
  return node
end

function P.container_logs(namespace, pod, container, opts)
  return cfg.log_text or string.format("mock: no real container %s/%s/%s\n", namespace, pod, container)
end

-- The pod as a table, or nil, err (kubelet's words for an unknown pod).
local function pod_spec(namespace, name)
  local r = pods[key(namespace, name)]
  if not r then return nil, string.format("pod %s/%s not found", namespace, name) end
  return json.decode(json.unpack(r.packed))
end

-- Copies what the client sends back to it until the end of its input.
local function echo(stream)
  while true do
    local data = stream:read()
    if not data then return end
    local eot = stream.tty and data:find("\4", 1, true)
    if eot then data = data:sub(1, eot - 1) end
    if #data > 0 and not stream:write(data) then return end
    if eot then return end
  end
end

local function escape(s)
  return (s:gsub("[^%w%-._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- `via-proxy URL CMD...`: the session goes to URL/exec/NS/POD/CONTAINER?command=CMD...
local function via_proxy(namespace, pod, container, cmd, stream)
  local q = {}
  for i = 3, #cmd do q[#q + 1] = "command=" .. escape(cmd[i]) end
  for _, f in ipairs { "stdin", "stdout", "stderr", "tty" } do
    if stream[f] then q[#q + 1] = ({ stdin = "input", stdout = "output", stderr = "error", tty = "tty" })[f] .. "=1" end
  end
  local url = string.format("%s/exec/%s/%s/%s?%s", cmd[2], escape(namespace), escape(pod), escape(container),
    table.concat(q, "&"))
  local ok, err = stream:proxy(url)
  if not ok then return nil, err end
  return 0
end

function P.exec(namespace, pod, container, cmd, stream)
  local _, err = pod_spec(namespace, pod)
  if err then return nil, err end
  if cmd[1] == "via-proxy" and cmd[2] then return via_proxy(namespace, pod, container, cmd, stream) end
  local line = table.concat(cmd, " ")
  if stream.stdout then stream:write(line .. "\n") end
  if cmd[1] == "cat" then
    echo(stream)
  elseif line == "stty size" then
    local size = stream:resize()
    if size then stream:write(string.format("%d %d\n", size.height, size.width)) end
  elseif cmd[1] == "bytes" then
    local left = tonumber(cmd[2]) or 0
    local chunk = string.rep("x", 65536)
    while left > 0 do
      local n = math.min(left, #chunk)
      if not stream:write(chunk:sub(1, n)) then break end
      left = left - n
    end
  end
  return tonumber(line:match("exit%s+(%d+)")) or 0
end

function P.attach(namespace, pod, container, stream)
  local _, err = pod_spec(namespace, pod)
  if err then return nil, err end
  echo(stream)
  return 0
end

function P.port_forward(namespace, pod, port, stream)
  local spec, err = pod_spec(namespace, pod)
  if not spec then return nil, err end
  for _, c in ipairs(spec.spec.containers or {}) do
    for _, p in ipairs(c.ports or {}) do
      if p.containerPort == port then
        echo(stream)
        return
      end
    end
  end
  return nil, string.format("connection refused: nothing listens on port %d in pod %s/%s", port, namespace, pod)
end

return P
