---@meta
-- Type stubs for editors (LuaLS / lua-language-server).  Point your
-- workspace's `Lua.workspace.library` at vk's lua/ folder.  These files are
-- never loaded by vk; the real modules are built into the binary.
--
-- Rules of the host worth knowing while you type:
-- * Each provider callback runs in its own coroutine.  vk.timer.sleep,
--   vk.http.request and vk.kube.* yield until their I/O is done; the rest of
--   vk keeps running meanwhile.
-- * No I/O at a module's top level (`require` cannot yield in Lua 5.4), in
--   coroutines you create yourself, or in metamethods: do it in callbacks.
-- * A callback that runs too long without yielding (an endless loop) is
--   stopped with an error, and pcall cannot catch that stop.
-- * Pods, statuses and nodes are tables shaped like the Kubernetes JSON.
--   JSON null is vk.json.null (a light userdata, truthy!).  Build arrays that
--   may be empty with vk.json.array() so that they stay [] in JSON.

---@alias vk.Object table<string, any>   a Kubernetes object as a table (pod, node, status)

-- Testing a provider: `vk test SPEC.lua` runs specs written with describe,
-- it and expect, with `provider`, `pods`, `clock` and `mock` (scripted
-- vk.http/vk.cri/vk.kube answers), on a virtual clock; see vk.test.d.lua.

