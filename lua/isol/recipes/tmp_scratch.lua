--- `tmp_scratch{size=}`: a private tmpfs (default at /tmp) of at most `size`
-- bytes (ENOSPC past it), gone when the sandbox ends. Needs the mount
-- namespace, which this recipe adds.
--
-- Parameters: `size` (default "64M"), `target` (default "/tmp"), `mode`
-- (default "1777").
-- @module isol.recipes.tmp_scratch
local util = require "isol.util"

--- Build the recipe.
-- @tparam[opt] table p {size=, target=, mode=}
-- @treturn table a plain recipe table
return function(p)
  p = p or {}
  util.check_type("tmp_scratch", p, "table")
  util.check_keys("tmp_scratch", p, { size = true, target = true, mode = true })
  local size = p.size or "64M"
  util.parse_size("tmp_scratch.size", size, true)
  local target = p.target or "/tmp"
  if type(target) ~= "string" or target:sub(1, 1) ~= "/" then
    util.fail("tmp_scratch.target", "expected an absolute path, got %s", util.show(target))
  end
  return {
    namespaces = { "mount" },
    mounts = { { type = "tmpfs", target = target, size = size, mode = p.mode or "1777" } },
  }
end
