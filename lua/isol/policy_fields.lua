--- The policy recipe fields (`seccomp`, `rlimits`, `landlock`, `timeout`,
-- `cpu_timeout`: described in isol.policy) and their checks: the part of
-- isol.policy that a sandbox without them never runs. Loaded the first
-- time a recipe uses one of them (isol.policy declares them with
-- recipe.lazy, so they keep their place in the validation order); the
-- checks are also reached as `isol.policy.check_seccomp` and so on.
-- @module isol.policy_fields
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}

-- errno names accepted by seccomp.errno: this system's (isol.core.errno)
local ERRNO = core.errno

local SECCOMP_KEYS = { profile = true, allow = true, deny = true, errno = true, log = true,
  action = true, nested_userns = true, sys_admin = true, tiocsti = true }
local PROFILES = { default = true, strict = true, none = true }

local function check_names(v, path)
  util.check_type(path, v, "table")
  if not util.is_list(v) then util.fail(path, "expected a list of syscall names") end
  local out = {}
  for i, name in ipairs(v) do
    local p = string.format("%s[%d]", path, i)
    util.check_type(p, name, "string")
    if not core.seccomp_known(name) then util.fail(p, "unknown syscall %s", util.show(name)) end
    out[i] = name
  end
  return out
end

--- Validate a `seccomp` value; returns the normalized table.
function M.check_seccomp(v, path)
  if type(v) == "function" then
    local ok, t = pcall(v)
    if not ok then util.fail(path, "the function raised: %s", tostring(t)) end
    v = t
  end
  if type(v) == "string" then v = { profile = v } end
  util.check_type(path, v, "table")
  util.check_keys(path, v, SECCOMP_KEYS)
  local out = { profile = v.profile or "default", nested_userns = true, action = "errno", errno = 1,
    sys_admin = false, tiocsti = false }
  if not PROFILES[out.profile] then
    util.fail(path .. ".profile", 'expected "default", "strict" or "none", got %s', util.show(v.profile))
  end
  out.allow = v.allow ~= nil and check_names(v.allow, path .. ".allow") or {}
  out.deny = v.deny ~= nil and check_names(v.deny, path .. ".deny") or {}
  local denied = {}
  for _, n in ipairs(out.deny) do denied[n] = true end
  for i, n in ipairs(out.allow) do
    if denied[n] then util.fail(string.format("%s.allow[%d]", path, i), "%s is also in deny", util.show(n)) end
  end
  if v.errno ~= nil then
    local e = v.errno
    if type(e) == "string" then e = ERRNO[e:upper()] end
    if math.type(e) ~= "integer" or e < 1 or e > 4095 then
      util.fail(path .. ".errno", "expected an errno name (EPERM, EACCES, ENOSYS...) or 1..4095, got %s",
        util.show(v.errno))
    end
    out.errno = e
  end
  for _, k in ipairs { "log", "nested_userns", "sys_admin", "tiocsti" } do
    if v[k] ~= nil then util.check_type(path .. "." .. k, v[k], "boolean") end
  end
  if v.nested_userns ~= nil then out.nested_userns = v.nested_userns end
  if v.sys_admin ~= nil then out.sys_admin = v.sys_admin end
  if v.tiocsti ~= nil then out.tiocsti = v.tiocsti end
  if v.action ~= nil and v.action ~= "errno" and v.action ~= "kill" then
    util.fail(path .. ".action", 'expected "errno" or "kill", got %s', util.show(v.action))
  end
  out.action = v.action or "errno"
  if v.log then
    if out.action == "kill" then util.fail(path .. ".log", 'log = true with action = "kill"') end
    out.action = "log"
  end
  return out
end

-- rlimits: which take sizes (bytes) and which counts, with their ranges.
local RLIMITS = { nofile = "count", nproc = "count", core = "size", cpu = "count", as = "size",
  fsize = "size", stack = "size", memlock = "size", msgqueue = "size", nice = 40, rtprio = 99,
  data = "size", sigpending = "count", rttime = "count" }

local function rlimit_value(v, path, kind)
  if v == "unlimited" or v == "infinity" then return -1 end
  if kind == "size" then return util.parse_size(path, v) end
  if math.type(v) ~= "integer" or v < 0 then
    util.fail(path, 'expected an integer >= 0 or "unlimited", got %s', util.show(v))
  end
  if type(kind) == "number" and v > kind then
    util.fail(path, "expected 0..%d, got %d", kind, v)
  end
  return v
end

