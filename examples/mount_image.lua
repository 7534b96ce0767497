-- The seed's "Mount Image", then a checkpoint that skips free space:
--
--   $ dd if=/dev/zero of=file.img bs=1M count=50 ; mkfs -F file.img
--   $ sudo mount -o loop,rw,sync file.img /tmp/mount_tmp ; sudo chown -R userA:groupA /tmp/mount_tmp
--   $ sudo umount file.img ; gzip file.img
--
-- Here: a sparse 50M ext4 image (no dd), owned by uid/gid 1000, mounted in a
-- sandbox where uid 1000 writes to it; then a gzip checkpoint (free blocks
-- trimmed, only data extents compressed), a restore to a new sparse file,
-- mounted again and read back. Everything lives in a temporary directory
-- and the loop devices are gone at the end.
local isol = require "isol"

local name = os.tmpname()
os.remove(name)
local dir = name .. ".images"
assert(os.execute("mkdir -p " .. dir))

local function box_with(img, ro)
  return isol.sandbox {
    namespaces = { "mount", "pid" },
    root = isol.recipes.host_readonly { mounts = {
      { type = "image", image = img, target = "/data", readonly = ro } } },
  }
end

local ok, err = pcall(function()
  local sums
  local img <close> = assert(isol.image.create(dir .. "/file.img", { size = "50M", fs = "ext4",
    owner = { uid = 1000, gid = 1000 } }))
  print("created " .. tostring(img))

  do
    local box <close> = box_with(img)
    -- uid 1000 (the seed's userA) writes: setpriv drops to it inside
    local st, out, e = box:run({ "/bin/sh", "-c", [[
      setpriv --reuid 1000 --regid 1000 --clear-groups sh -c '
        seq 1 100000 > /data/numbers && echo hello > /data/hello &&
        head -c 10000000 /dev/urandom > /data/scratch' &&
      rm /data/scratch && ls -ln /data && sha256sum /data/numbers /data/hello]] }, { capture = true })
    io.write(out)
    assert(st.code == 0, e)
    sums = out:match("(%x+  /data/numbers.*)$")
  end

  local bar = isol.image.progress_bar("checkpoint")
  local st = assert(img:checkpoint(dir .. "/file.img.gz", { progress = bar }))
  print(string.format("checkpoint: %d MiB image, %.1f MiB of data read, %.2f MiB written (trim discarded %.1f MiB)",
    st.size >> 20, st.data / 2 ^ 20, st.out / 2 ^ 20, st.trimmed / 2 ^ 20))
  img:close()

  local rs = assert(isol.image.restore(dir .. "/file.img.gz", dir .. "/restored.img",
    { progress = isol.image.progress_bar("restore") }))
  print(string.format("restored: %d MiB file, %.2f MiB allocated (sparse)", rs.size >> 20, rs.allocated / 2 ^ 20))

  local copy <close> = assert(isol.image.open(dir .. "/restored.img"))
  local box <close> = box_with(copy, true)
  local st2, out2 = box:run({ "/bin/sh", "-c", "cat /data/hello; sha256sum /data/numbers /data/hello" },
    { capture = true })
  io.write(out2)
  assert(st2.code == 0 and out2:find(sums, 1, true), "restored contents differ")
  print("read back: identical")
end)
os.execute("rm -rf " .. dir)
if not ok then error(err, 0) end
