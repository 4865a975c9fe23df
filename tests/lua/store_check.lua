-- vk.store checks, run by tests/unit/lua_checks.c (config.dir: a fresh
-- folder, where the driver also keeps vk's own store, embedded).
local P = {}
local results = {}

local function check(name, fn)
  local ok, err = pcall(fn)
  results[#results + 1] = {name = name, ok = ok, err = (not ok) and tostring(err) or nil}
end

local function expect(cond, msg)
  if not cond then error(msg or "expectation failed", 2) end
end

function P.init(config)
  check("vk's store: each provider in its own namespace", function()
    expect(vk.store.put("k", {a = 1}, {ttl = 3600}))
    local v = vk.store.get("k")
    expect(type(v) == "table" and v.a == 1)
    local all = assert(vk.store.list(""))
    expect(all.k and all.k.a == 1, "list gives keys inside the namespace")
    -- The same file opened as a store of its own shows the full key.
    local raw = assert(vk.store.open("embedded:" .. config.dir))
    local v2 = raw:get("providers/store_check/k", {raw = true})
    expect(v2 == '{"a":1}', tostring(v2))
    raw:close()
    expect(vk.store.delete("k"))
    expect(vk.store.get("k") == nil)
  end)
  check("a malformed URL is an error naming it", function()
    local ok, err = pcall(vk.store.open, "redis://nohost")
    expect(not ok and tostring(err):find("redis://nohost", 1, true), tostring(err))
  end)
  check("an unreachable store is nil plus an error naming it", function()
    local s, err = vk.store.open("redis://127.0.0.1:1")
    expect(s == nil and err:find("redis://127.0.0.1:1", 1, true), tostring(err))
  end)
  local s = assert(vk.store.open("embedded:" .. config.dir .. "/own"))
  check("put and get a string", function()
    expect(s:put("a", "text"))
    local v, rv = s:get("a")
    expect(v == "text" and rv == 0, tostring(v))
  end)
  check("a table is kept as JSON and comes back a table", function()
    expect(s:put("t", {name = "web", images = vk.json.array {"x", "y"}}))
    local v = s:get("t")
    expect(type(v) == "table" and v.name == "web" and v.images[2] == "y")
    local raw = s:get("t", {raw = true})
    expect(type(raw) == "string" and raw:find('"name":"web"', 1, true), raw)
  end)
  check("a missing key is nil without an error", function()
    local v, err = s:get("nope")
    expect(v == nil and err == nil)
  end)
  check("fresher wins: an older rv is refused", function()
    expect(s:put("pod", "new", {rv = 20}))
    local ok, err = s:put("pod", "old", {rv = 19})
    expect(ok == nil and err:find("stale", 1, true), tostring(err))
    local v, rv = s:get("pod")
    expect(v == "new" and rv == 20)
  end)
  check("list by prefix, and delete", function()
    expect(s:put("l/1", "a"))
    expect(s:put("l/2", "b"))
    local all = assert(s:list("l/"))
    expect(all["l/1"] == "a" and all["l/2"] == "b")
    expect(s:delete("l/1"))
    all = assert(s:list("l/"))
    expect(all["l/1"] == nil and all["l/2"] == "b")
  end)
  check("bad arguments name themselves", function()
    local ok, err = pcall(s.put, s, "", "x")
    expect(not ok and tostring(err):find("key", 1, true), tostring(err))
    ok, err = pcall(s.put, s, "k", function() end)
    expect(not ok and tostring(err):find("value", 1, true), tostring(err))
    ok, err = pcall(s.put, s, "k", "v", {ttl = -1})
    expect(not ok and tostring(err):find("ttl", 1, true), tostring(err))
  end)
  check("a closed store says so", function()
    s:close()
    local ok, err = pcall(s.get, s, "a")
    expect(not ok and tostring(err):find("closed", 1, true), tostring(err))
  end)
end

function P.get_pods() return results end
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() end
return P
