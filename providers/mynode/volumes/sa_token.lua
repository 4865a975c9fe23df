-- mynode/volumes/sa_token.lua: service-account tokens for projected
-- volumes, from the TokenRequest API, bound to the pod (the Node
-- authorizer lets a node ask for tokens of the pods bound to it).
--
-- A token is kept per pod, service account, audience and lifetime and is
-- asked for again, as kubelet's token manager does, once 80 % of its
-- lifetime has passed or it is 24 h old.  The provider config can move the
-- first point (`token_refresh_fraction`, default 0.8) and the second
-- (`token_max_age_s`, default 86400); kubelet's up-to-10-s random jitter is
-- left out.  The clock is the wall clock, read through M.now_s (tests may
-- replace it).
local json = require "vk.json"
local kube = require "vk.kube"
local C = require "mynode.common"

local cfg = C.cfg

local M = {}

function M.now_s() return os.time() end

-- Seconds since the epoch of an RFC 3339 UTC time ("2026-12-02T08:30:00Z").
function M.parse_time(s)
  local y, mo, d, h, mi, sec = tostring(s):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (proleptic Gregorian)
  if mo <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

-- Whether a token {exp=, lifetime=} must be asked for again at `now`.
function M.requires_refresh(tok, now)
  local fraction = tonumber(cfg.token_refresh_fraction) or 0.8
  local max_age = tonumber(cfg.token_max_age_s) or 86400
  local iat = tok.exp - tok.lifetime
  return now >= iat + max_age or now >= iat + tok.lifetime * fraction
end

-- The token for a serviceAccountToken projection {audience=,
-- expirationSeconds=, path=} of rec's pod: the one kept, or a new one.
-- Returns the token and whether it is new.
function M.get(rec, src)
  local pod = rec.pod
  local sa = pod.spec.serviceAccountName or pod.spec.serviceAccount or "default"
  if sa == "" or sa == json.null then sa = "default" end
  local aud = src.audience
  if aud == json.null then aud = nil end
  local lifetime = math.tointeger(src.expirationSeconds) or 3600
  local key = ("%s|%s|%d"):format(sa, aud or "", lifetime)
  rec.tokens = rec.tokens or {}
  local tok = rec.tokens[key]
  local now = M.now_s()
  if tok and not M.requires_refresh(tok, now) then return tok.token, false end
  local tr, err = kube.create(("/api/v1/namespaces/%s/serviceaccounts/%s/token"):format(rec.ns, sa), {
    apiVersion = "authentication.k8s.io/v1", kind = "TokenRequest",
    spec = {
      audiences = json.array(aud and aud ~= "" and {aud} or {}),
      expirationSeconds = lifetime,
      boundObjectRef = {apiVersion = "v1", kind = "Pod", name = pod.metadata.name, uid = pod.metadata.uid},
    },
  })
  if not tr then
    if tok and now < tok.exp then return tok.token, false end -- keep the one we have while it lasts (kubelet does)
    error(("failed to fetch token: %s"):format(err), 0)
  end
  local st = tr.status or {}
  local exp = M.parse_time(st.expirationTimestamp) or now + lifetime
  local got = math.tointeger((tr.spec or {}).expirationSeconds) or lifetime
  if type(st.token) ~= "string" or st.token == "" then error("failed to fetch token: the answer has no token", 0) end
  rec.tokens[key] = {token = st.token, exp = exp, lifetime = got, fetched = now}
  return st.token, true
end

return M
