--- User namespaces for callers without root: whether the caller needs one
-- (bwrap's automatic user namespace), whether this host allows one, the
-- caller's subordinate id ranges (/etc/subuid, /etc/subgid) and the maps
-- that go through newuidmap/newgidmap.
--
-- Pure helpers over the core and a few files; the recipe's `namespaces` and
-- `user` fields use them to plan, isol.rootless checks and explains.
-- @module isol.userns
local core = require "isol.core"
local util = require "isol.util"

local M = {}

--- The files newuidmap and newgidmap read.
M.SUBID_FILES = { uid = "/etc/subuid", gid = "/etc/subgid" }

--- How many subordinate ids map_range maps at most (as rootless podman:
-- 65536, enough for a distribution's system users and nobody).
M.RANGE_MAX = 65536

--- May the caller create namespaces other than "user" itself (root, or
-- CAP_SYS_ADMIN in its user namespace)?
function M.privileged()
  return core.ns_privileged()
end

local function first_line(path) return util.read_file(path, "l") end

--- Why this caller cannot create a user namespace, or nil when it can
-- (as far as the sysctls tell): a sentence with what to do.
function M.blocker()
  if M.privileged() then return nil end
  local clone = first_line("/proc/sys/kernel/unprivileged_userns_clone")
  if clone == "0" then
    return "unprivileged user namespaces are disabled on this host (kernel.unprivileged_userns_clone = 0): "
      .. "run as root, or ask the administrator for `sysctl -w kernel.unprivileged_userns_clone=1`"
  end
  local max = first_line("/proc/sys/user/max_user_namespaces")
  if max == "0" then
    return "user namespaces are disabled on this host (user.max_user_namespaces = 0): run as root, "
      .. "or ask the administrator for `sysctl -w user.max_user_namespaces=15000`"
  end
  local aa = first_line("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
  if aa == "1" then
    return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): "
      .. "run as root, or give the interpreter an AppArmor profile with `userns,`"
  end
  return nil
end

local KINDS_NEEDING_PRIVILEGE = { mount = true, uts = true, ipc = true, net = true, pid = true,
  cgroup = true, time = true }

--- Does a recipe's namespace list need an added user namespace for this
-- caller? True when the caller is not privileged and the list asks for
-- kinds other than "user" without "user".
function M.needs_auto(namespaces)
  local want = false
  for _, n in ipairs(namespaces or {}) do
    if n == "user" then return false end
    if KINDS_NEEDING_PRIVILEGE[n] then want = true end
  end
  return want and not M.privileged()
end

-- The subordinate ranges and the maps of map_range: isol.userns_ranges,
-- loaded on first use.
local function subid() return require "isol.userns_ranges" end

--- Every subordinate range of user `name` (or of its numeric id) in `file`:
-- a list of {start, count} in file order (empty when none or unreadable).
function M.subid_ranges(file, name, id) return subid().subid_ranges(file, name, id) end

--- The name of user id `uid` in /etc/passwd, or nil.
function M.user_name(uid) return subid().user_name(uid) end

--- The caller's ranges: ranges.uid, ranges.gid (lists of {start, count})
-- and the name they were looked up under.
function M.caller_ranges() return subid().caller_ranges() end

--- Maps for `user.map_range`: root inside is the caller, ids 1..N are the
-- first subordinate range (N at most RANGE_MAX). A kind with no range gets
-- the caller's own id alone (isol.rootless refuses it before spawning).
function M.range_maps() return subid().range_maps() end

--- Does map (a list of {inside, outside, count}) map anything but the
-- caller's own id `own`? Then only root or newuidmap/newgidmap can set it.
function M.beyond_own(map, own)
  for _, e in ipairs(map or {}) do
    if e[2] ~= own or e[3] ~= 1 then return true end
  end
  return false
end

--- The first range of `map` that is not the caller's own id (`own`) nor
-- inside one of `ranges`: the entry, or nil when all are allowed.
function M.outside_ranges(map, own, ranges) return subid().outside_ranges(map, own, ranges) end

return M
