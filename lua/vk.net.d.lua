---@meta
-- vk.net: TCP streams, made inside a pod's network namespace when asked.
-- A short-lived thread enters the namespace (setns), makes the socket and
-- hands it back; the loop then drives it.  127.0.0.1 in a namespace is
-- that namespace's loopback.  Every call that waits yields.

---@class vk.net
local net = {}

---@class vk.net.Connect
---@field host? string      an IP address (default 127.0.0.1)
---@field port integer      1..65535
---@field netns? string     a network namespace file (/var/run/netns/..., /proc/PID/ns/net); nil: vk's own
---@field timeout_ms? integer  bounds the connect and each read and write; default 30000, 0 for none

---@class vk.net.Stream
local Stream = {}

--- Up to max bytes (default 65536) as they arrive; nil, "closed" at the end; nil, err on an error or a timeout
--- (a read that timed out leaves the stream usable).
---@param max? integer
---@return string? data
---@return string? err
function Stream:read(max) end

--- Writes all of data; true, or nil, err (a write that timed out closes the stream).
--- One read and one write may wait at once, from two tasks (a pump each way); not two of a kind.
---@param data string
---@return boolean? ok
---@return string? err
function Stream:write(data) end

--- Ends the sending side once what was written is out (the peer reads EOF); reading goes on.  Idempotent.
function Stream:shutdown() end

--- Closes the stream (also done when it is garbage, and by `<close>`).
function Stream:close() end

--- Connects; a stream, or nil and "vk.net.connect HOST:PORT: why".  Raises on bad arguments.
---@param opts vk.net.Connect
---@return vk.net.Stream? stream
---@return string? err
function net.connect(opts) end

return net
