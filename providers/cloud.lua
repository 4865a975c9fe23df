-- providers/cloud.lua: pods as instances of a container-instance cloud, in
-- the manner of Alibaba ECI, Tencent EKS and Huawei CCI.  It talks to the
-- cloud's API (examples/cloud-sim is its test double):
--
--   vk --provider providers/cloud.lua --provider-config examples/cloud.yaml ...
--
-- What it does:
--  * sizing (cloud/sizing.lua): the pod's requests and limits rounded up
--    through the spec table of the config; an annotation override and a
--    fallback list; a size no rule allows becomes a Warning Event naming
--    the rule, and the pod waits (no API call is made);
--  * node capacity from the account's quota (DescribeAccountQuota), capped
--    by `quota:` in the config;
--  * identity tags on every instance (cloud/tags.lua) and, after a vk
--    restart, its instances found again by tags: no duplicate (the pod's
--    uid is also the create's ClientToken);
--  * asynchronous creation watched by ONE poller (cloud/poller.lua) that
--    batches DescribeContainerGroups for every pod, and vk.notify;
--  * throttling honoured (cloud/api.lua: Retry-After, a request rate);
--  * DaemonSet pods skipped (status Pending, reason DaemonSetPodSkipped, a
--    Normal Event): a DaemonSet's agent has no host to run on here;
--  * imagePullSecrets as registry credentials, ConfigMaps and Secrets
--    inlined as files (cloud/request.lua);
--  * the billed spec, its price and the instance id as annotations on the
--    pod (vk.kube.patch through pods/NAME/status);
--  * kubectl logs through DescribeContainerLog.
local json = require "vk.json"
local log = require "vk.log"
local timer = require "vk.timer"
local kube = require "vk.kube"
local fs = require "vk.fs"
local yaml = require "vk.yaml"
local vk_event = require "vk.event"
local k8s = require "vk.k8s"
local vkconfig = require "vk.config"

local sizing = require "cloud.sizing"
local config = require "cloud.config"
local tags = require "cloud.tags"
local api_mod = require "cloud.api"
local poller_mod = require "cloud.poller"
local status = require "cloud.status"
local request = require "cloud.request"

local P = {name = "cloud"}

P.A_INSTANCE = "cloud.vk.io/instance-id"
P.A_BILLED = "cloud.vk.io/billed-spec"
P.A_PRICE = "cloud.vk.io/price-per-hour"

local cfg, api, poller
local node_name, host_ip = "vk", "127.0.0.1"
-- "ns/name" -> {key, ns, name, uid, pod, id, spec, price, status, state}
-- state: "creating" | "pending" | "running" | "done" | "skipped" | "refused" | "waiting"
local recs = {}
local by_id = {}        -- instance id -> key
local recovered = false -- the instances of this node were read back by tags
local recover_lock      -- vk.mutex: one recovery at a time
local quota_cache = {at = -math.huge}

local function key_of(ns, name) return ns .. "/" .. name end

local function event(pod, type_, reason, message)
  pcall(vk_event.record, pod, type_, reason, message)
end

local function set_status(rec, st)
  rec.status = st
  vk.notify {namespace = rec.ns, name = rec.name, status = st}
end

-- The poller's verdict on an instance after a Describe.
local function on_update(id, g)
  local key = by_id[id]
  local rec = key and recs[key]
  if not rec then return "done" end
  if not g then
    log.warn("cloud: %s: instance %s is gone from the cloud", key, id)
    set_status(rec, status.gone(rec.pod, host_ip, id))
    rec.state = "done"
    return "done"
  end
  local st = status.from_group(rec.pod, g, host_ip)
  local before = rec.status and json.encode(rec.status)
  if json.encode(st) ~= before then set_status(rec, st) end
  if st.phase == "Running" then
    rec.state = "running"
    return "steady"
  elseif st.phase == "Failed" or st.phase == "Succeeded" then
    if rec.state ~= "done" then
      event(rec.pod, "Warning", st.reason or "InstanceFailed", st.message or "the instance failed")
    end
    rec.state = "done"
    return "done"
  end
  rec.state = "pending"
  return "pending"
end

local function adopt(g, t)
  local key = key_of(t.namespace, t.name)
  local rec = recs[key]
  if rec and rec.id and rec.id ~= g.ContainerGroupId then
    if rec.uid == t.uid then
      -- two instances for one pod (cannot happen with ClientToken; cleaned up if it does)
      log.warn("cloud: %s: a second instance %s for uid %s; deleting it", key, g.ContainerGroupId, t.uid)
      api:call("DeleteContainerGroup", {ContainerGroupId = g.ContainerGroupId})
    end
    return
  end
  local containers = json.array()
  for i, c in ipairs(g.Containers or {}) do containers[i] = {name = c.Name, image = c.Image} end
  rec = rec or {key = key, ns = t.namespace, name = t.name,
                pod = {metadata = {namespace = t.namespace, name = t.name, uid = t.uid},
                       spec = {containers = containers}}}
  rec.uid, rec.id = t.uid, g.ContainerGroupId
  rec.spec = {name = g.Spec, cpu = g.Cpu, memory = g.Memory}
  rec.price = g.Price
  recs[key] = rec
  by_id[rec.id] = key
  poller:watch(rec.id, "pending")
  local verdict = on_update(rec.id, g)
  if verdict == "done" then poller:forget(rec.id) else poller:watch(rec.id, verdict) end
end

-- Reads this node's instances back by their tags, once (after a start or a
-- reload that lost them).  Every page of the answer is read.
local function ensure_recovered()
  if recovered then return end
  recover_lock:acquire()
  local ok, err = pcall(function()
    if recovered then return end
    local token, n = nil, 0
    repeat
      local ans, e = api:call("DescribeContainerGroups",
                              {Tags = tags.selector(cfg.cluster, node_name), NextToken = token})
      if not ans then error("cloud: finding this node's instances by tags: " .. e, 0) end
      for _, g in ipairs(ans.ContainerGroups or {}) do
        local t = tags.parse(g.Tags)
        if t then adopt(g, t); n = n + 1 end
      end
      token = ans.NextToken
    until not token
    recovered = true
    log.info("cloud: %d instances of node %s found by tags", n, node_name)
  end)
  recover_lock:release()
  if not ok then error(err, 0) end
