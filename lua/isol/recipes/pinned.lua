--- `pinned{cpus=}`: run only on the given CPUs (cpuset: the seed's "CPU Core
-- Affinity"). `cpus` is a list like "0", "0-3" or "1,3"; `mems` the NUMA
-- nodes (v1 needs both set: when `mems` is not given the cgroup module uses
-- the parent's). Combine with `cpu_capped` for the seed's "CPU Scheduler and
-- Core Affinity": the cap is then a share of the whole machine, spent only on
-- these cores.
-- @module isol.recipes.pinned
local util = require "isol.util"

--- Build the recipe.
-- @tparam table p {cpus=, mems=}
-- @treturn table a plain recipe table
return function(p)
  util.check_type("pinned", p, "table")
  util.check_keys("pinned", p, { cpus = true, mems = true })
  local function list(name, v)
    if math.type(v) == "integer" then v = tostring(v) end
    if type(v) ~= "string" or not v:match("^%d[%d,%-]*$") then
      util.fail("pinned." .. name, 'expected a list like "0", "0-3" or "1,3", got %s', util.show(v))
    end
    return v
  end
  local cpuset = { cpus = list("cpus", p.cpus) }
  if p.mems ~= nil then cpuset.mems = list("mems", p.mems) end
  return { limits = { cpuset = cpuset } }
end
