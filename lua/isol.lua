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
local fs = require "isol.fs"
local kill = require "isol.kill"
local security = require "isol.security"
local net = require "isol.net"
local policy = require "isol.policy"
local rootless = require "isol.rootless"
-- Loaded on first use (`isol run` of a recipe without them never pays for
-- them): the cgroup concern (isol.cgroup_sandbox and what it uses: a recipe
-- with `limits`, `cgroup` or a cgroup namespace), isol.tty (`tty`),
-- isol.mount, isol.image, isol.explain, isol.detached (detached
-- sandboxes), isol.recipe_merge (recipe.extend...), isol.recipes, isol.oci,
-- isol.sweep, isol.lowlevel (isol.spawn, isol.unshare). Their steps below
-- are thin.
local function lazy(module, fn)
  return function(...) return require(module)[fn](...) end
end
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

-- Every key of the core plan, with the Lua types the binding accepts
-- (csrc/lua/l_spawn.c reads them; csrc/spawn.h documents them). A concern
-- that adds a plan key adds it here.
local PLAN_KEYS = {
  argv = "table", env = "table", file = "string", cwd = "string",
  stdin = "io", stdout = "io", stderr = "io", keep_fds = "table",
  namespaces = "table", uid_map = "table", gid_map = "table", setgroups_deny = "boolean",
  idmap_helper = "boolean", ns_inodes = "boolean",
  hostname = "string", domainname = "string", time = "table", fs = "table",
  new_session = "boolean", die_with_parent = "boolean", no_new_privs = "boolean",
  init = "boolean", supervise = "boolean", detach = "boolean",
  cgroup_fd = "integer", cgroup_dirs = "table", status_fd = "integer",
  join_pidfd = "integer", join_namespaces = "table",
  caps = "table", session_keyring = "string", identity = "table", net = "table",
  seccomp = "userdata", rlimits = "table", landlock = "table", timeout_ms = "integer",
  ctty = "boolean",
}
isol.PLAN_KEYS = PLAN_KEYS

--- Spawn from a raw core plan (low level; see csrc/spawn.h for the fields).
-- Raises on an unknown key or a value of the wrong type, naming it.
-- @return Process, or nil, message, errno
isol.spawn = lazy("isol.lowlevel", "spawn")

--- Run argv in a sandbox made from recipe r and wait; returns the status
-- table (and stdout, stderr with opts.capture).
function isol.run(r, argv, opts)
  local box <close> = Sandbox.new(r)
  return box:run(argv, opts)
end

--- Unshare namespaces of the calling process (everything but "pid"), a
-- mount namespace with `propagation`, a user namespace first without root:
-- see isol.lowlevel.unshare.
isol.unshare = lazy("isol.lowlevel", "unshare")

-- ------------------------------------------------------------ the pipeline
-- Every step of a sandbox, in the order it runs (Sandbox.steps() lists
-- them; `isol.recipe.explain` prints them). Within a phase the order below
-- is the order of the calls:
--   plan: user first (the automatic user namespace, or why it cannot be);
--     images are attached before anything refers to them; supervise,
--     then detach (which forces supervision and stdio); tty after detach
--     (it refuses a detached spawn) and after whatever set stdio; the
--     cgroup last, so its OOM count is taken right before the spawn.
--   kill, close: the process trees first (a pid namespace dies with its
--     init), then the cgroup ends and deletes what is left in it.
-- The cgroup concern's steps: the module is loaded when a recipe needs a
-- cgroup (its validate step then records box.cgroup_plan); the other steps
-- have nothing to do for a box without one.
local function needs_cgroup(r)
  return r.limits ~= nil or r.cgroup ~= nil or recipe.has_ns(r, "cgroup")
end
local function cgroup_step(fn)
  return function(box, ...)
    if not box.cgroup_plan and not box.cgroup then return true end
    return require("isol.cgroup_sandbox")[fn](box, ...)
  end
end
-- The tty concern's steps: only for a recipe with `tty`.
local function tty_step(fn)
  return function(box, ...)
    if not box.recipe.tty then return true end
    return require("isol.tty")[fn](box, ...)
  end
end

