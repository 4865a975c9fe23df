-- providers/redis.lua: each pod is a record in redis, a hash holding its name, namespace, uid,
-- images and phase, reported Running; delete removes the record; get_pods lists the records.
-- Config: url (default redis://127.0.0.1:6379; any vk.store URL works), prefix (default "pods/").
local P = { name = "redis" }
local url, prefix, db
local function store()
  db = db or assert(vk.store.open(url))
  return db
end
local function key(ns, name) return prefix .. ns .. "/" .. name end
local function status(r)
  local cs = vk.json.array()
  for i, n in ipairs(r.containers) do
    cs[i] = { name = n, image = r.images[i], imageID = "", ready = true, started = true,
              restartCount = 0, state = { running = { startedAt = r.started } } }
  end
  return { phase = r.phase, startTime = r.started, containerStatuses = cs,
           conditions = { { type = "Ready", status = "True" }, { type = "ContainersReady", status = "True" } } }
end
function P.init(config) url, prefix = config.url or "redis://127.0.0.1:6379", config.prefix or "pods/" end
function P.create_pod(pod)
  local m, images, names = pod.metadata, {}, {}
  for i, c in ipairs(pod.spec.containers) do images[i], names[i] = c.image, c.name end
  assert(store():put(key(m.namespace, m.name), { name = m.name, namespace = m.namespace, uid = m.uid,
    images = images, containers = names, phase = "Running", started = os.date("!%Y-%m-%dT%H:%M:%SZ") }))
end
function P.delete_pod(pod) assert(store():delete(key(pod.metadata.namespace, pod.metadata.name))) end
function P.get_pod_status(ns, name)
  local r = store():get(key(ns, name))
  return r and status(r)
end
function P.get_pods()
  local out = vk.json.array()
  for _, r in pairs(assert(store():list(prefix))) do
    out[#out + 1] = { metadata = { name = r.name, namespace = r.namespace, uid = r.uid }, status = status(r) }
  end
  return out
end
return P
