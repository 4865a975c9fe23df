---@meta
-- vk.config: where the provider's config came from, so that a provider's
-- checks point at the line of the file.  No yield.
--
--   local text = vk.fs.read_file(vk.config.file())
--   local lines = vk.config.lines(text)       -- lines["specs[3].memory"] --> 24
--   error(("%s:%d: specs[3].memory: ..."):format(vk.config.file(), lines["specs[3].memory"]), 0)

---@class vk
---@field config vk.config

---@class vk.config
local config = {}

--- The --provider-config file (made absolute), or nil when there is none.
---@return string|nil
function config.file() end

--- The 1-based line of every mapping key and sequence item of the YAML
--- text's first document, by path: keys joined with ".", items as [N]
--- counted from 1 ("specs[3].memory[2]").  nil, "vk.config.lines: line N:
--- ..." for text that is not YAML.
---@param text string
---@return table<string, integer>|nil, string?
function config.lines(text) end

return config
