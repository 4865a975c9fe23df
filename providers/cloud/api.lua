-- cloud/api.lua: the cloud's API as the simulator (examples/cloud-sim)
-- speaks it: POST ENDPOINT/v1/ACTION with a JSON body, signed with AK/SK.
--
-- Signing: X-Sim-Date is the UTC time as YYYYMMDDTHHMMSSZ; the canonical
-- string is "POST\n/v1/ACTION\nDATE\nhex(sha256(body))"; X-Sim-Signature is
-- hex(hmac_sha256(secret_key, canonical)); X-Sim-Access-Key the key's id.
--
-- Pacing, so that vk never hammers the API: every request takes a slot, at
-- most `rate_limit` per second (all callers share them, first come first
-- served); a 429's Retry-After holds every caller until it has passed, and
-- halves the pace, which successes bring back up by 5 % each.
-- A 429, a 5xx or no answer is retried (up to `retries` times, with
-- backoff); other errors are returned.
--
--   local api = require("cloud.api").new{endpoint=, region=, access_key=,
--     secret_key=, rate_limit=20, retries=6, timeout_ms=10000}
--   local body, err, code, status = api:call("DescribeContainerGroups", {...})
local http = require "vk.http"
local json = require "vk.json"
local timer = require "vk.timer"
local crypto = require "vk.crypto"
local k8s = require "vk.k8s"

local M = {}
local Client = {}
Client.__index = Client

function M.new(o)
  local c = setmetatable({}, Client)
  c.endpoint = o.endpoint:gsub("/+$", "")
  c.region = o.region
  c.access_key, c.secret_key = o.access_key, o.secret_key
  c.base_gap_ms = 1000 / (o.rate_limit or 20)
  c.gap_ms = c.base_gap_ms -- widened after a 429, narrowed again by successes
  c.not_before = 0         -- no request before this now_ms (Retry-After)
  c.retries = o.retries or 6
  c.timeout_ms = o.timeout_ms or 10000
  c.next_slot = 0   -- now_ms of the next free slot
  c.calls = {}      -- action -> requests sent (for logs and benchmarks)
  c.throttled = 0   -- 429s received
  return c
end

-- The signature headers for a body sent to path at `date`.
function M.sign(access_key, secret_key, path, date, body)
  local canonical = table.concat({"POST", path, date, crypto.hex(crypto.sha256(body))}, "\n")
  return {
    ["X-Sim-Access-Key"] = access_key,
    ["X-Sim-Date"] = date,
    ["X-Sim-Signature"] = crypto.hex(crypto.hmac_sha256(secret_key, canonical)),
  }
end

-- Waits for this request's slot.  A 429 that came while it slept moves
-- not_before: then it takes a new slot after that.
function Client:pace()
  while true do
    local now = timer.now_ms()
    local slot = math.max(now, self.next_slot, self.not_before)
    self.next_slot = slot + self.gap_ms
    if slot > now then timer.sleep(math.ceil(slot - now)) end
    if timer.now_ms() >= self.not_before then return end
  end
end

-- Retry-After in seconds (or an HTTP date, which this API does not send:
-- then one second).
local function retry_after_ms(headers)
  local v = tonumber(headers["retry-after"] or "")
  return math.max(1, v or 1) * 1000
end

-- One API call: the decoded answer, or nil, message, code, HTTP status.
function Client:call(action, body)
  body = body or {}
  body.RegionId = body.RegionId or self.region
  local text = json.encode(body)
  local path = "/v1/" .. action
  local backoff = k8s.backoff{base_ms = 500, max_ms = 8000}
  local last_err, last_code, last_status
  for attempt = 1, self.retries + 1 do
    self:pace()
    local headers = M.sign(self.access_key, self.secret_key, path, os.date("!%Y%m%dT%H%M%SZ"), text)
    headers["Content-Type"] = "application/json"
    self.calls[action] = (self.calls[action] or 0) + 1
    local resp, err = http.request{url = self.endpoint .. path, method = "POST", headers = headers, body = text,
                                   timeout_ms = self.timeout_ms}
    local wait
    if not resp then
      last_err, last_code, last_status = action .. ": no answer: " .. tostring(err), "Unreachable", 0
      wait = backoff:next()
    else
      local ok, answer = pcall(json.decode, resp.body)
      if not ok or type(answer) ~= "table" then answer = {} end
      if resp.status >= 200 and resp.status < 300 then
        self.gap_ms = math.max(self.base_gap_ms, self.gap_ms * 0.95)
        return answer
      end
      last_code, last_status = answer.Code or ("HTTP" .. resp.status), resp.status
      last_err = ("%s: %s: %s"):format(action, last_code, answer.Message or resp.body)
      if resp.status == 429 then
        self.throttled = self.throttled + 1
        -- Every caller waits Retry-After out, and the pace halves (the
        -- cloud's limit is lower than ours): at most 1 request a second.
        self.not_before = math.max(self.not_before, timer.now_ms() + retry_after_ms(resp.headers))
        self.gap_ms = math.min(1000, self.gap_ms * 2)
        wait = 0
      elseif resp.status >= 500 then
        wait = backoff:next()
      else
        return nil, last_err, last_code, last_status
      end
    end
    if attempt <= self.retries and wait > 0 then timer.sleep(wait) end
  end
  return nil, last_err, last_code, last_status
end

function Client:stats()
  local total = 0
  for _, n in pairs(self.calls) do total = total + n end
  return {calls = self.calls, total = total, throttled = self.throttled}
end

return M
