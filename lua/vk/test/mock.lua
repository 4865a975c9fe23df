-- vk test: scripted answers to a provider's vk.http, vk.cri and vk.kube
-- calls, or the real bindings when the spec passes them through.
--
--   mock.http{method=, url= | url_match=, body_match=, match=fn,
--             respond = {status=, headers=, body= | json=} | fn(req),
--             error = "transport error", delay_ms=, times=}
--   mock.cri{method = "run_pod_sandbox" | "RunPodSandbox", match=fn,
--            respond = table | fn(req), error = "NOT_FOUND: msg", times=}
--   mock.kube{fn = "get"|"get_configmap"|"get_secret"|"patch", path= |
--             path_match=, object = table | fn(path) | nil (not found),
--             error = "msg", times=}
--   mock.passthrough("http" | "cri" | "kube")  unmatched calls go to the
--             real binding (e.g. a real containerd); otherwise an
--             unmatched call fails the test and returns an error
--   mock.calls("http" | "cri" | "kube")  the calls of the current test
--   mock.reset()   forget every rule and pass-through
--
-- The wrappers replace package.loaded["vk.http"], ["vk.cri"], ["vk.kube"]
-- (and the lazy vk.http, vk.cri, vk.kube) before the spec runs.
local json = require "vk.json"
local timer = require "vk.timer"
local R = require "vk.test.record"

local M = {}
local rules = {http = {}, cri = {}, kube = {}}
local through = {}
local real = {}

function M.reset()
  rules = {http = {}, cri = {}, kube = {}}
  through = {}
end

-- Rules and pass-throughs made inside a test are dropped after it; those
-- made by the spec's top level or a describe stay.
function M.mark()
  local m = {through = {}}
  for k, list in pairs(rules) do m[k] = #list end
  for k, v in pairs(through) do m.through[k] = v end
  return m
end

function M.drop_since(m)
  for k, list in pairs(rules) do
    for i = #list, (m[k] or 0) + 1, -1 do list[i] = nil end
  end
  through = m.through
end

function M.passthrough(kind)
  if not rules[kind] then error("mock.passthrough: http, cri or kube, not " .. tostring(kind), 2) end
  through[kind] = true
end

function M.calls(kind)
  if not rules[kind] then error("mock.calls: http, cri or kube, not " .. tostring(kind), 2) end
  return R.calls[kind]
end

local function caller()
  local info = debug.getinfo(3, "Sl")
  return info and info.currentline > 0 and (info.short_src .. ":" .. info.currentline) or "?"
end

local function add(kind, rule, check)
  if type(rule) ~= "table" then error("mock." .. kind .. ": expected a table of the rule", 3) end
  check(rule)
  rule.used = 0
  rule.defined_at = caller()
  table.insert(rules[kind], rule)
  return rule
end

local function find(kind, matches)
  for _, r in ipairs(rules[kind]) do
    if (not r.times or r.used < r.times) and matches(r) then
      r.used = r.used + 1
      return r
    end
  end
end

-- The spec line that made the provider call (the innermost frame outside
-- the kit and the bindings).
local function call_site()
  for level = 3, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.currentline > 0 and not info.source:match("vk/test/") and info.source:sub(1, 1) == "@" then
      return info.short_src .. ":" .. info.currentline
    end
  end
  return "?"
end

local function unmatched(what)
  local msg = call_site() .. ": no mock matches " .. what ..
              " (add a mock for it, or mock.passthrough)"
  R.problem(msg)
  return msg
end

-- ---- vk.http ----------------------------------------------------------

function M.http(rule)
  return add("http", rule, function(r)
    if r.respond == nil and r.error == nil then error("mock.http: give respond= or error=", 4) end
  end)
end

local function http_request(req)
  if type(req) ~= "table" or type(req.url) ~= "string" then
    return real.http.request(req) -- the real binding says what is wrong
  end
  local call = {method = (req.method or "GET"):upper(), url = req.url, headers = req.headers, body = req.body}
  table.insert(R.calls.http, call)
  local r = find("http", function(r)
    if r.method and r.method:upper() ~= call.method then return false end
    if r.url and r.url ~= call.url then return false end
    if r.url_match and not call.url:match(r.url_match) then return false end
    if r.body_match and not (call.body or ""):match(r.body_match) then return false end
    if r.match and not r.match(call) then return false end
    return true
  end)
  if not r then
    if through.http then return real.http.request(req) end
    return nil, "vk.http.request: " .. unmatched(call.method .. " " .. call.url)
  end
  if r.delay_ms then timer.sleep(r.delay_ms) end
  if r.error then return nil, "vk.http.request: " .. r.error end
  local resp = r.respond
  if type(resp) == "function" then
    local a, b = resp(call)
    if a == nil then return nil, b end
    resp = a
  end
  local body = resp.body
  if resp.json ~= nil then body = json.encode(resp.json) end
  local headers = {}
  for k, v in pairs(resp.headers or {}) do headers[k:lower()] = v end
  return {status = resp.status or 200, headers = headers, body = body or ""}
end

-- ---- vk.cri -------------------------------------------------------------

