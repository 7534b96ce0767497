--- The filesystem concern's recipe fields, `propagation`, `root` and
-- `mounts`, and what they use: the mount entry checks, the ops they become
-- and the compiled `plan.fs`. isol.fs declares the fields (recipe.lazy) and
-- reaches this module the first time a recipe uses one of them, or when
-- something calls `isol.fs.check_mount`, `check_mounts`, `check_root`,
-- `to_op`, `resolve_images` or `install` (they are these functions): a
-- sandbox without them never loads it.
-- @module isol.fs_fields
require "isol.fs" -- the fields' lazy declarations first: their place in the validation order
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local fail, show, check_type = util.fail, util.show, util.check_type

local M = {}

-- ------------------------------------------------------------ validation

local function check_path(path, v, what)
  check_type(path, v, "string")
  if v:sub(1, 1) ~= "/" then fail(path, "expected an absolute %s, got %s", what or "path", show(v)) end
  for comp in v:gmatch("[^/]+") do
    if comp == ".." then fail(path, "\"..\" is not allowed in %s", show(v)) end
  end
  if v:find("\0", 1, true) then fail(path, "NUL byte in %s", show(v)) end
  return v
end

local function check_mode(path, v)
  if math.type(v) == "integer" and v >= 0 and v <= 4095 then return string.format("%04o", v) end
  if type(v) == "string" and v:match("^[0-7]+$") and tonumber(v, 8) <= 4095 then
    return string.format("%04o", tonumber(v, 8))
  end
  fail(path, 'expected an octal mode like "0755" or an integer, got %s', show(v))
end

local function check_id(path, v)
  if math.type(v) ~= "integer" or v < 0 or v > 0xfffffffe then
    fail(path, "expected a numeric id, got %s", show(v))
  end
  return v
end

local function check_bool(path, v)
  if v == nil then return nil end
  return check_type(path, v, "boolean")
end

local function is_image(v)
  return type(v) == "userdata" and (getmetatable(v) or {}).__name == "isol.Image"
end

local COMMON = { type = true, target = true, readonly = true, nosuid = true, nodev = true, noexec = true }
local function keys(extra)
  local t = {}
  for k in pairs(COMMON) do t[k] = true end
  for _, k in ipairs(extra) do t[k] = true end
  return t
end

local TYPES = {
  tmpfs = { keys = keys { "size", "mode", "uid", "gid", "inodes" } },
  -- nofollow: no symlink anywhere in the source path (openat2
  -- RESOLVE_NO_SYMLINKS), for sources a sandbox could write to
  bind = { keys = keys { "source", "recursive", "optional", "nofollow" } },
  -- unmasked: opt out of the standard hardening (read-only /proc/sys...,
  -- masked /proc/kcore...; csrc/mount.h ISOL_PROC_READONLY, ISOL_PROC_MASKED)
  proc = { keys = keys { "unmasked" }, target = "/proc" },
  -- always read-only, /sys/firmware masked
  sysfs = { keys = keys {}, target = "/sys" },
  dev = { keys = keys {}, target = "/dev" },
  mqueue = { keys = keys {}, target = "/dev/mqueue" },
  overlay = { keys = keys { "lower", "upper", "work" } },
  image = { keys = keys { "image" } },
  remount = { keys = keys { "recursive" } },
  dir = { keys = { type = true, target = true, mode = true } },
  symlink = { keys = { type = true, target = true, source = true } },
}
local TYPE_NAMES = "tmpfs, bind, proc, sysfs, dev, mqueue, overlay, image, remount, dir, symlink"

