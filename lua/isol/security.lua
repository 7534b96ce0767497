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
--
-- The fields' checks, `root_map`, `subid_range`, `names` and the explain
-- lines are isol.security_fields, loaded on first use and reached here all
-- the same: a sandbox without `caps` or `session_keyring` only computes
-- its capability sets.
-- @module isol.security
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

-- the fields, the unprivileged root map and explain's lines (see below)
local FIELDS = "isol.security_fields"

local M = {}

--- The default set (Docker's and runc's default spec).
M.DEFAULT = { "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
  "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE" }

--- The number of capability `name` ("CAP_NET_RAW", "net_raw", any case);
-- raises naming `path` when libcap does not know it.
function M.cap_number(path, name)
  util.check_type(path, name, "string")
  local n = not name:find("\0", 1, true) and core.cap_from_name(name)
  if not n then util.fail(path, "unknown capability %s", util.show(name)) end
  return n
end
local cap_number = M.cap_number

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

recipe.lazy("caps", FIELDS)
recipe.lazy("session_keyring", FIELDS)

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

recipe.describe({ "caps", "session_keyring" }, function(r, plan)
  return require(FIELDS).explain_lines(r, plan)
end)

-- isol.security_fields' public parts under their names here
local COLD = { names = true, subid_range = true, NOBODY = true, SUBID_FILES = true, root_map = true,
  explain_lines = true }
return setmetatable(M, { __index = function(_, k)
  if COLD[k] then return require(FIELDS)[k] end
end })
