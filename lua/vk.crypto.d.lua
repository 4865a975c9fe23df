---@meta
-- vk.crypto: digests for signing a cloud API's requests (AK/SK, HMAC), over
-- OpenSSL.  No yield.
--
--   local crypto = require "vk.crypto"
--   local sig = crypto.hex(crypto.hmac_sha256(secret, canonical_string))

---@class vk
---@field crypto vk.crypto

---@class vk.crypto
local crypto = {}

--- SHA-256 of any bytes: 32 raw bytes.
---@param s string
---@return string
function crypto.sha256(s) end

--- HMAC-SHA256 of `s` under `key`: 32 raw bytes.
---@param key string
---@param s string
---@return string
function crypto.hmac_sha256(key, s) end

--- Lower-case hex of any bytes.
---@param s string
---@return string
function crypto.hex(s) end

return crypto
