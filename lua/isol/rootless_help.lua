--- What isol.rootless says to a caller without root, loaded only when it
-- has something to say: the validate step's errors about subordinate
-- ranges, the lines explain prints, and the hints appended to permission
-- errors (`HINTS`, `hint_for`, `hint`, `annotate`: isol.rootless reaches
-- them under the same names).
-- @module isol.rootless_help
local core = require "isol.core"
local util = require "isol.util"
local userns = require "isol.userns"

local E = core.errno

local M = {}

local function contains(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

--- The validate step's check of subordinate ranges, for `user` table `u`
-- when map_range is set or a map goes beyond the caller's own ids (uid,
-- gid: the caller's); raises naming the field, the range and the file.
function M.check_ranges(u, uid, gid)
  local own = { uid = uid, gid = gid }
  local ranges, name
  for _, k in ipairs { "uid", "gid" } do
    local map = u[k .. "_map"]
    if u.map_range or (uid ~= 0 and map and userns.beyond_own(map, own[k])) then
      if not ranges then ranges, name = userns.caller_ranges() end
      local file = userns.SUBID_FILES[k]
      if u.map_range and #ranges[k] == 0 then
        util.fail("user.map_range", "no subordinate %s range for %s in %s: as root, add one with "
          .. "`usermod --add-sub%ss 100000-165535 %s` (or a line \"%s:100000:65536\")",
          k, name, file, k, name, name)
      end
      local bad = map and userns.outside_ranges(map, own[k], ranges[k])
      if bad then
        local have = {}
        for _, r in ipairs(ranges[k]) do have[#have + 1] = string.format("%d-%d", r[1], r[1] + r[2] - 1) end
        util.fail("user." .. k .. "_map", "range {%d, %d, %d} maps host %ss %d-%d, which are neither "
          .. "your own %s (%d) nor in your subordinate ranges in %s (%s)", bad[1], bad[2], bad[3], k,
          bad[2], bad[2] + bad[3] - 1, k, own[k], file, #have > 0 and table.concat(have, ", ") or "none")
      end
    end
  end
  return true
end

--- Lines explain prints: the added user namespace, the helpers.
function M.explain_lines(r, plan)
  local out = {}
  if contains(plan.namespaces, "user") and not contains(r.namespaces, "user") then
    local uid, gid = core.ids()
    out[#out + 1] = string.format("user namespace added: you are not root (uid %d, gid %d are root inside: "
      .. "uid map 0 -> %d (1), gid map 0 -> %d (1), setgroups deny)", uid, gid, uid, gid)
    local why = userns.blocker()
    if why then out[#out + 1] = "  but it cannot work here: " .. why end
  end
  if plan.idmap_helper then
    out[#out + 1] = "id maps: set by newuidmap/newgidmap (your subordinate ids in /etc/subuid, /etc/subgid; "
      .. "newgidmap sets setgroups)"
  end
  return out
end

-- ------------------------------------------------------------ hints

local function mentions(...)
  local pats = { ... }
  return function(msg)
    for _, p in ipairs(pats) do if msg:find(p) then return true end end
    return false
  end
end

local PERM = { [E.EPERM] = true, [E.EACCES] = true }

-- { match = fn(msg) -> bool, errno = set or nil (any), text = string | fn(msg),
--   any_caller = true: root gets it too (else only callers without root) }
-- The first match wins: the specific ones first.
M.HINTS = {
  { match = mentions("devices%.deny", "devices%.allow", "limits%.devices"), errno = PERM,
    text = "the devices controller cannot be delegated (v1 devices.allow/deny and v2's eBPF device "
      .. "program need CAP_SYS_ADMIN on the host): run as root, or drop the allow-list with "
      .. "`limits = { devices = isol.recipe.replace() }` (recipes.untrusted does so without root)" },
  { match = mentions("cgroup", "^mkdir /sys/fs/", "subtree_control", "cgroup%.procs"), errno = PERM,
    text = function()
      if require("isol.explain").cgroup_version() == "v2" then
        return "cgroup limits need root or a delegated cgroup: run under "
          .. "`systemd-run --user --scope -p Delegate=yes isol ...`, or have root "
          .. "`chown -R YOU /sys/fs/cgroup/SUBTREE` and run from inside it; "
          .. "or drop `limits` (`isol check` shows which cgroups you can write)"
      end
      -- the caller's own directory in every v1 hierarchy but devices
      local uid = core.ids()
      local me = userns.user_name(uid) or tostring(uid)
      local dirs = {}
      local lay = core.cgroup_layout()
      for _, hier in ipairs(lay and lay.hierarchies or {}) do
        local devices = false
        for _, c in ipairs(hier.controllers) do if c == "devices" then devices = true end end
        if hier.version == 1 and not devices and #hier.controllers > 0 then
          dirs[#dirs + 1] = hier.mount .. (hier.self == "/" and "" or hier.self)
        end
      end
      return string.format("cgroup limits need root or a delegated cgroup: on cgroup v1 have root make one "
        .. "directory of yours in each hierarchy, `for d in %s; do mkdir $d/%s && chown -R %s $d/%s; done` "
        .. "(the devices controller cannot be delegated), then add `cgroup = { parent = \"%s\" }` to the "
        .. "recipe; or drop `limits` (`isol check` shows which cgroups you can write)",
        #dirs > 0 and table.concat(dirs, " ") or "/sys/fs/cgroup/*", me, me, me, me)
    end },
  { match = mentions("loop%-control", "/dev/loop"), errno = { [E.EACCES] = true },
    text = "loop devices are root's (/dev/loop-control is not accessible to you): create and fill the "
      .. "image as you, then mount it as root; or use a directory bind mount instead of an image "
      .. "(`isol image checkpoint --no-trim` needs no loop device)" },
  -- root meets this one too: the kernel refuses it to everyone in a user namespace
  { match = mentions("^mount /dev/loop"), errno = { [E.EPERM] = true }, any_caller = true,
    text = "the kernel refuses to mount a block-device filesystem (ext4, xfs...) inside a user namespace: "
      .. "run as root without \"user\" in namespaces, or mount the image yourself with FUSE "
      .. "(`fuse2fs IMAGE DIR`) and bind DIR into the sandbox" },
  { match = mentions("^mount mqueue"), errno = { [E.EPERM] = true },
    text = "an mqueue mount needs the sandbox's own ipc namespace: add \"ipc\" to namespaces" },
  { match = mentions("newuidmap", "newgidmap", "uid_map", "gid_map"), errno = PERM,
    text = "mapping ids other than your own needs subordinate ids: have root add a range to /etc/subuid "
      .. "and /etc/subgid (`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 YOU`), "
      .. "then use user = { map_range = true }" },
  { match = mentions("^clone3"), errno = PERM,
    text = function()
      local why = userns.blocker()
      if why then return why end
      return "creating namespaces without root needs a user namespace: add \"user\" to namespaces with "
        .. "user = { map_root = true }"
    end },
}

--- The hint of M.HINTS for message `msg` with errno `code` (EPERM or
-- EACCES), whoever the caller is: {text=, any_caller=}, or nil when none
-- applies.
function M.hint_for(msg, code)
  if type(msg) ~= "string" or not PERM[code] then return nil end
  for _, h in ipairs(M.HINTS) do
    if (not h.errno or h.errno[code]) and h.match(msg) then
      return { text = type(h.text) == "function" and h.text(msg) or h.text, any_caller = h.any_caller }
    end
  end
  return nil
end

--- The way out for a failure an ordinary user can meet, or nil: the hint
-- for `msg` and `code`, for callers without root (root gets none: its
-- EPERM has other causes).
function M.hint(msg, code)
  local h = M.hint_for(msg, code)
  if h and userns.privileged() and not h.any_caller then return nil end
  return h and h.text
end

--- msg with its hint appended ("\n  hint: ..."), or msg unchanged.
function M.annotate(msg, code)
  local h = M.hint(msg, code)
  if not h then return msg end
  return string.format("%s\n  hint: %s", msg, h)
end

return M
