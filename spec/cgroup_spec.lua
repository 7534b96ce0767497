-- cgroups, on both backends: real limits taking effect; bad values creating
-- nothing. The host suite runs them on this host's v1/hybrid layout; the
-- whole file is #v2, so `make vm-test` runs it again in the pure cgroup-v2
-- VM (spec/vm/, ~35 s there). A spec that needs what one layout lacks (a
-- hybrid host's unified tree beside v1) pends with the reason.
local isol = require "isol"
local core = require "isol.core"
local h = require "support.helpers"
local leak = require "support.leak"

local lay = core.cgroup_layout()
local V = lay.mode == "v2" and 2 or 1

local function has(ctrl)
  for _, hh in ipairs(lay.hierarchies) do
    if hh.version == V then
      for _, c in ipairs(hh.controllers) do if c == ctrl then return true end end
    end
  end
  return false
end

local function need(...)
  for _, c in ipairs { ... } do
    if not has(c) then pending("cgroup controller " .. c .. " is not available here") return false end
  end
  return true
end

local function exists(path) return h.sh("test -e " .. h.shq(path) .. " && echo y"):match("y") ~= nil end

-- The kernel says the box is frozen: on v2 the group's cgroup.freeze; on v1
-- the freezer when the group has one, else (hybrid) the unified tree's
-- cgroup.freeze (its directory is listed last).
local function assert_frozen(box)
  local dirs = box.cgroup:dirs()
  local fz = box.cgroup:version() == 1 and box.cgroup:path("freezer")
  if fz then
    assert.matches("FROZEN", h.read(fz .. "/freezer.state"))
  else
    assert.matches("frozen 1", h.read(dirs[#dirs] .. "/cgroup.events"))
  end
end

-- Every spec runs on both backends: the direct cgroupfs path (the
-- default) and `cgroup = { backend = "libcgroup" }`.
for _, B in ipairs { "direct", "libcgroup" } do
local function with_backend(t, force)
  if B == "direct" or type(t) ~= "table" or not (force or t.limits or t.cgroup) then return t end
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  if not force then
    r.cgroup = {}
    for k, v in pairs(t.cgroup or {}) do r.cgroup[k] = v end
    r.cgroup.backend = B
  else
    r.backend = B
  end
  return r
end
local function sandbox(r) return isol.sandbox(with_backend(r)) end
local function cgcreate(spec) return isol.cgroup.create(with_backend(spec or {}, true)) end
-- (local to the loop body: the describe blocks run after the loop, so a
-- variable shared by both passes would give every backend the last one's)
local function run(recipe, script)
  local box = sandbox(recipe)
  local st, out, err = box:run({ "/bin/sh", "-c", script }, { capture = true })
  return box, st, out, err
end

describe("cgroup (" .. B .. " backend) #root #v2", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  describe("layout", function()
    it("matches /proc/self/cgroup, per hierarchy", function()
      assert.is_truthy(lay.mode == "v1" or lay.mode == "v2" or lay.mode == "hybrid")
      local self = h.read("/proc/self/cgroup")
      for _, hh in ipairs(lay.hierarchies) do
        if hh.version == 1 then
          local ctrls = table.concat(hh.controllers, ",")
          local path = self:match("\n?%d+:[^:\n]*" .. ctrls:gsub("%p", "%%%0") .. "[^:\n]*:([^\n]*)")
          assert.are.equal(path, hh.self)
        else
          assert.are.equal(self:match("0::([^\n]*)"), hh.self)
        end
      end
    end)

    it("agrees with libcgroup's discovery of every controller's mount", function()
      local n = 0
      for _, hh in ipairs(lay.hierarchies) do if hh.version == V then n = n + #hh.controllers end end
      assert.is_true(n > 0, "no controller to compare")
      assert.same({}, isol.cgroup.libcgroup_check())
    end)

    it("is not initialised by require (libcgroup stays lazy)", function()
      local out = h.lua([[
        local t0 = os.clock(); require "isol"; local dt = os.clock() - t0
        local core = require "isol.core"
        print(core.cgroup_libcgroup_init() > 0 and "lazy" or "eager")]])
      assert.matches("lazy", out)
    end)
  end)

  describe("create and delete", function()
    it("places the group under the caller's own cgroup in every hierarchy and removes every dir", function()
      if not need("pids", "memory") then return end
      local g = assert(cgcreate { limits = { pids = { max = 10 }, memory = { max = "64M" } } })
      local dirs = g:dirs()
      assert.is_true(V == 1 and #dirs >= 2 or #dirs == 1)
      for _, d in ipairs(dirs) do
        local matched = false
        for _, hh in ipairs(lay.hierarchies) do
          local base = hh.mount .. (hh.self == "/" and "" or hh.self) .. "/"
          if d:sub(1, #base) == base and not d:sub(#base + 1):find("/") then matched = true end
        end
        assert.is_true(matched, d .. " is not directly under the caller's cgroup")
        assert.is_true(exists(d))
      end
      assert.matches("^10", g:get("pids.max"))
      assert(g:delete())
      for _, d in ipairs(dirs) do assert.is_false(exists(d)) end
      assert(g:delete()) -- idempotent
    end)

    -- A busy shell in box: its cpu usage shows in stats; freeze, thaw and
    -- kill work; close removes the group.
    local function exercise(box)
      local p = assert(box:spawn { "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100" })
      for _ = 1, 200 do
        if (box:stats().cpu.usage_us or 0) > 0 then break end
        os.execute("sleep 0.01")
      end
      assert.is_true(box:stats().cpu.usage_us > 0)
      assert(box:freeze())
      assert_frozen(box)
      assert(box:thaw())
      assert(box:kill())
      assert.are.equal("SIGKILL", p:wait().signal)
      assert(box:close())
      p:close()
    end

    it("hybrid: the unified tree serves kill, freeze and cpu usage; no freezer or cpuacct directory", function()
      if lay.mode ~= "hybrid" or not need("memory") then
        pending("a hybrid host (v1 controllers and a unified tree)") return
      end
      local box = sandbox { limits = { memory = { max = "64M" } } }
      assert(box:run { "/bin/true" })
      local dirs = box.cgroup:dirs()
      local unified
      for _, hh in ipairs(lay.hierarchies) do if hh.version == 2 then unified = hh.mount .. "/" end end
      local expect = B == "direct" and 2 or nil -- libcgroup makes freezer and cpuacct itself
      if expect then
        assert.are.equal(expect, #dirs, table.concat(dirs, " "))
        assert.are.equal(unified, dirs[2]:sub(1, #unified))
        assert.is_nil(box.cgroup:path("freezer"))
        assert.is_nil(box.cgroup:path("cpuacct"))
      end
      exercise(box)
      for _, d in ipairs(dirs) do assert.is_false(exists(d)) end
    end)

    -- (the libcgroup backend makes freezer and cpuacct itself, always)
    if B == "direct" then
    it("hybrid: where the unified tree cannot serve, freezer and cpuacct directories do", function()
      if lay.mode ~= "hybrid" or not need("memory", "freezer", "cpuacct") then
        pending("a hybrid host with freezer and cpuacct mounted") return
      end
      -- a relative parent that exists in the v1 hierarchies only: the
      -- unified tree is skipped (ENOENT there)
      local name = "isol-fallback-" .. core.getpid()
      local made = {}
      for _, hh in ipairs(lay.hierarchies) do
        if hh.version == 1 then
          local d = hh.mount .. (hh.self == "/" and "" or hh.self) .. "/" .. name
          if not exists(d) then
            assert.is_true(os.execute("mkdir " .. d))
            made[#made + 1] = d
          end
        end
      end
      local box = sandbox { limits = { memory = { max = "64M" } }, cgroup = { parent = name } }
      assert(box:run { "/bin/true" })
      assert.is_string(box.cgroup:path("freezer"))
      assert.is_string(box.cgroup:path("cpuacct"))
      exercise(box)
      for i = #made, 1, -1 do assert.is_true(os.execute("rmdir " .. made[i])) end
    end)
    end

    it("delete waits for exiting processes and removes sub-groups made inside", function()
      if not need("pids") then return end
      local g = assert(cgcreate { controllers = { "pids" } })
      local dir = g:path("pids")
      assert(core.cgroup_create) -- sub-group as a delegate would make it
      assert.is_true(os.execute("mkdir " .. dir .. "/sub"))
      local p = assert(isol.spawn { argv = { "/bin/sleep", "0.2" } })
      assert(g:attach(p:pid()))
      assert.are.equal(1, g:nprocs())
      p:wait()
      assert(g:delete())
      assert.is_false(exists(dir))
      p:close()
    end)

    it("libcgroup's cgroup_delete_cgroup removes every controller's directory (checked before trusting it)", function()
      if V ~= 1 or not need("cpu", "pids", "freezer") then return end
      local same = {}
      for _, hh in ipairs(lay.hierarchies) do
        for _, c in ipairs(hh.controllers) do same[c] = hh.self end
      end
      if same.cpu ~= same.pids or same.cpu ~= same.freezer then
        pending("cpu, pids and freezer are in different cgroups of this process") return
      end
      local name = isol.cgroup.new_name()
      local ctrls = { "cpu", "pids", "freezer" }
      assert(core.cgroup_libcgroup_create(name, ctrls, { ["cpu.shares"] = "128", ["pids.max"] = "7" }))
      local base = same.cpu == "/" and "" or same.cpu
      for _, c in ipairs(ctrls) do assert.is_true(exists("/sys/fs/cgroup/" .. c .. base .. "/" .. name)) end
      assert.matches("^7", h.read("/sys/fs/cgroup/pids" .. base .. "/" .. name .. "/pids.max"))
      assert(core.cgroup_libcgroup_delete(name, ctrls))
      for _, c in ipairs(ctrls) do assert.is_false(exists("/sys/fs/cgroup/" .. c .. base .. "/" .. name)) end
      -- ECG* codes become errno: deleting again is ENOENT (ECGOTHER -> last errno)
      local ok, msg, code = core.cgroup_libcgroup_delete(name, ctrls)
      assert.is_nil(ok)
      assert.are.equal(2, code, msg)
    end)
  end)

  describe("hostile arguments to a Cgroup are refused, never truncated", function()
    it("attach(2^32) and other out-of-range pids raise naming pid; the caller stays where it was", function()
      local g = assert(cgcreate {})
      local before = h.read("/proc/self/cgroup")
      for _, bad in ipairs { 2 ^ 32, 4294967296, -1, 0, 2 ^ 53, 1.5, 0 / 0, "12x", {} } do
        local ok, err = pcall(g.attach, g, bad)
        assert.is_false(ok, tostring(bad))
        assert.matches("pid", err)
      end
      assert.are.equal(before, h.read("/proc/self/cgroup"))
      assert.are.equal(0, g:nprocs())
      assert(g:close())
    end)

    it("attach refuses the caller's own pid unless {self = true}", function()
      local g = assert(cgcreate {})
      local me = select(5, core.ids())
      local ok, err = pcall(g.attach, g, me)
      assert.is_false(ok)
      assert.matches("calling process", err)
      assert.is_false((pcall(g.attach, g)))
      assert.are.equal(0, g:nprocs())
      assert(g:close())
    end)

    it("a process that attached itself cannot freeze or kill its own group; its close reports it", function()
      -- In a child Lua process: the runner never moves itself.
      local out = h.lua([[
        local isol = require "isol"
        local g = assert(isol.cgroup.create { backend = "]] .. B .. [[" })
        assert(g:attach({ self = true }))
        print("nprocs", g:nprocs())
        print("freeze", select(3, g:freeze()), select(2, g:freeze()))
        print("kill", select(3, g:kill()))
        local ok, msg = g:close()
        print("close", ok, msg)
        -- back to where it came from: the same handle closes now (it stayed open)
        local core = require "isol.core"
        local me = select(5, core.ids())
        for _, hh in ipairs(core.cgroup_layout().hierarchies) do
          local f = assert(io.open(hh.mount .. (hh.self == "/" and "" or hh.self) .. "/cgroup.procs", "w"))
          f:write(tostring(me)); f:close()
        end
        print("retry", g:close())]])
      assert.matches("nprocs\t1", out)
      assert.matches("freeze\t35\t[^\n]*holds the calling process", out) -- EDEADLK
      assert.matches("kill\t35", out)
      assert.matches("close\tnil\t[^\n]*holds the calling process", out)
      assert.matches("retry\ttrue", out)
    end)

    it("close() kills what runs inside and deletes (as __close and __gc do); idempotent", function()
      local g = assert(cgcreate {})
      local p = assert(isol.spawn { argv = { "/bin/sleep", "60" } })
      assert(g:attach(p:pid()))
      local dirs = g:dirs()
      assert(g:close())
      assert(g:close())
      for _, d in ipairs(dirs) do assert.is_false(exists(d)) end
      local st = p:wait()
      assert.are.equal("SIGKILL", st.signal)
      p:close()
    end)

    it("a forgotten handle's finalizer kills and removes the group, quickly", function()
      local p = assert(isol.spawn { argv = { "/bin/sleep", "60" } })
      local dirs
      do
        local g = assert(cgcreate {})
        assert(g:attach(p:pid()))
        dirs = g:dirs()
      end
      local t0 = core.now()
      collectgarbage(); collectgarbage()
      assert.is_true(core.now() - t0 < 1.5, "finalizer took " .. (core.now() - t0) .. " s")
      for _, d in ipairs(dirs) do assert.is_false(exists(d), d) end
      assert.are.equal("SIGKILL", p:wait().signal)
      p:close()
    end)

    it("libcgroup values: non-string keys and values, NUL bytes are errors, no traversal breaks", function()
      local ctrls = { "pids" }
      local n = "isol-hostile-" .. select(5, core.ids())
      assert.has_error(function() core.cgroup_libcgroup_create(n, ctrls, { [1] = "x" }) end)
      assert.has_error(function() core.cgroup_libcgroup_create(n, ctrls, { ["pids.max"] = {} }) end)
      assert.has_error(function() core.cgroup_libcgroup_create(n, ctrls, { ["pids.max"] = "1\0 2" }) end)
      assert.has_error(function() core.cgroup_libcgroup_create(n .. "\0x", ctrls) end)
      assert.has_error(function() core.cgroup_libcgroup_create(n, { 3 }) end)
      assert.has_error(function() core.cgroup_libcgroup_attach(n, ctrls, 2 ^ 32) end)
      local ok, msg, code = core.cgroup_libcgroup_create(n, ctrls, { ["memory.max"] = "1" })
      assert.is_nil(ok)
      assert.are.equal(22, code, msg)
      -- a number value is written as its string
      if V == 1 then
        assert(core.cgroup_libcgroup_create(n, ctrls, { ["pids.max"] = 7 }))
        assert(core.cgroup_libcgroup_delete(n, ctrls))
      end
    end)

    -- libcgroup 2.0.2 given no controller reports success and makes nothing:
    -- isol makes the plain group on v2 itself, and refuses it elsewhere
    it("libcgroup calls without controllers: a plain v2 group, else EINVAL (never a silent success)", function()
      local n = "isol-plain-" .. select(5, core.ids())
      if V ~= 2 then
        local ok, msg, code = core.cgroup_libcgroup_create(n, {})
        assert.is_nil(ok)
        assert.are.equal(22, code, msg)
        assert.matches("no controller given", msg)
        return
      end
      local u
      for _, hh in ipairs(lay.hierarchies) do if hh.version == 2 then u = hh end end
      local dir = u.mount .. (u.self == "/" and "" or u.self) .. "/" .. n
      assert(core.cgroup_libcgroup_create(n, {}))
      assert.is_true(exists(dir))
      local ok, msg, code = core.cgroup_libcgroup_create(n, {}, { ["pids.max"] = "5" })
      assert.is_nil(ok)
      assert.are.equal(22, code, msg)
      local p = assert(isol.spawn { argv = { "/bin/sleep", "60" } })
      assert(core.cgroup_libcgroup_attach(n, {}, p:pid()))
      assert.are.equal(p:pid() .. "\n", h.read(dir .. "/cgroup.procs"))
      p:kill("SIGKILL"); p:wait(); p:close()
      assert(core.cgroup_libcgroup_delete(n, {}))
      assert.is_false(exists(dir))
      ok, msg, code = core.cgroup_libcgroup_delete(n, {})
      assert.is_nil(ok)
      assert.are.equal(2, code, msg)
    end)
  end)

  describe("bad values are errors naming field and value, and create nothing", function()
    local cases = {
      { { memory = { max = "lots" } }, 'limits.memory.max: expected size like "32M" or "max", got "lots"' },
      { { cpu = { quota = "150%" }, cpuset = { cpus = "0" } },
        "limits.cpu.quota: 150%% is more than the 1 CPU allowed" },
      { { ["foo.bar"] = 1 }, 'limits.foo.bar: unknown controller "foo"' },
      { { cpu = { shares = 1 } }, "limits.cpu.shares: expected an integer from 2 to 262144, got 1" },
      { { cpu = { weight = 100, shares = 1024 } }, "limits.cpu: give weight" },
      { { cpuset = { cpus = "0-999" } }, "limits.cpuset.cpus: CPU %d+ is not online" },
      { { pids = { max = "many" } }, 'limits.pids.max: expected an integer from 1 to 4194304, got "many"' },
      { { devices = { deny = { "zero" } } }, 'limits.devices.deny%[1%]: expected a /dev path' },
      { { gpu = true }, "limits.gpu: unknown limit" },
    }
    for _, c in ipairs(cases) do
      it(c[2], function()
        local ok, err = pcall(sandbox, { limits = c[1] })
        assert.is_false(ok)
        assert.matches(c[2], err)
      end)
    end

    it("a controller that is not available here", function()
      -- rdma/misc are not mounted on most hosts; on v2 hybrid the unified tree has none
      local missing
      for _, c in ipairs { "rdma", "misc", "hugetlb", "net_cls" } do if not has(c) then missing = c break end end
      if not missing then pending("every controller is available") return end
      local ok, err = pcall(sandbox, { limits = { [missing .. ".max"] = "1" } })
      assert.is_false(ok)
      assert.matches("limits%." .. missing .. "%.max: cgroup v%d controller \"" .. missing
        .. "\" is not available", err)
      if lay.mode == "hybrid" then
        ok, err = pcall(sandbox, { limits = { pids = { max = 5 } }, cgroup = { version = 2 } })
        assert.is_false(ok)
        assert.matches('limits.pids: cgroup v2 controller "pids" is not available', err)
      end
    end)

    it("swappiness on v2 says why and what to use", function()
      local ok, err = pcall(sandbox, { limits = { memory = { swappiness = 0 } }, cgroup = { version = 2 } })
      assert.is_false(ok)
      assert.matches("limits.memory.swappiness: cgroup v2 has no per%-cgroup swappiness %(got 0%); "
        .. "use memory.swap = 0", err)
    end)

    it("a device path that does not exist fails at start, leaving nothing", function()
      if V == 1 and not need("devices") then return end
      local box = sandbox { limits = { devices = { deny = { "/dev/isol-no-such-device" } } } }
      local p, msg, code = box:spawn { "/bin/true" }
      assert.is_nil(p)
      assert.matches("limits.devices: device /dev/isol%-no%-such%-device: No such file", msg)
      assert.are.equal(2, code)
      box:close()
    end)

    it("a value the kernel refuses names the field and removes the group", function()
      if not need("cpu") then return end
      local file = V == 1 and "cpu.cfs_quota_us" or "cpu.max"
      local box = sandbox { limits = { [file] = "abc" } }
      local p, msg, code = box:spawn { "/bin/true" }
      assert.is_nil(p)
      if B == "direct" then
        assert.matches('limits.' .. file .. ': write "abc" to .*' .. file .. ': Invalid argument', msg)
      else -- libcgroup does not say which write failed: all are named
        assert.matches('libcgroup cgroup_create_cgroup .*' .. file .. '="abc".*: Invalid argument', msg)
      end
      assert.are.equal(22, code)
      box:close()
    end)
  end)

  describe("mapping", function()
    -- The one mapping (isol.cgroup.plan) against the files the created
    -- group really holds, for every `limits` field.
    local function every_field()
      local lim = {
        cpu = { weight = 50, quota = "50%" },
        cpuset = { cpus = "0", mems = "0" },
        memory = { max = "64M", swap = "16M", swappiness = 10 },
        pids = { max = 33 },
        io = { weight = 500, max = { { device = "/dev/vda", rbps = "1M", wiops = 100 } } },
        ["memory.soft_limit_in_bytes"] = 33554432,
      }
      if V == 2 then
        lim.memory.swappiness = nil
        lim["memory.soft_limit_in_bytes"] = nil
        lim["memory.low"] = 1048576
      end
      return lim
    end
    local function same_value(want, got)
      got = got:gsub("%s+$", "")
      if want == got then return true end
      local a, b = {}, {}
      for x in want:gmatch("%S+") do a[#a + 1] = x end
      for x in got:gmatch("%S+") do b[#b + 1] = x end
      if #a ~= #b then return false end
      for i = 1, #a do
        if a[i] ~= b[i] and tonumber(a[i]) ~= tonumber(b[i]) then return false end
      end
      return true
    end

    it("plan() lists exactly the files and values the created group holds, for every limits field", function()
      if not need("cpu", "cpuset", "memory", "pids") or not (has("io") or has("blkio")) then return end
      -- io.max needs a block device: the first of /sys/block with a node in /dev
      local bdev
      for name in h.sh("ls /sys/block 2>/dev/null"):gmatch("%S+") do
        if not bdev and exists("/dev/" .. name) then bdev = "/dev/" .. name end
      end
      local lim = every_field()
      if bdev then lim.io.max[1].device = bdev else lim.io.max = nil end
      local plan = require("isol.cgroup").plan(lim, nil, "limits", V == 2 and "v2" or "v1")
      -- every field of the input is in the plan
      local fields = {}
      for _, w in ipairs(plan) do fields[w.field:gsub("%.%w+$", function(k)
        return (k == ".rbps" or k == ".wiops") and "" or k end)] = true end
      for _, f in ipairs { "limits.cpu.weight", "limits.cpu.quota", "limits.cpuset.cpus", "limits.cpuset.mems",
          "limits.memory.max", "limits.memory.swap", "limits.pids.max", "limits.io.weight", "limits.io.max[1]" } do
        if not (f == "limits.cpu.weight" and V == 1) and not (f == "limits.io.max[1]" and not bdev) then
          assert.is_true(fields[f], f .. " missing from the plan")
        end
      end
      local g = assert(cgcreate { limits = lim })
      local n = 0
      for _, w in ipairs(plan) do
        local file = w.file
        if w.alternatives then
          for _, alt in ipairs(w.alternatives) do if g:get(alt) then file = alt; break end end
        end
        local got = assert(g:get(file))
        local want = w.value
        if w.device then
          local st = h.sh("stat -Lc '%t:%T' " .. h.shq(bdev)):gsub("%s", "")
          local ma, mi = st:match("(%x+):(%x+)")
          want = string.format("%d:%d", tonumber(ma, 16), tonumber(mi, 16)) .. w.rest
          -- the kernel lists 0 (unlimited) entries of other kinds too: find ours
          local line
          for l in got:gmatch("[^\n]+") do if l:match("^" .. want:match("^%S+")) then line = l end end
          got = line or got
          if V == 2 then -- io.max lists every key; compare the ones asked
            for kv in want:gmatch("(%a+=%S+)") do
              local k, v = kv:match("(%a+)=(%S+)")
              assert.are.equal(tostring(math.tointeger(tonumber(v)) or v), got:match(k .. "=(%S+)"), w.field)
            end
            got, want = "", ""
          end
        end
        assert.is_true(same_value(want, got), string.format("%s: plan %s = %q, file holds %q", w.field, file,
          want, got))
        n = n + 1
      end
      assert.is_true(n >= 8)
      assert(g:close())
    end)

    it("plan() for the other version needs no such host: numeric quota is a fraction of a CPU on both", function()
      for _, v in ipairs { "v1", "v2" } do
        local p = require("isol.cgroup").plan({ cpu = { quota = 0.5 }, memory = { max = "32M" } }, nil, "limits", v)
        local files = {}
        for _, w in ipairs(p) do files[w.file] = w.value end
        if v == "v1" then
          assert.are.equal("50000", files["cpu.cfs_quota_us"])
          assert.are.equal("33554432", files["memory.limit_in_bytes"])
          local implicit = {}
          for _, hh in ipairs(p.hierarchies) do if hh.implicit then implicit[hh.name] = hh.why end end
          assert.is_truthy(implicit.freezer)
          assert.is_truthy(implicit.cpuacct)
        else
          assert.are.equal("50000 100000", files["cpu.max"])
          assert.are.equal("33554432", files["memory.max"])
        end
      end
      assert.has_error(function() require("isol.cgroup").plan({}, nil, "limits", "v3") end)
    end)

    it("cpuset ranges are parsed arithmetically: a huge range is an error naming the field, at once", function()
      local t0 = core.now()
      -- validation parses (reading nothing); the plan of a sandbox checks
      -- the ranges against the CPUs online
      local ok, err = pcall(isol.cgroup.plan, { cpuset = { cpus = "0-100000000" } })
      assert.is_false(ok)
      assert.matches("limits.cpuset.cpus", err)
      ok, err = pcall(isol.cgroup.plan, { cpuset = { cpus = "0-1000000" } })
      assert.is_false(ok)
      assert.matches("limits.cpuset.cpus: CPU %d+ is not online", err)
      ok, err = pcall(isol.cgroup.check_limits, { cpuset = { cpus = "99999999999999999999" } })
      assert.is_false(ok)
      assert.matches("limits.cpuset.cpus", err)
      assert.is_true(core.now() - t0 < 1, "took " .. (core.now() - t0) .. " s")
    end)

    it("cpu.weight <-> cpu.shares keep the defaults (100 <-> 1024)", function()
      if not need("cpu") then return end
      local p1 = isol.cgroup.plan(isol.cgroup.check_limits { cpu = { weight = 100 } })
      local p2 = isol.cgroup.plan(isol.cgroup.check_limits { ["cpu.shares"] = 128 })
      if V == 1 then
        assert.same({ "cpu.shares", "1024", "limits.cpu.shares" }, { p1[1].file, p1[1].value, p1[1].field })
        assert.same({ "cpu.shares", "128", "limits.cpu.shares" }, { p2[1].file, p2[1].value, p2[1].field })
      else
        assert.same({ "cpu.weight", "100", "limits.cpu.weight" }, { p1[1].file, p1[1].value, p1[1].field })
        assert.same({ "cpu.weight", "12", "limits.cpu.weight" }, { p2[1].file, p2[1].value, p2[1].field })
      end
    end)

    it("quota percent -> cfs_quota_us / cpu.max, swap on v1 is memory+swap", function()
      if not need("cpu", "memory") then return end
      local p = isol.cgroup.plan(isol.cgroup.check_limits {
        cpu = { quota = "20%" }, memory = { max = "32M", swap = "16M" } })
      local w = {}
      for _, x in ipairs(p.writes) do w[x[1]] = x[2] end
      if V == 1 then
        assert.are.equal("20000", w["cpu.cfs_quota_us"])
        assert.are.equal("100000", w["cpu.cfs_period_us"])
        assert.are.equal(tostring(48 * 1024 * 1024), w["memory.memsw.limit_in_bytes"])
        local ok, err = pcall(isol.cgroup.plan, isol.cgroup.check_limits { memory = { swap = "16M" } })
        assert.is_false(ok)
        assert.matches("limits.memory.swap: on cgroup v1 swap is limited as memory%+swap", err)
      else
        assert.are.equal("20000 100000", w["cpu.max"])
        assert.are.equal(tostring(16 * 1024 * 1024), w["memory.swap.max"])
      end
    end)
  end)

  describe("limits take effect", function()
    it("cfs quota 20%: a busy loop is throttled near the quota", function()
      if not need("cpu") then return end
      local box = sandbox { limits = { cpu = { quota = "20%" } } }
      local t0 = core.now()
      local st = box:run { "/usr/bin/timeout", "1", "/bin/sh", "-c", "while :; do :; done" }
      local wall_us = (core.now() - t0) * 1e6
      assert.are.equal(124, st.code)
      local s = assert(box:stats())
      box:close()
      assert.is_true(s.cpu.nr_throttled > 0, "not throttled")
      if s.cpu.usage_us then
        -- ~1 s at 20% of one CPU = ~200 ms; the bound follows the measured
        -- wall time (slow emulated VMs stretch it), loose for a shared machine
        local cap = 0.2 * wall_us * 1.3 + 50000
        assert.is_true(s.cpu.usage_us > 50000 and s.cpu.usage_us < cap,
          string.format("usage %d us in %.0f us of wall time", s.cpu.usage_us, wall_us))
      end
    end)

    it("shares 128 vs 1024 on one core split the CPU roughly 1:8", function()
      if not need("cpu", "cpuset") then return end
      local a = sandbox { limits = { cpu = { shares = 128 }, cpuset = { cpus = "0" } } }
      local b = sandbox { limits = { cpu = { shares = 1024 }, cpuset = { cpus = "0" } } }
      local loop = { "/bin/sh", "-c", "while :; do :; done" }
      local pa = assert(a:spawn(loop))
      local pb = assert(b:spawn(loop))
      -- measure over one second once both run (slow VMs start them apart)
      os.execute("sleep 0.3")
      local a0, b0 = a:stats().cpu.usage_us, b:stats().cpu.usage_us
      os.execute("sleep 1")
      local ua, ub = a:stats().cpu.usage_us, b:stats().cpu.usage_us
      pa:close(); pb:close()
      a:close(); b:close()
      if not ua then pending("no cpu usage accounting here") return end
      ua, ub = ua - a0, ub - b0
      local share = ua / (ua + ub)
      -- 128 / (128 + 1024) = 11%; loose: other load on core 0 shifts it
      assert.is_true(share > 0.02 and share < 0.3, string.format("share of the 128 group: %.2f", share))
    end)

    it("cpuset: the process only runs on the allowed core", function()
      if not need("cpuset") then return end
      local last = h.read("/sys/devices/system/cpu/online"):match("(%d+)%s*$")
      local box, st, out = run({ limits = { cpuset = { cpus = last } } },
        "grep Cpus_allowed_list /proc/self/status")
      box:close()
      assert.are.equal(0, st.code)
      assert.matches("Cpus_allowed_list:%s*" .. last .. "\n", out)
    end)

    it("memory: a hog past memory.max is OOM-killed, wait() says oom = true, stats count it", function()
      if not need("memory") then return end
      local box = sandbox { limits = { memory = { max = "32M", swap = 0 } } }
      local p = assert(box:spawn { "lua5.4", "-e",
        "local t = {} for i = 1, 1000 do t[i] = string.rep('x', 1048576 - 64) .. i end" })
      local st = p:wait()
      p:close()
      local s = box:stats()
      box:close()
      assert.are.equal("SIGKILL", st.signal)
      assert.is_true(st.oom)
      assert.is_true(s.memory.oom_kills >= 1)
      assert.is_true(s.memory.peak <= 33 * 1024 * 1024 and s.memory.peak > 16 * 1024 * 1024)
    end)

    it("memory: a process within the limit exits normally (no oom flag)", function()
      if not need("memory") then return end
      local box = sandbox { limits = { memory = { max = "64M" } } }
      local st = box:run { "/bin/true" }
      box:close()
      assert.are.equal(0, st.code)
      assert.is_nil(st.oom)
    end)

    it("pids: a fork bomb stops at pids.max and the host is unharmed", function()
      if not need("pids") then return end
      local box = sandbox { limits = { pids = { max = 12 } } }
      local p = assert(box:spawn { "/bin/sh", "-c",
        "i=0; while [ $i -lt 60 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo done",
        stdout = "pipe", stderr = "pipe" })
      local _, err = p:communicate()
      local s = box:stats()
      assert.is_true(s.pids.current <= 12, "pids.current " .. tostring(s.pids.current))
      assert.matches("[Ff]ork", err)
      assert(box:kill())
      p:close()
      box:close()
      assert.matches("^ok", (h.sh("/bin/sh -c 'sleep 0 & wait; echo ok'")))
    end)

    it("io.max per device maps to blkio.throttle.* (v1) or io.max (v2)", function()
      if not need(V == 1 and "blkio" or "io") then return end
      local dev = h.sh("ls /sys/block | grep -E '^(vd|sd|nvme|xvd)' | head -1"):match("%S+")
      if not dev then pending("no disk block device here") return end
      local mm = h.read("/sys/block/" .. dev .. "/dev"):match("%d+:%d+")
      local box = sandbox { limits = { io = { max = { { device = "/dev/" .. dev, rbps = "1M", wiops = 100 } } } } }
      assert.are.equal(0, box:run { "/bin/true" }.code)
      if V == 1 then
        assert.matches(mm .. " 1048576", box.cgroup:get("blkio.throttle.read_bps_device"))
        assert.matches(mm .. " 100", box.cgroup:get("blkio.throttle.write_iops_device"))
      else
        assert.matches(mm .. " rbps=1048576 wbps=max riops=max wiops=100", box.cgroup:get("io.max"))
      end
      box:close()
      local bad = sandbox { limits = { io = { max = { { device = "/dev/null", rbps = 1 } } } } }
      local p, msg = bad:spawn { "/bin/true" }
      assert.is_nil(p)
      assert.matches("limits.io.max%[1%].device: /dev/null is not a block device", msg)
      bad:close()
    end)

    it("devices: /dev/zero denied gives EPERM inside, works outside", function()
      if V == 1 and not need("devices") then return end
      local box, st, _, err = run({ limits = { devices = { deny = { "/dev/zero" } } } },
        "head -c 1 /dev/zero >/dev/null && echo opened")
      box:close()
      assert.are_not.equal(0, st.code)
      assert.matches("Operation not permitted", err)
      assert.are.equal(1, #h.sh("head -c 1 /dev/zero"))
    end)

    it("devices: an allow list denies the rest", function()
      if V == 1 and not need("devices") then return end
      local box, st, out, err = run({ limits = { devices = { allow = { "/dev/null", "/dev/urandom" } } } },
        "head -c 1 /dev/urandom >/dev/null && echo ok; head -c 1 /dev/zero")
      box:close()
      assert.matches("ok", out)
      assert.are_not.equal(0, st.code)
      assert.matches("Operation not permitted", err)
    end)

    it("devices: /dev/nvidia* resolves to major 195 even without a GPU", function()
      local rules = assert(isol.cgroup.resolve_devices { deny = { "/dev/nvidia*" } })
      local found = false
      for _, r in ipairs(rules) do if r == "deny c 195:* rwm" then found = true end end
      assert.is_true(found, table.concat(rules, ", "))
      if V == 1 and not need("devices") then return end
      local box, st = run({ limits = { devices = { deny = { "/dev/nvidia*", "/dev/dri/*" } } } }, "true")
      box:close()
      assert.are.equal(0, st.code)
    end)
  end)

  describe("control", function()
    it("freeze stops the group, thaw resumes it", function()
      local box = sandbox { limits = { pids = { max = 50 } } }
      if not has("pids") then box = sandbox { cgroup = {} } end
      local p = assert(box:spawn { "/bin/sh", "-c", "while :; do :; done" })
      os.execute("sleep 0.1")
      assert(box:freeze())
      local u1 = box:stats().cpu.usage_us
      os.execute("sleep 0.3")
      local u2 = box:stats().cpu.usage_us
      if u1 then assert.is_true(u2 - u1 < 20000, "ran while frozen: " .. (u2 - u1)) end
      assert_frozen(box)
      assert(box:thaw())
      os.execute("sleep 0.2")
      if u1 then assert.is_true(box:stats().cpu.usage_us - u2 > 20000, "did not resume") end
      box:close()
      p:close()
    end)

    it("kill empties the group (daemons in their own session too)", function()
      local box = sandbox { cgroup = {} }
      local p = assert(box:spawn { "/bin/sh", "-c", "setsid sleep 100 & sleep 100 & sleep 100 & wait" })
      os.execute("sleep 0.2")
      assert.is_true(box.cgroup:nprocs() >= 3)
      assert(box:kill())
      local st = p:wait()
      assert.are.equal("SIGKILL", st.signal)
      for _ = 1, 100 do if box.cgroup:nprocs() == 0 then break end os.execute("sleep 0.02") end
      assert.are.equal(0, box.cgroup:nprocs())
      box:close()
    end)

    it("delegation: a uid-65534 process attaches itself and sets a limit in a sub-group", function()
      if not need("pids") then return end
      -- init = false: the shell is the group's only process (on v2 a
      -- supervising init left in D would keep D from enabling controllers)
      local box = sandbox { limits = { pids = { max = 100 } }, cgroup = { owner = { uid = 65534, gid = 65534 } },
        init = false, die_with_parent = false }
      local p = assert(box:spawn { "/bin/true" })
      p:wait(); p:close()
      local dir = box.cgroup:path("pids")
      local script
      if V == 1 then
        script = string.format([[
          set -e; id -u; D=%s
          mkdir $D/sub; echo $$ > $D/sub/cgroup.procs; echo 9 > $D/sub/pids.max
          cat $D/sub/pids.max; grep -c "pids:.*/sub$" /proc/self/cgroup]], dir)
      else
        -- v2 delegation rules: moving between two groups needs write access
        -- to their common ancestor's cgroup.procs (D, delegated); D must be
        -- empty before its subtree_control can enable pids for sub.
        script = string.format([[
          set -e; id -u; D=%s
          mkdir $D/sub; echo $$ > $D/sub/cgroup.procs; echo +pids > $D/cgroup.subtree_control
          echo 9 > $D/sub/pids.max
          cat $D/sub/pids.max; grep -c "/sub$" /proc/self/cgroup]], dir)
      end
      local st, out, err = box:run({ "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        "/bin/sh", "-c", script }, { capture = true })
      box:close()
      assert.are.equal(0, st.code, err)
      assert.matches("^65534\n", out)
      assert.matches("\n9\n1\n$", out)
    end)

    it("stats report cpu, memory, pids", function()
      -- (roomy limit: under `make asan-test` the shell carries ASan's runtime)
      local box = sandbox { limits = { memory = { max = "256M" }, pids = { max = 20 } } }
      local st = box:run { "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done" }
      assert.are.equal(0, st.code, "status: " .. tostring(st.signal) .. " oom=" .. tostring(st.oom))
      local s = assert(box:stats())
      box:close()
      assert.is_true(s.cpu.usage_us > 0)
      assert.is_true(s.memory.peak > 0)
      assert.are.equal(0, s.memory.oom_kills)
      assert.is_true(s.pids.max == 20)
      local plain = sandbox {}
      local ok, msg = plain:stats()
      assert.is_nil(ok)
      assert.matches("no cgroup", msg)
    end)

    it("a cgroup namespace is rooted at the sandbox's cgroup", function()
      local box = sandbox { namespaces = { "user", "cgroup" }, user = { map_root = true },
        limits = { pids = { max = 10 } } }
      local st, out = box:run({ "/bin/cat", "/proc/self/cgroup" }, { capture = true })
      box:close()
      assert.are.equal(0, st.code)
      assert.is_nil(out:find("isol-", 1, true), out)
      assert.matches("pids:/\n", V == 1 and out or "pids:/\n")
    end)

    -- The child joins v1 groups itself ("0" to each `tasks` file) and the
    -- cgroup2 one by clone3: the command (forked by isol's init) is in
    -- every directory of the box, the unified tree's included.
    it("the command starts in every directory of the box's group", function()
      if not need("memory", "pids") then return end
      local box = sandbox { limits = { memory = { max = "64M" }, pids = { max = 20 } } }
      local st, out = box:run({ "/bin/cat", "/proc/self/cgroup" }, { capture = true })
      local dirs = box.cgroup:dirs()
      box:close()
      assert.are.equal(0, st.code)
      assert.is_true(#dirs >= (V == 1 and 2 or 1), table.concat(dirs, " "))
      -- each line of /proc/self/cgroup, as a directory: its hierarchy's
      -- mount point (v1 by the controllers, named or not; v2 by "0::")
      -- and the path in it
      local function set(list)
        local t = {}
        for _, c in ipairs(list) do t[#t + 1] = c end
        table.sort(t)
        return table.concat(t, ",")
      end
      local in_dir = {}
      for ctrls, path in out:gmatch("%d+:([^:\n]*):([^\n]+)") do
        local listed = {}
        for c in ctrls:gmatch("[^,]+") do listed[#listed + 1] = c end
        ctrls = set(listed)
        for _, hh in ipairs(lay.hierarchies) do
          local names = set(hh.controllers)
          if (ctrls == "" and hh.version == 2) or (ctrls ~= "" and hh.version == 1 and ctrls == names) then
            in_dir[hh.mount .. (path == "/" and "" or path)] = true
          end
        end
      end
      for _, d in ipairs(dirs) do
        assert.is_true(in_dir[d], d .. " not in\n" .. out)
      end
    end)

    it("core.spawn refuses cgroup_dirs that are not cgroups, naming them, and starts nothing", function()
      for _, c in ipairs {
        { { "/tmp" }, "cgroup /tmp: not a cgroup directory" },
        { { "/nonexistent-isol-cg" }, "cgroup /nonexistent%-isol%-cg: No such file" },
        { { "/etc/passwd" }, "cgroup /etc/passwd: Not a directory" },
      } do
        local p, msg = core.spawn { argv = { "/bin/true" }, cgroup_dirs = c[1] }
        assert.is_nil(p)
        assert.matches(c[2], msg)
      end
      local many = {}
      for i = 1, 17 do many[i] = "/tmp" end
      local ok, err = pcall(core.spawn, { argv = { "/bin/true" }, cgroup_dirs = many })
      assert.is_false(ok)
      assert.matches("plan.cgroup_dirs: at most 16 directories, got 17", err)
    end)

    it("a forgotten Cgroup is emptied and removed when collected", function()
      local g = assert(cgcreate {})
      local p = assert(isol.spawn { argv = { "/bin/sleep", "30" } })
      assert(g:attach(p:pid()))
      local dir = g:path()
      g = nil -- luacheck: ignore
      collectgarbage(); collectgarbage()
      assert.is_false(exists(dir))
      assert.are.equal("SIGKILL", p:wait().signal)
      p:close()
    end)

    it("`isol cgroup layout` prints the version and hierarchies", function()
      local out, ok = h.sh("bin/isol cgroup layout")
      assert(ok, out)
      assert.matches("^mode " .. lay.mode .. "\n", out)
      assert.matches("v%d /sys/fs/cgroup", out)
    end)

    it("isol.cgroup.exec runs a command cgexec-style", function()
      local st = isol.cgroup.exec({ pids = { max = 5 } }, { "/bin/sh", "-c", "exit 3" })
      assert.are.equal(3, st.code)
    end)
  end)

  describe("gc", function()
    it("removes leftovers whose creator is gone, keeps live ones", function()
      if not need("pids") then return end
      local p = assert(isol.spawn { argv = { "/bin/true" } })
      local dead = p:pid()
      p:wait(); p:close()
      local base = lay.hierarchies[1].mount
      for _, hh in ipairs(lay.hierarchies) do
        for _, c in ipairs(hh.controllers) do
          if c == "pids" then base = hh.mount .. (hh.self == "/" and "" or hh.self) end
        end
      end
      local left = string.format("%s/isol-%d-1", base, dead)
      assert.is_true(os.execute("mkdir " .. left))
      local live = assert(cgcreate { controllers = { "pids" } })
      local out, ok = h.sh("bin/isol cgroup gc 2>&1")
      assert(ok, out)
      -- (another suite's gc, running at the same time, may have removed it
      -- first: then this one does not say so, but it is gone all the same)
      assert(out:find("removed " .. left, 1, true) or not out:find(left, 1, true), out)
      assert.is_false(exists(left))
      assert.is_true(exists(live:path("pids")))
      live:delete()
    end)
  end)
end)
end

-- Issue 10 item 7 (cgroupfs): one describe per attack class.
describe("attack: cgroupfs from inside the sandbox #root #v2", function()
  local function host_view(pid)
    local t = {}
    for l in (h.read("/proc/" .. pid .. "/cgroup") or ""):gmatch("[^\n]+") do
      local id, ctrls, path = l:match("^(%d+):([^:]*):(.*)$")
      t[#t + 1] = { id = id, ctrls = ctrls, path = path }
    end
    return t
  end

  it("the cgroup namespace is rooted at the sandbox's own group on every hierarchy isol manages", function()
    local box = isol.sandbox { namespaces = { "user", "mount", "pid", "cgroup" }, user = { map_root = true },
      limits = { pids = { max = 20 } } }
    local p = assert(box:spawn { "/bin/sh", "-c", "cat /proc/self/cgroup; exec sleep 30 >/dev/null",
      stdout = "pipe" })
    local inside = p:read(8192) or "" -- one read: cat wrote it at once; the command keeps running
    local name = box.cgroup:dirs()[1]:match("[^/]+$")
    local seen = 0
    for _, e in ipairs(host_view(p:pid())) do
      if not e.ctrls:match("^name=") then -- named hierarchies (systemd's) are not cgroupfs isol manages
        assert.is_truthy(e.path:match("/" .. name:gsub("%p", "%%%0") .. "$"),
          string.format("hierarchy %q: the sandbox is at %s, not in its own group %s", e.ctrls, e.path, name))
        seen = seen + 1
      end
    end
    assert.is_true(seen >= 1)
    for l in inside:gmatch("[^\n]+") do
      if not l:match("^%d+:name=") then assert.matches(":/$", l) end
    end
    p:kill("SIGKILL"); p:wait(); p:close()
    box:close()
  end)

  it("a cgroupfs mounted from inside shows only the sandbox's group; what is made there goes with it", function()
    local box = isol.sandbox { namespaces = { "user", "mount", "pid", "cgroup" }, user = { map_root = true },
      limits = { pids = { max = 20 } } }
    -- (the sandbox shares the host's /tmp: its directory goes when it ends)
    local st, out = box:run({ "/bin/sh", "-c", [[
      d=$(mktemp -d)
      trap 'umount "$d" 2>/dev/null; umount "$d" 2>/dev/null; rmdir "$d"' EXIT
      if mount -t cgroup2 none "$d" 2>/dev/null; then
        mkdir "$d/escape" && echo made
        test -e "$d/cgroup.events" && echo non-root
      else echo refused; fi
      if mount -t cgroup -o pids none "$d" 2>/dev/null; then mkdir "$d/escape1" && echo made1; else echo refused1; fi
    ]] }, { capture = true })
    assert.are.equal(0, st.code, out)
    -- Whatever was made is under the sandbox's own groups, never beside the caller.
    for _, hh in ipairs(lay.hierarchies) do
      local base = hh.mount .. (hh.self == "/" and "" or hh.self)
      assert.is_false(exists(base .. "/escape"), base .. "/escape")
      assert.is_false(exists(base .. "/escape1"), base .. "/escape1")
    end
    if out:match("made\n") then assert.matches("non%-root", out) end -- the mount's root is the box's group
    local dirs = box.cgroup:dirs()
    box:close()
    for _, d in ipairs(dirs) do assert.is_false(exists(d)) end -- sub-groups made inside went too
  end)

  it("with the untrusted recipe mounting cgroupfs fails", function()
    local r = isol.recipes.untrusted()
    local box = isol.sandbox(r)
    local st, out = box:run({ "/bin/sh", "-c", [[
      grep CapEff /proc/self/status
      d=$(mktemp -d)
      mount -t cgroup2 none "$d" 2>/dev/null && echo MOUNTED2
      mount -t cgroup -o pids none "$d" 2>/dev/null && echo MOUNTED1
      true]] }, { capture = true })
    box:close()
    assert.are.equal(0, st.code, out)
    local eff = tonumber(out:match("CapEff:%s*(%x+)") or "0", 16)
    if eff & (1 << 21) ~= 0 then
      -- CAP_SYS_ADMIN in its user namespace: removing it is issue 10 item 2
      -- (caps branch); until it lands the mount itself succeeds, and the
      -- spec above shows what it can reach.
      pending("untrusted still grants CAP_SYS_ADMIN in its user namespace (issue 10 item 2)")
      return
    end
    assert.is_nil(out:match("MOUNTED"), out)
  end)
end)

