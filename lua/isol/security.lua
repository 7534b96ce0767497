--- Security fields of a recipe: `caps` (the command's capabilities) and
-- `session_keyring`; the unprivileged root map (`user.map_root =
-- "unprivileged"`, see `root_map`) and the lines `explain` prints for them.
--
-- Capabilities are given by name ("CAP_NET_RAW", "net_raw", any case,
-- parsed by libcap) and become five bit masks in the plan; the child applies
-- them with prctl/capset after its other steps and before no_new_privs
-- (csrc/caps.c). The default, when a recipe has no `caps`, is the set
-- container runtimes grant (runc/crun/Docker): never CAP_SYS_ADMIN, so a
-- sandbox cannot remount, mount or unmount anything it inherited.
-- @module isol.security
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}

--- The default set (Docker's and runc's default spec).
M.DEFAULT = { "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
  "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE" }

local function cap_number(path, name)
  util.check_type(path, name, "string")
  local n = not name:find("\0", 1, true) and core.cap_from_name(name)
  if not n then util.fail(path, "unknown capability %s", util.show(name)) end
  return n
end

local function mask_of(list)
  local m = 0
  for _, n in ipairs(list) do m = m | (1 << n) end
  return m
end

local function all_mask()
  return (1 << (core.cap_last() + 1)) - 1
end

local DEFAULT_MASK = mask_of((function()
  local l = {}
  for i, n in ipairs(M.DEFAULT) do l[i] = cap_number("caps", n) end
  return l
end)())

local function check_list(path, v)
  util.check_type(path, v, "table")
  if not util.is_list(v) then util.fail(path, "expected a list of capability names") end
  local out = {}
  for i, n in ipairs(v) do out[i] = cap_number(string.format("%s[%d]", path, i), n) end
  return out
end

local function check_caps(v, path)
  if v == "all" or v == "none" then return { mode = v } end
  if type(v) ~= "table" then
    util.fail(path, 'expected "all", "none", {keep = {...}} or {drop = {...}}, got %s', util.show(v))
  end
  util.check_keys(path, v, { keep = true, drop = true })
  if (v.keep == nil) == (v.drop == nil) then
    util.fail(path, "expected exactly one of keep or drop")
  end
  if v.keep ~= nil then return { mode = "keep", list = check_list(path .. ".keep", v.keep) } end
  return { mode = "drop", list = check_list(path .. ".drop", v.drop) }
end

local SYS_CHROOT = core.cap_from_name("sys_chroot")

--- The final capability mask of a validated recipe (bit n = capability n),
-- or nil for "all" outside chroot mode (capabilities left unchanged).
-- In chroot mode CAP_SYS_CHROOT is dropped unless `caps.keep` names it: a
-- process holding it can leave a chroot (chroot into a subdirectory, then
-- walk ".." past the old root).
function M.mask(r)
  local c = r.caps or { mode = "default" }
  local m
  if c.mode == "all" then m = all_mask()
  elseif c.mode == "none" then m = 0
  elseif c.mode == "keep" then m = mask_of(c.list)
  elseif c.mode == "drop" then m = DEFAULT_MASK & ~mask_of(c.list)
  else m = DEFAULT_MASK end
  local chroot = type(r.root) == "table" and r.root.mode == "chroot"
  if chroot and not (c.mode == "keep" and (m >> SYS_CHROOT) & 1 == 1) then
    m = m & ~(1 << SYS_CHROOT)
  end
  if c.mode == "all" and m == all_mask() then return nil end
  return m & all_mask()
end

--- The plan's `caps` for a validated recipe (nil: unchanged).
function M.plan_caps(r)
  local m = M.mask(r)
  if not m then return nil end
  return { bounding = m, permitted = m, effective = m, inheritable = 0, ambient = 0 }
end

