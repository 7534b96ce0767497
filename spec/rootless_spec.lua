-- isol as an ordinary user: the automatic user namespace, errors with a way
-- out, uid/gid ranges through newuidmap/newgidmap (issue 13).
--
-- The unit parts run as anyone; the #root block creates a user (useradd),
-- runs isol as that user from a world-readable copy of the tree, and
-- removes the user and restores /etc/subuid and /etc/subgid exactly.
local h = require "support.helpers"
local leak = require "support.leak"
local userns = require "isol.userns"
local rootless = require "isol.rootless"
local isol = require "isol"
local E = isol.core.errno

local function tmpfile(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("rootless: subordinate ids", function()
  it("reads every range of a user, by name or by uid, and skips malformed lines", function()
    local path = tmpfile("alice:100000:65536\n# comment\nbob:200000:10\n1005:300000:5\nalice:400000:7\n"
      .. "broken line\nalice:500000:0\n")
    assert.same({ { 100000, 65536 }, { 400000, 7 } }, userns.subid_ranges(path, "alice", 1000))
    assert.same({ { 300000, 5 } }, userns.subid_ranges(path, "carol", 1005))
    assert.same({}, userns.subid_ranges(path, "nobody-here", 4242))
    os.remove(path)
    assert.same({}, userns.subid_ranges("/nonexistent/subuid", "alice", 1000))
  end)

  it("tells a map of one's own id from one that needs subordinate ids", function()
    assert.is_false(userns.beyond_own({ { 0, 1000, 1 } }, 1000))
    assert.is_true(userns.beyond_own({ { 0, 1000, 1 }, { 1, 100000, 10 } }, 1000))
    assert.is_true(userns.beyond_own({ { 0, 1000, 2 } }, 1000))
    local ranges = { { 100000, 65536 } }
    assert.is_nil(userns.outside_ranges({ { 0, 1000, 1 }, { 1, 100000, 65536 } }, 1000, ranges))
    assert.same({ 1, 100000, 65537 }, userns.outside_ranges({ { 1, 100000, 65537 } }, 1000, ranges))
    assert.same({ 0, 99999, 2 }, userns.outside_ranges({ { 0, 99999, 2 } }, 1000, ranges))
  end)

  it("validates user.map_range and refuses what cannot go with it", function()
    local r = isol.recipe.validate { namespaces = { "user" }, user = { map_range = true } }
    assert.is_true(r.user.map_range)
    assert.has_error(function() isol.recipe.validate { namespaces = { "user" }, user = { map_range = "yes" } } end,
      "user.map_range: expected boolean, got string \"yes\"")
    assert.has_error(function()
      isol.recipe.validate { namespaces = { "user" }, user = { map_range = true, uid_map = { { 0, 0, 1 } } } }
    end, "user: map_range cannot be combined with uid_map")
    assert.has_error(function()
      isol.recipe.validate { namespaces = { "user" }, user = { map_range = true, setgroups = "deny" } }
    end, "user.setgroups: is set by newgidmap with map_range (allow: the range is yours)")
  end)
end)

describe("rootless: hints", function()
  local cases = {
    { "mkdir /sys/fs/cgroup/cpuacct/isol-1-1: Permission denied", E.EACCES, "delegated cgroup" },
    { "limits.devices: write \"a\" to /sys/fs/cgroup/devices/x/devices.deny: Operation not permitted",
      E.EPERM, "devices controller cannot be delegated" },
    { "open /dev/loop-control: Permission denied", E.EACCES, "not accessible to you" },
    { "mount /dev/loop3 on /data: Operation not permitted", E.EPERM, "fuse2fs" },
    { "mount mqueue on /dev/mqueue: Operation not permitted", E.EPERM, 'add "ipc" to namespaces' },
    { "newuidmap 42: newuidmap: uid range [1-11) -> [200000-200010) not allowed (exit 1)", E.EPERM,
      "/etc/subuid" },
  }
  for _, c in ipairs(cases) do
    it("names the way out for: " .. c[1], function()
      local hint = rootless.hint_for(c[1], c[2]).text
      assert.is_string(hint)
      assert.truthy(hint:find(c[3], 1, true), hint)
    end)
  end

  it("gives none for other errors, and none to root", function()
    assert.is_nil(rootless.hint_for("mkdir /sys/fs/cgroup/cpu/x: No space left on device", E.ENOSPC))
    assert.is_nil(rootless.hint_for("execve /bin/nope: Permission denied", E.EACCES))
    if userns.privileged() then
      assert.equal("mount mqueue on /dev/mqueue: Operation not permitted",
        rootless.annotate("mount mqueue on /dev/mqueue: Operation not permitted", E.EPERM))
      -- the kernel refuses a block filesystem in a user namespace to root too
      local msg = rootless.annotate("mount /dev/loop0 on /data: Operation not permitted", E.EPERM)
      assert.matches("\n  hint: the kernel refuses", msg)
    end
  end)
end)

describe("rootless: root keeps what it asked for #root", function()
  it("adds no user namespace for root", function()
    local r = isol.recipe.validate { namespaces = { "uts" }, hostname = "x" }
    local plan = isol.recipe.to_plan(r, { "true" })
    assert.same({ "uts" }, plan.namespaces)
    assert.is_nil(plan.uid_map)
    assert.falsy(isol.recipe.explain(r):find("user namespace added", 1, true))
  end)
end)

describe("rootless: an image in a user namespace #root", function()
  it("is refused by the kernel, and the error says so and offers the alternatives", function()
    if not h.sh("command -v mkfs.ext4"):find("mkfs") then
      pending("mkfs.ext4 is not installed (e2fsprogs)")
      return
    end
    local dir = h.sh("mktemp -d /tmp/isol-rootless.XXXXXX"):gsub("%s+$", "")
    local snap = leak.snapshot { dirs = { dir } }
    local img = assert(isol.image.create(dir .. "/a.img", { size = "8M" }))
    local st, msg, code = isol.run({ namespaces = { "user", "mount" }, user = { map_root = true },
      mounts = { { type = "image", image = img, target = "/mnt" } } }, { "/bin/true" })
    img:close()
    leak.assert_clean(snap)
    h.sh("rm -rf " .. dir)
    assert.is_nil(st)
    assert.equal(E.EPERM, code)
    assert.matches("^mount /dev/loop%d+ on /mnt: Operation not permitted\n  hint: the kernel refuses to mount a "
      .. "block%-device filesystem .* inside a user namespace: run as root without \"user\" in namespaces, or "
      .. ".*fuse2fs", msg)
  end)
end)

describe("rootless: as an ordinary user #root", function()
  local user = "isolrs" .. isol.core.getpid() % 100000
  local uid, gid, prefix, saved

  local function as_user(src) return h.lua(src, prefix) end
  -- /etc/subuid and /etc/subgid as saved, with the user's lines replaced by
  -- `line` (restored exactly in teardown)
  local function set_range(line)
    for _, k in ipairs { "subuid", "subgid" } do
      local f = assert(io.open("/etc/" .. k, "w"))
      f:write((saved[k] or ""):gsub("[^\n]*" .. user .. ":[^\n]*\n", ""), line)
      f:close()
    end
  end
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  setup(function()
    saved = { subuid = h.read("/etc/subuid"), subgid = h.read("/etc/subgid") }
    local out, ok = h.sh("useradd -m -s /bin/sh " .. user .. " 2>&1")
    assert(ok, out)
    uid = tonumber((h.sh("id -u " .. user)))
    gid = tonumber((h.sh("id -g " .. user)))
    prefix = string.format("runuser -u %s -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/%s", user, user)
    -- `make asan-test`: the user's Lua loads the ASan build of the core, so
    -- it needs the sanitizer runtime preloaded too
    for _, k in ipairs { "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" } do
      if os.getenv(k) then prefix = prefix .. " " .. k .. "=" .. h.shq(os.getenv(k)) end
    end
  end)

  teardown(function()
    h.sh("userdel -r " .. user .. " 2>/dev/null")
    for k, text in pairs(saved) do
      local f = assert(io.open("/etc/" .. k, "w"))
      f:write(text or "")
      f:close()
    end
  end)

  it("runs a uts-only recipe in an added user namespace, and explain says so", function()
    local out, ok = as_user [[
      local isol = require "isol"
      local r = { namespaces = { "uts" }, hostname = "rootless-box" }
      local st, o = isol.run(r, { "/bin/sh", "-c", "hostname; id -u; cat /proc/self/uid_map" }, { capture = true })
      assert(st, o)
      io.write(o)
      io.write(isol.recipe.explain(r, { "x" }))
    ]]
    assert(ok, out)
    assert.matches("^rootless%-box\n0\n%s+0%s+" .. uid .. "%s+1\n", out)
    assert.truthy(out:find("user namespace added: you are not root (uid " .. uid .. ", gid " .. gid, 1, true), out)
  end)

  it("runs examples/hostname.lua with the CLI", function()
    local dir = h.sh("mktemp -d /tmp/isol-rootless.XXXXXX"):gsub("%s+$", "")
    h.sh(string.format("cp %s/examples/hostname.lua %s/ && chmod -R a+rX %s", h.shq(h.root), dir, dir))
    local out, ok = as_user(string.format("os.exit(require('isol.cli').main({ 'run', %q }))",
      dir .. "/hostname.lua"))
    h.sh("rm -rf " .. dir)
    assert(ok, out)
    assert.equal("hostname: my-new-hostname, domain: example.internal\n", out)
  end)

  it("isol.unshare of the calling process adds a user namespace too", function()
    local out, ok = as_user [[
      local isol = require "isol"
      assert(isol.unshare { "mount", "uts" })
      assert(isol.core.sethostname("unshared"))
      local dir = os.tmpname()
      os.remove(dir)
      assert(isol.core.mkdir(dir))
      assert(isol.mount.tmpfs(dir, { size = "1m" }))
      io.write(dir, "\n", isol.core.ids(), " ", isol.core.gethostname(), " ", io.open("/proc/self/uid_map"):read("a"))
    ]]
    local dir = out:match("^(/[^\n]+)\n")
    if dir then os.remove(dir) end -- the mount point, on the host (the mount died with the process)
    assert(ok, out)
    assert.matches("\n0 unshared%s+0%s+" .. uid .. "%s+1\n$", out)
  end)

  it("gives limits without a delegated cgroup a way out", function()
    local out, ok = as_user [[
      local isol = require "isol"
      local st, msg = isol.run({ namespaces = { "pid" }, limits = { pids = { max = 10 } } }, { "/bin/true" })
      assert(not st, "expected a failure")
      io.write(msg)
    ]]
    assert(ok, out)
    assert.matches("Permission denied\n  hint: cgroup limits need root or a delegated cgroup", out)
  end)

  it("gives an mqueue mount without an ipc namespace a way out", function()
    local out, ok = as_user [[
      local isol = require "isol"
      local st, msg = isol.run({ namespaces = { "mount" }, mounts = { { type = "mqueue" } } }, { "/bin/true" })
      assert(not st, "expected a failure")
      io.write(msg)
      st, msg = isol.run({ namespaces = { "mount", "ipc" },
        mounts = { { type = "tmpfs", target = "/dev" }, { type = "mqueue" } } }, { "/bin/true" })
      assert(st and st.code == 0, msg)
    ]]
    assert(ok, out)
    assert.matches('mqueue.*Operation not permitted\n  hint: .*add "ipc" to namespaces', out)
  end)

  it("gives an image mount without access to /dev/loop-control a way out", function()
    if not h.sh("command -v /usr/sbin/mkfs.ext4 /sbin/mkfs.ext4"):find("mkfs") then
      pending("mkfs.ext4 is not installed (e2fsprogs)")
      return
    end
    local out, ok = as_user [[
      local isol = require "isol"
      local path = os.tmpname()
      os.remove(path)
      local img = assert(isol.image.create(path, { size = "8M" }))
      local st, msg = isol.run({ namespaces = { "mount" },
        mounts = { { type = "image", image = img, target = "/mnt" } } }, { "/bin/true" })
      img:close()
      os.remove(path)
      assert(not st, "expected a failure")
      io.write(msg)
    ]]
    assert(ok, out)
    assert.matches("^open /dev/loop%-control: Permission denied\n  hint: loop devices are root's "
      .. "%(/dev/loop%-control is not accessible to you%)", out)
  end)

  it("isol check says which cgroups are writable by the user and why loop devices are not", function()
    local out, ok = as_user "os.exit(require('isol.cli').main({ 'check' }))"
    assert(ok or out:find("cgroups writable by you", 1, true), out)
    assert.truthy(out:find("cgroups writable by you", 1, true), out)
    if isol.recipe.cgroup_version() ~= "v2" then
      assert.matches("\n  v1 memory +no +/sys/fs/cgroup/memory[^\n]*: not yours %(limits need root or a delegated "
        .. "cgroup", out)
    end
    if select(2, h.sh("test -e /dev/loop-control")) then
      assert.matches("\n  loop devices +no +/dev/loop%-control not accessible to you %(root only%)", out)
    end
  end)

  it("runs recipes.untrusted in a delegated v1 cgroup (a chowned parent per hierarchy)", function()
    if isol.recipe.cgroup_version() == "v2" then
      pending("pure cgroup v2 host: the delegated v2 subtree is tested in the VM (spec/vm)")
      return
    end
    -- the user's parent, under this process's own cgroup in each v1
    -- hierarchy (more than a run without root needs: isol uses those of
    -- the limits, freezer and cpuacct; the unified tree of this hybrid host
    -- is not delegated, as a user could not move into it)
    local own, mounts = {}, {}
    for line in h.read("/proc/self/cgroup"):gmatch("[^\n]+") do
      local ctls, path = line:match("^%d+:([^:]*):(.*)$")
      if ctls == "" then own["(unified)"] = path
      elseif ctls then for c in ctls:gmatch("[^,]+") do own[c] = path end end
    end
    for line in h.read("/proc/self/mountinfo"):gmatch("[^\n]+") do
      local mp, fstype, opts = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) %S+ (%S+)")
      if fstype == "cgroup" then for o in opts:gmatch("[^,]+") do mounts[o] = mp end
      elseif fstype == "cgroup2" then mounts["(unified)"] = mp end
    end
    local name = "isol-deleg-" .. isol.core.getpid()
    local dirs, seen = {}, {}
    for _, c in ipairs { "memory", "pids", "cpu", "cpuacct", "freezer", "blkio", "cpuset", "devices" } do
      local dir = mounts[c] and own[c] and mounts[c] .. (own[c] == "/" and "" or own[c]) .. "/" .. name
      if dir and not seen[dir] then
        seen[dir] = true
        local out, ok = h.sh(string.format("mkdir %s && chown -R %d:%d %s 2>&1", dir, uid, gid, dir))
        assert(ok, out)
        if c == "cpuset" then -- a v1 cpuset starts empty: the parent's CPUs and nodes
          h.sh(string.format("cat %s/../cpuset.cpus > %s/cpuset.cpus; cat %s/../cpuset.mems > %s/cpuset.mems",
            dir, dir, dir, dir))
        end
        dirs[#dirs + 1] = dir
      end
    end
    local out, ok = as_user(string.format([[
      local isol = require "isol"
      local r = isol.recipe.extend(isol.recipes.untrusted { memory = "32M", pids = 16 },
        { cgroup = { parent = %q } })
      io.write(isol.recipe.explain(r, { "x" }):match("recipe: [^\n]*"), "\n")
      local st, o, e = isol.run(r, { "/bin/sh", "-c", "echo in; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
        .. "2>/dev/null || true" }, { capture = true })
      assert(st and st.code == 0, tostring(o) .. tostring(e))
      io.write(o)
      st = isol.run(isol.recipe.extend(isol.recipes.untrusted { memory = "16M" }, { cgroup = { parent = %q } }),
        { "/bin/sh", "-c", "x=a; while :; do x=$x$x; done" })
      io.write("oom ", tostring(st and st.oom), "\n")
    ]], name, name))
    for i = #dirs, 1, -1 do h.sh("rmdir " .. dirs[i]) end
    assert(ok, out)
    assert.matches("^recipe: untrusted: [^\n]*%(no devices allow%-list: you are not root, and the devices "
      .. "controller cannot be delegated", out)
    assert.matches("\nin\n", out)
    assert.matches("\noom true\n$", out)
  end)

  it("maps a subordinate range through newuidmap/newgidmap with map_range", function()
    -- a range of our own for the user (useradd may have added one; the
    -- files are restored exactly afterwards)
    set_range(user .. ":3100000:65536\n")
    local out, ok = as_user [[
      local isol = require "isol"
      local st, o, e = isol.run({ namespaces = { "user", "mount" }, user = { map_range = true },
        mounts = { { type = "tmpfs", target = "/mnt" } } },
        { "/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; touch /mnt/f && chown 1000:1000 /mnt/f "
          .. "&& stat -c 'owner %u %g' /mnt/f" }, { capture = true })
      assert(st and st.code == 0, tostring(o) .. tostring(e))
      io.write(o)
    ]]
    assert(ok, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l:gsub("%s+", " "):gsub("^ ", "") end
    assert.same({ "0 " .. uid .. " 1", "1 3100000 65536", "0 " .. gid .. " 1", "1 3100000 65536",
      "owner 1000 1000" }, lines)
  end)

  it("refuses ranges outside the subordinate ids before spawning, naming the range and the file", function()
    local out, ok = as_user [[
      local isol = require "isol"
      local ok, err = pcall(isol.sandbox, { namespaces = { "user" },
        user = { uid_map = { { 0, 0, 1 } }, gid_map = { { 0, 0, 1 } } } })
      assert(not ok)
      io.write(err, "\n")
    ]]
    assert(ok, out)
    assert.truthy(out:find("user.uid_map: range {0, 0, 1} maps host uids 0-0, which are neither your own uid ("
      .. uid .. ") nor in your subordinate ranges in /etc/subuid", 1, true), out)
  end)

  it("says what to do when the user has no subordinate range", function()
    set_range("")
    local out, ok = as_user [[
      local isol = require "isol"
      local ok, err = pcall(isol.sandbox, { namespaces = { "user" }, user = { map_range = true } })
      assert(not ok)
      io.write(err, "\n")
    ]]
    assert(ok, out)
    assert.truthy(out:find("user.map_range: no subordinate uid range for " .. user .. " in /etc/subuid", 1, true), out)
    assert.truthy(out:find("usermod --add-subuids", 1, true), out)
  end)
end)
