---@meta
-- vk.k8s: Kubernetes' value formats and kubelet's backoff for providers, so
-- that a provider does not write its own.  Built in (src/lua/bind_k8s.c over
-- vk's C: the same parsing the core's env resolver uses).  No yield.
--
--   local k8s = require "vk.k8s"         -- or vk.k8s
--   k8s.quantity("500m")                 --> 0.5      (cores)
--   k8s.quantity("128Mi")                --> 134217728 (bytes)
--   k8s.expand("--port=$(PORT)", {PORT = "80"})   --> "--port=80"
--   local b = k8s.backoff{base_ms = 10000, max_ms = 300000, jitter = false}
--   timer.sleep(b:next())                -- 10 s, 20 s, 40 s ... 300 s

---@class vk
---@field k8s vk.k8s

---@class vk.k8s
local k8s = {}

--- A quantity ("500m", "2", "0.5", "128Mi", "1G", "1e3", "100n") in base
--- units: an integer when whole, else a float.  A number is returned as is.
---@param q string|number
---@return number|nil value, string? err  nil, "vk.k8s.quantity: \"x\" is not a quantity ..."
function k8s.quantity(q) end

--- Standard base64 (RFC 4648) with padding.
---@param s string  any bytes
---@return string
function k8s.base64_encode(s) end

--- Decodes standard base64 as Secret data holds it: line breaks ignored,
--- padding optional.
---@param s string
---@return string|nil bytes, string? err
function k8s.base64_decode(s) end

---@class vk.k8s.ExpandOpts
---@field escapes? boolean  default true: `$$` becomes `$` (so `$$(X)` stays "$(X)")

--- kubelet's $(VAR) expansion (env values, command, args): each `$(NAME)`
--- whose NAME has a string value in `vars` is replaced; an undefined one
--- stays as written.
---@param s string
---@param vars table<string, string>  name -> value (other values count as undefined)
---@param opts? vk.k8s.ExpandOpts
---@return string
function k8s.expand(s, vars, opts) end

---@class vk.k8s.BackoffOpts
---@field base_ms? integer  the first delay (default 1000)
---@field max_ms? integer  the cap (default 60000)
---@field jitter? boolean  default true: each delay is drawn from [d/2, d]
---@field immediate? boolean  default false: the first delay is 0, then base_ms (kubelet's restarts)

--- Exponential backoff: base_ms, doubling, capped at max_ms.
---@param opts vk.k8s.BackoffOpts
---@return vk.k8s.Backoff
function k8s.backoff(opts) end

---@class vk.k8s.Backoff
local Backoff = {}
--- The next delay in ms (and one more attempt).
---@return integer
function Backoff:next() end
--- Starts again from the first delay.
function Backoff:reset() end
--- next() calls since the last reset.
---@return integer
function Backoff:attempts() end
--- The delay next() returned last (0 before any).
---@return integer
function Backoff:delay() end

return k8s
