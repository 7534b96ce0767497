-- The Sandbox pipeline: its steps and their order, nothing overridden,
-- recipe.validate pure, isol.spawn's key check, box:kill's rules.
local isol = require "isol"
local h = require "support.helpers"
local leak = require "support.leak"

local Sandbox = isol.Sandbox

describe("Sandbox pipeline", function()
  it("lists every step, phase by phase, in the documented order", function()
    local got = {}
    for _, s in ipairs(Sandbox.steps()) do got[#got + 1] = s.phase .. ":" .. s.concern end
    assert.same({
      "validate:user", "validate:cgroup",
      "prepare:cgroup", "prepare:policy",
      "plan:user", "plan:fs", "plan:process", "plan:detached", "plan:security", "plan:net", "plan:policy",
      "plan:tty", "plan:cgroup",
      "after_spawn:process", "after_spawn:detached", "after_spawn:cgroup", "after_spawn:tty",
      "wait:cgroup",
      "kill:process", "kill:cgroup",
      "close:process", "close:cgroup", "close:net", "close:policy",
    }, got)
    -- phases run in this order
    assert.same({ "validate", "prepare", "plan", "after_spawn", "wait", "kill", "close" }, Sandbox.PHASES)
  end)

  it("refuses an unknown phase, a second step of a concern in a phase, and a method that exists", function()
    local ok, err = pcall(Sandbox.step, "spawn", "x", function() end)
    assert.is_false(ok)
    assert.matches('unknown phase "spawn"', err, 1, true)
    ok, err = pcall(Sandbox.step, "plan", "cgroup", function() end)
    assert.is_false(ok)
    assert.matches('concern "cgroup" already has a plan step', err, 1, true)
    ok, err = pcall(Sandbox.method, "spawn", "x", function() end)
    assert.is_false(ok)
    assert.matches("box:spawn already exists", err, 1, true)
  end)

  it("nothing replaces the Sandbox's functions or the C Process methods", function()
    for _, name in ipairs { "new", "spawn", "run", "kill", "close" } do
      assert.matches("lua/isol/sandbox%.lua$", debug.getinfo(Sandbox[name], "S").source)
    end
    local methods = debug.getregistry()["isol.Process"].__index
    for _, name in ipairs { "wait", "poll", "close", "kill" } do
      assert.equal("C", debug.getinfo(methods[name], "S").what, name)
    end
  end)

  it("recipe.validate reads no file", function()
    local out, ok = h.lua([[
      local isol = require "isol"
      local open, lines = io.open, io.lines
      io.open = function(p) error("validate opened " .. tostring(p)) end
      io.lines = function(p) error("validate read " .. tostring(p)) end
      local r = isol.recipe.validate { namespaces = { "user", "uts" }, user = { map_root = true },
        hostname = "x", limits = { memory = { max = "32M" }, cpu = { quota = "20%" }, pids = { max = 8 } },
        cgroup = { version = 2 } }
      io.open, io.lines = open, lines
      print(r.limits.memory.max)
    ]])
    assert.is_true(ok, out)
    assert.equal("33554432\n", out)
  end)
end)

describe("isol.spawn(plan)", function()
  it("rejects an unknown key, naming it", function()
    local ok, err = pcall(isol.spawn, { argv = { "/bin/true" }, hostnme = "x" })
    assert.is_false(ok)
    assert.matches("plan.hostnme: unknown plan key", err, 1, true)
  end)

  it("rejects a value of the wrong type, naming the key", function()
    local ok, err = pcall(isol.spawn, { argv = { "/bin/true" }, detach = "yes" })
    assert.is_false(ok)
    assert.matches("plan.detach: expected boolean", err, 1, true)
    ok, err = pcall(isol.spawn, { argv = { "/bin/true" }, status_fd = 1.5 })
    assert.is_false(ok)
    assert.matches("plan.status_fd: expected integer", err, 1, true)
  end)

  it("runs a plan with known keys", function()
    local p = assert(isol.spawn { argv = { "/bin/sh", "-c", "exit 3" }, new_session = true })
    local st = p:wait()
    p:close()
    assert.equal(3, st.code)
  end)
end)

describe("spawn options", function()
  it("keep_fds is checked, naming the field (B14)", function()
    local box <close> = isol.sandbox {}
    local ok, err = pcall(box.spawn, box, { "/bin/true", keep_fds = { "x" } })
    assert.is_false(ok)
    assert.matches("command.keep_fds[1]: expected an fd >= 3", err, 1, true)
  end)
end)

describe("box:kill #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  -- Which processes of a root + background child got SIGTERM from box:kill.
  local function term_reached(recipe)
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local box = isol.sandbox(recipe)
    local p = assert(box:spawn { "/bin/sh", "-c", string.format([[
      sh -c 'trap "echo term > %s/child; exit 0" TERM; touch %s/ready; while :; do sleep 0.05; done' &
      trap "echo term > %s/root; exit 0" TERM
      while :; do sleep 0.05; done]], dir, dir, dir) })
    for _ = 1, 200 do
      if h.read(dir .. "/ready") then break end
      os.execute("sleep 0.05")
    end
    assert.is_truthy(h.read(dir .. "/ready"), "child never started")
    os.execute("sleep 0.2") -- the root's trap is set
    assert.is_true(box:kill("SIGTERM"))
    local st = p:wait()
    os.execute("sleep 0.3")
    local reached = { root = h.read(dir .. "/root") ~= nil, child = h.read(dir .. "/child") ~= nil }
    assert.is_true(box:kill())
    assert.is_true(box:close())
    os.execute("rm -rf " .. dir)
    return reached, st
  end

  it("SIGTERM reaches the same processes with and without limits (B22)", function()
    local lay = isol.cgroup.layout()
    local pids = false
    for _, hi in ipairs(lay.hierarchies) do
      for _, c in ipairs(hi.controllers) do if c == "pids" then pids = true end end
    end
    if not pids then
      pending("no pids controller here: cannot make a cgroup to compare with")
      return
    end
    local without = term_reached({ namespaces = { "pid" } })
    local with = term_reached({ namespaces = { "pid" }, limits = { pids = { max = 50 } } })
    assert.same(without, with)
    -- the roots only: the init forwards it to the command
    assert.same({ root = true, child = false }, with)
  end)

  it("reports success and ends every process with SIGKILL (B21)", function()
    local box = isol.sandbox { limits = { pids = { max = 50 } } }
    local p = assert(box:spawn { "/bin/sh", "-c", "sleep 100 & sleep 100" })
    os.execute("sleep 0.2")
    assert.is_true(box:kill())
    local st = p:wait()
    assert.equal("SIGKILL", st.signal)
    assert.equal(0, box.cgroup:nprocs())
    assert.is_true(box:close())
    assert.is_true(box:close()) -- idempotent
  end)
end)