Sandbox.step("validate", "user", rootless.validate_step)
Sandbox.step("validate", "cgroup", function(box)
  if not needs_cgroup(box.recipe) then return true end
  return require("isol.cgroup_sandbox").validate_step(box)
end)
Sandbox.step("prepare", "cgroup", cgroup_step("prepare_step"))
Sandbox.step("prepare", "policy", policy.prepare_step)
Sandbox.step("plan", "user", rootless.plan_step)
Sandbox.step("plan", "fs", fs.plan_step)
Sandbox.step("plan", "process", kill.plan_step)
Sandbox.step("plan", "detached", function(box, plan, ctx)
  if not ctx.detach then return true end
  return require("isol.detached").plan_step(box, plan, ctx)
end)
Sandbox.step("plan", "security", security.plan_step)
Sandbox.step("plan", "net", net.plan_step)
Sandbox.step("plan", "policy", policy.plan_step)
Sandbox.step("plan", "tty", tty_step("plan_step"))
Sandbox.step("plan", "cgroup", cgroup_step("plan_step"))
Sandbox.step("after_spawn", "process", kill.after_spawn_step)
Sandbox.step("after_spawn", "detached", function(box, p, ctx)
  if not ctx.detach then return true end
  return require("isol.detached").after_spawn_step(box, p, ctx)
end)
Sandbox.step("after_spawn", "cgroup", cgroup_step("after_spawn_step"))
Sandbox.step("after_spawn", "tty", tty_step("after_spawn_step"))
Sandbox.step("wait", "cgroup", cgroup_step("wait_step"))
Sandbox.step("kill", "process", kill.kill_step)
Sandbox.step("kill", "cgroup", cgroup_step("kill_step"))
Sandbox.step("close", "process", kill.close_step)
Sandbox.step("close", "cgroup", cgroup_step("close_step"))
Sandbox.step("close", "net", net.close_step)
Sandbox.step("close", "policy", policy.close_step)
recipe.describe({}, rootless.explain_lines)
for _, name in ipairs { "stats", "freeze", "thaw" } do
  Sandbox.method(name, "cgroup", function(box, ...) return require("isol.cgroup_sandbox").methods[name](box, ...) end)
end
-- The lazy concerns' recipe fields, in the order they are validated.
recipe.lazy("limits", "isol.cgroup_sandbox")
recipe.lazy("cgroup", "isol.cgroup_sandbox")
recipe.lazy("tty", "isol.tty")

-- The concerns' public parts. isol.fs now; isol.mount, isol.image,
-- isol.cgroup, isol.tty, isol.recipes (the recipe library), isol.oci
-- (OCI bundles) and isol.detached on first use.
isol.fs = fs
local LAZY = { recipes = "isol.recipes", oci = "isol.oci", detached = "isol.detached", mount = "isol.mount",
  image = "isol.image", tty = "isol.tty" }
setmetatable(isol, { __index = function(t, k)
  local r
  if LAZY[k] then
    r = require(LAZY[k])
  elseif k == "cgroup" then
    require("isol.cgroup").install(t) -- sets t.cgroup (its exec calls isol.run)
    r = rawget(t, "cgroup")
  else
    return nil
  end
  rawset(t, k, r)
  return r
end })
isol.session = kill.session
isol.pidns = kill.pidns
isol.attach = lazy("isol.detached", "attach")
isol.exec = lazy("isol.detached", "exec")
isol.security = security -- caps, session keyring, unprivileged root map
recipe.extend = lazy("isol.recipe_merge", "extend")
recipe.merge = lazy("isol.recipe_merge", "merge")
recipe.replace = lazy("isol.recipe_merge", "replace")
recipe.explain = lazy("isol.explain", "explain")
recipe.cgroup_version = lazy("isol.explain", "cgroup_version")

--- Run a command under every combination of limits: `isol.sweep{...}`
-- (see `isol.sweep`); `isol.sweep.merge`, `isol.sweep.find_min` and the rest
-- of the module are reached through it. Loaded on first use, so that
-- `isol run` does not pay for it.
isol.sweep = setmetatable({}, {
  __index = function(_, k) return require("isol.sweep")[k] end,
  __call = function(_, spec) return require("isol.sweep").sweep(spec) end,
})

--- Signal number for a name ("SIGTERM", "term") or number; raises if unknown.
isol.signum = core.signum

return isol