--- Validate an `rlimits` value: returns { name = { soft = n, hard = n } }
-- (-1: unlimited).
function M.check_rlimits(v, path)
  util.check_type(path, v, "table")
  util.check_keys(path, v, RLIMITS)
  local out = {}
  for name, x in pairs(v) do
    local p, kind = path .. "." .. name, RLIMITS[name]
    local soft, hard
    if type(x) == "table" then
      util.check_keys(p, x, { soft = true, hard = true })
      if x.soft == nil and x.hard == nil then util.fail(p, "expected {soft=, hard=}") end
      soft = x.soft ~= nil and rlimit_value(x.soft, p .. ".soft", kind) or nil
      hard = x.hard ~= nil and rlimit_value(x.hard, p .. ".hard", kind) or nil
      soft, hard = soft or hard, hard or -1
    else
      soft = rlimit_value(x, p, kind)
      hard = soft
    end
    if hard ~= -1 and (soft == -1 or soft > hard) then
      util.fail(p, "soft limit %s above the hard limit %s", soft == -1 and "unlimited" or soft, hard)
    end
    out[name] = { soft = soft, hard = hard }
  end
  return out
end

local LL_FS = { "read", "write", "exec" }
local LL_NET = { "bind_tcp", "connect_tcp" }

--- Validate a `landlock` value (the kernel's ABI must have every right named).
function M.check_landlock(v, path)
  util.check_type(path, v, "table")
  util.check_keys(path, v, { read = true, write = true, exec = true, bind_tcp = true, connect_tcp = true })
  local abi, msg = core.landlock_abi()
  if not abi then util.fail(path, "Landlock is not available on this kernel (%s)", msg) end
  local out = {}
  for _, k in ipairs(LL_FS) do
    if v[k] ~= nil then
      local p = path .. "." .. k
      util.check_type(p, v[k], "table")
      if not util.is_list(v[k]) then util.fail(p, "expected a list of paths") end
      out[k] = {}
      for i, s in ipairs(v[k]) do
        local pi = string.format("%s[%d]", p, i)
        util.check_type(pi, s, "string")
        if s:sub(1, 1) ~= "/" or s:find("\0", 1, true) then
          util.fail(pi, "expected an absolute path without NUL bytes, got %s", util.show(s))
        end
        out[k][i] = s
      end
    end
  end
  for _, k in ipairs(LL_NET) do
    if v[k] ~= nil then
      local p = path .. "." .. k
      util.check_type(p, v[k], "table")
      if not util.is_list(v[k]) then util.fail(p, "expected a list of ports") end
      if abi < 4 then util.fail(p, "TCP rules need Landlock ABI 4, this kernel has ABI %d", abi) end
      out[k] = {}
      for i, port in ipairs(v[k]) do
        if math.type(port) ~= "integer" or port < 0 or port > 65535 then
          util.fail(string.format("%s[%d]", p, i), "expected a port 0..65535, got %s", util.show(port))
        end
        out[k][i] = port
      end
    end
  end
  return out
end

local function check_seconds(v, path)
  if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
    util.fail(path, "expected seconds > 0, got %s", util.show(v))
  end
  return v
end

recipe.define("seccomp", {
  doc = 'syscall filter: {profile="default"|"strict"|"none", allow=, deny=, errno="EPERM", '
    .. 'log=false, action="errno"|"kill", nested_userns=true, sys_admin=false, tiocsti=false} or a function; '
    .. 'without the field, only ioctl TIOCSTI/TIOCLINUX are denied (no input pushed into a terminal)',
  check = M.check_seccomp,
  -- The options stay a table here (to_plan is pure); the sandbox's plan
  -- hook puts its compiled filter in their place. The core refuses a
  -- table, so a plan that missed the hook fails instead of running unfiltered.
  plan = function(v, plan) plan.seccomp = v end,
})
recipe.define("rlimits", {
  doc = "resource limits: {nofile=, nproc=, core=, cpu=, as=, fsize=, stack=, memlock=, msgqueue=, "
    .. 'nice=, rtprio=}: a number, a size like "1G", "unlimited" or {soft=, hard=}',
  check = M.check_rlimits,
  plan = function(v, plan)
    plan.rlimits = plan.rlimits or {}
    for name, l in pairs(v) do plan.rlimits[name] = { l.soft, l.hard } end
  end,
})
recipe.define("cpu_timeout", {
  doc = "CPU seconds (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL a second later",
  check = function(v, path)
    check_seconds(v, path)
    return math.ceil(v)
  end,
  plan = function(v, plan)
    plan.rlimits = plan.rlimits or {}
    plan.rlimits.cpu = { v, v + 1 }
  end,
})
recipe.define("timeout", {
  doc = "wall-clock seconds for each spawn: the whole sandbox is killed, wait() says timeout = true",
  check = check_seconds,
  plan = function(v, plan) plan.timeout_ms = math.max(1, math.ceil(v * 1000)) end,
})
recipe.define("landlock", {
  doc = "Landlock: {read={paths}, write={paths}, exec={paths}, bind_tcp={ports}, connect_tcp={ports}}; "
    .. "a group not named is not restricted",
  check = M.check_landlock,
  plan = function(v, plan) plan.landlock = v end,
})

return M
