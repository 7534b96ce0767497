-- cgroup v2 specifics. Tagged #v2: the VM harness (spec/vm/) runs them on a
-- pure cgroup2 kernel. The first block also runs on a hybrid host, on its
-- controller-less /sys/fs/cgroup/unified tree: cgroup.kill, cgroup.freeze,
-- CLONE_INTO_CGROUP and eBPF device programs need no controller.
local isol = require "isol"
local core = require "isol.core"
local h = require "support.helpers"
local leak = require "support.leak"

local lay = core.cgroup_layout()
local unified
for _, hh in ipairs(lay.hierarchies) do if hh.version == 2 then unified = hh end end

local function v2_ok()
  if not unified then pending("no cgroup v2 hierarchy is mounted") return false end
  return true
end

local function pure_v2()
  if lay.mode ~= "v2" then pending("needs a pure cgroup v2 host (runs in the VM: spec/vm)") return false end
  return true
end

local function has(ctrl)
  for _, c in ipairs(unified and unified.controllers or {}) do if c == ctrl then return true end end
  return false
end

local function exists(path) return h.sh("test -e " .. h.shq(path) .. " && echo y"):match("y") ~= nil end

describe("cgroup v2 #root #v2", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  describe("core features (no controller needed)", function()
    local R = { cgroup = { version = 2 } }

    it("starts the child inside with CLONE_INTO_CGROUP", function()
      if not v2_ok() then return end
      local box = isol.sandbox(R)
      local st, out = box:run({ "/bin/cat", "/proc/self/cgroup" }, { capture = true })
      local dir = box.cgroup:path()
      box:close()
      assert.are.equal(0, st.code)
      local rel = dir:sub(#unified.mount + 1)
      assert.matches("0::" .. rel:gsub("%p", "%%%0") .. "\n", out)
      assert.is_false(exists(dir))
    end)

    it("cgroup.freeze stops and resumes the group", function()
      if not v2_ok() then return end
      local box = isol.sandbox(R)
      local p = assert(box:spawn { "/bin/sh", "-c", "while :; do :; done" })
      os.execute("sleep 0.1")
      assert(box:freeze())
      assert.matches("frozen 1", h.read(box.cgroup:path() .. "/cgroup.events"))
      local u1 = box:stats().cpu.usage_us
      os.execute("sleep 0.3")
      local u2 = box:stats().cpu.usage_us
      assert.is_true(u2 - u1 < 20000, "ran while frozen: " .. (u2 - u1))
      assert(box:thaw())
      assert.matches("frozen 0", h.read(box.cgroup:path() .. "/cgroup.events"))
      os.execute("sleep 0.2")
      assert.is_true(box:stats().cpu.usage_us - u2 > 20000, "did not resume")
      box:close()
      p:close()
    end)

    it("cgroup.kill ends every process, forks and new sessions included", function()
      if not v2_ok() then return end
      local box = isol.sandbox(R)
      if not h.read(unified.mount .. (unified.self == "/" and "" or unified.self) .. "/cgroup.procs") then
        pending("no v2 tree") return
      end
      local p = assert(box:spawn { "/bin/sh", "-c", "setsid sleep 100 & (sleep 100 &) ; sleep 100 & wait" })
      os.execute("sleep 0.2")
      local procs = h.read(box.cgroup:path() .. "/cgroup.procs")
      local n = 0
      for _ in procs:gmatch("%d+") do n = n + 1 end
      assert.is_true(n >= 4, procs)
      local kill = io.open(box.cgroup:path() .. "/cgroup.kill")
      if not kill then pending("kernel without cgroup.kill (< 5.14)") box:close() p:close() return end
      kill:close()
      assert(box:kill())
      assert.are.equal("SIGKILL", p:wait().signal)
      for _ = 1, 100 do if box.cgroup:nprocs() == 0 then break end os.execute("sleep 0.02") end
      assert.are.equal(0, box.cgroup:nprocs())
      box:close()
    end)

    it("eBPF device program: /dev/zero denied gives EPERM inside, works outside", function()
      if not v2_ok() then return end
      local box = isol.sandbox { cgroup = { version = 2 }, limits = { devices = { deny = { "/dev/zero" } } } }
      local st, _, err = box:run({ "/bin/sh", "-c",
        "head -c 1 /dev/zero >/dev/null && echo opened; head -c 1 /dev/urandom | wc -c" },
        { capture = true })
      box:close()
      assert.are.equal(0, st.code)
      assert.matches("/dev/zero.*Operation not permitted", err)
      assert.are.equal(1, #h.sh("head -c 1 /dev/zero"))
    end)

    it("eBPF device program: an allow list with access letters", function()
      if not v2_ok() then return end
      local box = isol.sandbox { cgroup = { version = 2 }, limits = { devices = {
        allow = { "/dev/null", { path = "/dev/urandom", access = "r" } } } } }
      local st, out, err = box:run({ "/bin/sh", "-c",
        "echo x > /dev/null && echo null-ok; head -c 1 /dev/urandom >/dev/null && echo r-ok; "
        .. "echo x > /dev/urandom || echo w-denied; head -c 1 /dev/zero" }, { capture = true })
      box:close()
      assert.matches("null%-ok\nr%-ok\nw%-denied\n", out)
      assert.matches("/dev/urandom.*Operation not permitted", err)
      assert.matches("/dev/zero.*Operation not permitted", err)
      assert.are_not.equal(0, st.code)
    end)

    it("eBPF device program: rule strings and the GPU globs load (major 195 with no GPU)", function()
      if not v2_ok() then return end
      local box = isol.sandbox { cgroup = { version = 2 }, limits = { devices = {
        deny = { "/dev/nvidia*", "/dev/dri/*", "c 1:5 rwm" } } } }
      local st, out, err = box:run({ "/bin/sh", "-c", "head -c 1 /dev/zero; head -c 1 /dev/urandom | wc -c" },
        { capture = true })
      box:close()
      assert.matches("^1\n$", out)
      assert.matches("/dev/zero.*Operation not permitted", err)
      assert.are.equal(0, st.code)
    end)

    it("stats come from cpu.stat without a cpu controller", function()
      if not v2_ok() then return end
      local box = isol.sandbox(R)
      box:run { "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done" }
      local s = assert(box:stats())
      box:close()
      assert.is_true(s.cpu.usage_us > 0)
      assert.is_true(s.cpu.user_us >= 0)
    end)
  end)

  describe("pure v2 host", function()
    it("enables controllers on the way down and maps the vocabulary", function()
      if not pure_v2() then return end
      local box = isol.sandbox { limits = { cpu = { shares = 1024, quota = "50%" }, memory = { max = "64M", swap = 0 },
        pids = { max = 30 } } }
      assert.are.equal(0, box:run { "/bin/true" }.code)
      local d = box.cgroup:path()
      assert.matches("^100\n", h.read(d .. "/cpu.weight"))
      assert.matches("^50000 100000\n", h.read(d .. "/cpu.max"))
      assert.matches("^67108864\n", h.read(d .. "/memory.max"))
      assert.matches("^30\n", h.read(d .. "/pids.max"))
      if exists(d .. "/memory.swap.max") then assert.matches("^0\n", h.read(d .. "/memory.swap.max")) end
      local parent = d:match("^(.*)/[^/]+$")
      local sc = h.read(parent .. "/cgroup.subtree_control")
      for _, c in ipairs { "cpu", "memory", "pids" } do assert.matches(c, sc) end
      box:close()
      assert.is_false(exists(d))
    end)

    it("quota throttles on v2 (cpu.stat nr_throttled)", function()
      if not pure_v2() or not has("cpu") then return end
      local box = isol.sandbox { limits = { cpu = { quota = "20%" } } }
      local t0 = core.now()
      box:run { "/usr/bin/timeout", "1", "/bin/sh", "-c", "while :; do :; done" }
      local wall_us = (core.now() - t0) * 1e6
      local s = box:stats()
      box:close()
      assert.is_true(s.cpu.nr_throttled > 0)
      local cap = 0.2 * wall_us * 1.3 + 50000
      assert.is_true(s.cpu.usage_us > 50000 and s.cpu.usage_us < cap,
        string.format("usage %d us in %.0f us of wall time", s.cpu.usage_us, wall_us))
    end)

    it("memory.max OOM on v2: wait() says oom = true, memory.events counts it", function()
      if not pure_v2() or not has("memory") then return end
      local box = isol.sandbox { limits = { memory = { max = "32M", swap = 0 } } }
      local p = assert(box:spawn { "lua5.4", "-e",
        "local t = {} for i = 1, 1000 do t[i] = string.rep('x', 1048576 - 64) .. i end" })
      local st = p:wait()
      p:close()
      local s = box:stats()
      box:close()
      assert.are.equal("SIGKILL", st.signal)
      assert.is_true(st.oom)
      assert.is_true(s.memory.oom_kills >= 1)
    end)

    it("no-internal-processes: a parent holding processes is a clear error, nothing written", function()
      if not pure_v2() then return end
      local g = assert(isol.cgroup.create {})
      local p = assert(isol.spawn { argv = { "/bin/sleep", "30" }, cgroup_fd = g:fd() })
      local box = isol.sandbox { limits = { pids = { max = 5 } }, cgroup = { parent = g:path():match("[^/]+$") } }
      local q, msg, code = box:spawn { "/bin/true" }
      box:close()
      assert.is_nil(q)
      assert.are.equal(16, code)
      assert.matches("has processes of its own.*no%-internal%-processes rule.*cgroup.parent", msg)
      assert.matches("^%s*$", h.read(g:path() .. "/cgroup.subtree_control"))
      p:kill("SIGKILL"); p:wait(); p:close()
      assert(g:delete())
    end)

    it("never writes cgroup.subtree_control above the caller's own cgroup (B17)", function()
      if not pure_v2() or not has("pids") then return end
      -- A child Lua process lives in A/leaf. A had +pids when isol read the
      -- layout, then lost it; creating under the absolute parent /A/box must
      -- not re-enable pids in A (an ancestor of the caller) by itself.
      local a = unified.mount .. "/isol-b17-" .. select(5, core.ids())
      local out = h.lua(string.format([[
        local core = require "isol.core"
        local isol = require "isol"
        local a = %q
        local function w(f, v) local x = assert(io.open(f, "w")); x:write(v); x:close() end
        assert(os.execute("mkdir -p " .. a .. "/leaf " .. a .. "/box"))
        w(a .. "/cgroup.subtree_control", "+pids")
        w(a .. "/leaf/cgroup.procs", tostring(select(5, core.ids())))
        core.cgroup_layout(true) -- cached: pids available to the caller
        local ok = pcall(w, a .. "/cgroup.subtree_control", "-pids")
        print("disabled", ok)
        local g, msg = isol.cgroup.create { limits = { pids = { max = 5 } }, parent = a:match("/[^/]+$") .. "/box" }
        print("created", g ~= nil, msg)
        if g then g:close() end
        local f = io.open(a .. "/cgroup.subtree_control"); print("A has", f:read("a")); f:close()
        w(%q .. "/cgroup.procs", tostring(select(5, core.ids()))) -- back to the root
      ]], a, unified.mount))
      h.sh("rmdir " .. h.shq(a .. "/box") .. " " .. h.shq(a .. "/leaf") .. " " .. h.shq(a))
      assert.matches("disabled\ttrue", out)
      assert.is_nil(out:match("A has[^\n]*pids"), out)
    end)

    it("swappiness is refused on v2 with the reason", function()
      local ok, err = pcall(isol.sandbox, { limits = { memory = { swappiness = 10 } }, cgroup = { version = 2 } })
      assert.is_false(ok)
      assert.matches("no per%-cgroup swappiness", err)
    end)
  end)
end)
