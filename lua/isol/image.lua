--- Filesystem images (`isol.image`): the seed's "Mount Image", without dd,
-- and checkpoints that skip free space.
--
--     local img <close> = assert(isol.image.create("/tmp/app.img", { size = "50M", fs = "ext4" }))
--     assert(img:mount("/tmp/mount_tmp", { owner = { uid = 1000, gid = 1000 } })) -- after isol.unshare{"mount"}
--     ...
--     img:umount()
--     local st = assert(img:checkpoint("/tmp/app.img.zst", { format = "zstd" }))
--     assert(isol.image.restore("/tmp/app.img.zst", "/tmp/copy.img"))
--
-- As a sandbox mount: `mounts = { { type = "image", image = img, target = "/data" } }`,
-- or as its root: `root = { image = img }` (the loop device is attached on
-- the first spawn and detached by `img:close()`, __gc or `<close>`).
-- @module isol.image
local core = require "isol.core"
local util = require "isol.util"
local mount = require "isol.mount"

local fail, show, check_type = util.fail, util.show, util.check_type

local M = {}
local methods = core.image_methods

-- An existing destination is kept unless `force` (as create keeps one).
local function refuse_existing(dest, force, path)
  if force ~= nil then check_type(path .. ".force", force, "boolean") end
  if force then return true end
  local f, _, code = io.open(dest, "r")
  if f then f:close() end
  -- (a dangling symlink counts: the write would follow it)
  if f or code ~= core.errno.ENOENT or core.readlink(dest) then
    return nil, string.format("%s: File exists (force = true overwrites it)", dest), core.errno.EEXIST
  end
  return true
end

local function check_progress(path, v)
  if v ~= nil and type(v) ~= "function" then
    fail(path, "expected a function(done, total), got %s", show(v))
  end
  return v
end

--- Create a sparse image file and make a filesystem on it.
-- @param path the image file (must not exist)
-- @param opts `size` (required: "50M", bytes), `fs` (default "ext4"),
--   `mkfs_args` (list of extra arguments), `owner` ({uid=, gid=} of the root dir)
-- @return Image, or nil, message, errno (the file is removed on failure)
function M.create(path, opts)
  check_type("image.create: path", path, "string")
  check_type("image.create: options", opts, "table")
  util.check_keys("image.create", opts, { size = true, fs = true, mkfs_args = true, owner = true })
  if opts.size == nil then fail("image.create.size", 'required (e.g. "50M")') end
  local size = util.parse_size("image.create.size", opts.size)
  if size < 4096 then fail("image.create.size", "too small: %s (at least 4k)", show(opts.size)) end
  local fs = opts.fs or "ext4"
  check_type("image.create.fs", fs, "string")
  if not fs:match("^[%w_]+$") then fail("image.create.fs", "bad filesystem type %s", show(fs)) end
  local args = opts.mkfs_args
  if args ~= nil then
    check_type("image.create.mkfs_args", args, "table")
    for i, a in ipairs(args) do check_type(string.format("image.create.mkfs_args[%d]", i), a, "string") end
  end
  local owner = opts.owner
  if owner ~= nil then
    check_type("image.create.owner", owner, "table")
    util.check_keys("image.create.owner", owner, { uid = true, gid = true })
  end
  local img, msg, code = core.image_create(path, size, fs, args)
  if not img then return nil, msg, code end
  if owner then
    local ok
    ok, msg, code = img:chown(owner.uid or 0, owner.gid or owner.uid or 0)
    img:close()
    if not ok then
      os.remove(path)
      return nil, msg, code
    end
    -- reopened after the chown: a failure keeps its message (B15)
    img, msg, code = core.image_open(path, fs)
    if not img then return nil, msg, code end
  end
  return img
end

--- Open an existing image file (`fs` detected for ext2/3/4, xfs, btrfs, vfat).
function M.open(path, opts)
  check_type("image.open: path", path, "string")
  opts = opts or {}
  util.check_keys("image.open", opts, { fs = true })
  return core.image_open(path, opts.fs)
end

--- Decompress a checkpoint (gzip or zstd) into a sparse image file.
-- @param src the checkpoint file
-- @param dest the image file to write
-- @param opts `progress` = fn(done, total) (return false to cancel), `open`
--   (return an Image instead of the stats), `force` (overwrite an existing
--   dest; without it an existing file is an error, EEXIST)
-- @return stats {size=, allocated=, out=} (or an Image with opts.open), or nil, msg, errno
function M.restore(src, dest, opts)
  check_type("image.restore: source", src, "string")
  check_type("image.restore: destination", dest, "string")
  opts = opts or {}
  util.check_keys("image.restore", opts, { progress = true, open = true, fs = true, force = true })
  local free, fmsg, fcode = refuse_existing(dest, opts.force, "image.restore")
  if not free then return nil, fmsg, fcode end
  local st, msg, code = core.image_restore(src, dest, check_progress("image.restore.progress", opts.progress),
    opts.force or false)
  if not st then return nil, msg, code end
  if opts.open then return core.image_open(dest, opts.fs) end
  return st
