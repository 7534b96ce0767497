--- Sandboxes for callers without root: the "user" concern's steps.
--
-- * The automatic user namespace (planned by the recipe's `namespaces`
--   field through isol.userns): explain says it was added; where this host
--   forbids user namespaces the plan step fails saying what is missing and
--   what to do.
-- * `user.map_range` and explicit maps beyond the caller's own ids are
--   checked against /etc/subuid and /etc/subgid before anything is created
--   (the validate step raises naming the field, the range and the file).
-- * `hint(msg, errno)`: the way out for a permission error an ordinary user
--   meets (cgroups without delegation, loop devices, images in a user
--   namespace, mqueue, id ranges), appended to the message by Sandbox:spawn.
--
-- What it says (range errors, explain's lines, the hints) is
-- isol.rootless_help, loaded when there is something to say.
-- @module isol.rootless
local core = require "isol.core"
local userns = require "isol.userns"

local E = core.errno

-- the validate step's range errors, explain's lines and the hints
local HELP = "isol.rootless_help"

local M = {}

local function contains(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

--- validate step: subordinate ranges for map_range and for explicit maps
-- beyond the caller's own ids (non-root callers); raises naming the field
-- (isol.rootless_help.check_ranges).
function M.validate_step(box)
  local u = box.recipe.user
  if not u then return true end
  local uid, gid = core.ids()
  if u.map_range or (uid ~= 0 and (userns.beyond_own(u.uid_map, uid) or userns.beyond_own(u.gid_map, gid))) then
    return require(HELP).check_ranges(u, uid, gid)
  end
  return true
end

--- plan step: where the automatic user namespace cannot work, say why.
function M.plan_step(box, plan)
  local r = box.recipe
  if contains(plan.namespaces, "user") and not contains(r.namespaces, "user") then
    local why = userns.blocker()
    if why then
      return nil, string.format("namespaces: creating %s without root needs a user namespace, but %s",
        table.concat(r.namespaces, ", "), why), E.EPERM
    end
  end
  return true
end

--- Lines explain prints: the added user namespace, the helpers
-- (isol.rootless_help.explain_lines).
function M.explain_lines(r, plan)
  return require(HELP).explain_lines(r, plan)
end

-- isol.rootless_help's hints under their names here
local COLD = { HINTS = true, hint_for = true, hint = true, annotate = true }
return setmetatable(M, { __index = function(_, k)
  if COLD[k] then return require(HELP)[k] end
end })
