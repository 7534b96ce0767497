-- Issue 13 in the cgroup-v2 VM (spec/vm/run, `make vm-test`): a user without
-- root whose own cgroup is delegated to it (owned by it, as systemd does with
-- Delegate=yes) runs a sandbox with memory and pids limits: isol moves the
-- caller into a leaf of that cgroup (the no-internal-processes rule) and
-- makes the sandbox's group beside it.
-- Tagged #vm (the host suite skips it) and #v2 (the VM suite runs it).
local h = require "support.helpers"

local CG = "/sys/fs/cgroup"

describe("rootless in a delegated v2 subtree #vm #v2", function()
  local user = "isolv2u"
  local dir = CG .. "/isol-rootless-deleg"

  setup(function()
    local out, ok = h.sh("useradd -M -d /tmp -s /bin/sh " .. user .. " 2>&1")
    assert(ok, out)
    -- a subtree like systemd's Delegate=yes: the directory and its
    -- delegation files are the user's, the controllers are enabled above
    out, ok = h.sh(string.format("mkdir %s && chown %s %s %s/cgroup.procs %s/cgroup.subtree_control "
      .. "%s/cgroup.threads 2>&1", dir, user, dir, dir, dir, dir))
    assert(ok, out)
  end)

  teardown(function()
    h.sh(string.format("rmdir %s/isol-caller %s 2>/dev/null; userdel %s 2>/dev/null", dir, dir, user))
  end)

  it("runs a sandbox with memory and pids limits beside the caller's leaf", function()
    assert.truthy(h.read(CG .. "/cgroup.subtree_control"):find("memory", 1, true))
    -- the user's interpreter starts in the delegated cgroup, alone (setpriv
    -- execs it: runuser would stay there as a parent, a process of root's)
    local prefix = string.format("sh -c 'echo $$ > %s/cgroup.procs && exec setpriv --reuid=%s --regid=%s "
      .. "--init-groups env -i PATH=/usr/bin:/bin \"$@\"' sh", dir, user, user)
    local out, ok = h.lua([[
      local isol = require "isol"
      assert(select(1, isol.core.ids()) ~= 0, "expected an ordinary user")
      local r = { namespaces = { "pid", "mount" }, limits = { memory = { max = "64M" }, pids = { max = 16 } } }
      local box = isol.sandbox(r)
      local st, o, e = box:run({ "/bin/sh", "-c", "p=$(sed -n 's/^0:://p' /proc/self/cgroup); "
        .. "echo \"$p\"; cat /sys/fs/cgroup$p/memory.max /sys/fs/cgroup$p/pids.max" }, { capture = true })
      assert(st and st.code == 0, tostring(o) .. tostring(e))
      io.write(o)
      io.write("caller ", io.open("/proc/self/cgroup"):read("a"))
      box:close()
      st = isol.run({ namespaces = { "pid" }, limits = { memory = { max = "16M" } } },
        { "/bin/sh", "-c", "x=a; while :; do x=$x$x; done" })
      io.write("oom ", tostring(st and st.oom), "\n")
    ]], prefix)
    assert(ok, out)
    assert.matches("^/isol%-rootless%-deleg/isol%-%d+%-1\n67108864\n16\n", out)
    assert.matches("\ncaller 0::/isol%-rootless%-deleg/isol%-caller\n", out)
    assert.matches("\noom true\n$", out)
  end)
end)
