-- The recipe library: lua/isol/recipes/<name>.lua, each a function taking
-- parameters and returning a plain table.
local isol = require "isol"
local R = isol.recipe
local leak = require "support.leak"

-- Loop devices are global and other suites attach theirs concurrently; the
-- code under test here never attaches one, so they are left out of the check.
local function assert_clean(snap)
  local new = {}
  for _, l in ipairs(leak.diff(snap)) do
    if not l:match("^loop device") then new[#new + 1] = l end
  end
  assert(#new == 0, "leaked: " .. table.concat(new, "; "))
end

local function recipe(name) return require("isol.recipes." .. name) end

local function is_plain(v, seen)
  seen = seen or {}
  if type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then return false end
  if type(v) ~= "table" then return true end
  if getmetatable(v) ~= nil or seen[v] then return false end
  seen[v] = true
  for k, x in pairs(v) do
    if not is_plain(k, seen) or not is_plain(x, seen) then return false end
  end
  return true
end

local function errmsg(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return err
end

describe("recipes library", function()
  local cases = {
    no_network = { nil, { namespaces = { "net" } } },
    cpu_capped = { { percent = 20 }, { limits = { cpu = { quota = "20%" } } } },
    memory_capped = { { max = "32M" }, { limits = { memory = { max = "32M", swap = 0 } } } },
    pinned = { { cpus = "0" }, { limits = { cpuset = { cpus = "0" } } } },
    gpu_denied = { nil, { limits = { devices = { deny = { "/dev/nvidia*", "/dev/dri/*", "/dev/kfd" } } } } },
    tmp_scratch = { { size = "1M" }, { namespaces = { "mount" },
      mounts = { { type = "tmpfs", target = "/tmp", size = "1M", mode = "1777" } } } },
  }
  for name, c in pairs(cases) do
    it(name .. " returns a plain table", function()
      local r = recipe(name)(c[1])
      assert.is_true(is_plain(r))
      assert.same(c[2], r)
      -- a fresh table each call: callers may change it
      assert.are_not.equal(r, recipe(name)(c[1]))
    end)
  end

  it("parameters are checked, naming the field", function()
    assert.matches("cpu_capped.percent: expected a number > 0", errmsg(recipe "cpu_capped", { percent = -1 }))
    assert.matches("cpu_capped.percnt: unknown field", errmsg(recipe "cpu_capped", { percnt = 5 }))
    assert.matches("memory_capped.max: required", errmsg(recipe "memory_capped", {}))
    assert.matches('memory_capped.max: expected size like "32M", got "lots"',
      errmsg(recipe "memory_capped", { max = "lots" }))
    assert.matches('pinned.cpus: expected a list like "0"', errmsg(recipe "pinned", { cpus = "zero" }))
    assert.matches("tmp_scratch.target: expected an absolute path", errmsg(recipe "tmp_scratch", { target = "tmp" }))
    assert.matches("untrusted.pids: expected an integer >= 1", errmsg(recipe "untrusted", { pids = 0 }))
    assert.matches("no_network: takes no parameters", errmsg(recipe "no_network", { x = 1 }))
  end)

  it("compose with extend", function()
    local m = R.merge(recipe "no_network", recipe "cpu_capped" { percent = 50 }, recipe "memory_capped" { max = "64M" },
      recipe "gpu_denied")
    assert.same({ "net" }, m.namespaces)
    assert.same({ cpu = { quota = "50%" }, memory = { max = "64M", swap = 0 },
      devices = { deny = { "/dev/nvidia*", "/dev/dri/*", "/dev/kfd" } } }, m.limits)
  end)

  it("no_network: only a loopback interface inside", function()
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox(R.extend(recipe "no_network",
        { namespaces = { "user" }, user = { map_root = true },
          env = { LD_PRELOAD = false } })) -- (make asan-test: no sanitizer runtime in dd)
      local st, out = box:run({ "/bin/sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" },
        { capture = true })
      assert.same(0, st.code)
      assert.equal("lo\n", out)
    end
    assert_clean(snap)
  end)

  it("tmp_scratch: a tmpfs of the given size", function()
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox(R.extend(recipe "tmp_scratch" { size = "1M" },
        { namespaces = { "user" }, user = { map_root = true },
          env = { LD_PRELOAD = false } })) -- (make asan-test: no sanitizer runtime in dd)
      local st, out = box:run({ "/bin/sh", "-c",
        "stat -f -c %T /tmp; df -k /tmp | tail -1; dd if=/dev/zero of=/tmp/f bs=1k count=2048 2>&1; echo rc=$?" },
        { capture = true })
      assert.same(0, st.code)
      assert.matches("^tmpfs\n%S+%s+1024%s", out)
      assert.matches("No space left on device", out, 1, true)
    end
    assert_clean(snap)
  end)

  it("minimal and untrusted validate and run", function()
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox(recipe "minimal" ())
      local st, out = box:run({ "/bin/sh", "-c", "hostname; if touch /usr/x 2>/dev/null; then echo writable; fi" },
        { capture = true })
      assert.same(0, st.code)
      assert.equal("isol\n", out)
    end
    do
      local u = recipe "untrusted" { memory = "64M", pids = 16 }
      assert.is_true(is_plain(u))
      local box <close> = isol.sandbox(u)
      local st, out = box:run({ "/bin/sh", "-c", "echo $HOME; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" },
        { capture = true })
      assert.same(0, st.code)
      assert.equal("/tmp\nlo\n", out)
    end
    assert_clean(snap)
  end)
end)
