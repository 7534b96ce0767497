--- `isol.spawn` (a raw core plan) and `isol.unshare` (namespaces of the
-- calling process): isol's low-level calls, loaded on first use (a sandbox
-- uses neither).
-- @module isol.lowlevel
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"
local userns = require "isol.userns"

local M = {}

--- Spawn from a raw core plan (low level; see csrc/spawn.h for the fields).
-- Raises on an unknown key or a value of the wrong type, naming it.
-- @return Process, or nil, message, errno
function M.spawn(plan)
  local PLAN_KEYS = require("isol").PLAN_KEYS
  util.check_type("plan", plan, "table")
  for k, v in pairs(plan) do
    local want = type(k) == "string" and PLAN_KEYS[k]
    if not want then
      local known = {}
      for n in pairs(PLAN_KEYS) do known[#known + 1] = n end
      table.sort(known)
      util.fail("plan." .. tostring(k), "unknown plan key (known: %s)", table.concat(known, ", "))
    end
    if want == "io" then util.check_type("plan." .. k, v, "string", "integer", "table")
    else util.check_type("plan." .. k, v, want) end
  end
  return core.spawn(plan)
end

--- Unshare namespaces of the calling process (everything but "pid", which
-- only affects children: use a sandbox for that). A new mount namespace
-- gets `propagation` (default "private", like unshare(1): later mounts
-- never propagate back to the host). Without root (no CAP_SYS_ADMIN) and
-- without "user" and `user`, a user namespace mapping the caller to root is
-- added first, as for a sandbox.
-- @param spec a list of names, or {names..., user = {map_root=true}, hostname=, propagation=}
function M.unshare(spec)
  util.check_type("unshare", spec, "table")
  local names, opts = {}, {}
  for k, v in pairs(spec) do
    if math.type(k) == "integer" then names[k] = v
    elseif k == "user" or k == "hostname" or k == "propagation" then opts[k] = v
    else util.fail("unshare." .. tostring(k), "unknown field (known: user, hostname, propagation)") end
  end
  names = recipe.check_namespaces(names, "namespaces")
  if opts.user ~= nil then util.check_type("unshare.user", opts.user, "table") end
  -- without root the other kinds need a user namespace first: add one that
  -- maps the caller to root, as a sandbox does (isol.rootless)
  if opts.user == nil and userns.needs_auto(names) then
    local why = userns.blocker()
    if why then
      return nil, string.format("unshare %s without root needs a user namespace, but %s",
        table.concat(names, ", "), why), core.errno.EPERM
    end
    names[#names + 1] = "user"
    opts.user = { map_root = true }
  end
  local uid, gid = core.ids()
  local ok, msg, code = core.unshare(names)
  if not ok then return nil, msg, code end
  if opts.user then
    local u = opts.user
    local iu = u.map_root and 0 or u.uid
    if iu then
      local ig = u.map_root and 0 or (u.gid or iu)
      ok, msg, code = core.write_id_maps(0, { { iu, uid, 1 } }, { { ig, gid, 1 } }, u.setgroups ~= "allow")
      if not ok then return nil, msg, code end
    end
  end
  if opts.hostname then
    ok, msg, code = core.sethostname(opts.hostname)
    if not ok then return nil, msg, code end
  end
  for _, n in ipairs(names) do
    if n == "mount" then return require("isol.mount").after_unshare(opts.propagation) end
  end
  return true
end

return M
