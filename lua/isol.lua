--- isol: Linux process isolation from Lua.
--
--     local isol = require "isol"
--     local st = isol.run({ namespaces = { "user", "uts" }, user = { map_root = true },
--                           hostname = "box" }, { "hostname" })
--
-- Errors from the system are returned as `nil, message, errno`; mistakes in
-- recipes or arguments raise an error naming the field and the value.
-- @module isol
local core = require "isol.core"
local recipe = require "isol.recipe"
local Sandbox = require "isol.sandbox"
local util = require "isol.util"

local isol = {
  _VERSION = "isol " .. core._VERSION,
  core = core,
  recipe = recipe,
  util = util,
  Sandbox = Sandbox,
}

--- Create a sandbox from a recipe (validated now; nothing is created until
-- the first spawn).
function isol.sandbox(r)
  return Sandbox.new(r)
end

--- Spawn from a raw core plan (low level; see csrc/spawn.h for the fields).
function isol.spawn(plan)
  return core.spawn(plan)
end

--- Run argv in a sandbox made from recipe r and wait; returns the status
-- table (and stdout, stderr with opts.capture).
function isol.run(r, argv, opts)
  local box <close> = Sandbox.new(r)
  return box:run(argv, opts)
end

--- Unshare namespaces of the calling process (everything but "pid", which
-- only affects children: use a sandbox for that).
-- @param spec a list of names, or {names..., user = {map_root=true}, hostname=}
function isol.unshare(spec)
  util.check_type("unshare", spec, "table")
  local names, opts = {}, {}
  for k, v in pairs(spec) do
    if math.type(k) == "integer" then names[k] = v
    elseif k == "user" or k == "hostname" then opts[k] = v
    else util.fail("unshare." .. tostring(k), "unknown field (known: user, hostname)") end
  end
  names = recipe.check_namespaces(names, "namespaces")
  local uid, gid = core.ids()
  local ok, msg, code = core.unshare(names)
  if not ok then return nil, msg, code end
  if opts.user then
    local u = opts.user
    util.check_type("unshare.user", u, "table")
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
  return true
end

-- Each concern installs its part: filesystem (isol.mount, isol.image, fields
-- mounts/root), processes (isol.session, isol.pidns, isol.attach, detach),
-- cgroups (isol.cgroup, field limits).
require "isol.fs"(isol)
require "isol.process"(isol)
require "isol.cgroup"(isol)
require "isol.policy"(isol) -- seccomp, rlimits, landlock, timeout, cpu_timeout
require "isol.compose"(isol) -- recipe.extend/merge/replace/explain

--- Run a command under every combination of limits (see `isol.sweep`);
-- loaded on first use, so that `isol run` does not pay for it.
-- @param spec {recipe=, command=, vary=, runs=, ...}
function isol.sweep(spec)
  return require("isol.sweep").sweep(spec)
end

--- Signal number for a name ("SIGTERM", "term") or number; raises if unknown.
isol.signum = core.signum

return isol
