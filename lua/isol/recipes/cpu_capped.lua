--- `cpu_capped{percent=}`: a hard CPU ceiling (CFS bandwidth: v1
-- `cpu.cfs_quota_us`/`cpu.cfs_period_us`, v2 `cpu.max`), as a percentage of
-- one CPU: 50 is half a core, 200 two full cores. Unlike shares/weight it
-- caps even when the machine is idle (the seed's "CFS" section).
--
-- Parameters: `percent` (number > 0, required), `weight` (optional relative
-- weight, v2 1-10000; mapped to v1 shares).
-- @module isol.recipes.cpu_capped
local util = require "isol.util"

--- Build the recipe.
-- @tparam table p {percent=, weight=}
-- @treturn table a plain recipe table
return function(p)
  util.check_type("cpu_capped", p, "table")
  util.check_keys("cpu_capped", p, { percent = true, weight = true })
  local pct = p.percent
  if type(pct) ~= "number" or pct <= 0 then
    util.fail("cpu_capped.percent", "expected a number > 0 (percent of one CPU), got %s", util.show(pct))
  end
  local cpu = { quota = string.format("%g%%", pct) }
  if p.weight ~= nil then cpu.weight = p.weight end
  return { limits = { cpu = cpu } }
end
