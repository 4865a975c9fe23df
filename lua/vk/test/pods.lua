-- vk test: a provider under test, and its pods.
--
--   local p = provider.load(FILE, config, {node = ...})
--       loads FILE as vk does (its folder first on package.path, its top
--       level unable to do I/O, the table's checks of `vk check`), then
--       runs init(config, node) as a task; config is a table, YAML text or
--       nil; returns the provider (p.module is its table, p.node the Node
--       after init).  The last loaded provider is the one `pods` drives.
--   pods.create(pod) / pods.update(pod) / pods.delete(pod)
--       pod: a table or YAML text (namespace "default", a uid and
--       spec.nodeName filled in when missing); the callback runs in a task
--       of its own, named like the core's ("provider create_pod ns/name");
--       the call waits for it, moving the virtual clock to each next timer
--       while nothing else can happen.  Returns the callback's result, or
--       nil, err (then a Warning Event Provider{Create,Update,Delete}Failed
--       is recorded, as the core records it).
--   pods.status(ns, name), pods.get(ns, name), pods.list(),
--   pods.call(name, ...)   any other callback, the same way
--   pods.notified([ns, name])  the vk.notify calls of this test
--   pods.events([reason])      the Events recorded (vk.event.record, and
--                              the failures above)
--   pods.logs([pattern])       vk.log lines and print() of this test
local json = require "vk.json"
local yaml = require "vk.yaml"
local core = require "vk.test.core"
local R = require "vk.test.record"

local M = {}
local current -- the provider `pods` drives
local uid_seq = 0

M.wait_limit_ms = 24 * 3600 * 1000 -- virtual time a callback may wait

local function copy(v) -- what the core does: a fresh table from JSON
  if v == nil then return nil end
  return json.decode(json.encode(v))
end

local function first_line(s) return (tostring(s):match("^[^\n]*")) end

-- Starts provider callback `name` in a task of its own (queued: it runs
-- once the caller waits or the clock moves).
local function start(p, name, ns, podname, level, ...)
  local fn = p.module[name]
  if type(fn) ~= "function" then error(("the provider has no %s callback"):format(name), level + 1) end
  local speaker = "provider " .. name .. (ns and podname and (" " .. ns .. "/" .. podname) or "")
  return core.call_as(speaker, ns, podname, fn, ...), speaker
end

-- Waits for a started callback, moving the virtual clock to each next timer
-- while nothing else can happen; join()'s results.
local function wait(t, speaker, level)
  if core.virtual() then
    local start_ms = core.now()
    while true do
      core.advance(0) -- settle
      if t:done() then break end
      local due = core.next_due()
      if not due then
        error(("%s is waiting on something that can never finish (no timer pending, no I/O)"):format(speaker),
              level + 1)
      end
      if due - start_ms > M.wait_limit_ms then
        error(("%s still waits after %d ms of virtual time"):format(speaker, due - start_ms), level + 1)
      end
      core.advance(due - core.now())
    end
  end
  return t:join()
end

local function run(p, name, ns, podname, ...)
  local t, speaker = start(p, name, ns, podname, 3, ...)
  return wait(t, speaker, 3)
end

local function results(ok, ...)
  if not ok then return nil, (...) end
  if select("#", ...) == 0 then return true end
  return ...
end

function M.load(file, config, opts)
  if type(file) ~= "string" then error("provider.load: the provider's file", 2) end
  opts = opts or {}
  if type(config) == "string" then config = yaml.decode(config) end
  local dir = file:match("^(.*)/[^/]*$") or "."
  if not package.path:find(dir .. "/?.lua;", 1, true) then
    package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua;" .. package.path
  end
  local chunk, err = loadfile(file)
  if not chunk then error(err, 2) end
  -- Modules of an earlier load of the same provider: a second load is a
  -- restarted provider, with fresh modules, as a vk restart gives.
  local base = file:match("([^/]*)%.lua$")
  if base then
    for k in pairs(package.loaded) do
      if k == base or k:sub(1, #base + 1) == base .. "." then package.loaded[k] = nil end
    end
  end
  local ok, mod = pcall(core.top, chunk)
  if not ok then error(mod, 2) end
  if type(mod) ~= "table" then error(file .. ": the provider must return a table, got " .. type(mod), 2) end
  local problems, pname = core.validate(mod, file)
  if #problems > 0 then error(table.concat(problems, "\n"), 2) end
  local p = {module = mod, file = file, name = pname or base, node = copy(opts.node or M.node_template)}
  p.node.metadata = p.node.metadata or {}
  if mod.init then
    local iok, ierr = run(p, "init", nil, nil, copy(config) or {}, p.node)
    if not iok then error(first_line(ierr), 2) end
  end
  current = p
  return p
end

local function need()
  if not current then error("load a provider first: provider.load(FILE, config)", 3) end
  return current
end

-- A pod as the core hands it over: a table (YAML accepted), with the
-- fields the API server would have filled.
function M.pod(pod)
  if type(pod) == "string" then pod = yaml.decode(pod) end
  if type(pod) ~= "table" then error("a pod is a table or YAML text", 3) end
  pod.apiVersion = pod.apiVersion or "v1"
  pod.kind = pod.kind or "Pod"
  pod.metadata = pod.metadata or {}
  local md = pod.metadata
  md.namespace = md.namespace or "default"
  if not md.uid then
    uid_seq = uid_seq + 1
    md.uid = ("00000000-0000-4000-8000-%012d"):format(uid_seq)
  end
  md.creationTimestamp = md.creationTimestamp or "2026-01-01T00:00:00Z"
  pod.spec = pod.spec or {}
  pod.spec.nodeName = pod.spec.nodeName or (current and current.node.metadata.name) or "vk-test"
  return pod
end

local WHAT = {create_pod = "Create", update_pod = "Update", delete_pod = "Delete"}

-- The outcome of a pod callback, as the core takes it.
local function pod_outcome(pod, name, res, err)
  if res == nil and err then
    R.events[#R.events + 1] = {object = pod, type = "Warning", reason = "Provider" .. WHAT[name] .. "Failed",
                               message = first_line(err)}
    return nil, err
  end
  return res
end

local function pod_call(name, pod)
  local p = need()
  pod = M.pod(pod)
  local md = pod.metadata
  return pod_outcome(pod, name, results(run(p, name, md.namespace, md.name, copy(pod))))
end

function M.create(pod) return pod_call("create_pod", pod) end
function M.update(pod) return pod_call("update_pod", pod) end
function M.delete(pod) return pod_call("delete_pod", pod) end

-- pods.start("create_pod" | "update_pod" | "delete_pod", pod): starts the
-- callback without waiting (many pods at once, as the core's workers do);
-- handle:wait() then returns what pods.create & co. return, handle:done()
-- says whether it has ended.
function M.start(name, pod)
  if not WHAT[name] then error("pods.start: create_pod, update_pod or delete_pod, not " .. tostring(name), 2) end
  local p = need()
  pod = M.pod(pod)
  local md = pod.metadata
  local t, speaker = start(p, name, md.namespace, md.name, 2, copy(pod))
  return {
    done = function() return t:done() end,
    wait = function() return pod_outcome(pod, name, results(wait(t, speaker, 2))) end,
  }
end

-- One value (a table or nil), or nil, err when the callback failed.  A
-- string is JSON text or, as the core takes it too, what json.pack made.
local function decoded(res, err)
  if res == nil and err ~= nil then return nil, err end
  if type(res) == "string" then
    local ok, text = pcall(json.unpack, res)
    return json.decode(ok and text or res)
  end
  return res
end

function M.status(ns, name) return decoded(results(run(need(), "get_pod_status", ns, name, ns, name))) end
function M.get(ns, name) return decoded(results(run(need(), "get_pod", ns, name, ns, name))) end
function M.list() return decoded(results(run(need(), "get_pods", nil, nil))) end
function M.call(name, ...) return results(run(need(), name, nil, nil, ...)) end

function M.notified(ns, name)
  if not ns then return R.notified end
  local out = {}
  for _, n in ipairs(R.notified) do
    if n.namespace == ns and n.name == name then out[#out + 1] = n end
  end
  return out
end

function M.events(reason)
  if not reason then return R.events end
  local out = {}
  for _, e in ipairs(R.events) do if e.reason == reason then out[#out + 1] = e end end
  return out
end

function M.logs(pattern)
  if not pattern then return R.logs end
  local out = {}
  for _, l in ipairs(R.logs) do if l.message:match(pattern) then out[#out + 1] = l end end
  return out
end

-- ---- the recorders: vk.notify, vk.event, vk.log, print ------------------

function M.install()
  local real_notify = require "vk.notify"
  local function notify(x)
    real_notify(x) -- checks it as the core would (raises on a bad one)
    local rec = copy(x)
    if type(rec.status) == "string" then rec.status = json.decode(rec.status) end
    if rec.metadata then
      rec = {namespace = rec.metadata.namespace, name = rec.metadata.name, status = rec.status, pod = rec}
    else
      local ns, name = core.task_pod()
      rec.namespace, rec.name = rec.namespace or ns, rec.name or name
    end
    R.notified[#R.notified + 1] = rec
    return true
  end
  local real_event = require "vk.event"
  local event = {
    record = function(obj, type_, reason, message)
      real_event.record(obj, type_, reason, message) -- checks its arguments
      R.events[#R.events + 1] = {object = copy(obj), type = type_, reason = reason, message = message}
      return true
    end,
  }
  local real_log = require "vk.log"
  local log = {}
  for _, level in ipairs{"debug", "info", "warn", "error"} do
    log[level] = function(...)
      local n = select("#", ...)
      local msg = n <= 1 and tostring((...)) or string.format(...)
      R.logs[#R.logs + 1] = {level = level, message = msg}
      return real_log[level](msg)
    end
  end
  local real_print = print
  print = function(...) -- luacheck: ignore 121
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    R.logs[#R.logs + 1] = {level = "info", message = table.concat(parts, "\t")}
    return real_print(...)
  end
  -- The spec's own vk.timer.sleep moves the virtual clock (nothing else
  -- would); a provider's sleep waits on it.
  local real_timer = require "vk.timer"
  local runner = coroutine.running()
  local timer = {}
  for k, v in pairs(real_timer) do timer[k] = v end
  timer.sleep = function(ms)
    if coroutine.running() == runner and core.virtual() then return core.advance(ms) end
    return real_timer.sleep(ms)
  end
  package.loaded["vk.notify"], package.loaded["vk.event"], package.loaded["vk.log"] = notify, event, log
  package.loaded["vk.timer"] = timer
  rawset(vk, "notify", notify)
  rawset(vk, "event", event)
  rawset(vk, "log", log)
  rawset(vk, "timer", timer)
end

return M
