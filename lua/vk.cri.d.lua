---@meta
-- Type stubs for vk.cri (LuaLS).  Never loaded by vk: the module is built in
-- (src/lua/bind_cri.c over src/cri/cri.proto).
--
--   local cri = require "vk.cri"
--   cri.set_endpoint(config.runtime_endpoint)   -- default unix:///run/containerd/containerd.sock
--   local id = cri.run_pod_sandbox{config = {metadata = {name = "web", uid = uid, namespace = "default"}}}.pod_sandbox_id
--   local c = cri.connect("unix:///run/k3s/containerd/containerd.sock", {timeout_ms = 10000})
--   local st = c:container_status{container_id = id}.status
--
-- Requests and responses are tables with the CRI v1 proto's snake_case
-- field names (k8s.io/cri-api runtime/v1 api.proto):
-- * repeated fields are arrays; map<string,string> fields (labels,
--   annotations, label_selector, info, sysctls) are {key = value} tables;
-- * enums are names ("CONTAINER_RUNNING", "NODE", "UDP"); numbers are
--   accepted on the way in;
-- * bytes (exec_sync stdout/stderr) are Lua strings; int64 are integers;
-- * a response carries every scalar field (proto3 default when unset), every
--   array and map (maybe empty), and sub-messages only when present;
-- * an unknown field name or a value of the wrong type raises before
--   anything is sent, naming the field: "config.metadata.nmae: unknown field
--   of runtime.v1.PodSandboxMetadata (fields: name, uid, namespace, attempt)".
--
-- Errors: every call raises "file:line: vk.cri.NAME: CODE: message" where
-- CODE is the gRPC status name (NOT_FOUND, UNAVAILABLE, DEADLINE_EXCEEDED,
-- RESOURCE_EXHAUSTED, UNIMPLEMENTED, ...).  Use pcall and cri.code(err):
--   local ok, err = pcall(cri.container_status, {container_id = id})
--   if not ok and cri.code(err) == "NOT_FOUND" then ... end
-- A missing socket is "UNAVAILABLE: runtime endpoint unix:///x.sock: no such
-- socket"; something that is not a CRI endpoint ends with "is this a CRI
-- endpoint?".  Messages are capped at 16 MiB each way (RESOURCE_EXHAUSTED).
--
-- Calls yield: use them in provider callbacks, not at a module's top level.
-- opts: {timeout_ms = N} per call (default 120000, sent as grpc-timeout).

---@alias vk.cri.Request table
---@alias vk.cri.Response table
---@alias vk.cri.Opts {timeout_ms?: integer}

---@class vk.cri.Client
---@field endpoint string
local Client = {}

---@class vk.cri: vk.cri.Client
---@field DEFAULT_ENDPOINT string "unix:///run/containerd/containerd.sock"
local cri = {}

