--- The security concern's cold half: the `caps` and `session_keyring`
-- recipe fields, the unprivileged root map (`root_map`, `subid_range`) and
-- the lines `explain` prints. isol.security declares the fields
-- (recipe.lazy) and registers the describer; this module is loaded the
-- first time a recipe uses a field, explain runs, or something calls
-- `isol.security.names`, `subid_range`, `root_map` or `explain_lines` (or
-- reads `NOBODY`, `SUBID_FILES`): they are this module's. A sandbox without
-- them never loads it (its capabilities are isol.security's).
-- @module isol.security_fields
local security = require "isol.security" -- the fields' lazy declarations first (validation order)
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local cap_number = security.cap_number

local M = {}

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

--- The capability names (upper case, e.g. "NET_RAW") of mask `m`.
function M.names(m)
  local out = {}
  for n = 0, core.cap_last() do
    if (m >> n) & 1 == 1 then out[#out + 1] = core.cap_name(n):upper() end
  end
  return out
end
local names = M.names

recipe.define("caps", {
  doc = 'capabilities the command keeps: nil = the container-runtime default set ('
    .. table.concat(security.DEFAULT, ", ") .. '; never SYS_ADMIN), "all", "none", '
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
  local m = security.mask(r)
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

return M
