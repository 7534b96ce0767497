--- `memory_capped{max=}`: a memory ceiling (v1 `memory.limit_in_bytes`, v2
-- `memory.max`) with no swap to escape into (`swap = 0`: v1
-- `memory.memsw.limit_in_bytes` = max, v2 `memory.swap.max` = 0). Past the
-- ceiling the kernel's OOM killer ends a process of the sandbox; the wait
-- status says `oom = true` and `box:stats()` counts it.
--
-- Parameters: `max` (size, "32M", required), `swap` (size, default 0).
-- @module isol.recipes.memory_capped
local util = require "isol.util"

--- Build the recipe.
-- @tparam table p {max=, swap=}
-- @treturn table a plain recipe table
return function(p)
  util.check_type("memory_capped", p, "table")
  util.check_keys("memory_capped", p, { max = true, swap = true })
  if p.max == nil then util.fail("memory_capped.max", 'required (a size like "64M")') end
  util.parse_size("memory_capped.max", p.max)
  if p.swap ~= nil then util.parse_size("memory_capped.swap", p.swap) end
  return { limits = { memory = { max = p.max, swap = p.swap or 0 } } }
end
