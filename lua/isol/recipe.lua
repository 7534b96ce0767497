--- Recipes: plain tables describing a sandbox, validated once into the plan
-- that the C core executes.
--
-- Each recipe field is defined here (or by a concern module: `isol.fs`
-- defines `mounts` and `root`, `isol.cgroup` defines `limits` and `cgroup`)
-- with `define(name, spec)`:
--
--   spec.check(value, path, recipe) -> normalized value   (raises on bad input)
--   spec.plan(value, plan, recipe)  -- fills the core plan (optional)
--   spec.doc                         -- one line for `isol.recipe.fields()`
--
-- Validation is pure: it reads only the table (no /proc, no /sys: checks
-- against the host run in the Sandbox's validate phase) and raises an
-- error that names the field path and the value, e.g.
-- `namespaces[3]: unknown namespace "netw"`.
-- @module isol.recipe
local core = require "isol.core"
local util = require "isol.util"
local userns = require "isol.userns"

local M = {}
local fields, order = {}, {}
local post_checks = {}

--- Define a recipe field (see module doc).
function M.define(name, spec)
  assert(type(spec.check) == "function", "define: spec.check required")
  if not fields[name] then order[#order + 1] = name end
  spec.name = name
  fields[name] = spec
end

--- Declare a field that `module` defines, without loading the module: it
-- keeps its place in the validation order and the module is loaded (and
-- defines it) the first time a recipe uses the field. `isol run` of a
-- recipe without limits so never loads the cgroup modules.
function M.lazy(name, module)
  if not fields[name] then
    order[#order + 1] = name
    fields[name] = { name = name, lazy = module }
  end
end

-- The spec of a field, loading its module first when it is lazy.
local function spec_of(name)
  local spec = fields[name]
  if spec.lazy then
    require(spec.lazy)
    spec = fields[name]
    assert(not spec.lazy, "module " .. tostring(spec.lazy) .. " did not define field " .. name)
  end
  return spec
end

--- Load every module that defines a lazy field (for listings and explain).
function M.load_all()
  for _, n in ipairs(order) do spec_of(n) end
end

--- Add a whole-recipe check run after every field is valid: fn(recipe).
function M.post_check(fn) post_checks[#post_checks + 1] = fn end

--- The defined fields, in definition order: { {name=, doc=}, ... }.
function M.fields()
  local r = {}
  for _, n in ipairs(order) do r[#r + 1] = { name = n, doc = spec_of(n).doc } end
  return r
end

local describers = {}

--- Let a concern describe its own fields in explain (isol.explain):
-- `fields` (a list of recipe field names) are then not printed raw;
-- fn(recipe, plan) returns a list of lines. Kept here so that a concern
-- registers without loading the explain module.
function M.describe(names, fn)
  describers[#describers + 1] = { fields = names, fn = fn }
end

--- The registered describers, in registration order.
function M.describers()
  M.load_all()
  return describers
end

-- validated recipe -> the names of its fields that fill the plan, in
-- definition order (to_plan runs these, not every defined field)
local VALID = setmetatable({}, { __mode = "k" })
-- validated recipe -> a copy of the table it was made from (weak keys):
-- checks normalize values, and `extend`, `explain` and sweeps start from
-- what the user wrote.
local SOURCE = setmetatable({}, { __mode = "k" })

--- Validate a recipe table. Returns a new, normalized table (the input is
-- not modified); raises on the first bad field.
function M.validate(r)
  if VALID[r] then return r end
  util.check_type("recipe", r, "table")
  local out = {}
  for k in pairs(r) do
    if type(k) ~= "string" or not fields[k] then
      local known = {}
      for _, n in ipairs(order) do known[#known + 1] = n end
      util.fail(tostring(k), "unknown recipe field (known: %s)", table.concat(known, ", "))
    end
  end
  for _, name in ipairs(order) do
    local v = r[name]
    if v ~= nil then out[name] = spec_of(name).check(v, name, r) end
  end
  for _, fn in ipairs(post_checks) do fn(out) end
  local planned = {}
  for _, name in ipairs(order) do
    if out[name] ~= nil and fields[name].plan then planned[#planned + 1] = name end
  end
  VALID[out] = planned
  SOURCE[out] = SOURCE[r] or util.deepcopy(r)
  return out
end

--- The source table behind a validated recipe (what the user wrote,
-- merged), or r itself.
function M.source(r) return SOURCE[r] or r end

--- Is r a validated recipe (returned by validate)?
function M.is_valid(r) return VALID[r] ~= nil end

-- the spawn options to_plan copies into the plan
local SPAWN_KEYS = { "cwd", "stdin", "stdout", "stderr", "keep_fds", "file" }

--- Build the core plan for one spawn from a validated recipe.
-- `argv` is the command; `opts` may carry env/cwd/stdin/stdout/stderr/keep_fds.
function M.to_plan(r, argv, opts)
  local plan = { argv = argv }
  for _, name in ipairs(VALID[r] or order) do
    local spec = fields[name]
    if r[name] ~= nil and spec.plan then spec.plan(r[name], plan, r) end
  end
  if opts then
    for _, k in ipairs(SPAWN_KEYS) do
      if opts[k] ~= nil then plan[k] = opts[k] end
    end
    if opts.env ~= nil then
      plan.env = M.make_env(r.clear_env, r.env, opts.env)
    end
  end
  return plan
end

--- env: a map {NAME = "value" | false} merged over the caller's environment
-- (false removes a variable); with clear_env only the map is passed.
function M.make_env(clear, base, extra)
  local list, index = {}, {}
  local function put(k, v)
    if v == false then
      if index[k] then list[index[k]] = false end
      index[k] = nil
      return
    end
    local entry = k .. "=" .. v
    if index[k] then list[index[k]] = entry
    else list[#list + 1] = entry; index[k] = #list end
  end
  if not clear then
    for _, e in ipairs(core.environ()) do
      local k, v = e:match("^([^=]*)=(.*)$")
      if k then put(k, v) end
    end
  end
  for _, m in ipairs { base or {}, extra or {} } do
    local keys = {}
    for k in pairs(m) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do put(k, m[k]) end
  end
  local out = {}
  for _, e in ipairs(list) do if e then out[#out + 1] = e end end
  return out
end

-- ---------------------------------------------------------------- fields

local ns_names = {}
for _, k in ipairs(core.ns_kinds()) do ns_names[k.name] = k.name; ns_names[k.procname] = k.name end

--- Check a list of namespace names; returns a normalized, de-duplicated list.
function M.check_namespaces(v, path)
  util.check_type(path, v, "table")
  if not util.is_list(v) then util.fail(path, "expected a list of namespace names") end
  local out, seen = {}, {}
  for i, n in ipairs(v) do
    local p = string.format("%s[%d]", path, i)
    util.check_type(p, n, "string")
    local name = ns_names[n]
    if not name then
      util.fail(p, "unknown namespace %s (known: mount, uts, ipc, net, pid, user, cgroup, time)", util.show(n))
    end
    if not seen[name] then seen[name] = true; out[#out + 1] = name end
  end
  return out
end

local function has_ns(r, name)
  for _, n in ipairs(r.namespaces or {}) do if n == name then return true end end
  return false
end
M.has_ns = has_ns

M.define("namespaces", {
  doc = 'list of namespaces to create: "mount", "uts", "ipc", "net", "pid", "user", "cgroup", "time"',
  check = M.check_namespaces,
  plan = function(v, plan)
    plan.namespaces = v
    -- Without root, the other kinds need a user namespace first: add one
    -- mapping the caller to root inside, as bwrap does (isol.rootless
    -- explains it, and refuses where user namespaces are disabled).
    if userns.needs_auto(v) then
      local uid, gid = core.ids()
      plan.namespaces = util.copy_list(v)
      plan.namespaces[#plan.namespaces + 1] = "user"
      plan.uid_map, plan.gid_map, plan.setgroups_deny = { { 0, uid, 1 } }, { { 0, gid, 1 } }, true
    end
    -- clone3 cannot put the child itself in a new time namespace: the child
    -- unshares one when plan.time is set, so "time" alone gets zero offsets
    -- (the `time` field, planned after this one, gives others).
    for _, n in ipairs(v) do
      if n == "time" and plan.time == nil then plan.time = { monotonic = 0, boottime = 0 } end
    end
  end,
})

-- the parts of a recipe that a plain one never uses (explicit id maps,
-- the `time` and `keep_fds` fields): isol.recipe_extra, loaded on first use
local function extra() return require "isol.recipe_extra" end

M.define("user", {
  doc = "user namespace maps: {map_root=true} | {map_root=\"unprivileged\"} (root inside is never host root) "
    .. "| {uid=, gid=} | {uid_map=, gid_map=} | {map_range=true} (root inside is you, 1..65535 your "
    .. "subordinate ids from /etc/subuid and /etc/subgid, through newuidmap/newgidmap), "
    .. "setgroups=\"deny\"|\"allow\"",
  check = function(v, path)
    util.check_type(path, v, "table")
    util.check_keys(path, v, { map_root = true, uid = true, gid = true, uid_map = true,
      gid_map = true, setgroups = true, map_range = true })
    local out = {}
    if v.map_range ~= nil then
      out.map_range = util.check_type(path .. ".map_range", v.map_range, "boolean")
      if out.map_range then
        for _, k in ipairs { "uid", "gid", "uid_map", "gid_map" } do
          if v[k] ~= nil then util.fail(path, "map_range cannot be combined with %s", k) end
        end
        if v.map_root == "unprivileged" then
          util.fail(path, 'map_range cannot be combined with map_root = "unprivileged"')
        end
        if v.setgroups ~= nil then
          util.fail(path .. ".setgroups", "is set by newgidmap with map_range (allow: the range is yours)")
        end
      end
    end
    if v.map_root ~= nil and v.map_root ~= "unprivileged" then
      out.map_root = util.check_type(path .. ".map_root", v.map_root, "boolean")
    end
    -- "unprivileged": sandbox root is never host root (isol.security.root_map)
    if v.map_root == "unprivileged" then out.map_root = v.map_root end
    for _, k in ipairs { "uid", "gid" } do
      if v[k] ~= nil then
        local x = v[k]
        if math.type(x) ~= "integer" or x < 0 or x > 0xfffffffe then
          util.fail(path .. "." .. k, "expected an id inside the namespace, got %s", util.show(x))
        end
        out[k] = x
      end
    end
    if v.uid_map ~= nil then out.uid_map = extra().check_idmap(v.uid_map, path .. ".uid_map") end
    if v.gid_map ~= nil then out.gid_map = extra().check_idmap(v.gid_map, path .. ".gid_map") end
    if out.map_root and (out.uid or out.uid_map) then
      util.fail(path, "map_root cannot be combined with uid or uid_map")
    end
    if out.uid and out.uid_map then util.fail(path, "uid cannot be combined with uid_map") end
    if v.setgroups ~= nil then
      if v.setgroups ~= "deny" and v.setgroups ~= "allow" then
        util.fail(path .. ".setgroups", 'expected "deny" or "allow", got %s', util.show(v.setgroups))
      end
      out.setgroups = v.setgroups
    end
    return out
  end,
  plan = function(v, plan)
    if v.map_root == "unprivileged" then
      local identity
      plan.uid_map, plan.gid_map, identity = require("isol.security").root_map()
      plan.identity = identity
      plan.setgroups_deny = identity == nil -- the child drops root's groups itself
      return
    end
    local uid, gid = core.ids()
    if v.map_range then
      -- root inside is the caller, 1..N the caller's subordinate range
      plan.uid_map, plan.gid_map = userns.range_maps()
      plan.idmap_helper = uid ~= 0
      plan.setgroups_deny = false
      return
    end
    local inside_uid = v.map_root and 0 or v.uid
    local inside_gid = v.map_root and 0 or (v.gid or v.uid)
    if v.uid_map then plan.uid_map = v.uid_map
    elseif inside_uid then plan.uid_map = { { inside_uid, uid, 1 } } end
    if v.gid_map then plan.gid_map = v.gid_map
    elseif inside_gid then plan.gid_map = { { inside_gid, gid, 1 } } end
    -- An unprivileged gid map requires setgroups "deny"; deny is also the
    -- safe default (no dropping of supplementary groups to get access).
    plan.setgroups_deny = plan.gid_map ~= nil and v.setgroups ~= "allow"
    -- Ranges beyond the caller's own ids: only root writes them itself;
    -- anyone else goes through newuidmap/newgidmap (subordinate ids).
    if uid ~= 0 and (userns.beyond_own(plan.uid_map, uid) or userns.beyond_own(plan.gid_map, gid)) then
      plan.idmap_helper, plan.setgroups_deny = true, false
    end
  end,
})

local function hostname_check()
  return function(v, path)
    util.check_type(path, v, "string")
    if #v == 0 or #v > 64 then util.fail(path, "expected 1 to 64 characters, got %s", util.show(v)) end
    return v
  end
end

M.define("hostname", {
  doc = 'hostname inside (needs the "uts" namespace)',
  check = hostname_check(),
  plan = function(v, plan) plan.hostname = v end,
})
M.define("domainname", {
  doc = 'NIS domain name inside (needs the "uts" namespace)',
  check = hostname_check(),
  plan = function(v, plan) plan.domainname = v end,
})

M.lazy("time", "isol.recipe_extra")

M.define("env", {
  doc = "environment overrides {NAME = \"value\" | false}, over the caller's unless clear_env",
  check = function(v, path)
    util.check_type(path, v, "table")
    local out = {}
    for k, x in pairs(v) do
      if type(k) ~= "string" or k == "" or k:find("=", 1, true) then
        util.fail(path, "bad variable name %s", util.show(k))
      end
      if x ~= false then
        if type(x) == "number" then x = tostring(x) end
        util.check_type(path .. "." .. k, x, "string")
      end
      out[k] = x
    end
    return out
  end,
  plan = function(v, plan, r) plan.env = M.make_env(r.clear_env, v) end,
})

local function flag(name, doc)
  M.define(name, {
    doc = doc,
    check = function(v, path) return util.check_type(path, v, "boolean") end,
    plan = function(v, plan) plan[name] = v end,
  })
end
flag("clear_env", "start from an empty environment (env gives the variables)")
flag("new_session", "setsid(): no controlling terminal, closes TIOCSTI (default true)")
flag("die_with_parent", "the sandbox dies with the calling process (default true)")
flag("no_new_privs", "PR_SET_NO_NEW_PRIVS (default true)")
flag("init", "isol's init supervises the command (default true): PID 1 with a pid namespace, "
  .. "otherwise a child subreaper that keeps escapees findable; false execs the command directly "
  .. "(without a pid namespace only with a cgroup and die_with_parent = false: nothing else ends a setsid "
  .. "grandchild). Only a pid namespace contains a command that kills its supervisor (isol.kill)")

M.define("cwd", {
  doc = "working directory inside",
  check = function(v, path) return util.check_type(path, v, "string") end,
  plan = function(v, plan) plan.cwd = v end,
})

local function check_io(v, path)
  if v == "inherit" or v == "null" or v == "pipe" then return v end
  if math.type(v) == "integer" and v >= 0 then return v end
  if type(v) == "table" then
    util.check_keys(path, v, { path = true, mode = true })
    util.check_type(path .. ".path", v.path, "string")
    if v.mode ~= nil and v.mode ~= "r" and v.mode ~= "w" and v.mode ~= "a" then
      util.fail(path .. ".mode", 'expected "r", "w" or "a", got %s', util.show(v.mode))
    end
    return { path = v.path, mode = v.mode }
  end
  util.fail(path, 'expected "inherit", "null", "pipe", an fd or {path=, mode=}, got %s', util.show(v))
end
M.check_io = check_io
for _, s in ipairs { "stdin", "stdout", "stderr" } do
  M.define(s, {
    doc = s .. ': "inherit" | "null" | "pipe" | fd | {path=, mode="r"|"w"|"a"}',
    check = check_io,
    plan = function(v, plan) plan[s] = v end,
  })
end

--- Check a list of fds >= 3 (recipe field keep_fds, spawn option keep_fds);
-- returns a copy.
function M.check_keep_fds(v, path) return extra().check_keep_fds(v, path) end

M.lazy("keep_fds", "isol.recipe_extra")

M.define("command", {
  doc = "default command (argv list) when none is given to spawn/run",
  check = function(v, path)
    if type(v) == "string" then v = { v } end
    util.check_type(path, v, "table")
    if #v == 0 then util.fail(path, "expected a non-empty argv list") end
    for i, a in ipairs(v) do util.check_type(string.format("%s[%d]", path, i), a, "string") end
    return util.copy_list(v)
  end,
})

M.define("description", {
  doc = "free text shown by explain/ps",
  check = function(v, path) return util.check_type(path, v, "string") end,
})

M.post_check(function(r)
  local needs = { hostname = "uts", domainname = "uts", user = "user", time = "time" }
  for field, ns in pairs(needs) do
    if r[field] ~= nil and not has_ns(r, ns) then
      util.fail(field, 'needs the "%s" namespace (add "%s" to namespaces)', ns, ns)
    end
  end
end)

return M
