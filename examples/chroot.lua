-- The seed's "Mount as Root": a directory prepared by hand as the root.
--
--   $ sudo cp -a /lib ./ ; sudo cp -a /lib64 ./ ; mkdir bin ; sudo cp /bin/bash ./bin/
--   $ sudo chroot /tmp /bin/bash
--   # ls
--   bash: ls: command not found
--
-- 1. The seed's way (mode = "chroot", only bash copied in, libraries bound
--    read-only instead of copied): bash runs, `ls` is not there, and isol
--    says so precisely when asked to run it directly.
-- 2. The sane way: isol.recipes.host_readonly() (pivot_root, read-only
--    /usr, fresh /proc, minimal /dev, tmpfs /tmp): every tool is there.
-- chroot is weaker than pivot_root: the old root stays in the namespace, so
-- a process that keeps CAP_SYS_CHROOT can escape (see spec/fs_spec.lua).
local isol = require "isol"

local name = os.tmpname()
os.remove(name)
local dir = name .. ".root"
assert(os.execute("mkdir -p " .. dir .. "/bin && cp /bin/bash " .. dir .. "/bin/"))

local function cleanup() os.execute("rm -rf " .. dir) end

local libs = {}
for _, d in ipairs { "/lib", "/lib64", "/usr/lib", "/usr/lib64" } do
  local link = isol.core.readlink(d)
  if link then
    libs[#libs + 1] = { type = "symlink", target = d, source = link }
  else
    libs[#libs + 1] = { type = "bind", source = d, target = d, readonly = true, optional = true }
  end
end

local ok, err = pcall(function()
  local box <close> = isol.sandbox {
    namespaces = { "mount" },
    root = { dir = dir, mode = "chroot", mounts = libs },
    -- a library the host preloads does not exist inside this bare root
    env = { LD_PRELOAD = false },
  }
  local st, out = box:run({ "/bin/bash", "-c", "echo bash runs in $(pwd); ls; echo \"exit: $?\"" },
    { capture = true })
  io.write("1. chroot with only bash:\n", out)
  assert(st.code == 0 and out:find("exit: 127"), "expected ls to be missing")
  local p, msg = box:spawn { "ls" }
  print("   isol.spawn 'ls': " .. tostring(msg))
  assert(not p and msg:find("not found in PATH inside the new root"))

  local good <close> = isol.sandbox { namespaces = { "mount", "pid" }, root = isol.recipes.host_readonly() }
  st, out = good:run({ "/bin/sh", "-c", "ls / | tr '\\n' ' '" }, { capture = true })
  io.write("2. host_readonly: ls / -> ", out, "\n")
  assert(st.code == 0 and out:find("usr"))
end)
cleanup()
if not ok then error(err, 0) end