local function snake(name)
  if name:match("^[a-z_]+$") then return name end
  return (name:gsub("(%l)(%u)", "%1_%2"):lower())
end

function M.cri(rule)
  return add("cri", rule, function(r)
    if type(r.method) ~= "string" then error("mock.cri: method= is the CRI call, e.g. \"run_pod_sandbox\"", 4) end
    if r.respond == nil and r.error == nil then error("mock.cri: give respond= or error=", 4) end
    r.method = snake(r.method)
  end)
end

-- Called by the wrapper below: returns true, response | false, error text
-- | nil (no rule: the real binding answers, if passed through).
local function cri_answer(name, req, endpoint)
  table.insert(R.calls.cri, {method = name, request = req, endpoint = endpoint})
  local r = find("cri", function(r)
    return r.method == name and (not r.match or r.match(req))
  end)
  if not r then
    if through.cri then return nil end
    return false, "vk.cri." .. name .. ": UNAVAILABLE: " .. unmatched("vk.cri." .. name)
  end
  if r.delay_ms then timer.sleep(r.delay_ms) end
  if r.error then return false, "vk.cri." .. name .. ": " .. r.error end
  local resp = r.respond
  if type(resp) == "function" then resp = resp(req) end
  return true, resp or {}
end

-- The wrapper is compiled as "=vk.cri", like the binding's own Lua: the
-- binding names the caller's line in its errors by skipping its own
-- frames, so errors passed through still point at the provider's line.
local cri_wrapper = [[
local real, answer, where = ...
local M = {}
for k, v in pairs(real) do M[k] = v end
local Client = {}
Client.__index = Client
Client.__name = "vk.cri.client"
function Client.__tostring(c) return "vk.cri.client(" .. c.endpoint .. ")" end
local function call(client, name, req, opts)
  local ok, resp = answer(name, req, client and client.endpoint or real.endpoint())
  if ok == nil then
    if client then
      local r = client.real[name](client.real, req, opts)
      return r
    end
    local r = real[name](req, opts)
    return r
  end
  if not ok then error(where() .. resp, 0) end
  return resp
end
for name, fn in pairs(real) do
  if type(fn) == "function" and name ~= "connect" and name ~= "set_endpoint" and name ~= "endpoint"
     and name ~= "code" then
    M[name] = function(req, opts)
      local r = call(nil, name, req, opts)
      return r
    end
    Client[name] = function(self, req, opts)
      local r = call(self, name, req, opts)
      return r
    end
  end
end
function M.connect(endpoint, opts)
  local c = real.connect(endpoint, opts)
  return setmetatable({endpoint = c.endpoint, opts = opts, real = c}, Client)
end
return M
]]

local function cri_where()
  for level = 2, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.currentline > 0 and info.source ~= "=vk.cri" and not info.source:match("vk/test/") then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

-- ---- vk.kube ------------------------------------------------------------

function M.kube(rule)
  return add("kube", rule, function() end)
end

local function kube_call(fn, path, body, ...)
  table.insert(R.calls.kube, {fn = fn, path = path, body = body})
  local r = find("kube", function(r)
    if r.fn and r.fn ~= fn then return false end
    if r.path and r.path ~= path then return false end
    if r.path_match and not path:match(r.path_match) then return false end
    return true
  end)
  if not r then
    if through.kube then return real.kube[fn](...) end
    return nil, "vk.kube: " .. unmatched("vk.kube." .. fn .. " " .. path)
  end
  if r.delay_ms then timer.sleep(r.delay_ms) end
  if r.error then return nil, "vk.kube: " .. r.error end
  local obj = r.object
  if type(obj) == "function" then return obj(path) end
  if obj == nil then return nil, "not found" end
  return json.decode(json.encode(obj)) -- a fresh copy, as from the API
end

-- ---- installing ---------------------------------------------------------

function M.install()
  real.http = require "vk.http"
  real.cri = require "vk.cri"
  real.kube = require "vk.kube"
  local http = {}
  for k, v in pairs(real.http) do http[k] = v end
  http.request = http_request
  local cri = assert(load(cri_wrapper, "=vk.cri"))(real.cri, cri_answer, cri_where)
  local kube = {
    get = function(path) return kube_call("get", path, nil, path) end,
    get_configmap = function(ns, name)
      return kube_call("get_configmap", ("/api/v1/namespaces/%s/configmaps/%s"):format(ns, name), nil, ns, name)
    end,
    get_secret = function(ns, name)
      return kube_call("get_secret", ("/api/v1/namespaces/%s/secrets/%s"):format(ns, name), nil, ns, name)
    end,
  }
  if real.kube.patch then
    kube.patch = function(path, body, ctype)
      local rec = type(body) == "string" and json.decode(body) or body
      return kube_call("patch", path, rec, path, body, ctype)
    end
  end
  package.loaded["vk.http"], package.loaded["vk.cri"], package.loaded["vk.kube"] = http, cri, kube
  rawset(vk, "http", http)
  rawset(vk, "cri", cri)
  rawset(vk, "kube", kube)
end

return M