--- Validate one mount entry; returns the normalized entry.
function M.check_mount(m, path)
  check_type(path, m, "table")
  local t = m.type
  if t == nil then fail(path .. ".type", "required (one of: %s)", TYPE_NAMES) end
  local spec = TYPES[t]
  if not spec then fail(path .. ".type", "unknown mount type %s (known: %s)", show(t), TYPE_NAMES) end
  util.check_keys(path, m, spec.keys)
  local out = { type = t }
  out.target = check_path(path .. ".target", m.target or spec.target or (t == "bind" and m.source) or
    fail(path .. ".target", "required"), "target")
  for _, k in ipairs { "readonly", "nosuid", "nodev", "noexec", "recursive", "optional", "nofollow",
    "unmasked" } do
    out[k] = check_bool(path .. "." .. k, m[k])
  end
  if t == "sysfs" and m.readonly == false then fail(path .. ".readonly", "sysfs is always read-only") end
  if t == "tmpfs" then
    if m.size ~= nil then
      local bytes, pct = util.parse_size(path .. ".size", m.size, true)
      out.size = bytes and tostring(bytes) or (tostring(pct) .. "%")
      if bytes == 0 then fail(path .. ".size", "must be more than 0, got %s", show(m.size)) end
    end
    if m.mode ~= nil then out.mode = check_mode(path .. ".mode", m.mode) end
    if m.uid ~= nil then out.uid = check_id(path .. ".uid", m.uid) end
    if m.gid ~= nil then out.gid = check_id(path .. ".gid", m.gid) end
    if m.inodes ~= nil then out.inodes = check_id(path .. ".inodes", m.inodes) end
  elseif t == "bind" then
    out.source = check_path(path .. ".source", m.source or fail(path .. ".source", "required"), "source path")
  elseif t == "overlay" then
    local lower = m.lower
    if type(lower) == "string" then lower = { lower } end
    check_type(path .. ".lower", lower, "table")
    if #lower == 0 then fail(path .. ".lower", "expected at least one lower directory") end
    out.lower = {}
    for i, d in ipairs(lower) do
      local p = string.format("%s.lower[%d]", path, i)
      check_path(p, d, "directory")
      if d:find("[:,]") then fail(p, "\":\" and \",\" are not allowed in %s", show(d)) end
      out.lower[i] = d
    end
    if (m.upper == nil) ~= (m.work == nil) then
      fail(path .. (m.upper and ".work" or ".upper"), "upper and work go together")
    end
    if m.upper then
      out.upper = check_path(path .. ".upper", m.upper, "directory")
      out.work = check_path(path .. ".work", m.work, "directory")
    end
  elseif t == "image" then
    if not is_image(m.image) then
      fail(path .. ".image", "expected an isol.Image (isol.image.create/open), got %s", show(m.image))
    end
    out.image = m.image
  elseif t == "dir" then
    out.mode = m.mode ~= nil and check_mode(path .. ".mode", m.mode) or nil
  elseif t == "symlink" then
    check_type(path .. ".source", m.source, "string")
    if m.source == "" then fail(path .. ".source", "expected the link text, got \"\"") end
    out.source = m.source
  end
  return out
end

--- Check a `mounts` list; returns the normalized list (raises naming the field).
function M.check_mounts(v, path)
  check_type(path, v, "table")
  if not util.is_list(v) then fail(path, "expected a list of mounts") end
  local out = {}
  for i, m in ipairs(v) do out[i] = M.check_mount(m, string.format("%s[%d]", path, i)) end
  return out
end

local ROOT_KEYS = { mode = true, dir = true, image = true, readonly = true, size = true,
  mounts = true, description = true }

--- Check a `root` value; returns it normalized (raises naming the field).
function M.check_root(v, path)
  if v == true then v = {} end
  check_type(path, v, "table")
  util.check_keys(path, v, ROOT_KEYS)
  local out = { mode = v.mode or "pivot" }
  if out.mode ~= "pivot" and out.mode ~= "chroot" then
    fail(path .. ".mode", 'expected "pivot" or "chroot", got %s', show(v.mode))
  end
  if v.dir ~= nil and v.image ~= nil then fail(path, "dir and image cannot be combined") end
  if v.dir ~= nil then out.dir = check_path(path .. ".dir", v.dir, "directory") end
  if v.image ~= nil then
    if not is_image(v.image) then
      fail(path .. ".image", "expected an isol.Image, got %s", show(v.image))
    end
    out.image = v.image
  end
  if v.size ~= nil then
    if out.dir or out.image then fail(path .. ".size", "only for a tmpfs root (no dir or image)") end
    local bytes, pct = util.parse_size(path .. ".size", v.size, true)
    out.size = bytes and tostring(bytes) or (tostring(pct) .. "%")
  end
  out.readonly = check_bool(path .. ".readonly", v.readonly)
  out.mounts = v.mounts and M.check_mounts(v.mounts, path .. ".mounts") or {}
  out.description = v.description
  return out
end

-- ------------------------------------------------------------ plan

-- Turn a checked entry into the binding's op table (images need their loop
-- device, so they are resolved by the plan hook, see below).
local function to_op(m)
  local op = { type = m.type, target = m.target, readonly = m.readonly, nosuid = m.nosuid,
    nodev = m.nodev, noexec = m.noexec, recursive = m.recursive, optional = m.optional,
    nofollow = m.nofollow, unmasked = m.unmasked }
  if m.type == "tmpfs" then
    op.options = { size = m.size, mode = m.mode, uid = m.uid and tostring(m.uid),
      gid = m.gid and tostring(m.gid), nr_inodes = m.inodes and tostring(m.inodes) }
  elseif m.type == "bind" or m.type == "symlink" then
    op.source = m.source
  elseif m.type == "overlay" then
    op.options = { lowerdir = table.concat(m.lower, ":"), upperdir = m.upper, workdir = m.work }
    if not m.upper then op.readonly = true end
  elseif m.type == "image" then
    op.image = m.image
  elseif m.type == "dir" then
    op.mode = m.mode and tonumber(m.mode, 8) or nil
  end
  return op
