--- The filesystem concern of the Lua layer: recipe fields `mounts`, `root`
-- and `propagation` into `plan.fs`, and the plan step that attaches images
-- (`isol.mount.*` for the calling process is isol/mount.lua).
--
-- A recipe's mounts become `plan.fs` (see csrc/lua/l_mount.c):
--
--     mounts = {
--       { type = "tmpfs", target = "/scratch", size = "1M", mode = "1777" },
--       { type = "bind", source = "/data", target = "/data", readonly = true },
--       { type = "proc" },                       -- target "/proc"
--       { type = "dev" },                        -- minimal /dev
--       { type = "mqueue" },                     -- "/dev/mqueue"
--       { type = "overlay", target = "/work", lower = { "/a", "/b" }, upper = "/u", work = "/w" },
--       { type = "image", image = img, target = "/data", readonly = false },
--       { type = "remount", target = "/data", readonly = true },
--       { type = "dir", target = "/run/x", mode = "0700" },
--       { type = "symlink", target = "/bin", source = "usr/bin" },
--     }
--     root = { }                                 -- fresh tmpfs root, pivot_root
--     root = { dir = "/srv/box", mode = "chroot" } -- a prepared directory (weaker chroot)
--     root = { image = img, readonly = true }    -- an image as the root
--     root = isol.recipes.host_readonly()        -- read-only host binds + proc + dev + tmp
--
-- Mount targets are resolved inside the new root without following symlinks;
-- with no new root they are host paths (in the sandbox's private mount
-- namespace). Everything needs the "mount" namespace.
--
-- The fields' definitions and checks are isol.fs_fields, loaded the first
-- time a recipe uses one of them: `isol run` of a recipe without mounts,
-- root or propagation never loads them. `check_mount`, `check_mounts`,
-- `check_root`, `to_op`, `resolve_images` and `install` are reached here
-- all the same (they are that module's).
-- @module isol.fs
local recipe = require "isol.recipe"
local util = require "isol.util"

local fail, show = util.fail, util.show

local FIELDS = "isol.fs_fields"

local M = {}

recipe.lazy("propagation", FIELDS)
recipe.lazy("root", FIELDS)
recipe.lazy("mounts", FIELDS)

recipe.post_check(function(r)
  for _, f in ipairs { "mounts", "root", "propagation" } do
    if r[f] ~= nil and not recipe.has_ns(r, "mount") then
      fail(f, 'needs the "mount" namespace (add "mount" to namespaces)')
    end
  end
  if r.root and (r.propagation == "shared" or r.propagation == "unchanged") then
    -- the root is staged on /tmp: shared propagation would show it on the host
    fail("propagation", 'a new root needs "private" or "slave" propagation, got %s', show(r.propagation))
  end
end)

--- plan step: nothing without mounts, root or propagation; else the
-- compiled filesystem plan, images attached (isol.fs_fields.plan_step).
function M.plan_step(box, plan)
  if not plan.fs then return true end
  return require(FIELDS).plan_step(box, plan)
end

-- isol.fs_fields' public functions under their names here
local COLD = { check_mount = true, check_mounts = true, check_root = true, to_op = true,
  resolve_images = true, install = true }
return setmetatable(M, { __index = function(_, k)
  if COLD[k] then return require(FIELDS)[k] end
end })
