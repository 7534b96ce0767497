--- `isol.mount.*`: mounts in the calling process (after
-- `isol.unshare{"mount"}`), with the same entries and checks as a recipe's
-- `mounts` (isol.fs).
-- @module isol.mount
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"
local fs = require "isol.fs"

local fail = util.fail
local show = util.show
local check_type = util.check_type

local mount = {}


-- Mounting in the namespace this process started in is almost always a
-- mistake: the mount would outlive the script and be seen by every process
-- there. isol.unshare{"mount"} sets mount.private_ns.
mount.private_ns = false
local function check_private(path, host)
  if host or mount.private_ns then return end
  fail(path, 'this process is still in the mount namespace it started in (call isol.unshare{"mount"} '
    .. "first, or pass host = true to mount there on purpose)")
end
mount.check_private = check_private

local function apply(op, opts)
  opts = opts or {}
  local ok, msg, code = fs.resolve_images({ fs = { ops = { op } } })
  if not ok then return nil, msg, code end
  return core.fs_apply { propagation = opts.propagation or "unchanged", ops = { op } }
end

local function direct(kind, path, target, opts)
  util.check_type(path .. ": options", opts, "table", "nil")
  local e = { type = kind, target = target }
  for k, v in pairs(opts or {}) do
    if k ~= "type" and k ~= "target" and k ~= "host" then e[k] = v end
  end
  check_private(path, opts and opts.host)
  local m = fs.check_mount(e, path)
  return apply(fs.to_op(m))
end

--- Mount a tmpfs on target in the calling process (after
-- `isol.unshare{"mount"}`): `isol.mount.tmpfs("/tmp/x", {size="1m"})`.
-- Missing directories are created. Returns true or nil, msg, errno.
-- Every isol.mount function raises when the process did not call
-- isol.unshare{"mount"}, unless the options say `host = true`.
function mount.tmpfs(target, opts) return direct("tmpfs", "mount.tmpfs", target, opts) end
--- Bind source on target (`{readonly=, recursive=, nosuid=...}`).
function mount.bind(source, target, opts)
  opts = util.deepcopy(opts or {})
  opts.source = source
  return direct("bind", "mount.bind", target or source, opts)
end
--- A fresh proc on target (default /proc).
function mount.proc(target, opts) return direct("proc", "mount.proc", target or "/proc", opts) end
--- A minimal /dev on target.
function mount.dev(target, opts) return direct("dev", "mount.dev", target or "/dev", opts) end
--- An overlay: opts = {lower=, upper=, work=}.
function mount.overlay(target, opts) return direct("overlay", "mount.overlay", target, opts) end
--- Change read-only/nosuid/... of the mount at target.
function mount.remount(target, opts) return direct("remount", "mount.remount", target, opts) end
--- Unmount target (opts.lazy: MNT_DETACH).
function mount.umount(target, opts)
  check_type("mount.umount: target", target, "string")
  return core.umount(target, opts and opts.lazy)
end
--- Set propagation of path ("private", "slave", "shared", "unbindable";
-- recursive by default).
function mount.propagation(path, mode, opts)
  check_type("mount.propagation: path", path, "string")
  if mode ~= "private" and mode ~= "slave" and mode ~= "shared" and mode ~= "unbindable" then
    fail("mount.propagation", 'expected "private", "slave", "shared" or "unbindable", got %s', show(mode))
  end
  return core.propagation(path, mode, not (opts and opts.recursive == false))
end
--- Apply a list of recipe mount entries to the calling process.
function mount.apply(list, opts)
  check_private("mount.apply", opts and opts.host)
  local ms = fs.check_mounts(list, "mounts")
  local ops = {}
  for _, m in ipairs(ms) do ops[#ops + 1] = fs.to_op(m) end
  local ok, msg, code = fs.resolve_images({ fs = { ops = ops } })
  if not ok then return nil, msg, code end
  return core.fs_apply { propagation = opts and opts.propagation or "unchanged", ops = ops }
end
--- Mount points of the calling process (from /proc/self/mountinfo):
-- { {target=, fstype=, source=, options=}, ... }
function mount.list()
  local out = {}
  local f = io.open("/proc/self/mountinfo", "r")
  if not f then return out end
  for line in f:lines() do
    local target, opts, rest = line:match("^%S+ %S+ %S+ %S+ (%S+) (%S+).- %- (.*)$")
    if target then
      local fstype, source, sopts = rest:match("^(%S+) (%S+) (%S*)")
      out[#out + 1] = { target = target:gsub("\\040", " "), fstype = fstype, source = source,
        options = opts, super_options = sopts }
    end
  end
  f:close()
  return out
end


--- After isol.unshare created a mount namespace: set the propagation of
-- the whole tree (default "private", like unshare(1): mounts made after
-- isol.unshare{"mount"} never propagate back to the host).
-- @param prop nil or a `propagation` value ("private", "slave", "shared", "unchanged")
function mount.after_unshare(prop)
  if prop ~= nil then
    prop = recipe.validate { namespaces = { "mount" }, propagation = prop }.propagation
  end
  mount.private_ns = true
  prop = prop or "private"
  if prop ~= "unchanged" then return core.propagation("/", prop, true) end
  return true
end

return mount
