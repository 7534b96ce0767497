--- `untrusted{...}`: everything tight, for code you do not trust:
-- `minimal` (all namespaces but time, read-only host root) + `no_network` +
-- a small `/tmp` (the root's tmpfs, `tmp`) + memory, CPU and pids caps + a devices
-- allow-list (only null, zero, full, random, urandom, tty and the sandbox's own
-- pty nodes; left out without root: the devices controller cannot be
-- delegated) + a cleared environment, a new session, no_new_privs and
-- die-with-parent + no capabilities at all (`caps = "none"`: nothing can be
-- remounted, mounted or unmounted, even after `unshare -Urm` inside) + a
-- fresh session keyring + sandbox root that is never host root
-- (`user.map_root = "unprivileged"`: run by root, root inside is root's
-- subordinate range from /etc/subuid and /etc/subgid, else host 65534). + the `default` seccomp filter
-- without nested user namespaces, rlimits (no core dumps, caps on files,
-- processes and file size) and Landlock writes only to its own /tmp and /dev.
--
-- Parameters (all optional): `memory` ("256M"), `cpu` (percent of one CPU,
-- 50), `pids` (64), `tmp` ("16M"), `hostname` ("untrusted"), `path` (PATH
-- inside, "/usr/bin:/bin").
--
-- Extend it to loosen one thing:
--
--     isol.recipe.extend(isol.recipes.untrusted(), { limits = { memory = { max = "1G" } } })
-- @module isol.recipes.untrusted
local util = require "isol.util"
local compose = require "isol.compose"

--- Build the recipe.
-- @tparam[opt] table p {memory=, cpu=, pids=, tmp=, hostname=, path=}
-- @treturn table a plain recipe table
return function(p)
  p = p or {}
  util.check_type("untrusted", p, "table")
  util.check_keys("untrusted", p, { memory = true, cpu = true, pids = true, tmp = true, hostname = true,
    path = true })
  local pids = p.pids or 64
  if math.type(pids) ~= "integer" or pids < 1 then
    util.fail("untrusted.pids", "expected an integer >= 1, got %s", util.show(pids))
  end
  local dir = "isol.recipes."
  -- The devices controller cannot be delegated (v1 devices.allow/deny and
  -- v2's eBPF program need CAP_SYS_ADMIN on the host): without root the
  -- allow-list is left out, and the description (shown by explain) says so.
  local privileged = require("isol.userns").privileged()
  local devices = privileged and { allow = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
    "/dev/tty", "/dev/ptmx", "/dev/pts/*" } } or nil
  return compose.merge(
    -- the root's own tmpfs /tmp gets the small size (no second /tmp mount)
    require(dir .. "minimal") { hostname = p.hostname or "untrusted", root = { tmp_size = p.tmp or "16M" } },
    require(dir .. "no_network")(),
    require(dir .. "memory_capped") { max = p.memory or "256M" },
    require(dir .. "cpu_capped") { percent = p.cpu or 50 },
    {
      description = "untrusted: all namespaces, read-only root, no network, small /tmp, capped"
        .. (privileged and "" or " (no devices allow-list: you are not root, and the devices controller "
          .. "cannot be delegated; the sandbox's own /dev has only the safe nodes)"),
      limits = {
        pids = { max = pids },
        devices = devices,
      },
      clear_env = true,
      env = { PATH = p.path or "/usr/bin:/bin", HOME = "/tmp", TMPDIR = "/tmp", LANG = "C.UTF-8" },
      new_session = true,
      die_with_parent = true,
      no_new_privs = true,
      caps = "none",
      session_keyring = "new",
      user = { map_root = "unprivileged" },
      -- policy: Docker's default syscall deny-list, no user namespaces
      -- inside, no core dumps and caps on files/processes, writes only to
      -- the sandbox's own /tmp and /dev
      seccomp = { profile = "default", nested_userns = false },
      -- (only lowered: raising a hard limit needs CAP_SYS_RESOURCE on the host)
      rlimits = { core = 0, nofile = 1024, nproc = pids * 4, fsize = p.tmp or "16M", memlock = "64K",
        nice = 0, rtprio = 0 },
      landlock = { write = { "/tmp", "/dev" } },
    })
end
