--- `isol image create|checkpoint|restore|info`: filesystem images from the
-- command line, with a progress bar on a terminal.
local cli = require "isol.cli"

local M = {
  summary = "create, checkpoint and restore filesystem images",
  usage = [==[
usage: isol image create PATH --size SIZE [--fs ext4] [--owner UID:GID]
       isol image checkpoint IMAGE DEST [--format gzip|zstd] [--level N] [--no-trim] [--force]
       isol image restore SRC DEST [--force]
       isol image info IMAGE

create      a sparse image file and mkfs.<fs> on it (the file must not exist)
checkpoint  discard free blocks (FITRIM), then compress only the data extents;
            DEST is readable by gunzip / zstd -d (format from .zst/.gz if not given).
            An image a running sandbox has mounted is frozen (FIFREEZE) while
            it is read, so the copy is consistent; when that is not possible
            the checkpoint is refused, naming the mount
restore     decompress a checkpoint into a sparse image file
info        size, allocated bytes and filesystem type

checkpoint and restore keep an existing DEST unless --force is given.

A progress bar is drawn on stderr when it is a terminal.]==],
}

local function opts_of(args, spec)
  local pos, o = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local name = a:match("^%-%-([%w-]+)$")
    if name then
      if spec[name] == "flag" then o[name] = true
      elseif spec[name] then
        i = i + 1
        if args[i] == nil then error("--" .. name .. ": missing value", 0) end
        o[name] = args[i]
      else
        error("unknown option " .. a .. " (see `isol image --help`)", 0)
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return pos, o
end

local function mib(b) return string.format("%.2f MiB", b / 2 ^ 20) end

-- Apparent and allocated size of a file: stat(1) run by argv (no shell:
-- the path is one argument, whatever it holds), as no core call returns
-- st_blocks.
local function sizes(path)
  local core = require "isol.core"
  local p, msg = core.spawn { argv = { "stat", "-c", "%s %b", "--", path }, stdout = "pipe" }
  if not p then return nil, msg end
  local out = p:communicate()
  local st = p:wait()
  p:close()
  local size, blocks = (out or ""):match("^(%d+) (%d+)")
  if not (st and st.code == 0 and size) then return nil, "stat " .. path .. " failed" end
  return tonumber(size), tonumber(blocks) * 512
end

function M.run(args)
  local isol = require "isol"
  local sub = table.remove(args, 1)
  if sub == "create" then
    local pos, o = opts_of(args, { size = "value", fs = "value", owner = "value" })
    if #pos ~= 1 or not o.size then return cli.die("image create: PATH and --size are required", 2) end
    local owner
    if o.owner then
      local u, g = o.owner:match("^(%d+):?(%d*)$")
      if not u then return cli.die("image create: --owner expects UID:GID, got " .. o.owner, 2) end
      owner = { uid = tonumber(u), gid = tonumber(g ~= "" and g or u) }
    end
    local img, msg = isol.image.create(pos[1], { size = o.size, fs = o.fs, owner = owner })
    if not img then return cli.die(msg) end
    local size, alloc = sizes(img:path())
    print(string.format("%s: new %s image, %s (sparse: %s allocated)%s", img:path(), img:fstype(),
      size and mib(size) or o.size, alloc and mib(alloc) or "?",
      owner and string.format(", root owned by %d:%d", owner.uid, owner.gid) or ""))
    img:close()
    return 0
  elseif sub == "checkpoint" then
    local pos, o = opts_of(args, { format = "value", level = "value", ["no-trim"] = "flag", force = "flag" })
    if #pos ~= 2 then return cli.die("image checkpoint: IMAGE and DEST are required", 2) end
    local img, msg = isol.image.open(pos[1])
    if not img then return cli.die(msg) end
    local st
    st, msg = img:checkpoint(pos[2], { format = o.format, level = o.level and math.tointeger(tonumber(o.level)),
      trim = not o["no-trim"], force = o.force, progress = isol.image.progress_bar("checkpoint") })
    img:close()
    if not st then
      if msg:match("File exists") then msg = msg:gsub("force = true", "--force") end
      return cli.die(msg)
    end
    print(string.format("%s: %s image, %s of data, %s written (trimmed %s)%s", pos[2], mib(st.size),
      mib(st.data), mib(st.out), mib(st.trimmed),
      st.frozen > 0 and string.format("; in use: %d mounted filesystem(s) frozen while read", st.frozen) or ""))
    return 0
  elseif sub == "restore" then
    local pos, o = opts_of(args, { force = "flag" })
    if #pos ~= 2 then return cli.die("image restore: SRC and DEST are required", 2) end
    local st, msg = isol.image.restore(pos[1], pos[2], { force = o.force,
      progress = isol.image.progress_bar("restore") })
    if not st then
      if msg:match("File exists") then msg = msg:gsub("force = true", "--force") end
      return cli.die(msg)
    end
    print(string.format("%s: %s image, %s allocated", pos[2], mib(st.size), mib(st.allocated)))
    return 0
  elseif sub == "info" then
    local pos = opts_of(args, {})
    if #pos ~= 1 then return cli.die("image info: IMAGE is required", 2) end
    local img, msg = isol.image.open(pos[1])
    if not img then return cli.die(msg) end
    local size, alloc = sizes(img:path())
    if not size then
      img:close()
      return cli.die(alloc)
    end
    print(string.format("%s: %s, %s apparent, %s allocated", img:path(), img:fstype(), mib(size), mib(alloc)))
    img:close()
    return 0
  end
  return cli.die("image: expected create, checkpoint, restore or info (see `isol image --help`)", 2)
end

return M
