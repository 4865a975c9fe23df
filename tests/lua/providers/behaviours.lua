-- A provider for tests/unit/test_luahost.c: create_pod does what the pod's
-- name says, so one file covers every behaviour of the host.
local timer = require "vk.timer"
local json = require "vk.json"
local log = require "vk.log"
local helper = require "behaviours_helper"

local P = { name = "behaviours" }

function P.init(cfg, node)
  node.metadata.labels = node.metadata.labels or {}
  node.metadata.labels["example.com/greeting"] = cfg.greeting or "none"
  node.status = node.status or {}
  node.status.capacity = { cpu = "4", pods = "10" }
  log.info("init for node %s", node.metadata.name)
end

local actions = {}

function actions.hello(pod)
  return { got = pod.metadata.name, containers = #pod.spec.containers, kind = pod.kind,
           shout = helper.shout("x"), same_vk = require("vk") == vk and vk.timer == timer }
end

-- json.pack/unpack: the text comes back whole, smaller; a table packs as
-- its JSON; a string pack did not make is refused.
function actions.pack(pod)
  local text = json.encode(pod)
  local p = json.pack(text)
  local ok, err = pcall(json.unpack, "not packed")
  return { same = json.unpack(p) == text, smaller = #p < #text,
           table_too = json.decode(json.unpack(json.pack(pod))).metadata.name,
           refused = not ok and tostring(err):match("not a string vk.json.pack made") ~= nil }
end

function actions.boom(pod)
  error("boom")
end

function actions.loop(pod)
  while true do end
end

function actions.ploop(pod)
  -- A provider that swallows errors must still be stopped.
  while true do
    pcall(function() while true do end end)
  end
end

function actions.sleep(pod)
  timer.sleep(tonumber(pod.metadata.annotations.ms))
  return { slept = tonumber(pod.metadata.annotations.ms) }
end

function actions.notify(pod)
  local delivered = vk.notify({ status = { phase = "Running" } })
  return { delivered = delivered }
end

function actions.yield(pod)
  coroutine.yield()
end

function actions.inner(pod)
  local co = coroutine.wrap(function() timer.sleep(1) end)
  co()
end

function actions.exit(pod)
  os.exit(1)
end

function actions.unhook(pod)
  debug.sethook()
  while true do end
end

function actions.badvalue(pod)
  return { f = print }
end

function actions.json(pod)
  local s = json.encode({ a = json.array(), b = json.null, c = { 1, 2 } })
  local back = json.decode('{"x": [], "y": null, "n": 3}')
  local y = vk.yaml.decode("a: 1\nb: [x, y]\n")
  return { s = s, x_is_array = json.is_array(back.x), y_is_null = back.y == json.null,
           n_type = math.type(back.n), yaml_b2 = y.b[2] }
end

function actions.kube(pod)
  return { vk.kube.get_configmap("default", "x") }
end

function actions.every(pod)
  local n = 0
  local h
  h = timer.every(20, function()
    n = n + 1
    if n == 3 then h:stop() end
  end)
  -- wait for the ticks, however slow the machine (up to 20 s), then
  -- long enough that a timer still running would tick again
  for _ = 1, 1000 do
    if n >= 3 then break end
    timer.sleep(20)
  end
  timer.sleep(100)
  return { ticks = n }
end

function P.create_pod(pod)
  local f = actions[pod.metadata.name] or actions.hello
  return f(pod)
end

function P.delete_pod(pod) end

function P.get_pod_status(namespace, name)
  if name == "missing" then return nil end
  -- a status may come back as its JSON text
  if name == "as-text" then return '{"phase":"Running","podIP":"10.0.0.3"}' end
  if name == "bad-text" then return '{"phase":"Runn' end
  -- or packed (vk.json.pack), as a provider that keeps many pods holds it
  if name == "packed" then return vk.json.pack('{"phase":"Running","podIP":"10.0.0.4"}') end
  -- a packed blob cut short is neither a blob nor JSON
  if name == "packed-cut" then
    local p = vk.json.pack('{"phase":"Running","podIP":"10.0.0.5"}')
    return p:sub(1, #p - 1)
  end
  return { phase = "Running", podIP = "10.0.0.2", ns = namespace }
end

function P.get_pods() return {} end

-- Echoes its arguments, so the host's argument passing can be checked.
function P.container_logs(ns, pod, container, opts)
  return ("%s/%s/%s tailLines=%s timestamps=%s"):format(ns, pod, container, tostring(opts.tailLines),
                                                        tostring(opts.timestamps))
end

function P.node_status(node)
  node.status.conditions = json.array()
  node.metadata.labels["example.com/status"] = "seen"
end

return P