end

local function is_daemonset_pod(pod)
  for _, o in ipairs(pod.metadata.ownerReferences or {}) do
    if o.kind == "DaemonSet" then return true end
  end
  return false
end

local function annotate(rec)
  local path = ("/api/v1/namespaces/%s/pods/%s/status"):format(rec.ns, rec.name)
  local ok, err = kube.patch(path, {metadata = {annotations = {
    [P.A_INSTANCE] = rec.id, [P.A_BILLED] = rec.spec.name,
    [P.A_PRICE] = rec.price and tostring(rec.price) or nil}}})
  if not ok then log.warn("cloud: %s: annotating the pod: %s", rec.key, tostring(err)) end
end

local function sizing_opts()
  return {annotation = cfg.annotation, fallback_annotation = cfg.fallback_annotation,
          exact_above = cfg.exact_above, ratio = cfg.ratio, default = cfg.default_spec}
end

-- One attempt at the instance of rec: its spec, then its fallbacks while
-- the cloud has no stock.  True when the instance exists; else false with
-- the API's code and message (the pod then waits and retry_due tries again).
local function try_create(rec)
  local pod = rec.pod
  local order = {rec.spec}
  for _, fb in ipairs(rec.spec.fallbacks or {}) do order[#order + 1] = fb end
  local body = request.create(pod, rec.spec, tags.for_pod(pod, cfg.cluster, node_name), cfg.zone,
                              tags.instance_name(pod))
  local answer, err, code, spec
  for i, s in ipairs(order) do
    body.Cpu, body.Memory = s.cpu, s.memory
    answer, err, code = api:call("CreateContainerGroup", body)
    if answer then spec = s break end
    if code ~= "NoStock" then break end
    if i < #order then
      event(pod, "Normal", "SpecFallback", ("spec %s has no stock; trying %s"):format(s.name, order[i + 1].name))
    end
  end
  if not answer then return false, code or "CreateFailed", err end
  if recs[rec.key] ~= rec then
    -- deleted while the create was in flight: the instance must not outlive it
    api:call("DeleteContainerGroup", {ContainerGroupId = answer.ContainerGroupId})
    return true
  end
  rec.id, rec.spec, rec.price, rec.state, rec.retry = answer.ContainerGroupId, spec, answer.Price, "pending", nil
  by_id[rec.id] = rec.key
  set_status(rec, status.from_group(pod, {ContainerGroupId = rec.id, Status = "Scheduling",
    CreationTime = os.date("!%Y-%m-%dT%H:%M:%SZ")}, host_ip))
  poller:watch(rec.id, "pending")
  event(pod, "Normal", "InstanceCreated", ("instance %s, spec %s (%s vCPU, %s GiB), %s per hour")
    :format(rec.id, spec.name, spec.cpu, spec.memory, tostring(answer.Price)))
  annotate(rec)
  return true
end

-- A create the cloud refused: the pod waits (Pending, the API's code as
-- reason, one Warning Event per code) and is tried again with backoff by
-- the retry timer.  Quota and stock come back; vk must not give up.
local function wait_and_retry(rec, code, err)
  rec.state = "waiting"
  local reason = code:match("^QuotaExceeded") and "QuotaExceeded" or code:gsub("[^%w]", "")
  set_status(rec, status.waiting(rec.pod, host_ip, reason, err))
  rec.events = rec.events or {}
  if not rec.events[reason] then
    event(rec.pod, "Warning", reason, err)
    rec.events[reason] = true
  end
  rec.retry = rec.retry or k8s.backoff{base_ms = cfg.retry_base_ms, max_ms = cfg.retry_max_ms}
  rec.retry_at = timer.now_ms() + rec.retry:next()
  log.warn("cloud: %s waits: %s", rec.key, err)
end

-- The retry timer's round: every waiting pod whose time has come, one at a
-- time (a quota that frees one slot must not be raced for by all).
local function retry_due()
  local now = timer.now_ms()
  local due = {}
  for _, rec in pairs(recs) do
    if rec.state == "waiting" and rec.retry_at and rec.retry_at <= now then due[#due + 1] = rec end
  end
  table.sort(due, function(a, b) return a.retry_at < b.retry_at end)
  for _, rec in ipairs(due) do
    if recs[rec.key] == rec and rec.state == "waiting" then
      local ok, code, err = try_create(rec)
      if not ok then wait_and_retry(rec, code, err) end
    end
  end
end

function P.create_pod(pod)
  ensure_recovered()
  local md = pod.metadata
  local key = key_of(md.namespace, md.name)
  local rec = recs[key]
  if rec and rec.uid == md.uid and rec.id then
    rec.pod = pod -- found by tags after a restart: adopt, create nothing
    return
  end
  if rec and rec.id and rec.uid ~= md.uid then
    -- the same name with a new uid: the old instance goes first
    api:call("DeleteContainerGroup", {ContainerGroupId = rec.id})
    by_id[rec.id] = nil
    poller:forget(rec.id)
  end
  rec = {key = key, ns = md.namespace, name = md.name, uid = md.uid, pod = pod, state = "creating"}
  recs[key] = rec

  if cfg.skip_daemonsets ~= false and is_daemonset_pod(pod) then
    rec.state = "skipped"
    local msg = "DaemonSet pods are not run on cloud instances (there is no host for a node agent)"
    set_status(rec, status.waiting(pod, host_ip, "DaemonSetPodSkipped", msg))
    event(pod, "Normal", "DaemonSetPodSkipped", msg)
    return
  end

  local spec, rule, msg = sizing.pick(pod, cfg.specs, sizing_opts())
  if not spec then
    rec.state = "refused"
    local text = ("no instance size: rule %s: %s"):format(rule, msg)
    set_status(rec, status.waiting(pod, host_ip, "SpecNotAvailable", text))
    event(pod, "Warning", "SpecNotAvailable", text)
    log.warn("cloud: %s: %s", key, text)
    return -- a retry cannot help until the pod changes
  end
  rec.spec = spec
  local ok, code, err = try_create(rec)
  if not ok then wait_and_retry(rec, code, err) end
end

function P.update_pod(pod)
  local rec = recs[key_of(pod.metadata.namespace, pod.metadata.name)]
  if rec and rec.uid == pod.metadata.uid then rec.pod = pod end
end

function P.delete_pod(pod)
  ensure_recovered()
  local md = pod.metadata
  local key = key_of(md.namespace, md.name)
  local rec = recs[key]
  if not rec then return end
  if md.uid and rec.uid and md.uid ~= rec.uid then return end -- a newer pod of that name
  if rec.id then
    local ok, err, code = api:call("DeleteContainerGroup", {ContainerGroupId = rec.id})
    if not ok and code ~= "InvalidContainerGroup.NotFound" then error("cloud: " .. tostring(err), 0) end
    poller:forget(rec.id)
    by_id[rec.id] = nil
  end
  recs[key] = nil
end

function P.get_pod_status(namespace, name)
  local rec = recs[key_of(namespace, name)]
  return rec and rec.status
end

function P.get_pod(namespace, name)
  local rec = recs[key_of(namespace, name)]
  if not rec then return nil end
  local pod = {metadata = rec.pod.metadata, spec = rec.pod.spec, status = rec.status}
  return pod
end

function P.get_pods()
  ensure_recovered()
  local out = json.array()
  for _, rec in pairs(recs) do
    out[#out + 1] = {metadata = {namespace = rec.ns, name = rec.name, uid = rec.uid},
                     spec = rec.pod.spec, status = rec.status}
  end
  return out
end

function P.container_logs(namespace, name, container, opts)
  local rec = recs[key_of(namespace, name)]
  if not rec or not rec.id then error(("cloud: %s/%s has no instance"):format(namespace, name), 0) end
  local ans, err = api:call("DescribeContainerLog", {ContainerGroupId = rec.id, ContainerName = container,
    Tail = opts and tonumber(opts.tailLines) or nil})
  if not ans then error("cloud: " .. tostring(err), 0) end
  return ans.Content or ""
end

-- The node's capacity: the account's quota (read at most every
-- quota_refresh_ms), capped by `quota:` in the config.
local function capacity_of(q)
  local cap = cfg.quota or {}
  local function min(a, b) if a and b then return math.min(a, b) end return a or b end
  local cpu = min(q and q.Cpu, cap.cpu) or 0
  local mem = min(q and q.Memory, cap.memory) or 0
  local pods = min(q and q.Instances, cap.instances) or 0
  return {cpu = ("%d"):format(math.floor(cpu)), memory = ("%dGi"):format(math.floor(mem)),
          pods = ("%d"):format(math.floor(pods))}
end

local function set_capacity(node, q)
  node.status = node.status or {}
  local c = capacity_of(q)
  node.status.capacity = {cpu = c.cpu, memory = c.memory, pods = c.pods}
  node.status.allocatable = {cpu = c.cpu, memory = c.memory, pods = c.pods}
end

local function read_quota(retries)
  local saved = api.retries
  api.retries = retries or saved
  local q, err = api:call("DescribeAccountQuota", {})
  api.retries = saved
  if q then quota_cache = {at = timer.now_ms(), value = q} end
  return q, err
end

function P.node_status(node)
  if timer.now_ms() - quota_cache.at >= cfg.quota_refresh_ms then
    local _, err = read_quota()
    if err then log.warn("cloud: reading the account's quota: %s", err) end
  end
  if quota_cache.value or cfg.quota then set_capacity(node, quota_cache.value) end
  return node
end

-- The config's problems as one line, each with FILE:LINE of its key when
-- vk knows the file (vk.config), e.g.
-- "examples/cloud.yaml:24: specs[5].memory[3]: sizes go in increasing order".
local function located(problems)
  local file = vkconfig.file()
  local text = file and fs.read_file(file, {max_bytes = 1 << 20})
  local lines = text and vkconfig.lines(text) or {}
  local out = {}
  for i, p in ipairs(problems) do
    local key = p:match("^([^:]+):")
    local line = key and (lines[key] or lines[key:match("^(.*)[%.%[]") or ""])
    if file and line then
      out[i] = ("%s:%d: %s"):format(file, line, p)
    else
      out[i] = (file and file .. ": " or "cloud config: ") .. p
    end
  end
  return table.concat(out, "; ")
end

function P.init(c, node)
  cfg = config.merge(c)
  local problems = config.problems(cfg)
  if #problems > 0 then error(located(problems), 0) end
  local text, err = fs.read_file(cfg.credentials_file, {max_bytes = 65536})
  if not text then error(located {"credentials_file: " .. tostring(err)}, 0) end
  local ak, sk = config.credentials(text, cfg.credentials_file, yaml.decode)
  if not ak then error(located {"credentials_file: " .. sk}, 0) end

  node_name = node.metadata and node.metadata.name or node_name
  node.status = node.status or {}
  if cfg.node_ip then
    -- the address the API server reaches vk's kubelet API at (kubectl logs)
    node.status.addresses = json.array {{type = "InternalIP", address = cfg.node_ip},
                                        {type = "Hostname", address = node_name}}
  end
  for _, a in ipairs(node.status.addresses or {}) do
    if a.type == "InternalIP" then host_ip = a.address end
  end
  node.metadata = node.metadata or {}
  node.metadata.labels = node.metadata.labels or {}
  node.metadata.labels["topology.kubernetes.io/region"] = cfg.region
  if cfg.zone then node.metadata.labels["topology.kubernetes.io/zone"] = cfg.zone end

  api = api_mod.new{endpoint = cfg.endpoint, region = cfg.region, access_key = ak, secret_key = sk,
                    rate_limit = cfg.rate_limit, retries = cfg.retries, timeout_ms = cfg.timeout_ms}
  poller = poller_mod.new{api = api, max_ids = cfg.max_ids, tick_ms = cfg.poll.tick_ms, min_ms = cfg.poll.min_ms,
                          pending_max_ms = cfg.poll.pending_max_ms, steady_ms = cfg.poll.steady_ms,
                          on_update = on_update}
  recover_lock = vk.mutex()
  -- The quota, for the capacity the node registers with; a cloud that does
  -- not answer now leaves the config's quota (node_status tries again).
  local _, qerr = read_quota(0)
  if qerr then log.warn("cloud: reading the account's quota: %s", qerr) end
  if quota_cache.value or cfg.quota then set_capacity(node, quota_cache.value) end
  poller:start()
  timer.every(cfg.retry_tick_ms, retry_due) -- refused creates (quota, stock) again
end

-- Hot reload: the new version takes the records and watches their instances.
function P.state() return {recs = recs, by_id = by_id, recovered = recovered} end

function P.on_reload(previous)
  if not previous.state then return end
  local s = previous.state()
  recs, by_id, recovered = s.recs, s.by_id, s.recovered
  for id, key in pairs(by_id) do
    local rec = recs[key]
    if rec and rec.state ~= "done" then poller:watch(id, rec.state == "running" and "steady" or "pending") end
  end
end

-- For benchmarks and tests: the API calls made and the poller's rounds.
function P.stats()
  return {api = api and api:stats(), poller = poller and {calls = poller.calls, polled = poller.polled,
          watched = poller:count()}}
end

return P
