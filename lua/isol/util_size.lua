--- isol.util.parse_size, loaded on first use (a recipe without sizes
-- never parses one).
-- @module isol.util_size
local util = require "isol.util"

local M = {}

local units = { [""] = 1, b = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4 }

--- isol.util.parse_size: integer bytes, or "64k", "1M", "2G", "1.5G",
-- "512KiB" -> bytes; a "%" size as nil, percent when allowed; raises
-- naming `path` on bad input.
function M.parse_size(path, v, allow_percent)
  if math.type(v) == "integer" then
    if v < 0 then util.fail(path, "expected a size >= 0, got %d", v) end
    return v
  end
  if type(v) ~= "string" then
    util.fail(path, 'expected size like "32M", got %s %s', type(v), util.show(v))
  end
  local num, unit = v:match("^%s*(%d+%.?%d*)%s*([kKmMgGtTbB]?)[iI]?[bB]?%s*$")
  if num then
    local bytes = tonumber(num) * units[unit:lower()]
    return math.floor(bytes)
  end
  local pct = v:match("^%s*(%d+%.?%d*)%%%s*$")
  if pct and allow_percent then return nil, tonumber(pct) end
  util.fail(path, 'expected size like "32M"%s, got %s', allow_percent and ' or "50%"' or "", util.show(v))
end

return M
