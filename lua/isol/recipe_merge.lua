--- Recipe composition: `isol.recipe.extend`, `merge` and `replace`.
--
-- Recipes are plain tables, so composing them is merging tables. The rules,
-- applied key by key from left to right (later arguments win):
--
--  * scalars (strings, numbers, booleans): the later value replaces;
--  * `namespaces`: union, in order of first appearance, no duplicates;
--  * argv-like and whole-object fields replace as a whole: `command`,
--    `root`, `user.uid_map`, `user.gid_map`, `stdin`, `stdout`, `stderr`;
--  * other lists (`mounts`, `keep_fds`, `limits.devices.allow`...): the later
--    list is appended; for lists of scalars an entry already present is not
--    repeated;
--  * maps (`limits`, `limits.memory`, `env`, `user`...): merged by key,
--    recursively, with these same rules;
--  * a table meets a non-table (or the reverse): the later value replaces;
--  * `isol.recipe.replace(v)` anywhere in a later argument: `v` replaces what
--    the earlier ones had at that place, whatever its type;
--    `isol.recipe.replace()` (no value) removes the field.
--
-- A function argument is called with no arguments and must return a table
-- (so `isol.recipes.no_network` and `isol.recipes.no_network()` both work).
-- Arguments are never modified. `merge` returns the plain merged table;
-- `extend` merges and then validates the result once (errors name the field
-- of the merged recipe). An already validated recipe can be extended again:
-- its source table is used, so checks that normalize values never see their
-- own output.
-- @module isol.recipe_merge
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}

local REPLACE = setmetatable({}, { __name = "isol.recipe.replace" })
local Replace = { __name = "isol.recipe.replace" }
Replace.__index = Replace
function Replace.__tostring(r) return "isol.recipe.replace(" .. tostring(r.value) .. ")" end

--- Mark a value so that it replaces the earlier one in `extend`/`merge`
-- instead of being merged into it. Without a value, removes the field.
-- @param v any value (nil: remove the field)
-- @return a marker table understood by `merge`
function M.replace(...)
  local v = ...
  return setmetatable({ [REPLACE] = true, value = v, remove = select("#", ...) == 0 or v == nil }, Replace)
end

--- Is `v` a marker made by `replace`?
function M.is_replace(v)
  return type(v) == "table" and getmetatable(v) == Replace
end

local WHOLE = { command = true, root = true, stdin = true, stdout = true, stderr = true,
  ["user.uid_map"] = true, ["user.gid_map"] = true }
local UNION = { namespaces = true }

-- Deep copy that resolves replace markers (a marker in a first argument
-- simply stands for its value).
local function plain(v)
  if M.is_replace(v) then
    if v.remove then return nil end
    return plain(v.value)
  end
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = plain(x) end
  return r
end

local function is_list(t)
  return type(t) == "table" and next(t) ~= nil and util.is_list(t)
end

local function merge_into(dst, src, prefix)
  -- sorted keys: deterministic order for appends of nested lists
  local keys = {}
  for k in pairs(src) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  for _, k in ipairs(keys) do
    local v = src[k]
    local path = prefix and (prefix .. "." .. tostring(k)) or tostring(k)
    local old = dst[k]
    if M.is_replace(v) then
      dst[k] = plain(v)
    elseif type(v) ~= "table" or type(old) ~= "table" or WHOLE[path] then
      dst[k] = plain(v)
    elseif UNION[path] or (is_list(old) and is_list(v)) then
      local out, seen = {}, {}
      for _, x in ipairs(old) do
        out[#out + 1] = x
        if type(x) ~= "table" then seen[x] = true end
      end
      for _, x in ipairs(v) do
        if type(x) == "table" or not seen[x] then -- a scalar already present is skipped
          out[#out + 1] = plain(x)
          if type(x) ~= "table" then seen[x] = true end
        end
      end
      dst[k] = out
    elseif next(old) == nil or next(v) == nil then
      -- an empty table merges as the other side (an empty list or map)
      if next(old) == nil then dst[k] = plain(v) end
    elseif is_list(old) ~= is_list(v) then
      dst[k] = plain(v) -- a list meets a map: the later value replaces
    else
      merge_into(old, v, path)
    end
  end
  return dst
end

local function source_of(r, i)
  if type(r) == "function" then r = r() end
  if type(r) ~= "table" then
    util.fail(string.format("extend: argument %d", i), "expected a recipe table or a function returning one, got %s",
      type(r))
  end
  return recipe.source(r)
end

--- Merge recipes by the rules in the module doc, without validating.
-- @param ... recipe tables (or functions returning them)
-- @treturn table a new plain table
function M.merge(...)
  local n = select("#", ...)
  if n == 0 then return {} end
  local out = plain(source_of((...), 1))
  for i = 2, n do
    merge_into(out, source_of((select(i, ...)), i), nil)
  end
  return out
end

--- Merge recipes (see the rules in the module doc) and validate the result
-- once. Raises an error naming the field of the merged recipe.
-- @param base recipe table (or function)
-- @param ... more recipes, applied in order
-- @treturn table the validated recipe
function M.extend(base, ...)
  return recipe.validate(M.merge(base, ...))
end

--- The source (unvalidated, merged) table behind a validated recipe, or
-- the table itself.
M.source = recipe.source

return M
