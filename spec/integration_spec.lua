-- Concerns together: a detached sandbox with cgroup limits keeps running in
-- its cgroup after the script that started it exits; killing it and the
-- cgroup gc leave nothing behind.
local h = require "support.helpers"

describe("detached sandbox with limits #root", function()
  it("outlives its script in its cgroup, and is killed and cleaned up", function()
    local state = h.sh("mktemp -d /tmp/isol-integ.XXXXXX"):gsub("%s+$", "")
    finally(function()
      -- whatever happened above, nothing of this test survives it
      h.sh("ISOL_STATE_DIR=" .. state .. " bin/isol kill integ >/dev/null 2>&1; rm -rf " .. state)
    end)
    local out, ok = h.lua([[
      local isol = require "isol"
      isol.detached.state_dir = ]] .. string.format("%q", state) .. [[
      local box = isol.sandbox { namespaces = { "pid", "mount" }, limits = { pids = { max = 16 } } }
      local p, name = assert(box:spawn { "/bin/sleep", "300", detach = true, name = "integ" })
      print(name, box.cgroup_path, box.cgroup:path("pids"))
      box:close()
    ]])
    assert(ok, out)
    local cgpath, pidspath = out:match("integ\t(%S+)\t(%S+)")
    assert.is_truthy(cgpath, "output: " .. out)
    -- the script has exited: the sandbox still runs, inside its cgroup
    local procs = h.read(cgpath .. "/cgroup.procs") or ""
    assert.matches("%d", procs)
    assert.are.equal("16\n", h.read(pidspath .. "/pids.max"))
    out, ok = h.lua([[
      local isol = require "isol"
      isol.detached.state_dir = ]] .. string.format("%q", state) .. [[
      local st = assert(isol.detached.get("integ"))
      print(st.state)
      assert(isol.detached.kill("integ"))
      -- SIGKILL removed the entry
      local gone, _, code = isol.detached.get("integ")
      assert(gone == nil and code == isol.core.errno.ESRCH, "entry still there after kill")
    ]])
    assert(ok, out)
    assert.matches("running", out)
    -- empty now, and the gc removes the group (its creator is gone)
    local gc = h.sh("bin/isol cgroup gc 2>&1")
    assert.is_nil(h.read(cgpath .. "/cgroup.procs"), "cgroup still there after gc: " .. gc)
  end)
end)
