--- `no_network()`: a new, empty network namespace. Inside there is only a
-- loopback interface, and it is down: no packet reaches any network, not even
-- 127.0.0.1. Combine with other recipes with `isol.recipe.extend`.
-- @module isol.recipes.no_network

--- Build the recipe (no parameters).
-- @treturn table a plain recipe table
return function(p)
  if p ~= nil and (type(p) ~= "table" or next(p) ~= nil) then
    error("no_network: takes no parameters", 2)
  end
  return { namespaces = { "net" } }
end
