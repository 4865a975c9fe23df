-- mynode/streaming.lua: kubectl exec, attach and port-forward, as kubelet
-- does them with a CRI runtime.
--
-- exec and attach ask the runtime for a streaming URL (CRI Exec/Attach:
-- containerd's streaming server on 127.0.0.1) and hand the whole session to
-- it with stream:proxy(url): the core forwards the client's upgrade there
-- and splices the bytes, so stdin, stdout, stderr, the tty's resizes and
-- the exit code travel in the runtime's own protocol, untouched.
--
-- port_forward connects to 127.0.0.1:port inside the pod's network
-- namespace (vk.net.connect{netns=}, mynode/netns.lua; a hostNetwork pod's
-- is vk's own) and pumps bytes both ways: one task per direction.  The
-- core calls it once per forwarded connection, after the client's
-- connection is up, so a session-wide proxy (CRI PortForward) does not fit
-- there.
--
-- Every refusal is an error naming the pod, container or port; the core
-- turns it into a Status for kubectl.
local cri = require "vk.cri"
local net = require "vk.net"
local C = require "mynode.common"
local netns = require "mynode.netns"

local M = {}

-- The record of a pod that runs here, or nil and why not.
local function running_pod(ns, name)
  local rec = C.state.pods[C.key_of(ns, name)]
  if not rec then return nil, ("pod %s/%s not found on this node"):format(ns, name) end
  if rec.state ~= "running" or not rec.sandbox_id then
    return nil, ("pod %s/%s is not running (%s)"):format(ns, name, rec.state)
  end
  return rec
end

-- The runtime's id of a running container of the pod, or nil and why not.
local function running_container(ns, name, container)
  local rec, err = running_pod(ns, name)
  if not rec then return nil, err end
  local s = rec.cs[container or ""]
  if not s or not s.id then
    local names = {}
    for _, it in ipairs(C.all_containers(rec.pod)) do names[#names + 1] = it.spec.name end
    for _, c in ipairs(rec.pod.spec.ephemeralContainers or {}) do names[#names + 1] = c.name end
    return nil, ("container %q not found in pod %s/%s (containers: %s)"):format(tostring(container), ns, name,
                                                                             table.concat(names, ", "))
  end
  local ok, r = pcall(cri.container_status, {container_id = s.id}, C.QUICK)
  if not ok then return nil, ("container %s of pod %s/%s: %s"):format(container, ns, name, r) end
  if r.status.state ~= "CONTAINER_RUNNING" then
    return nil, ("container %s of pod %s/%s is not running (%s)"):format(container, ns, name,
                                                                        r.status.state:gsub("^CONTAINER_", ""):lower())
  end
  return s.id
end

-- Hands the session to the runtime's streaming server.  proxy answers
-- true once either side closed (the exit code went through the runtime's
-- own error channel), or nil, err when the runtime refused the upgrade.
local function proxy(stream, what, ns, name, container, url)
  local ok, err = stream:proxy(url)
  if not ok then return nil, ("%s in container %s of pod %s/%s: %s"):format(what, container, ns, name, err) end
  return 0
end

function M.exec(ns, name, container, cmd, stream)
  local id, err = running_container(ns, name, container)
  if not id then return nil, err end
  local ok, r = pcall(cri.exec, {container_id = id, cmd = cmd, tty = stream.tty, stdin = stream.stdin,
                                 stdout = stream.stdout, stderr = stream.stderr}, C.QUICK)
  if not ok then return nil, ("exec in container %s of pod %s/%s: %s"):format(container, ns, name, r) end
  return proxy(stream, "exec", ns, name, container, r.url)
end

function M.attach(ns, name, container, stream)
  local id, err = running_container(ns, name, container)
  if not id then return nil, err end
  local ok, r = pcall(cri.attach, {container_id = id, tty = stream.tty, stdin = stream.stdin,
                                   stdout = stream.stdout, stderr = stream.stderr}, C.QUICK)
  if not ok then return nil, ("attach to container %s of pod %s/%s: %s"):format(container, ns, name, r) end
  return proxy(stream, "attach", ns, name, container, r.url)
end

-- Client to pod: every chunk of the stream to the socket; at the client's
-- end the socket's sending side is shut (the server reads EOF and may
-- still answer).
local function upstream(stream, sock)
  while true do
    local data = stream:read()
    if not data then break end
    if not sock:write(data) then return end
  end
  sock:shutdown()
end

function M.port_forward(ns, name, port, stream)
  local rec, err = running_pod(ns, name)
  if not rec then return nil, err end
  local ok, path = pcall(netns.path, rec)
  if not ok then return nil, ("port %d of pod %s/%s: %s"):format(port, ns, name, path) end
  -- No timeout on reads and writes: a forwarded connection may idle for
  -- hours, as kubectl's does; loopback in the pod answers a connect at once.
  local sock, cerr = net.connect{host = "127.0.0.1", port = port, netns = path, timeout_ms = 0}
  if not sock then
    return nil, ("error forwarding port %d to pod %s/%s: %s inside the pod's network namespace"):format(
             port, ns, name, (cerr:gsub("^vk%.net%.connect ", "connect ")))
  end
  local up = vk.spawn(upstream, stream, sock)
  -- Pod to client, until the server closes (or the client went away and
  -- the upstream task closed the socket).
  while true do
    local data = sock:read()
    if not data or not stream:write(data) then break end
  end
  sock:close() -- ends the upstream's write, if any
  stream:close() -- ends its read
  up:join()
  return true
end

return M
