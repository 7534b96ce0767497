--- Recipe composition and explanation in one module, for callers that
-- require "isol.compose" (recipes, sweeps): the same functions as
-- `isol.recipe.extend`, `merge`, `replace`, `source` and `explain`, which
-- live in isol.recipe_merge and isol.explain.
-- @module isol.compose
local merge = require "isol.recipe_merge"
local explain = require "isol.explain"

local M = {}

--- Merge recipes and validate the result once (isol.recipe_merge.extend).
-- @param base recipe table (or function)
-- @param ... more recipes, applied in order
-- @treturn table the validated recipe
function M.extend(base, ...) return merge.extend(base, ...) end

--- Merge recipes without validating (isol.recipe_merge.merge).
-- @param ... recipe tables (or functions returning them)
-- @treturn table a new plain table
function M.merge(...) return merge.merge(...) end

--- Mark a value that replaces instead of merging (isol.recipe_merge.replace).
-- @param v any value (nil: remove the field)
function M.replace(...) return merge.replace(...) end

--- Is `v` a marker made by `replace`?
M.is_replace = merge.is_replace

--- The source table behind a validated recipe (isol.recipe.source).
M.source = merge.source

--- Describe the final plan of a recipe without running anything
-- (isol.explain.explain).
-- @param r a recipe
-- @param argv optional command
-- @param opts optional {cgroup_version = "v1"|"v2"}
-- @treturn string the text
function M.explain(r, argv, opts) return explain.explain(r, argv, opts) end

--- The host's cgroup mode (isol.explain.cgroup_version).
M.cgroup_version = explain.cgroup_version

--- Quote a word for a POSIX shell (isol.explain.shell_quote).
M.shell_quote = explain.shell_quote

return M