end

--- Mount the image on target in the calling process (after
-- `isol.unshare{"mount"}` so the host does not see it).
-- @param target the mount point
-- @param opts `readonly` (or mode = "ro"|"rw"), `sync`, `owner` = {uid=, gid=}
--   (chown of the mount root: the seed's `chown -R userA:groupA`), `host`
--   (true: allowed without isol.unshare{"mount"})
function methods:mount(target, opts)
  check_type("image:mount: target", target, "string")
  opts = opts or {}
  util.check_keys("image:mount", opts, { readonly = true, mode = true, sync = true, owner = true, host = true })
  mount.check_private("image:mount", opts.host)
  local ro = opts.readonly
  if opts.mode ~= nil then
    if opts.mode ~= "ro" and opts.mode ~= "rw" then
      fail("image:mount.mode", 'expected "ro" or "rw", got %s', show(opts.mode))
    end
    ro = opts.mode == "ro"
  end
  local uid, gid
  if opts.owner ~= nil then
    check_type("image:mount.owner", opts.owner, "table")
    uid, gid = opts.owner.uid, opts.owner.gid
    for k, v in pairs { uid = uid, gid = gid } do
      if math.type(v) ~= "integer" then fail("image:mount.owner." .. k, "expected integer, got %s", show(v)) end
    end
  end
  return self:mount_at(target, ro and true or false, opts.sync and true or false, uid, gid)
end

--- Write a compressed checkpoint of the image that `gunzip` / `zstd -d`
-- turn back into the image file. Free blocks are discarded first (FITRIM:
-- they become holes), then only data extents are read and compressed.
-- An image in use (mounted through a loop device, by a running sandbox or
-- anyone, in any mount namespace) is trimmed through that mount and its
-- filesystem frozen (FIFREEZE: dirty data written, writers wait) while
-- it is read, then thawed: the copy is consistent. When it cannot be
-- frozen (not root, already frozen) the checkpoint is refused, naming the
-- mount. (A process killed while the filesystem is frozen leaves it
-- frozen: `fsfreeze -u MOUNTPOINT` thaws it.)
-- @param dest the checkpoint file to write
-- @param opts `format` ("gzip" default, or "zstd"; from dest's suffix
--   .zst/.gz when absent), `level`, `trim` (default true), `progress` = fn(done, total),
--   `threads` (compression threads, default: the online CPUs; 1 = sequential),
--   `force` (overwrite an existing dest; without it that is an error, EEXIST)
-- @return stats {size=, data=, out=, trimmed=, frozen= (filesystems frozen
--   while reading)}, or nil, msg, errno
function methods:checkpoint(dest, opts)
  check_type("image:checkpoint: destination", dest, "string")
  opts = opts or {}
  util.check_keys("image:checkpoint", opts, { format = true, level = true, trim = true, progress = true,
    threads = true, force = true })
  local format = opts.format
  if format == nil then format = dest:match("%.zst$") and "zstd" or "gzip" end
  if format ~= "gzip" and format ~= "zstd" then
    fail("image:checkpoint.format", 'expected "gzip" or "zstd", got %s', show(format))
  end
  if opts.level ~= nil and math.type(opts.level) ~= "integer" then
    fail("image:checkpoint.level", "expected integer, got %s", show(opts.level))
  end
  if opts.trim ~= nil then check_type("image:checkpoint.trim", opts.trim, "boolean") end
  if opts.threads ~= nil and (math.type(opts.threads) ~= "integer" or opts.threads < 1) then
    fail("image:checkpoint.threads", "expected an integer >= 1, got %s", show(opts.threads))
  end
  local free, fmsg, fcode = refuse_existing(dest, opts.force, "image:checkpoint")
  if not free then return nil, fmsg, fcode end
  return self:checkpoint_raw(dest, format, opts.level, opts.trim ~= false,
    check_progress("image:checkpoint.progress", opts.progress), opts.threads, opts.force or false)
end

--- A progress callback drawing a bar on stderr when it is a terminal (else
-- nothing): `img:checkpoint(dest, { progress = isol.image.progress_bar("checkpoint") })`.
function M.progress_bar(label, out)
  out = out or io.stderr
  if not core.isatty(2) then return nil end
  local last = -1
  return function(done, total)
    local pct = total > 0 and math.floor(done * 100 / total) or 100
    if pct ~= last then
      last = pct
      local w = 30
      local n = math.floor(pct * w / 100)
      out:write(string.format("\r%s [%s%s] %3d%%", label, string.rep("#", n), string.rep(".", w - n), pct))
      if pct >= 100 then out:write("\n") end
      out:flush()
    end
  end
end

return M
