-- mynode/cri_log.lua: the CRI log format and kubelet's PodLogOptions over
-- it.  Pure (no I/O): tests/providers/mynode_logs_spec.lua.
--
-- containerd writes each line of a container's output as
--   "2026-12-01T06:00:22.556123456Z stdout F text"
-- (RFC 3339 with nanoseconds, the stream, P for a partial piece of a longer
-- line or F for the piece that ends it, then the bytes).  kubelet reads
-- them back as lines: the pieces joined, the line's time being its first
-- piece's.
local M = {}

-- Days from 1970-01-01 to a proleptic Gregorian date.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
  return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

-- RFC 3339 ("2026-12-01T06:00:22Z", "...22.5+01:00") -> nanoseconds since
-- the epoch (an integer), or nil when s is not one.
function M.time_ns(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 then return nil end
  local frac, zone = rest:match("^%.(%d+)(.*)$")
  if not frac then frac, zone = "", rest end
  local off
  if zone == "Z" or zone == "z" then
    off = 0
  else
    local sign, zh, zm = zone:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil end
    off = (tonumber(zh) * 60 + tonumber(zm)) * 60 * (sign == "-" and -1 or 1)
  end
  local secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off
  return secs * 1000000000 + math.tointeger(tonumber((frac .. "000000000"):sub(1, 9)))
end

-- Go's RFC3339Nano, as kubelet prints --timestamps: the fraction without
-- its trailing zeros (containerd writes all nine digits).
function M.nano(ts)
  local head, frac, zone = ts:match("^(.-)%.(%d+)(.*)$")
  if not head then return ts end
  frac = frac:gsub("0+$", "")
  return head .. (frac ~= "" and ("." .. frac) or "") .. zone
end

-- One line of the file -> ts, stream, tag ("P"/"F"), text; nil when it is
-- not in the format.
function M.parse(line)
  local ts, stream, tag, text = line:match("^(%S+) (%S+) (%S+) ?(.*)$")
  if not ts or (stream ~= "stdout" and stream ~= "stderr") then return nil end
  tag = tag:match("^[^:]*") -- "F" or "P", and room for future "F:x" tags
  if tag ~= "P" and tag ~= "F" then return nil end
  return ts, stream, tag, text
end

-- An assembler: fed the file's bytes in any pieces, it gives back whole
-- lines as {ts=, stream=, text=, eol=} (eol: false for a partial line
-- flushed at the end).  A byte run without its "\n" waits for the next feed.
local Assembler = {}
Assembler.__index = Assembler

function M.assembler()
  return setmetatable({rest = "", partial = {}}, Assembler)
end

function Assembler:feed(data, out)
  out = out or {}
  data = self.rest .. data
  local pos = 1
  while true do
    local nl = data:find("\n", pos, true)
    if not nl then break end
    local ts, stream, tag, text = M.parse(data:sub(pos, nl - 1))
    pos = nl + 1
    if ts then
      local p = self.partial[stream] -- stdout's and stderr's pieces interleave
      if tag == "P" then
        self.partial[stream] = p and {ts = p.ts, text = p.text .. text} or {ts = ts, text = text}
      else
        out[#out + 1] = {ts = p and p.ts or ts, stream = stream, text = p and (p.text .. text) or text, eol = true}
        self.partial[stream] = nil
      end
    end
  end
  self.rest = data:sub(pos)
  return out
end

-- The pieces of lines that never got their F (the container ended), and
-- forgets the bytes of a line never finished (the file was replaced).
function Assembler:flush(out)
  out = out or {}
  local left = {}
  for _, stream in ipairs({"stdout", "stderr"}) do
    local p = self.partial[stream]
    if p then left[#left + 1] = {ts = p.ts, stream = stream, text = p.text, eol = false} end
  end
  if #left == 2 and (M.time_ns(left[2].ts) or 0) < (M.time_ns(left[1].ts) or 0) then
    left[1], left[2] = left[2], left[1]
  end
  table.move(left, 1, #left, #out + 1, out)
  self.partial, self.rest = {}, ""
  return out
end

-- opts (kubelet's PodLogOptions as the core gives them) -> the time before
-- which lines are left out, in ns, or nil; now_s: the wall clock, seconds.
-- A sinceTime that is not RFC 3339 raises.
function M.since_ns(opts, now_s)
  if opts.sinceTime ~= nil then
    local t = M.time_ns(opts.sinceTime)
    if not t then error(("sinceTime %q is not an RFC 3339 time"):format(tostring(opts.sinceTime)), 0) end
    return t
  end
  local s = math.tointeger(opts.sinceSeconds)
  if s then return (now_s - s) * 1000000000 end
  return nil
end

-- Keeps the lines at or after since (ns; nil keeps all), in place.
function M.filter_since(lines, since)
  if not since then return lines end
  local n = 0
  for i = 1, #lines do
    local t = M.time_ns(lines[i].ts)
    if not t or t >= since then
      n = n + 1
      lines[n] = lines[i]
    end
  end
  for i = #lines, n + 1, -1 do lines[i] = nil end
  return lines
end

-- The last n lines (nil: all).
function M.tail(lines, n)
  n = math.tointeger(n)
  if not n or n >= #lines then return lines end
  return table.move(lines, #lines - n + 1, #lines, 1, {})
end

-- The text kubectl shows: each line, its RFC3339Nano time first when
-- timestamps; a partial line without its "\n".
function M.render(lines, timestamps)
  local parts = {}
  for i, l in ipairs(lines) do
    parts[i] = (timestamps and (M.nano(l.ts) .. " ") or "") .. l.text .. (l.eol and "\n" or "")
  end
  return table.concat(parts)
end

-- What a whole read of data gives kubectl: PodLogOptions' since, tail,
-- timestamps and limitBytes.  (kubelet tails the file, then filters by
-- time: the same lines, as a log's times only grow.)
function M.select(data, opts, now_s, ended)
  local a = M.assembler()
  local lines = a:feed(data)
  if ended then a:flush(lines) end
  lines = M.tail(M.filter_since(lines, M.since_ns(opts, now_s)), opts.tailLines)
  local text = M.render(lines, opts.timestamps)
  local limit = math.tointeger(opts.limitBytes)
  if limit and #text > limit then text = text:sub(1, limit) end
  return text
end

return M
