--- The cgroup concern's part of the Lua layer: installs its functions into the
-- isol module table and defines its recipe fields (isol.recipe.define) and
-- sandbox hooks (isol.Sandbox.hooks).
-- @module isol.cgroup
return function(isol)
  local _ = isol
end
