--- Policy recipe fields: `seccomp`, `rlimits`, `landlock`, `timeout` and
-- `cpu_timeout` (the C side is csrc/seccomp.c, rlimits.c, landlock.c).
--
--     seccomp = { profile = "default" | "strict" | "none", allow = { names },
--                 deny = { names }, errno = "EPERM", log = false,
--                 action = "errno" | "kill", nested_userns = true,
--                 sys_admin = false }          -- or "default", or a function
--     rlimits = { nofile = 256, core = 0, as = "1G", stack = { soft = "8M", hard = "64M" },
--                 nproc = "unlimited", ... }
--     landlock = { read = { paths }, write = { paths }, exec = { paths },
--                  bind_tcp = { ports }, connect_tcp = { ports } }
--     timeout = 2.5       -- wall-clock seconds; the init kills the sandbox
--     cpu_timeout = 10    -- CPU seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL)
--
-- seccomp: a denied call fails with `errno` (EPERM by default); `action =
-- "kill"` kills the process instead (SIGSYS); `log = true` is an audit
-- mode: denied calls are logged by the kernel (SECCOMP_RET_LOG) and let
-- through. `nested_userns = false` stops user namespaces inside (clone3
-- then answers ENOSYS so that libc falls back to clone, whose flags the
-- filter reads). `sys_admin = true` lifts the `default` profile's mount and
-- namespace denials, as Docker does for CAP_SYS_ADMIN. A Landlock group
-- (read, write, exec, bind_tcp, connect_tcp) that is not named is not
-- restricted; `exec` paths usually also need `read` when `read` is named.
--
-- The seccomp filter is compiled once per sandbox, when it is prepared
-- (an `isol.Seccomp` held by the box and closed with it), and every spawn
-- of the box reuses it.
--
-- This module holds what every sandbox runs (the filter's compilation and
-- the shared terminal filter); the fields' checks are in isol.policy_fields,
-- loaded the first time a recipe uses one of them (a plain `isol run` never
-- loads it). `isol.policy.check_seccomp` and the other checks stay reachable
-- here.
-- @module isol.policy
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}

-- errno names accepted by seccomp.errno: this system's (isol.core.errno)
M.ERRNO = core.errno

-- Declared here, defined by isol.policy_fields: they keep their place in
-- the validation order (and in the list of known fields).
for _, name in ipairs { "seccomp", "rlimits", "cpu_timeout", "timeout", "landlock" } do
  recipe.lazy(name, "isol.policy_fields")
end

-- isol.policy_fields' checks, reached through this module as before.
local COLD = { check_seccomp = true, check_rlimits = true, check_landlock = true }
setmetatable(M, { __index = function(_, k) return COLD[k] and require("isol.policy_fields")[k] or nil end })

recipe.post_check(function(r)
  if r.cpu_timeout and r.rlimits and r.rlimits.cpu then
    util.fail("cpu_timeout", "rlimits.cpu is set too (use one)")
  end
end)

-- One filter per sandbox, compiled when it is prepared, closed with it.

-- compiled filter -> the options it was compiled from (detached sandboxes
-- record those, to give `isol exec` the same filter)
local OPTIONS = setmetatable({}, { __mode = "k" })

--- The options a compiled filter of this module was made from (nil for
-- anything else).
function M.options_of(f) return OPTIONS[f] end

--- prepare step: compile the recipe's seccomp filter once for the sandbox.
function M.prepare_step(box)
  local opts = box.recipe.seccomp
  if not opts or box.seccomp then return true end
  local f, msg, code = core.seccomp_compile(opts)
  if not f then return nil, "seccomp: " .. tostring(msg), code end
  OPTIONS[f] = opts
  box.seccomp = f
  return true
end

-- Every sandbox without a `seccomp` field still gets a two-rule filter:
-- ioctl TIOCSTI and TIOCLINUX denied, so that nothing can push input into a
-- terminal it shares with the caller (new_session = false), whatever its
-- capabilities. Compiled once per process. A filter needs no_new_privs (or
-- CAP_SYS_ADMIN, which the command no longer has when it loads): a recipe
-- with no_new_privs = false gets none, and relies on its new session.
local tty_filter

--- plan step: the compiled filter in place of the options (or the shared
-- terminal filter).
function M.plan_step(box, plan)
  if plan.seccomp ~= nil then
    plan.seccomp = box.seccomp
  elseif box.recipe.no_new_privs ~= false then
    if tty_filter == nil then
      local msg, code
      tty_filter, msg, code = core.seccomp_compile { profile = "none" }
      if not tty_filter then return nil, "seccomp (terminal filter): " .. tostring(msg), code end
      OPTIONS[tty_filter] = { profile = "none" }
    end
    plan.seccomp = tty_filter
  end
  return true
end

--- close step: free the compiled filter.
function M.close_step(box)
  if box.seccomp then
    box.seccomp:close()
    box.seccomp = nil
  end
  return true
end

return M