end
M.to_op = to_op

-- The op of each checked entry of a validated recipe (they never change),
-- made once and shared by every plan built from it: a host_readonly root
-- is 24 of them per spawn otherwise. Images get a fresh op each time (the
-- plan step writes their loop device into it); nothing else writes ops.
local OPS = setmetatable({}, { __mode = "k" })
local function op_of(m)
  if m.type == "image" then return to_op(m) end
  local op = OPS[m]
  if not op then
    op = to_op(m)
    OPS[m] = op
  end
  return op
end

local function fs_of(plan)
  plan.fs = plan.fs or { ops = {} }
  return plan.fs
end

recipe.define("propagation", {
  doc = 'mount propagation of the sandbox tree: "private" (default), "slave", "shared", "unchanged"',
  check = function(v, path)
    if v ~= "private" and v ~= "slave" and v ~= "shared" and v ~= "unchanged" then
      fail(path, 'expected "private", "slave", "shared" or "unchanged", got %s', show(v))
    end
    return v
  end,
  plan = function(v, plan) fs_of(plan).propagation = v end,
})

recipe.define("root", {
  doc = "a new root: {} (tmpfs), {dir=}, {image=}; mode=\"pivot\"|\"chroot\", readonly=, mounts=",
  check = M.check_root,
  plan = function(v, plan)
    local fs = fs_of(plan)
    local mount
    if v.dir then mount = { type = "bind", source = v.dir, recursive = true }
    elseif v.image then mount = { type = "image", image = v.image, target = "/" }
    elseif v.size then mount = { type = "tmpfs", options = { size = v.size, mode = "0755" } } end
    fs.root = { mode = v.mode, readonly = v.readonly, mount = mount }
    local ops = {}
    for _, m in ipairs(v.mounts) do ops[#ops + 1] = op_of(m) end
    for _, op in ipairs(fs.ops) do ops[#ops + 1] = op end
    fs.ops = ops
  end,
})

recipe.define("mounts", {
  doc = "list of mounts: tmpfs, bind (nofollow=), proc (hardened; unmasked= opts out), sysfs (read-only), "
    .. "dev, mqueue, overlay, image, remount, dir, symlink",
  check = M.check_mounts,
  plan = function(v, plan)
    local fs = fs_of(plan)
    for _, m in ipairs(v) do fs.ops[#fs.ops + 1] = op_of(m) end
  end,
})

-- Resolve image entries to their loop devices (attaching as needed).
local function resolve_images(plan)
  local fs = plan.fs
  if not fs then return true end
  local function resolve(op)
    if op and op.type == "image" then
      local dev, msg, code = op.image:device()
      if not dev then return nil, msg, code end
      op.type, op.source, op.fstype, op.image = "fs", dev, op.image:fstype(), nil
    end
    return true
  end
  for _, op in ipairs(fs.ops) do
    local ok, msg, code = resolve(op)
    if not ok then return nil, msg, code end
  end
  if fs.root then
    local ok, msg, code = resolve(fs.root.mount)
    if not ok then return nil, msg, code end
  end
  return true
end
M.resolve_images = resolve_images

local function has_image(fs)
  for _, op in ipairs(fs.ops) do if op.type == "image" then return true end end
  return fs.root ~= nil and fs.root.mount ~= nil and fs.root.mount.type == "image"
end

--- isol.fs's plan step for a plan with `fs`: the sandbox's compiled
-- filesystem plan (core.fs_plan, made on the first spawn: the same for
-- every spawn, so nothing is converted or checked again); with images,
-- attach the images the mounts name (their loop devices may change between
-- spawns: no compiled plan then).
function M.plan_step(box, plan)
  local fs = plan.fs
  if box.fs_plan then
    plan.fs = box.fs_plan
    return true
  end
  if has_image(fs) then return resolve_images(plan) end
  box.fs_plan = core.fs_plan(fs)
  plan.fs = box.fs_plan
  return true
end

--- Install isol.mount, isol.fs and isol.image.
function M.install(isol)
  isol.mount = require "isol.mount"
  isol.fs = require "isol.fs"
  isol.image = require "isol.image"
end

return M
