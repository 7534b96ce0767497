-- Recipe composition (isol.recipe.extend/merge/replace) and explain.
local isol = require "isol"
local R = isol.recipe
local compose = require "isol.compose"
local h = require "support.helpers"

describe("recipe merge rules", function()
  it("scalars: the later value wins", function()
    local m = R.merge({ hostname = "a", die_with_parent = true }, { hostname = "b" }, { die_with_parent = false })
    assert.equal("b", m.hostname)
    assert.is_false(m.die_with_parent)
  end)

  it("namespaces: union in order of first appearance", function()
    local m = R.merge({ namespaces = { "user", "uts" } }, { namespaces = { "uts", "pid" } },
      { namespaces = { "user", "net" } })
    assert.same({ "user", "uts", "pid", "net" }, m.namespaces)
  end)

  it("maps merge by key, recursively", function()
    local m = R.merge({ env = { A = "1", B = "2" }, limits = { memory = { max = "1M" }, cpu = { weight = 10 } } },
      { env = { B = "3", C = false }, limits = { memory = { swap = 0 } } })
    assert.same({ A = "1", B = "3", C = false }, m.env)
    assert.same({ memory = { max = "1M", swap = 0 }, cpu = { weight = 10 } }, m.limits)
  end)

  it("lists append (mounts), scalars already present are not repeated", function()
    local a = { mounts = { { type = "tmpfs", target = "/a" } }, keep_fds = { 3, 4 },
      limits = { devices = { deny = { "/dev/nvidia*" } } } }
    local b = { mounts = { { type = "tmpfs", target = "/b" } }, keep_fds = { 4, 5 },
      limits = { devices = { deny = { "/dev/nvidia*", "/dev/kfd" } } } }
    local m = R.merge(a, b)
    assert.same({ { type = "tmpfs", target = "/a" }, { type = "tmpfs", target = "/b" } }, m.mounts)
    assert.same({ 3, 4, 5 }, m.keep_fds)
    assert.same({ "/dev/nvidia*", "/dev/kfd" }, m.limits.devices.deny)
  end)

  it("command, root, uid_map replace as a whole", function()
    local m = R.merge({ command = { "/bin/sh", "-c", "x" }, root = { path = "/a", extra = 1 },
      user = { uid_map = { { 0, 1000, 1 } }, setgroups = "deny" } },
      { command = { "/bin/true" }, root = { path = "/b" }, user = { uid_map = { { 1, 2000, 1 } } } })
    assert.same({ "/bin/true" }, m.command)
    assert.same({ path = "/b" }, m.root)
    assert.same({ uid_map = { { 1, 2000, 1 } }, setgroups = "deny" }, m.user)
  end)

  it("replace() overrides at any depth; replace() with no value removes", function()
    local m = R.merge(
      { namespaces = { "user", "net" }, limits = { memory = { max = "1M", swap = 0 } }, hostname = "x" },
      { namespaces = R.replace { "uts" }, limits = { memory = R.replace { max = "2M" } }, hostname = R.replace() })
    assert.same({ "uts" }, m.namespaces)
    assert.same({ memory = { max = "2M" } }, m.limits)
    assert.is_nil(m.hostname)
  end)

  it("a table meets a scalar: the later value replaces", function()
    assert.equal("inherit", R.merge({ stdout = { path = "/x" } }, { stdout = "inherit" }).stdout)
    assert.same({ path = "/x" }, R.merge({ stdout = "null" }, { stdout = { path = "/x" } }).stdout)
  end)

  it("never modifies its arguments", function()
    local a = { namespaces = { "user" }, env = { A = "1" }, mounts = { { type = "tmpfs", target = "/a" } } }
    local b = { namespaces = { "uts" }, env = { B = "2" }, mounts = { { type = "tmpfs", target = "/b" } } }
    local m = R.merge(a, b)
    m.mounts[1].target = "/changed"
    assert.same({ "user" }, a.namespaces)
    assert.same({ A = "1" }, a.env)
    assert.equal("/a", a.mounts[1].target)
    assert.equal(1, #a.mounts)
  end)

  it("accepts functions returning recipes", function()
    local m = R.merge(function() return { namespaces = { "user" } } end, {},
      function() return { namespaces = { "net" } } end)
    assert.same({ "user", "net" }, m.namespaces)
  end)

  it("extend validates the result once, with the merged field named", function()
    -- hostname alone is invalid (needs uts); merged it is fine
    local v = R.extend({ namespaces = { "user" }, user = { map_root = true } }, { hostname = "box" },
      { namespaces = { "uts" } })
    assert.is_true(R.is_valid(v))
    assert.equal("box", v.hostname)
    local ok, err = pcall(R.extend, { namespaces = { "uts" } }, { hostname = 42 })
    assert.is_false(ok)
    assert.matches("^hostname: expected string, got number 42", err)
    ok, err = pcall(R.extend, { namespaces = { "uts" } }, { namespaces = { "netw" } })
    assert.is_false(ok)
    assert.matches('namespaces%[2%]: unknown namespace "netw"', err)
    ok, err = pcall(R.extend, { namespaces = { "uts" } }, 7)
    assert.is_false(ok)
    assert.matches("extend: argument 2: expected a recipe table", err)
  end)

  it("a validated recipe can be extended again from its source", function()
    local v = R.extend({ namespaces = { "user", "uts" }, user = { map_root = true }, hostname = "a" })
    local w = R.extend(v, { hostname = "b", namespaces = { "pid" } })
    assert.equal("b", w.hostname)
    assert.same({ "user", "uts", "pid" }, w.namespaces)
    assert.equal("a", v.hostname)
  end)

  it("any validated recipe (a sandbox's too) can be extended from its source", function()
    local v = R.validate({ namespaces = { "user", "uts" }, user = { map_root = true }, hostname = "a" })
    assert.same({ namespaces = { "user", "uts" }, user = { map_root = true }, hostname = "a" }, R.source(v))
    local box <close> = isol.sandbox({ namespaces = { "user" }, user = { map_root = true } })
    local w = R.extend(box.recipe, { namespaces = { "uts" }, hostname = "b" })
    assert.equal("b", w.hostname)
    assert.same({ "user", "uts" }, w.namespaces)
  end)

  it("the result runs", function()
    local box <close> = isol.sandbox(R.extend({ namespaces = { "user" }, user = { map_root = true } },
      { namespaces = { "uts" }, hostname = "merged" }))
    local st, out = box:run({ "/bin/hostname" }, { capture = true })
    assert.same(0, st.code)
    assert.equal("merged\n", out)
  end)
end)

describe("explain", function()
  it("shows namespaces, user maps, hostname, process flags, env and the command", function()
    local text = R.explain({ description = "demo", namespaces = { "user", "uts", "pid" }, user = { map_root = true },
      hostname = "box", env = { A = "1", B = false }, cwd = "/tmp", no_new_privs = false },
      { "/bin/sh", "-c", "echo 'hi there'" })
    local uid = isol.core.ids()
    assert.matches("recipe: demo\n", text, 1, true)
    assert.matches("command: /bin/sh -c 'echo '\\''hi there'\\'''\n", text, 1, true)
    assert.matches("namespaces: user, uts, pid\n", text, 1, true)
    assert.matches("shared with the caller: mount, ipc, net, cgroup, time", text, 1, true)
    assert.matches(string.format("uid map 0 -> %d (1)", uid), text, 1, true)
    assert.matches("setgroups deny", text, 1, true)
    assert.matches("hostname: box\n", text, 1, true)
    assert.matches("no_new_privs=no", text, 1, true)
    assert.matches("init=yes", text, 1, true)
    assert.matches("environment: inherited; A=1 -B\n", text, 1, true)
    assert.matches("cwd: /tmp\n", text, 1, true)
  end)

  it("without a user map says ids show as nobody", function()
    local text = R.explain({ namespaces = { "user" }, command = { "id" } })
    assert.matches("uid map none (ids show as nobody/65534)", text, 1, true)
    assert.matches("command: id\n", text, 1, true)
  end)

  it("raises on an invalid recipe, naming the field", function()
    local ok, err = pcall(R.explain, { hostname = "x" })
    assert.is_false(ok)
    assert.matches('hostname: needs the "uts" namespace', err, 1, true)
  end)

  -- explain's "file = value   # field" lines under the cgroup heading
  local function cgroup_files(text)
    local files = {}
    for file, value in text:gmatch("\n  ([%w_.]+) = ([^\n]-)   # limits[^\n]*") do files[file] = value end
    return files
  end

  it("prints the cgroup files of isol.cgroup.plan, the one mapping", function()
    local lim = { cpu = { shares = 128, quota = "20%" }, memory = { max = "32M", swap = 0 }, pids = { max = 64 } }
    local text = R.explain({ limits = lim }, { "true" }, { cgroup_version = "v1" })
    local plan = isol.cgroup.plan(R.validate({ limits = lim }).limits, { version = 1 }, "limits", "v1")
    local want = {}
    for _, w in ipairs(plan.writes or plan) do want[w.file or w[1]] = tostring(w.value or w[2]) end
    assert.is_truthy(next(want))
    assert.same(want, cgroup_files(text))
    -- a numeric quota means the same in explain as in what is written
    assert.equal("20000", want["cpu.cfs_quota_us"])
  end)

  -- Every file explain lists for these limits, read back from the group
  -- a sandbox made from them: the same value.
  local function compare_written(lim, count)
    local files = cgroup_files(R.explain({ limits = lim }, { "true" }))
    local box = isol.sandbox { limits = lim }
    local st = assert(box:run { "/bin/true" })
    assert.equal(0, st.code)
    local n = 0
    for file, value in pairs(files) do
      local dir = box.cgroup:version() == 2 and box.cgroup:path() or box.cgroup:path(file:match("^(%w+)%."))
      local got = h.read(dir .. "/" .. file)
      assert.equal(value, got and got:match("^(.-)%s*$"), file)
      n = n + 1
    end
    assert(box:close())
    assert.equal(count, n)
  end

  it("the files explain prints are the files a sandbox writes, field by field, on v1 #root", function()
    if isol.cgroup.layout().mode == "v2" then
      pending("a v1 comparison; the #v2 one runs on this host")
      return
    end
    -- shares, period, quota, cpus, memory, memsw, swappiness, pids
    compare_written({ cpu = { shares = 128, quota = "20%" }, cpuset = { cpus = "0" },
      memory = { max = "32M", swap = "16M", swappiness = 0 }, pids = { max = 64 } }, 8)
  end)

  it("the files explain prints are the files a sandbox writes, field by field, on v2 #root #v2", function()
    if isol.cgroup.layout().mode ~= "v2" then
      pending("needs a pure cgroup v2 host (runs in the VM: spec/vm)")
      return
    end
    -- cpu.weight, cpu.max, memory.max, memory.swap.max, pids.max
    compare_written({ cpu = { shares = 128, quota = "20%" }, memory = { max = "32M", swap = "16M" },
      pids = { max = 64 } }, 5)
  end)

  it("shows the cgroup files of a recipe with limits, for the kernel's version and for another", function()
    local r = { namespaces = { "user" }, user = { map_root = true },
      limits = { memory = { max = "32M" }, pids = { max = 16 } } }
    local text = R.explain(r, { "true" })
    local kernel = compose.cgroup_version()
    assert.matches("cgroup " .. (kernel == "v2" and "v2" or "v1") .. " %(kernel: " .. kernel, text)
    assert.matches("pids%.max = 16", text)
    if kernel ~= "v2" then assert.matches("memory%.limit_in_bytes = 33554432", text) end
    local v2 = R.explain(r, { "true" }, { cgroup_version = "v2" })
    assert.matches("cgroup v2", v2, 1, true)
    if v2:find("cannot map on this host", 1, true) then
      -- isol.cgroup.plan(limits, cgopts, path, version) maps for a version
      -- the host lacks once the cgroup branch lands; until then it says why
      pending("isol.cgroup.plan cannot map v2 on this " .. kernel .. " host yet: " .. v2:match("cannot map[^\n]*"))
      return
    end
    assert.matches("memory%.max = 33554432", v2)
  end)

  it("lists the sandbox steps, phase by phase, in the order they run", function()
    local text = R.explain({ namespaces = { "user" } }, { "true" })
    local listed = text:match("sandbox steps:\n(.*)$")
    assert.is_truthy(listed)
    local lines = {}
    for ph, concerns in listed:gmatch("  ([%w_]+): ([^\n]+)") do lines[#lines + 1] = ph .. ": " .. concerns end
    local want = {}
    local last
    for _, st in ipairs(isol.Sandbox.steps()) do
      if st.phase ~= last then want[#want + 1] = st.phase .. ": " .. st.concern; last = st.phase
      else want[#want] = want[#want] .. ", " .. st.concern end
    end
    assert.same(want, lines)
  end)

  it("shows each mount when the filesystem concern defines mounts", function()
    local text = R.explain({ namespaces = { "mount" },
      mounts = { { type = "tmpfs", target = "/scratch", size = "1M" } } })
    assert.matches("/scratch", text, 1, true)
    assert.matches("tmpfs", text, 1, true)
  end)

  it("is what `isol run --dry-run` prints, and nothing runs", function()
    local f = os.tmpname()
    local fh = io.open(f, "w")
    fh:write('return { namespaces = { "user", "uts" }, user = { map_root = true }, hostname = "dry",',
      ' command = { "/bin/sh", "-c", "touch ' .. f .. '.ran" } }')
    fh:close()
    local out, ok = h.sh("bin/isol run --dry-run " .. f .. " 2>&1")
    assert.is_true(ok, out)
    assert.matches("hostname: dry\n", out, 1, true)
    assert.matches("namespaces: user, uts\n", out, 1, true)
    assert.is_nil(io.open(f .. ".ran", "r"))
    os.remove(f)
  end)
end)
