--- `minimal{...}`: every namespace but time, root mapped to the caller, its
-- own hostname, and a read-only view of the host's system directories as the
-- new root (`isol.recipes.host_readonly`, from the filesystem concern).
--
-- Parameters (all optional): `hostname` (default "isol"), `root` (the
-- parameters passed on to `host_readonly`).
--
--     local box = isol.sandbox(isol.recipes.minimal())
-- @module isol.recipes.minimal
local util = require "isol.util"

--- Build the recipe.
-- @tparam[opt] table p parameters {hostname=, root=}
-- @treturn table a plain recipe table
return function(p)
  p = p or {}
  util.check_type("minimal", p, "table")
  util.check_keys("minimal", p, { hostname = true, root = true })
  -- required here, not at load time: the index requires this file
  local host_readonly = require("isol.recipes").host_readonly
  return {
    description = "minimal: all namespaces, read-only host root",
    namespaces = { "user", "pid", "mount", "uts", "ipc", "net", "cgroup" },
    user = { map_root = true },
    hostname = p.hostname or "isol",
    root = host_readonly(p.root),
  }
end
