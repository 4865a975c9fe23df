---@meta
-- `vk test SPEC.lua`: the provider test kit (lua/vk/test.lua).  A spec is a
-- Lua file run in vk's real Lua host, with no cluster, with these globals.
-- It prints TAP (one line per `it`, a failure followed by `# FILE:LINE: why`)
-- and `vk test` exits 1 when a test failed.
--
--   describe("my provider", function()
--     local p = provider.load(spec_dir .. "/../providers/mine.lua", "endpoint: http://cloud.test")
--     it("creates an instance", function()
--       mock.http {method = "POST", url_match = "/instances$", respond = {status = 201, json = {id = "i-1"}}}
--       expect(pods.create [[{metadata: {name: web}, spec: {containers: [{name: c, image: x}]}}]]):to_be(true)
--       expect(#mock.calls("http")):to_be(1)
--     end)
--   end)
--
-- Time: vk.timer.sleep/every/now_ms run on a virtual clock that moves only
-- when the spec moves it (clock.advance, the spec's own vk.timer.sleep) or
-- while pods.create & co. wait for a callback with nothing else to do; a
-- 5-minute backoff then takes no time.  clock.real() switches to the real
-- clock (for specs against a real containerd).
--
-- Records (mock.calls, pods.notified, pods.events, pods.logs) start empty
-- for each `it`; mock rules and pass-throughs made inside an `it` end with
-- it, those made at the top level or in a describe stay.  A call no rule matches fails the
-- test (unless passed through), as does an expect(v) with no matcher.

---Groups tests; names are joined with " > " in the TAP lines.
---@param name string
---@param fn fun()
function describe(name, fn) end

---One test: fn runs in a task of its own file's host, and may wait on I/O
---and on the virtual clock.
---@param name string
---@param fn fun()
function it(name, fn) end

---Runs before (after) each `it` of this describe and the ones inside it.
---@param fn fun()
function before_each(fn) end
---@param fn fun()
function after_each(fn) end

---The absolute folder of the spec file.
---@type string
spec_dir = ""

---@class vk.test.Expect
local Expect = {}
---@return vk.test.Expect
function Expect:to_be(want) end
---Deep equality of tables.
---@return vk.test.Expect
function Expect:to_equal(want) end
---@return vk.test.Expect
function Expect:to_be_truthy() end
---@return vk.test.Expect
function Expect:to_be_falsy() end
---@return vk.test.Expect
function Expect:to_be_nil() end
---@param pattern string  a Lua pattern
---@return vk.test.Expect
function Expect:to_match(pattern) end
---A substring of a string, or an element (deep-equal) of a table.
---@return vk.test.Expect
function Expect:to_contain(x) end
---@param n number
---@return vk.test.Expect
function Expect:to_be_at_least(n) end
---@param n number
---@return vk.test.Expect
function Expect:to_be_at_most(n) end
---The value is a function that raises an error matching pattern.
---@param pattern? string
---@return vk.test.Expect
function Expect:to_fail(pattern) end
---Negates the next matcher.
---@return vk.test.Expect
function Expect:never() end

---expect(v):matcher(...), or expect(cond, message) to assert cond now (also
---expect(f()) when f returns value, err: it fails with err).  A failure
---names the line of the spec that called the matcher.
---@param value any
---@param message? any
---@return vk.test.Expect
function expect(value, message) end

---@class vk.test.Provider
---@field module vk.Provider  the table the provider file returned
---@field node vk.Object  the Node after init
---@field file string
---@field name string

---@class vk.test.provider
provider = {}
---Loads a provider as vk does (its folder first on package.path, no I/O at
---its top level, the checks of `vk check`) and runs init(config, node) as a
---task.  A second load of the same file is a restarted provider (fresh
---modules).  `pods` then drives it.
---@param file string
---@param config? table|string  a table or YAML text
---@param opts? {node?: vk.Object}  the Node init gets (default: vk's template for node "vk-test")
---@return vk.test.Provider
function provider.load(file, config, opts) end

---@class vk.test.pods
pods = {}
---Each callback runs in a task of its own named like the core's ("provider
---create_pod ns/name"); the call waits for it.  A pod is a table or YAML
---text; namespace "default", a uid and spec.nodeName are filled in (in
---place) when missing.  Returns the callback's result (true when it returns
---nothing), or nil, err, and then records the core's Warning Event
---Provider{Create,Update,Delete}Failed.
---@param pod vk.Object|string
---@return any, string?
function pods.create(pod) end
---@param pod vk.Object|string
---@return any, string?
function pods.update(pod) end
---@param pod vk.Object|string
---@return any, string?
function pods.delete(pod) end
---Starts create_pod, update_pod or delete_pod without waiting (several pods
---at once, as the core's workers run them); wait() returns what
---pods.create & co. return.
---@param name "create_pod"|"update_pod"|"delete_pod"
---@param pod vk.Object|string
---@return {wait: fun(): any, string?, done: fun(): boolean}
function pods.start(name, pod) end
---get_pod_status (JSON text is decoded).
---@return vk.Object?, string?
function pods.status(namespace, name) end
---@return vk.Object?, string?
function pods.get(namespace, name) end
---get_pods.
---@return vk.Object[]?, string?
function pods.list() end
---Any other callback, e.g. pods.call("container_logs", ns, pod, c, {}).
---@param name string
function pods.call(name, ...) end
---The vk.notify calls of this test: {namespace=, name=, status=, pod=?}.
---@return table[]
function pods.notified(namespace, name) end
---The Events of this test: {object=, type=, reason=, message=}.
---@param reason? string
---@return table[]
function pods.events(reason) end
---vk.log lines and print()s of this test: {level=, message=}.
---@param pattern? string
---@return table[]
function pods.logs(pattern) end
---Virtual ms a callback may wait before pods.* gives up (default a day).
---@type integer
pods.wait_limit_ms = 0

---@class vk.test.clock
clock = {}
---Virtual ms since the spec started.
---@return integer
function clock.now() end
---Moves time on by ms: each timer due on the way fires in order, and what
---it wakes runs (and starts new timers) before the next one fires.
---@param ms number
function clock.advance(ms) end
---Lets every runnable task run, without moving time.
function clock.settle() end
---@return integer?  when the next timer fires
function clock.next_due() end
---The real clock from now on (before the provider starts any timer).
function clock.real() end
---@return boolean
function clock.virtual() end

---@class vk.test.mock
mock = {}
---Answers vk.http.request calls that match (all given fields must match).
---@param rule {method?: string, url?: string, url_match?: string, body_match?: string, match?: fun(req: table): boolean, respond?: table|fun(req: table): table?, error?: string, delay_ms?: integer, times?: integer}
---@return table rule  rule.used counts its answers
function mock.http(rule) end
---Answers vk.cri calls (module functions and clients) by method.
---@param rule {method: string, match?: fun(req: table): boolean, respond?: table|fun(req: table): table, error?: string, delay_ms?: integer, times?: integer}
---@return table rule
function mock.cri(rule) end
---Answers vk.kube calls (get, get_configmap, get_secret, patch) by path;
---object nil is "not found".
---@param rule {fn?: string, path?: string, path_match?: string, object?: table|fun(path: string): table?, error?: string, times?: integer}
---@return table rule
function mock.kube(rule) end
---Calls no rule matches go to the real binding.
---@param kind "http"|"cri"|"kube"
function mock.passthrough(kind) end
---The calls of this test: http {method, url, headers, body}; cri {method,
---request, endpoint}; kube {fn, path, body}.
---@param kind "http"|"cri"|"kube"
---@return table[]
function mock.calls(kind) end
---Forgets every rule and pass-through.
function mock.reset() end
