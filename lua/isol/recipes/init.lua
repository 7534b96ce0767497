--- Ready-made recipe parts (also `isol.recipes`).
--
--     local box = isol.sandbox {
--       namespaces = { "mount", "pid", "user" }, user = { map_root = true },
--       root = isol.recipes.host_readonly { tmp_size = "16M" },
--     }
--
-- Other helpers add more recipes to this directory (isol/recipes/*.lua);
-- they are loaded on first use: `isol.recipes.NAME`.
-- @module isol.recipes
local core = require "isol.core"
local util = require "isol.util"

local M = {}

-- The host directories a program usually needs to run. On a merged-/usr
-- system /bin, /lib, ... are symlinks into /usr: they are recreated as the
-- same symlinks inside, not bound, so that the root looks like the host.
M.HOST_DIRS = { "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" }

-- /etc files programs look for (name service, dynamic linker, time zone);
-- each is bound read-only when it exists on the host.
M.ETC_FILES = { "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf",
  "/etc/nsswitch.conf", "/etc/host.conf", "/etc/localtime", "/etc/ld.so.cache",
  "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/os-release", "/etc/alternatives",
  "/etc/ssl", "/etc/ca-certificates" }

local HR_KEYS = { etc = true, dirs = true, tmp_size = true, proc = true, dev = true,
  mounts = true, mode = true, readonly = true }

--- A new root made of read-only binds of the host's system directories,
-- selected /etc files, a fresh /proc, a minimal /dev and a tmpfs /tmp: the
-- sane answer to "copy /lib and /lib64 into the chroot" (and what
-- `bwrap --ro-bind /usr /usr --proc /proc --dev /dev --tmpfs /tmp` does).
-- @param opts `etc` (extra /etc paths, list), `dirs` (replaces HOST_DIRS),
--   `tmp_size` (default "64M"), `proc`/`dev` (false to leave out),
--   `mounts` (more entries appended), `mode` ("pivot"|"chroot"),
--   `readonly` (the root tmpfs itself read-only, default true)
-- @return a `root` value for a recipe
function M.host_readonly(opts)
  opts = opts or {}
  util.check_type("host_readonly", opts, "table")
  util.check_keys("host_readonly", opts, HR_KEYS)
  local mounts = {}
  for _, d in ipairs(opts.dirs or M.HOST_DIRS) do
    local link = core.readlink(d)
    if link then
      mounts[#mounts + 1] = { type = "symlink", target = d, source = link }
    else
      mounts[#mounts + 1] = { type = "bind", source = d, target = d, readonly = true,
        nodev = true, optional = true }
    end
  end
  local etc = util.copy_list(M.ETC_FILES)
  for _, e in ipairs(opts.etc or {}) do etc[#etc + 1] = e end
  for _, e in ipairs(etc) do
    mounts[#mounts + 1] = { type = "bind", source = e, target = e, readonly = true,
      nodev = true, nosuid = true, optional = true }
  end
  if opts.proc ~= false then mounts[#mounts + 1] = { type = "proc", target = "/proc" } end
  if opts.dev ~= false then mounts[#mounts + 1] = { type = "dev", target = "/dev" } end
  mounts[#mounts + 1] = { type = "tmpfs", target = "/tmp", size = opts.tmp_size or "64M",
    mode = "1777", nodev = true, nosuid = true }
  for _, m in ipairs(opts.mounts or {}) do mounts[#mounts + 1] = m end
  local ro = opts.readonly
  if ro == nil then ro = true end
  return { mode = opts.mode, readonly = ro, mounts = mounts,
    description = "host_readonly: read-only host /usr, /etc files, fresh /proc, minimal /dev, tmpfs /tmp" }
end

return setmetatable(M, {
  __index = function(t, name)
    if type(name) ~= "string" or not name:match("^[%w_]+$") then return nil end
    local mod = "isol.recipes." .. name
    -- require, not package.searchpath: the native launcher finds isol's
    -- modules through a searcher of its own, not package.path
    local ok, v = pcall(require, mod)
    if not ok then
      if tostring(v):find("module '" .. mod .. "' not found", 1, true) then return nil end
      error(v, 0)
    end
    rawset(t, name, v)
    return v
  end,
})