local function names(m)
  local out = {}
  for n = 0, core.cap_last() do
    if (m >> n) & 1 == 1 then out[#out + 1] = core.cap_name(n):upper() end
  end
  return out
end
M.names = names

recipe.define("caps", {
  doc = 'capabilities the command keeps: nil = the container-runtime default set ('
    .. table.concat(M.DEFAULT, ", ") .. '; never SYS_ADMIN), "all", "none", '
    .. '{keep = {names}} or {drop = {names}} (from the default); names like "CAP_NET_RAW" or '
    .. '"net_raw". They are the bounding, permitted and effective sets (inheritable and ambient '
    .. 'are empty), applied after the mounts. With root.mode = "chroot" CAP_SYS_CHROOT is '
    .. 'dropped unless keep names it: chroot mode is only safe for a command without '
    .. 'CAP_SYS_CHROOT (a process with it leaves a chroot) and without CAP_SYS_ADMIN; '
    .. 'prefer the default pivot mode',
  check = check_caps,
})

recipe.define("session_keyring", {
  doc = '"new" (default): the sandbox joins a fresh anonymous session keyring and cannot see '
    .. 'the caller\'s keys; "inherit" keeps the caller\'s',
  check = function(v, path)
    if v ~= "new" and v ~= "inherit" then util.fail(path, 'expected "new" or "inherit", got %s', util.show(v)) end
    return v
  end,
  plan = function(v, plan) plan.session_keyring = v end,
})

-- ---------------------------------------------------------- identity

--- The first subordinate range of `name` (or its uid) in a subid file
-- (/etc/subuid, /etc/subgid): start, count; nil when there is none.
function M.subid_range(file, name, id)
  local f = io.open(file, "r")
  if not f then return nil end
  for line in f:lines() do
    local who, start, count = line:match("^%s*([^:#%s]+):(%d+):(%d+)%s*$")
    if who and (who == name or who == tostring(id)) then
      f:close()
      return math.tointeger(tonumber(start)), math.tointeger(tonumber(count))
    end
  end
  f:close()
  return nil
end

--- The fixed host id sandbox root becomes when root has no subordinate
-- range: 65534 (nobody), which owns nothing.
M.NOBODY = 65534
M.SUBID_FILES = { uid = "/etc/subuid", gid = "/etc/subgid" }

--- Id maps for `user.map_root = "unprivileged"`: sandbox root is never host
-- root. For a caller that is root: root's first range of /etc/subuid and
-- /etc/subgid (up to 65536 ids, inside 0..count-1), else `NOBODY` for root
-- alone. For any other caller: its own ids (it is unprivileged already).
-- @return uid_map, gid_map, identity (the plan's `identity`: the child
--   switches to root inside, since it starts as host root) or nil
function M.root_map()
  local uid, gid = core.ids()
  if uid ~= 0 then return { { 0, uid, 1 } }, { { 0, gid, 1 } }, nil end
  local maps = {}
  for _, k in ipairs { "uid", "gid" } do
    local start, count = M.subid_range(M.SUBID_FILES[k], "root", 0)
    if start and count and count > 0 and start > 0 then
      maps[k] = { { 0, start, math.min(count, 65536) } }
    else
      maps[k] = { { 0, M.NOBODY, 1 } }
    end
  end
  return maps.uid, maps.gid, { uid = 0, gid = 0, clear_groups = true }
end

--- Is sandbox root (or the command's uid) host root for this plan?
local function runs_as_host_root(plan, r)
  if not recipe.has_ns(r, "user") then
    local uid = core.ids()
    return uid == 0
  end
  for _, m in ipairs(plan.uid_map or {}) do
    if m[2] == 0 then return true end
  end
  return false
end

-- ---------------------------------------------------------- explain

--- Lines `explain` prints: the final capability sets, the keyring, and a
-- warning when the command runs as host root.
function M.explain_lines(r, plan)
  local out = {}
  local m = M.mask(r)
  if not m then
    out[1] = "capabilities: all (unchanged: the command keeps every capability of its user namespace)"
  elseif m == 0 then
    out[1] = "capabilities: none (bounding, permitted, effective, inheritable, ambient all empty)"
  else
    out[1] = "capabilities: bounding = permitted = effective: " .. table.concat(names(m), ", ")
    out[2] = "              inheritable, ambient: empty"
  end
  out[#out + 1] = "session keyring: " .. (r.session_keyring == "inherit" and "the caller's (inherited)"
    or "new, anonymous")
  if plan and runs_as_host_root(plan, r) then
    out[#out + 1] = "WARNING: sandbox root is host root (uid 0): use user = { map_root = \"unprivileged\" } "
      .. "(or a recipe like untrusted) for code you do not trust"
  end
  return out
end

-- ---------------------------------------------------------- pipeline

-- validated recipe -> its plan caps (or false: unchanged), made once: the
-- masks depend on the recipe and the kernel alone, and the core only reads
-- them (a snapshot).
local plan_caps_of = setmetatable({}, { __mode = "k" })

--- Sandbox plan step: caps apply to every sandbox, with the default set
-- when the recipe has none (a field's plan function only runs for fields
-- the recipe sets).
function M.plan_step(box, plan)
  local r = box.recipe
  local c = plan_caps_of[r]
  if c == nil then
    c = M.plan_caps(r) or false
    plan_caps_of[r] = c
  end
  plan.caps = c or nil
  return true
end

recipe.describe({ "caps", "session_keyring" }, M.explain_lines)

return M
