--- `no_network()`: a new, empty network namespace. Inside there is only a
-- loopback interface (up, so 127.0.0.1 works): no packet reaches any other
-- network. Combine with other recipes with `isol.recipe.extend`.
-- @module isol.recipes.no_network

--- Build the recipe (no parameters).
-- @treturn table a plain recipe table
return function(p)
  if p ~= nil and (type(p) ~= "table" or next(p) ~= nil) then
    error("no_network: takes no parameters", 2)
  end
  return { namespaces = { "net" } }
end