---------------------------------------------------------------------------
-- The provider table: what providers/*.lua returns.
---------------------------------------------------------------------------

---@class vk.Provider
---@field name? string  used for the node taint virtual-kubelet.io/provider=<name>; default: the file name
---@field init? fun(config: table, node: vk.Object)  edit `node` in place (labels, capacity, addresses)
---@field create_pod fun(pod: vk.Object): any?  required
---@field update_pod? fun(pod: vk.Object): any?
---@field delete_pod fun(pod: vk.Object): vk.Object?  required; may return the pod's final .status (containers terminated with their exit codes), written as the terminal status of a graceful deletion
---@field get_pod? fun(namespace: string, name: string): (vk.Object|string)?  a table or its JSON text
---@field get_pod_status fun(namespace: string, name: string): (vk.Object|string)?  required; the pod's .status, as a table or its JSON text
---@field get_pods? fun(): (vk.Object[]|string)  every pod the provider runs (start-up reconcile); a list or its JSON text
---@field ping? fun()  error() marks the node NotReady
---@field node_status? fun(node: vk.Object): vk.Object?  every 10 s: edit or return the node (capacity, allocatable, addresses, nodeInfo, conditions other than Ready, merged by type); written when it changed
---@field container_logs? fun(namespace: string, pod: string, container: string, opts: table): string  opts: tailLines, limitBytes, sinceSeconds, sinceTime, timestamps, previous, follow (those given); the core re-applies tailLines/limitBytes
---@field stats_summary? fun(): table  kubelet's /stats/summary object; without it vk sends a minimal one
---@field exec? fun(namespace: string, pod: string, container: string, cmd: string[], stream: vk.Stream): (integer|nil), string?  kubectl exec, before any 101: return the exit code (0 = success), or nil, err (a Failure Status; 404 when err says "not found" and the stream was not used)
---@field attach? fun(namespace: string, pod: string, container: string, stream: vk.Stream): (integer|nil), string?  kubectl attach, as exec
---@field port_forward? fun(namespace: string, pod: string, port: integer, stream: vk.Stream): (nil, string?)  kubectl port-forward: once per forwarded connection, after the connection is up; return when done, or nil, err (sent on the error stream)
---@field on_reload? fun(previous: vk.Provider)

--- The session of exec, attach or port_forward (the kubelet API's SPDY
--- streams).  Every method but close yields.
---@class vk.Stream
---@field stdin boolean  the client sends stdin (port_forward: always true)
---@field stdout boolean  the client wants stdout (port_forward: always true)
---@field stderr boolean  the client wants stderr (never with a tty)
---@field tty boolean  the client has a terminal
local Stream = {}
--- The next chunk of stdin (port_forward: of the connection), nil at its end.
---@return string?
function Stream:read() end
--- Writes to stdout (default) or "stderr"; waits while the client is slow.
---@param data string
---@param to? "stdout"|"stderr"
---@return boolean? ok, string? err  nil, "closed" once the client is gone
function Stream:write(data, to) end
--- The next terminal size, nil when the client is gone (or has no tty).
---@return {width: integer, height: integer}?
function Stream:resize() end
--- Closes stdout and stderr (port_forward: the connection's data stream).
function Stream:close() end
--- Only as the first use: hands the whole session to a streaming server on
--- 127.0.0.1 (CRI's Exec/Attach URL): the client's upgrade request goes to
--- url, its answer back; bytes are spliced until either side closes.
---@param url string  http://127.0.0.1:PORT/...
---@return boolean? ok, string? err  nil, err when the server refused (the client got its answer) or cannot be reached
function Stream:proxy(url) end

---------------------------------------------------------------------------
-- vk: every module below, loaded on first use (vk.timer, vk.json, ...).
---------------------------------------------------------------------------

---@class vk
---@field timer vk.timer
---@field log vk.log
---@field json vk.json
---@field yaml vk.yaml
---@field kube vk.kube
---@field http vk.http
---@field cri vk.cri  see vk.cri.d.lua
---@field fs vk.fs  see vk.fs.d.lua
---@field event vk.event  see vk.event.d.lua
---@field host vk.host  see vk.host.d.lua
---@field store vk.store
---@field net vk.net  see vk.net.d.lua
---@field notify fun(pod_or_status: vk.Object): boolean
vk = {}

---------------------------------------------------------------------------
---@class vk.timer
local timer = {}

--- Suspends the callback for `ms` milliseconds without blocking vk.
---@param ms integer
function timer.sleep(ms) end

--- Runs `fn` every `ms` milliseconds, each time in a fresh coroutine (so it
--- may sleep or do I/O).  A tick is skipped while the previous one still runs.
---@param ms integer
---@param fn fun()
---@return vk.timer.Every
function timer.every(ms, fn) end

--- Monotonic milliseconds (for measuring durations, not dates).
---@return integer
function timer.now_ms() end

---@class vk.timer.Every
local Every = {}
--- Stops the timer; safe to call more than once.
function Every:stop() end

---------------------------------------------------------------------------
--- Log lines tagged with the callback and pod ("provider create_pod ns/name").
--- One argument is logged as is; more are formatted with string.format.
---@class vk.log
local log = {}
---@param fmt any
---@param ... any
function log.debug(fmt, ...) end
---@param fmt any
---@param ... any
function log.info(fmt, ...) end
---@param fmt any
---@param ... any
function log.warn(fmt, ...) end
---@param fmt any
---@param ... any
function log.error(fmt, ...) end

---------------------------------------------------------------------------
---@class vk.json
---@field null lightuserdata  JSON null
local json = {}

--- Encodes a value; raises on functions, cycles, NaN, mixed tables (the
--- message names the path, e.g. "spec.containers[2].env: ...").
---@param v any
---@param opts? {pretty?: boolean}
---@return string
function json.encode(v, opts) end

--- Decodes JSON text; arrays come back marked (see json.array).  Raises on
--- invalid text.
---@param s string
---@return any
function json.decode(s) end

--- Marks `t` (or a new table) as a JSON array, so it encodes as [] when empty.
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

---@param t any
---@return boolean
function json.is_array(t) end

--- Packs v's JSON (v a table, or JSON text) into a binary string about a
--- tenth of its size (deflate, with the first text packed as dictionary):
--- for a provider that keeps many pods.  Survives hot reloads.
---@param v any
---@return string
function json.pack(v) end

--- The JSON text json.pack made; raises on any other string.
---@param p string
---@return string
function json.unpack(p) end

---------------------------------------------------------------------------
---@class vk.yaml
local yaml = {}
--- Decodes the first YAML document (core schema, anchors and merge keys).
---@param s string
---@return any
function yaml.decode(s) end

---------------------------------------------------------------------------
--- Reads through the core's Kubernetes client (yields).  Answers are
--- tables, or nil plus a message: "not found" for a 404.  Reads go through
--- the core's cache: while the API server cannot be reached, the last answer
--- to the same path comes back (kept across restarts with --store).
---@class vk.kube
local kube = {}
---@param path string  "/api/v1/namespaces/default/configmaps/x"
---@return vk.Object|nil, string?
function kube.get(path) end
---@param namespace string
---@param name string
---@return vk.Object|nil, string?
function kube.get_configmap(namespace, name) end
--- The Secret as the API returns it: `data` values stay base64.
---@param namespace string
---@param name string
---@return vk.Object|nil, string?
function kube.get_secret(namespace, name) end
--- POSTs object as JSON to path and returns the answer (never cached): a
--- create, or a subresource that answers with an object, e.g. a TokenRequest
--- to "/api/v1/namespaces/NS/serviceaccounts/SA/token".
---@param path string
---@param object table
---@return vk.Object|nil, string?
function kube.create(path, object) end

--- PATCHes an object (a merge patch unless content_type says otherwise) and
--- returns it as patched, or nil, message.  Under the Node authorizer a node
--- may patch its pods only through .../pods/NAME/status; a merge patch
--- {metadata = {annotations = {...}}} there sets the pod's annotations.
---@param path string  "/api/v1/namespaces/ns/pods/p/status"
---@param body table|string  the patch, or its JSON text
---@param content_type? string  default "application/merge-patch+json"
---@return vk.Object|nil, string?
function kube.patch(path, body, content_type) end

---------------------------------------------------------------------------
---@class vk.http
local http = {}

---@class vk.http.Request
---@field url string  http:// or https://
---@field method? string  default GET, or POST when there is a body
---@field headers? table<string, string>
---@field body? string
---@field timeout_ms? integer  default 30000
---@field insecure? boolean  skip TLS verification
---@field http2? boolean  HTTP/2 from the first byte (prior knowledge), as gRPC over cleartext speaks
---@field netns? string  connect inside this network namespace (see vk.net); the url's host must be an IP address

---@class vk.http.Response
---@field status integer
---@field headers table<string, string>  lower-case names, trailers (grpc-status) too; repeated ones joined with ", "
---@field body string

--- One HTTP(S) exchange on vk's shared curl engine (yields).  A non-2xx
--- status is still a response; nil, message means no response came.
---@param req vk.http.Request
---@return vk.http.Response|nil, string?
function http.request(req) end

---------------------------------------------------------------------------
--- vk.store: vk's local store (each provider in its own namespace
--- "providers/NAME/"), or a store of the provider's own from vk.store.open.
--- Every call yields.  Values are strings, or tables kept as JSON (get gives
--- a table back for a JSON object or array; {raw=true} gives the text).
--- A write with rv = N is refused (nil, "...stale...") when the record holds
--- a greater rv: fresher wins.
---@class vk.store
local store = {}

---@class vk.store.Options
---@field ttl? integer  seconds until the record vanishes (put)
---@field rv? integer   the object's version for fresher-wins (put, delete)
---@field raw? boolean  get/list: the stored text, never a table

--- The value and its rv; nil when there is no such key; nil, err on failure.
---@param key string
---@param opts? vk.store.Options
---@return string|table|nil, integer|string|nil
function store.get(key, opts) end

---@param key string
---@param value string|table
---@param opts? vk.store.Options
---@return true|nil, string?
function store.put(key, value, opts) end

---@param key string
---@param opts? vk.store.Options
---@return true|nil, string?
function store.delete(key, opts) end

--- Every record whose key starts with prefix, as {[key] = value}.
---@param prefix? string
---@param opts? vk.store.Options
---@return table<string, string|table>|nil, string?
function store.list(prefix, opts) end

---@class vk.store.Store
---@field get fun(self: vk.store.Store, key: string, opts?: vk.store.Options): (string|table|nil), (integer|string|nil)
---@field put fun(self: vk.store.Store, key: string, value: string|table, opts?: vk.store.Options): true|nil, string?
---@field delete fun(self: vk.store.Store, key: string, opts?: vk.store.Options): true|nil, string?
---@field list fun(self: vk.store.Store, prefix?: string, opts?: vk.store.Options): table<string, string|table>|nil, string?
---@field close fun(self: vk.store.Store)

--- Opens a store of the provider's own: "embedded:DIR" (SQLite in DIR/vk.db),
--- "redis://[:PASSWORD@]HOST:PORT[/DB]" or "etcd://HOST:PORT" (yields until
--- it answers).  In redis a record is a hash: "~v" holds the value, "~rv"
--- its version, and a JSON object's scalar members (and arrays of scalars,
--- joined with ",") are fields of their own, for redis-cli HGETALL.
---@param url string
---@return vk.store.Store|nil, string?
function store.open(url) end

---------------------------------------------------------------------------
--- PodNotifier: push a status to the core at once.  Pass a whole pod, or
--- {namespace=, name=, status=} (namespace and name default to the pod of
--- the running callback); status may be a table or its JSON text.  A push
--- from inside create_pod is kept until the create returns, then written.
--- Returns false when the core has no notifier.
---@param pod_or_status vk.Object
---@return boolean
function vk.notify(pod_or_status) end

return vk