--- A client for another endpoint (crictl's form, unix:///path.sock).  No I/O.
---@param endpoint? string  default: the module's endpoint
---@param opts? vk.cri.Opts  defaults for every call of this client
---@return vk.cri.Client
function cri.connect(endpoint, opts) end

--- Sets the endpoint the module-level functions use (raises if malformed).
---@param endpoint string
function cri.set_endpoint(endpoint) end

---@return string
function cri.endpoint() end

--- The gRPC code name in a vk.cri error ("NOT_FOUND"), or nil.
---@param err any
---@return string?
function cri.code(err) end

-- RuntimeService.  Each exists as cri.NAME(req, opts) and c:NAME(req, opts).

--- {version?} -> {version, runtime_name, runtime_version, runtime_api_version}
-- (every method below takes the same two parameters and returns a table)
---@param req? vk.cri.Request
---@param opts? vk.cri.Opts
---@return vk.cri.Response
function Client:version(req, opts) end
--- {verbose?} -> {status = {conditions = {{type, status, reason, message}}}, info}
function Client:status(req, opts) end
--- {config = PodSandboxConfig, runtime_handler?} -> {pod_sandbox_id}
--- PodSandboxConfig: {metadata = {name, uid, namespace, attempt}, hostname, log_directory,
---   dns_config = {servers, searches, options}, port_mappings = {{protocol, container_port, host_port, host_ip}},
---   labels, annotations, linux = {cgroup_parent, sysctls, security_context = {namespace_options =
---   {network = "POD"|"NODE", pid, ipc}, privileged, run_as_user = {value}, ...}}}
function Client:run_pod_sandbox(req, opts) end
--- {pod_sandbox_id} -> {}
function Client:stop_pod_sandbox(req, opts) end
--- {pod_sandbox_id} -> {}
function Client:remove_pod_sandbox(req, opts) end
--- {pod_sandbox_id, verbose?} -> {status = {id, metadata, state = "SANDBOX_READY"|"SANDBOX_NOTREADY",
---   created_at, network = {ip, additional_ips = {{ip}}}, labels, annotations}, info}
function Client:pod_sandbox_status(req, opts) end
--- {filter? = {id, state = {state}, label_selector}} -> {items = {{id, metadata, state, created_at, labels, annotations}}}
function Client:list_pod_sandbox(req, opts) end
--- {pod_sandbox_id, config = ContainerConfig, sandbox_config} -> {container_id}
--- ContainerConfig: {metadata = {name, attempt}, image = {image}, command, args, working_dir,
---   envs = {{key, value}}, mounts = {{container_path, host_path, readonly, propagation}},
---   labels, annotations, log_path, linux = {resources = {cpu_period, cpu_quota, cpu_shares,
---   memory_limit_in_bytes, ...}, security_context = {...}}}
function Client:create_container(req, opts) end
--- {container_id} -> {}
function Client:start_container(req, opts) end
--- {container_id, timeout = seconds} -> {}  (SIGTERM, then SIGKILL after timeout)
function Client:stop_container(req, opts) end
--- {container_id} -> {}
function Client:remove_container(req, opts) end
--- {filter? = {id, state = {state}, pod_sandbox_id, label_selector}} -> {containers = {...}}
function Client:list_containers(req, opts) end
--- {container_id, verbose?} -> {status = {id, metadata, state = "CONTAINER_CREATED"|"CONTAINER_RUNNING"|
---   "CONTAINER_EXITED"|"CONTAINER_UNKNOWN", created_at, started_at, finished_at, exit_code,
---   image, image_ref, reason, message, labels, annotations, mounts, log_path}, info}
function Client:container_status(req, opts) end
--- {container_id, cmd = {...}, timeout = seconds} -> {stdout, stderr, exit_code}
function Client:exec_sync(req, opts) end
--- {container_id, cmd = {...}, tty, stdin, stdout, stderr} -> {url}: the runtime's streaming
--- server URL for this session (hand it to stream:proxy(url) in a provider's exec callback)
function Client:exec(req, opts) end
--- {container_id, stdin, tty, stdout, stderr} -> {url} (as exec, for attach)
function Client:attach(req, opts) end
--- {pod_sandbox_id, port = {...}} -> {url} (as exec, for port-forward; the runtime connects
--- inside the sandbox's network namespace)
function Client:port_forward(req, opts) end
--- {container_id} -> {stats = {attributes, cpu = {timestamp, usage_core_nano_seconds = {value}, ...},
---   memory = {working_set_bytes = {value}, ...}, writable_layer}}
function Client:container_stats(req, opts) end
--- {filter? = {id, pod_sandbox_id, label_selector}} -> {stats = {...}}
function Client:list_container_stats(req, opts) end
--- {filter? = {id, label_selector}} -> {stats = {{attributes = {id, metadata, labels, annotations},
---   linux = {cpu, memory, network = {timestamp, default_interface = {name, rx_bytes = {value}, rx_errors,
---   tx_bytes, tx_errors}, interfaces}, process = {timestamp, process_count}, containers}}}}
function Client:list_pod_sandbox_stats(req, opts) end

-- ImageService.

--- {image = {image}, auth?, sandbox_config?} -> {image_ref}
function Client:pull_image(req, opts) end
--- {image = {image}, verbose?} -> {image = {id, repo_tags, repo_digests, size, ...} | nil, info}
function Client:image_status(req, opts) end
--- {filter? = {image = {image}}} -> {images = {...}}
function Client:list_images(req, opts) end
--- {image = {image}} -> {}
function Client:remove_image(req, opts) end

-- containerd's own task API (containerd.services.tasks.v1.Tasks), in the
-- CRI plugin's namespace "k8s.io": for the task containerd's CRI can leave
-- under a container it reports exited (src/cri/containerd_tasks.proto).
-- A runtime other than containerd answers UNIMPLEMENTED.

--- {container_id, exec_id?, signal, all?} -> {}
function Client:task_kill(req, opts) end
--- Returns when the task has exited: {container_id, exec_id?} -> {exit_status, exited_at = {seconds, nanos}}
function Client:task_wait(req, opts) end
--- {container_id} -> {id, pid, exit_status, exited_at = {seconds, nanos}}
function Client:task_delete(req, opts) end

return cri
