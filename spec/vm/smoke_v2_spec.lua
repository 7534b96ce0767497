-- Smoke test of the cgroup-v2 VM (spec/vm/run, `make vm-test`): the VM has a
-- pure cgroup2 hierarchy with every controller enabled, and isol's spine works
-- there: namespaces, CLONE_INTO_CGROUP, a memory limit that OOM-kills.
-- Tagged #vm (the host suite excludes it: the host is cgroup v1) and #v2 (the
-- VM suite runs every #v2 spec).
local h = require "support.helpers"

local CG = "/sys/fs/cgroup"
-- The runner's cgroup: the root unless spec/vm/run was given ISOL_VM_CGROUP.
local RUNNER_CG = os.getenv("ISOL_VM_CGROUP") or ""
if RUNNER_CG == "" then RUNNER_CG = "/" end

local function read(path)
  local s = h.read(path)
  assert(s, "cannot read " .. path)
  return s
end

local function write(path, value)
  local f = assert(io.open(path, "w"))
  local ok, err = f:write(value)
  local cok, cerr = f:close()
  assert(ok and cok, string.format("write %q to %s: %s", value, path, tostring(err or cerr)))
end

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[w] = true end
  return t
end

-- The caller's own cgroup (v2 line "0::/path"), where test cgroups go.
local function own_cgroup()
  local rel = read("/proc/self/cgroup"):match("0::(%S*)")
  assert(rel, "no cgroup2 line in /proc/self/cgroup")
  return CG .. (rel == "/" and "" or rel)
end

local function rmdir_retry(dir)
  for _ = 1, 100 do
    if os.remove(dir) then return true end
    if not h.read(dir .. "/cgroup.procs") then return true end
    os.execute("sleep 0.02")
  end
  error("cannot remove " .. dir)
end

describe("cgroup v2 VM #vm #v2", function()
  it("has cgroup2 alone on /sys/fs/cgroup, delegation-safe, with controllers enabled", function()
    local cg2, v1 = nil, {}
    for line in read("/proc/self/mountinfo"):gmatch("[^\n]+") do
      local mp, fstype, sopts = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) %S+ (%S+)")
      if fstype == "cgroup2" and mp == CG then cg2 = sopts end
      if fstype == "cgroup" then v1[#v1 + 1] = mp end
    end
    assert.is_not_nil(cg2, "no cgroup2 mount on " .. CG)
    assert.same({}, v1)
    assert.matches("cgroup_no_v1=all", read("/proc/cmdline"), 1, true)
    local o = words(cg2:gsub(",", " "))
    assert.is_true(o.nsdelegate, "mount options: " .. cg2)
    assert.is_true(o.memory_recursiveprot, "mount options: " .. cg2)
    local enabled = words(read(CG .. "/cgroup.subtree_control"))
    for _, c in ipairs { "cpu", "memory", "pids", "io", "cpuset" } do
      assert.is_true(enabled[c], c .. " not enabled: " .. read(CG .. "/cgroup.subtree_control"))
    end
    assert.equal("0::" .. RUNNER_CG .. "\n", read("/proc/self/cgroup"))
  end)

  it("runs a sandbox with user, pid and uts namespaces", function()
    local isol = require "isol"
    local st, out, err = isol.run({ namespaces = { "user", "pid", "uts" }, user = { map_root = true },
      hostname = "v2box" }, { "/bin/sh", "-c", "hostname; id -u; cat /proc/self/cgroup" }, { capture = true })
    assert.same({ code = 0 }, st, err)
    assert.equal("v2box\n0\n0::" .. RUNNER_CG .. "\n", out)
  end)

  describe("a fresh cgroup", function()
    local dir

    -- No leak.snapshot here: under TCG one snapshot + check costs ~2.4 s. What
    -- these specs could leave is the cgroup and processes in it: rmdir fails
    -- with EBUSY while any process is inside, and the directory must be gone.
    before_each(function()
      dir = string.format("%s/isol-vmsmoke-%d", own_cgroup(), math.random(1, 1e9))
      local _, ok = h.sh("mkdir " .. h.shq(dir))
      assert(ok, "mkdir " .. dir)
    end)

    after_each(function()
      rmdir_retry(dir)
      assert.is_nil(h.read(dir .. "/cgroup.procs"), dir .. " still exists")
    end)

    -- Spawn argv from a fresh lua5.4 holding the cgroup directory open as fd 7
    -- (plan.cgroup_fd: CLONE_INTO_CGROUP); prints the child's stdout, then its
    -- wait status as "code=N" or "signal=NAME".
    local function spawn_into(argv)
      local src = string.format([[
        local isol = require "isol"
        local p = assert(isol.spawn({ argv = %s, cgroup_fd = 7, stdout = "pipe" }))
        local out = p:communicate()
        local st = assert(p:wait())
        io.write(out or "", st.code and ("code=" .. st.code) or ("signal=" .. st.signal))
      ]], "{" .. table.concat((function()
        local q = {}
        for i, a in ipairs(argv) do q[i] = string.format("%q", a) end
        return q
      end)(), ", ") .. "}")
      return h.lua(src, "exec 7<" .. h.shq(dir) .. ";")
    end

    it("receives a child started with plan.cgroup_fd (CLONE_INTO_CGROUP)", function()
      local out, ok = spawn_into { "/bin/cat", "/proc/self/cgroup" }
      assert(ok, out)
      assert.equal("0::" .. dir:sub(#CG + 1) .. "\ncode=0", out)
      assert.equal("", read(dir .. "/cgroup.procs"))
    end)

    it("OOM-kills a hog past memory.max and counts it in memory.events", function()
      if RUNNER_CG ~= "/" then
        pending("ISOL_VM_CGROUP puts the runner in a populated cgroup: no controllers can be enabled below it")
      end
      write(dir .. "/memory.max", "16777216")
      write(dir .. "/memory.swap.max", "0")
      assert.matches("oom_kill 0\n", read(dir .. "/memory.events"))
      local out, ok = spawn_into { "lua5.4", "-e", "local s = string.rep('x', 64 * 1024 * 1024) print(#s)" }
      assert(ok, out)
      assert.equal("signal=SIGKILL", out)
      assert.matches("oom_kill 1\n", read(dir .. "/memory.events"))
    end)
  end)
end)
