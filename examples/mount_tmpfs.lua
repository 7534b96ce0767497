-- The seed's "Mount Isolation", from Lua:
--
--   $ sudo unshare -m /bin/bash
--   # mount -n -o size=1m -t tmpfs tmpfs /tmp/mount_tmp/
--
-- This script moves itself into a new mount namespace (private propagation,
-- like unshare(1)), mounts a 1 MiB tmpfs, writes to it, shows that the size
-- is enforced and that the host never sees the mount. Run it with
-- `isol run examples/mount_tmpfs.lua` (as root).
local isol = require "isol"

-- a unique directory in place of the seed's /tmp/mount_tmp
local name = os.tmpname()
os.remove(name)
local dir = name .. ".mount_tmp"

assert(isol.unshare { "mount" })
assert(isol.mount.tmpfs(dir, { size = "1m", mode = "1777" }))

local f = assert(io.open(dir .. "/t.txt", "w"))
f:write("hi\n")
f:close()
os.execute("ls -al " .. dir)

-- 1 MiB means 1 MiB: writing 2 fails with ENOSPC
local big = assert(io.open(dir .. "/big", "w"))
local ok, msg = big:write(string.rep("x", 2 * 1024 * 1024))
if ok then ok, msg = big:flush() end
big:close()
print("writing 2 MiB into the 1 MiB tmpfs: " .. (ok and "succeeded?!" or msg))
assert(not ok, "the size limit was not enforced")

-- Mounted here...
local here = false
for _, m in ipairs(isol.mount.list()) do
  if m.target == dir then here = true end
end
assert(here)
-- ...and invisible to a process outside this namespace (PID 1's view).
local outside = io.open("/proc/1/mountinfo"):read("a"):find(dir, 1, true)
print("visible to the host: " .. tostring(outside ~= nil))
assert(not outside)

-- clean up: the mount dies with this namespace, the directory is ours
assert(isol.mount.umount(dir))
os.remove(dir)
