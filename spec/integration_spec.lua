-- Concerns together: a detached sandbox with cgroup limits keeps running in
-- its cgroup after the script that started it exits; `isol kill` leaves no
-- cgroup behind (every hierarchy), its logs until `isol rm`; `isol exec`
-- runs inside every cgroup and namespace of it, with its capabilities.
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
      -- the entry stays (killed), with its logs, until rm
      local after = assert(isol.detached.get("integ"))
      print("after", after.state, after.status.signal)
    ]])
    assert(ok, out)
    assert.matches("running", out)
    assert.matches("after\texited\tSIGKILL", out)
    -- kill removed every hierarchy's group of it: no gc needed
    local left = h.sh("find /sys/fs/cgroup -type d -name " .. cgpath:match("[^/]+$") .. " 2>/dev/null")
    assert.are.equal("", left)
    -- the name is not silently reused while the entry exists
    local rf = state .. "-recipe.lua"
    h.sh("echo 'return { namespaces = { \"pid\" } }' > " .. rf)
    out = h.sh("ISOL_STATE_DIR=" .. state .. " bin/isol run -d --name integ " .. rf .. " /bin/true 2>&1; echo rc=$?")
    os.remove(rf)
    assert.matches("integ exists %(exited%): isol rm integ first", out)
    assert.matches("rc=0", (h.sh("ISOL_STATE_DIR=" .. state .. " bin/isol rm integ; echo rc=$?")))
    assert.matches("no sandbox named integ", (h.sh("ISOL_STATE_DIR=" .. state .. " bin/isol logs integ 2>&1")))
  end)
end)

describe("isol exec joins everything of the sandbox #root", function()
  local state
  local function bg(src)
    return h.lua([[
      local isol = require "isol"
      isol.detached.state_dir = ]] .. string.format("%q", state) .. "\n" .. src)
  end
  before_each(function()
    state = h.sh("mktemp -d /tmp/isol-integ.XXXXXX"):gsub("%s+$", "")
  end)
  after_each(function()
    h.sh("ISOL_STATE_DIR=" .. state .. " bin/isol kill execjoin >/dev/null 2>&1; ISOL_STATE_DIR=" .. state
      .. " bin/isol rm execjoin >/dev/null 2>&1; rm -rf " .. state)
  end)

  it("every cgroup (limits hold), every namespace, the same capabilities", function()
    local out, ok = bg([[
      local box = isol.sandbox { namespaces = { "pid", "mount", "uts", "ipc" }, hostname = "ej",
        description = "exec join spec",
        caps = { keep = { "CHOWN", "KILL" } },
        limits = { memory = { max = "64M", swap = 0 }, pids = { max = 32 } } }
      local p = assert(box:spawn { "/bin/sleep", "300", detach = true, name = "execjoin" })
      local caps = io.open("/proc/" .. p:pid() .. "/status"):read("a"):match("CapEff:%s*(%x+)")
      print("caps", caps)
      box:close()
    ]])
    assert(ok, out)
    local want_caps = out:match("caps\t(%x+)")
    -- a 200 MB buffer in a 64M sandbox must not be allocated
    out = bg([[
      local p = assert(isol.exec("execjoin", { "/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1" },
        { stdout = "null", stderr = "null" }))
      local st = p:wait()
      print("dd", st.code or st.signal)
      local q = assert(isol.exec("execjoin", { "/bin/sh", "-c",
        "grep CapEff /proc/self/status; hostname; cat /proc/self/cgroup" }, { stdout = "pipe" }))
      io.write((q:communicate()))
      q:wait()
      local st0 = assert(isol.detached.get("execjoin"))
      print("init", st0.pid)
    ]])
    assert.not_matches("dd\t0\n", out, "the exec'd process allocated 200 MB in a 64M sandbox: " .. out)
    assert.matches("dd\t%S+", out)
    assert.matches("CapEff:%s*" .. want_caps .. "\n", out)
    assert.matches("\nej\n", out)
    -- seen from the host, the exec'd shell's groups are the sandbox's on
    -- every hierarchy (inside, its cgroup namespace shows them as /)
    local init = out:match("init\t(%d+)")
    local theirs = h.read("/proc/" .. init .. "/cgroup")
    local n = 0
    for line in theirs:gmatch("[^\n]+") do
      if line:match("isol%-%d+%-%d+") then
        n = n + 1
        assert.matches("\n" .. line:gsub("%p", "%%%0") .. "\n", out)
      end
    end
    assert.is_true(n >= 2, theirs)
    -- isol ps: its memory and CPU use, from its cgroups; --json for programs
    local ps = h.sh("ISOL_STATE_DIR=" .. state .. " bin/isol ps")
    assert.matches("execjoin%s+running%s+" .. init .. "%s+%d+s%s+[%d.]+[BKMG]%s+[%d.]+s%s+exec join spec", ps)
    local rows = require("cjson").decode((h.sh("ISOL_STATE_DIR=" .. state .. " bin/isol ps --json")))
    assert.are.equal(1, #rows)
    assert.are.equal("execjoin", rows[1].name)
    assert.are.equal(tonumber(init), rows[1].pid)
    assert.is_true(rows[1].memory > 0)
    assert.is_true(rows[1].cpu_us >= 0)
    assert.are.equal("exec join spec", rows[1].description)
  end)
end)
