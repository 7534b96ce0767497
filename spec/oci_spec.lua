-- OCI export: bundles from recipes, run with runc on this machine (cgroup v1):
-- the same output as `isol run`, the limits in the runtime's cgroup files
-- while the command runs, nothing left behind.
local h = require "support.helpers"
local isol = require "isol"
local cjson = require "cjson"

local runc = (h.sh("command -v runc")):gsub("%s+$", "")
local tmp = h.sh("mktemp -d /tmp/isol-oci-spec.XXXXXX"):gsub("%s+$", "")
-- a bundle's rootfs must be reachable by the id the container's root maps to
-- (untrusted maps it to an unprivileged one)
os.execute("chmod 755 " .. tmp)
-- (the whole file's: the #root blocks are skipped for an ordinary user)
teardown(function() h.sh("rm -rf " .. h.shq(tmp)) end)
local n = 0

local function export(r, opts)
  n = n + 1
  local dir = string.format("%s/b%d", tmp, n)
  local ok, warnings, code = isol.oci.export(r, dir, opts)
  assert(ok, tostring(warnings) .. " " .. tostring(code))
  return dir, warnings
end

local function config(dir)
  local f = assert(io.open(dir .. "/config.json"))
  local c = cjson.decode(f:read("a"))
  f:close()
  return c
end

-- runtime: "runc" here (cgroup v1), "crun" in the cgroup-v2 VM
local function runtime_run(runtime, dir, id)
  return h.sh(string.format("cd %s && timeout 60 %s run -b %s %s 2>&1", h.shq(dir), runtime, h.shq(dir), id))
end
local function runc_run(dir, id) return runtime_run(runc, dir, id) end

-- The container is gone: the runtime has no state for it, and no cgroup
-- named after it (a runtime names its cgroups after the container when the
-- bundle gives no cgroupsPath) is left.
local function assert_gone(runtime, id)
  local _, ok = h.sh(string.format("%s state %s >/dev/null 2>&1", runtime, id))
  assert.is_falsy(ok, id .. ": the runtime still has state for it")
  assert.equal("", (h.sh("find /sys/fs/cgroup -maxdepth 8 -type d -name '*" .. id .. "*' 2>/dev/null")))
end

-- isol's /proc hardening moves mounts onto the fresh, still detached proc
-- mount: Linux 6.15 and later. Older kernels (the VM's 6.1) fail it with
-- EINVAL, so isol run cannot run these recipes there.
local function kernel_at_least(major, minor)
  local a, b = (h.read("/proc/sys/kernel/osrelease") or ""):match("^(%d+)%.(%d+)")
  a, b = tonumber(a), tonumber(b)
  return a and (a > major or (a == major and b >= minor))
end

-- The runtime's output equals isol run's; where isol cannot mount a hardened
-- /proc (kernel older than 6.15, as in the VM) this prints why and checks
-- only the literal expectations each spec makes of the runtime's output.
local function assert_same_as_isol(r, argv, out)
  local st, iout, ierr = isol.run(r, argv, { capture = true })
  if not st and not kernel_at_least(6, 15) and tostring(iout):find("^harden /proc/%S+: Invalid argument") then
    io.stderr:write(string.format("\n[oci_spec] isol run: %s (Linux %s: mounting onto a detached mount needs 6.15);"
      .. " the runtime's output is checked against the literal expectation only\n", iout,
      (h.read("/proc/sys/kernel/osrelease") or "?"):gsub("%s+$", "")))
    return
  end
  assert(st, iout)
  assert.equal(iout .. (ierr or ""), out)
end

-- The cgroup files of a running process: read(controller, file) on v1,
-- read(nil, file) on v2; dirs lists its cgroup directories.
local function cgroup_of(pid)
  local v1, v2 = {}, nil
  for line in io.lines("/proc/" .. pid .. "/cgroup") do
    local ctrl, path = line:match("^%d+:([^:]*):(.*)$")
    if ctrl == "" then v2 = path end
    for c1 in (ctrl or ""):gmatch("[^,]+") do v1[c1] = path end
  end
  local cg = { dirs = {} }
  if next(v1) then
    for c1, path in pairs(v1) do cg.dirs[#cg.dirs + 1] = "/sys/fs/cgroup/" .. c1 .. path end
    cg.path = v1.memory
  else
    cg.dirs[1] = "/sys/fs/cgroup" .. v2
    cg.path = v2
  end
  function cg.read(ctrl, file)
    local dir = ctrl and ("/sys/fs/cgroup/" .. ctrl .. v1[ctrl]) or ("/sys/fs/cgroup" .. v2)
    return ((h.read(dir .. "/" .. file) or ""):gsub("%s+$", ""))
  end
  return cg
end

-- The three recipes of the issue (plain namespaces; host_readonly with
-- limits; untrusted), and a device deny, each exported and run with
-- `runtime` (runc on this host, crun in the cgroup-v2 VM); `v2` picks the
-- cgroup files to look at.
local function three_bundles(runtime_of, v2)
  local function runtime() return runtime_of() end

  it("plain namespaces: config.json maps them, and the runtime prints what isol run prints", function()
    local r = { namespaces = { "user", "pid", "mount", "uts", "ipc" }, user = { map_root = true },
      hostname = "plainbox",
      root = isol.recipes.host_readonly() }
    local argv = { "/bin/sh", "-c", "hostname; id -u; ls / | sort | tr '\\n' ' '" }
    local dir = export(r, { argv = argv })
    local c = config(dir)
    local kinds = {}
    for _, ns in ipairs(c.linux.namespaces) do kinds[#kinds + 1] = ns.type end
    assert.same({ "user", "pid", "mount", "uts", "ipc" }, kinds)
    assert.equal(0, c.linux.uidMappings[1].containerID)
    assert.equal(isol.core.ids(), c.linux.uidMappings[1].hostID)
    assert.equal("plainbox", c.hostname)
    local id = "isolspec-plain-" .. isol.core.getpid()
    local out = runtime_run(runtime(), dir, id)
    assert.truthy(out:find("^plainbox\n0\nbin .*usr $"), out)
    assert_same_as_isol(r, argv, out)
    assert_gone(runtime(), id)
  end)

  it("host_readonly with limits: the limits are in the runtime's cgroup files while it runs", function()
    local r = { namespaces = { "pid", "mount", "uts" }, hostname = "limbox", root = isol.recipes.host_readonly(),
      limits = { memory = { max = "64M", swap = 0 }, pids = { max = 32 }, cpu = { quota = "50%", shares = 512 } } }
    local argv = { "/bin/sh", "-c", "hostname; sleep 2; echo done" }
    local cgname = "isol-oci-" .. isol.core.getpid()
    local dir = export(r, { argv = argv, cgroups_path = cgname })
    local c = config(dir)
    assert.equal(64 * 1024 * 1024, c.linux.resources.memory.limit)
    assert.equal(64 * 1024 * 1024, c.linux.resources.memory.swap) -- memory+swap, swap 0
    assert.equal(32, c.linux.resources.pids.limit)
    assert.equal(50000, c.linux.resources.cpu.quota)
    assert.equal(512, c.linux.resources.cpu.shares)
    local id = "isolspec-lim-" .. isol.core.getpid()
    local f = io.popen(string.format("cd %s && timeout 60 %s run -b %s %s 2>&1", h.shq(dir), runtime(), h.shq(dir), id))
    -- find the container's first process while it sleeps, then its cgroup files
    local pid
    for _ = 1, 100 do
      local s = h.sh(runtime() .. " state " .. id .. " 2>/dev/null")
      local ok, st = pcall(cjson.decode, s)
      if ok and type(st) == "table" and st.status == "running" and st.pid then pid = math.tointeger(st.pid) break end
      os.execute("sleep 0.1")
    end
    local cg = pid and cgroup_of(pid)
    local seen
    if cg then
      assert.truthy(cg.path:find(cgname, 1, true), cg.path)
      if v2 then
        seen = { cg.read(nil, "memory.max"), cg.read(nil, "memory.swap.max"), cg.read(nil, "pids.max"),
          cg.read(nil, "cpu.max") }
      else
        seen = { cg.read("memory", "memory.limit_in_bytes"), cg.read("memory", "memory.memsw.limit_in_bytes"),
          cg.read("pids", "pids.max"), cg.read("cpu", "cpu.cfs_quota_us"), cg.read("cpu", "cpu.shares") }
      end
    end
    local out = f:read("a")
    f:close()
    assert(pid, "the container never ran: " .. out)
    if v2 then
      assert.same({ tostring(64 * 1024 * 1024), "0", "32", "50000 100000" }, seen)
    else
      -- memory.memsw exists only with swap accounting on
      local memsw = h.read("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") and tostring(64 * 1024 * 1024) or ""
      assert.same({ tostring(64 * 1024 * 1024), memsw, "32", "50000", "512" }, seen)
    end
    assert.equal("limbox\ndone\n", out)
    assert_same_as_isol(r, argv, out)
    -- nothing left: the runtime's cgroups and its state
    for _, d in ipairs(cg.dirs) do
      if d:find(cgname, 1, true) then assert.is_nil(isol.core.lstat(d), d .. " left behind") end
    end
    assert_gone(runtime(), id)
  end)

  it("untrusted: no capabilities, seccomp, rlimits, devices allow-list, hardened /proc, root not host root", function()
    local r = isol.recipes.untrusted()
    local argv = { "/bin/sh", "-c", "grep CapEff /proc/self/status; hostname; echo x > /dev/null && echo null-ok; " ..
      "test \"$(cat /proc/timer_list 2>/dev/null | wc -c)\" = 0 && echo timer_list-masked || echo timer_list-shown; " ..
      "(echo h > /proc/sysrq-trigger) 2>/dev/null && echo sysrq-writable || echo sysrq-readonly; " ..
      "grep -E '^Seccomp:' /proc/self/status; grep 'Max core' /proc/self/limits | tr -s ' '; " ..
      "unshare -U true 2>/dev/null && echo userns-ok || echo userns-denied" }
    -- Landlock has no OCI equivalent: an error, or dropped with a warning
    local ok, e = pcall(isol.oci.config, r, { argv = argv })
    assert.is_false(ok)
    assert.truthy(e:find("landlock: OCI runtime-spec has no Landlock rules", 1, true), e)
    local cgname = "isol-oci-u-" .. isol.core.getpid()
    local dir, warnings = export(r, { argv = argv, lossy = true, cgroups_path = cgname })
    local c = config(dir)
    assert.is_nil(c.process.capabilities) -- every set empty
    assert.is_true(c.process.noNewPrivileges)
    assert.equal(false, c.linux.resources.devices[1].allow) -- deny all first
    assert.truthy(#c.linux.resources.devices > 3)
    -- /proc's hardening: the very lists isol's C core applies
    local masked, ro = isol.core.proc_hardening()
    assert.same(masked, c.linux.maskedPaths)
    assert.same(ro, c.linux.readonlyPaths)
    assert.truthy(#masked > 0 and #ro > 0)
    assert.is_true(c.linux.uidMappings[1].hostID ~= 0)
    assert.truthy(table.concat(warnings, "\n"):find("landlock: dropped", 1, true))
    assert.equal("SCMP_ACT_ALLOW", c.linux.seccomp.defaultAction)
    local found
    for _, sc in ipairs(c.linux.seccomp.syscalls) do
      for _, name in ipairs(sc.names) do if name == "keyctl" then found = sc end end
    end
    assert.equal("SCMP_ACT_ERRNO", found.action)
    assert.equal(1, found.errnoRet)
    local id = "isolspec-untr-" .. isol.core.getpid()
    -- the masking probe needs a /proc/timer_list with content to hide
    assert.truthy(#(h.read("/proc/timer_list") or "") > 0, "this kernel has no /proc/timer_list")
    local out = runtime_run(runtime(), dir, id)
    assert.equal("CapEff:\t0000000000000000\nuntrusted\nnull-ok\ntimer_list-masked\nsysrq-readonly\nSeccomp:\t2\n" ..
      "Max core file size 0 0 bytes \nuserns-denied\n", out)
    assert_same_as_isol(r, argv, out)
    assert_gone(runtime(), id)
    assert.equal("", (h.sh("find /sys/fs/cgroup -maxdepth 8 -type d -name " .. cgname .. " 2>/dev/null")))
  end)

  it("a deny in limits.devices really denies, the runtime's other default devices stay allowed", function()
    local r = { namespaces = { "pid", "mount", "uts" }, root = isol.recipes.host_readonly(),
      limits = { devices = { deny = { "/dev/full" } } } }
    local argv = { "/bin/sh", "-c", "(echo x > /dev/full) 2>/dev/null && echo full-open || echo full-denied; " ..
      "echo y > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; " ..
      "test -c /dev/full && echo full-node" }
    local dir = export(r, { argv = argv })
    local c = config(dir)
    -- runc appends its default allow rules after the bundle's unless the
    -- bundle lists those devices itself
    local paths = {}
    for _, d in ipairs(c.linux.devices) do paths[#paths + 1] = d.path end
    assert.same({ "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty" }, paths)
    local id = "isolspec-dev-" .. isol.core.getpid()
    local out = runtime_run(runtime(), dir, id)
    assert.equal("full-denied\nnull-ok\n4\n4\nfull-node\n", out)
    assert_same_as_isol(r, argv, out)
    assert_gone(runtime(), id)
  end)
end

describe("OCI export #root", function()
  setup(function()
    if runc == "" then error("runc is not installed (Debian runc): .ci/deps installs it") end
  end)

  three_bundles(function() return runc end, false)

  it("root.dir is the bundle's root in place: a directory with /bin/sh and its libraries runs", function()
    local rd = tmp .. "/rootdir"
    local sh = (h.sh("readlink -f /bin/sh")):gsub("%s+$", "")
    -- /bin/sh and what ldd lists (the loader and libc), at their host paths
    local files = { sh }
    for lib in h.sh("ldd " .. h.shq(sh)):gmatch("(/%S+)") do files[#files + 1] = lib end
    for _, f in ipairs(files) do
      local _, ok = h.sh(string.format("mkdir -p %s && cp -L %s %s", h.shq(rd .. f:match("^(.*)/")), h.shq(f),
        h.shq(rd .. f)))
      assert(ok, "copying " .. f)
    end
    if sh ~= "/bin/sh" then h.sh(string.format("mkdir -p %s/bin && ln -sf %s %s/bin/sh", h.shq(rd), sh, h.shq(rd))) end
    h.sh("chmod -R a+rX " .. h.shq(rd))
    local r = { namespaces = { "pid", "mount", "uts" }, hostname = "dirbox", root = { dir = rd,
      mounts = { { type = "proc", target = "/proc" }, { type = "dev", target = "/dev" },
        { type = "dir", target = "/work" } } } }
    local argv = { "/bin/sh", "-c",
      "cd / && echo *; test -c /dev/null && echo dev-ok; test -d /proc/self && echo proc-ok" }
    local dir = export(r, { argv = argv })
    local c = config(dir)
    assert.equal(rd, c.root.path)
    assert.is_nil(isol.core.lstat(dir .. "/rootfs"), "nothing copied: no rootfs in the bundle")
    assert.equal("dir", isol.core.lstat(rd .. "/work"))
    local out = runc_run(dir, "isolspec-dir-" .. isol.core.getpid())
    assert.truthy(out:find("^bin dev .*work\ndev%-ok\nproc%-ok\n$"), out)
    assert_same_as_isol(r, argv, out)
  end)

  it("an image mount or root.image is refused with what to do instead, or dropped with a warning", function()
    local img <close> = assert(isol.image.create(tmp .. "/data.img", { size = "4M" }))
    local r1 = { namespaces = { "mount" }, root = isol.recipes.host_readonly(), command = { "/bin/true" },
      mounts = { { type = "image", image = img, target = "/data" } } }
    local ok, err = pcall(isol.oci.config, r1)
    assert.is_false(ok)
    assert.truthy(err:find("mounts[1]: an image mount has no OCI equivalent", 1, true), err)
    assert.truthy(err:find("mount -o loop,ro " .. tmp .. "/data.img DIR", 1, true), err)
    assert.truthy(err:find('{ type = "bind", source = DIR, target = "/data", readonly = true }', 1, true), err)
    local r2 = { namespaces = { "mount" }, root = { image = img }, command = { "/bin/true" } }
    ok, err = pcall(isol.oci.config, r2)
    assert.is_false(ok)
    assert.truthy(err:find("root.image: an image root has no OCI equivalent", 1, true), err)
    assert.truthy(err:find("use root = { dir = DIR, readonly = true }", 1, true), err)
    local _, warnings = isol.oci.config(r1, { lossy = true })
    assert.truthy(table.concat(warnings, "\n"):find("mounts[1]: dropped: an image mount", 1, true))
  end)

  it("isol export --lossy prints every dropped item; without it the first one is an error", function()
    local rf = tmp .. "/lossy.lua"
    local f = assert(io.open(rf, "w"))
    f:write('return { namespaces = { "mount", "uts", "time" }, time = { monotonic = 10 }, domainname = "d", ' ..
      'hostname = "h", command = { "/bin/true" } }')
    f:close()
    local out, ok = h.sh(string.format("%s/bin/isol export --oci %s %s 2>&1", h.root, h.shq(tmp .. "/lossy1"), rf))
    assert.is_falsy(ok)
    assert.truthy(out:find('namespaces: a "time" namespace is not in OCI runtime-spec 1.0', 1, true), out)
    assert.truthy(out:find("--lossy", 1, true), out)
    out, ok = h.sh(string.format("%s/bin/isol export --lossy --oci %s %s 2>&1 >/dev/null", h.root,
      h.shq(tmp .. "/lossy2"), rf))
    assert(ok, out)
    local dropped = {}
    for line in out:gmatch("[^\n]+") do
      local what = line:match("^isol: warning: ([%w_.]+): dropped: ")
      if what then dropped[#dropped + 1] = what end
    end
    assert.same({ "namespaces", "time", "domainname" }, dropped)
  end)

  it("propagation is the rootfs propagation; unchanged and an inherited keyring are refused or dropped", function()
    local r = { namespaces = { "mount", "uts" }, hostname = "propbox", propagation = "slave",
      root = isol.recipes.host_readonly(), command = { "/bin/hostname" } }
    local dir = export(r)
    assert.equal("rslave", config(dir).linux.rootfsPropagation)
    assert.equal("propbox\n", runc_run(dir, "isolspec-prop-" .. isol.core.getpid()))
    for field, value in pairs { propagation = "unchanged", session_keyring = "inherit" } do
      local r2 = { namespaces = { "mount" }, command = { "/bin/true" }, [field] = value }
      local ok, err = pcall(isol.oci.config, r2)
      assert.is_false(ok)
      assert.truthy(err:find(field .. ': "' .. value .. '"', 1, true), err)
      local _, warnings = isol.oci.config(r2, { lossy = true })
      assert.truthy(table.concat(warnings, "\n"):find(field .. ": dropped: ", 1, true))
    end
  end)

  it("what has no OCI equivalent is an error naming the field, or a warning with lossy", function()
    local r = { namespaces = { "mount", "time" }, time = { monotonic = 10 }, command = { "/bin/true" } }
    local ok, err = pcall(isol.oci.config, r)
    assert.is_false(ok)
    assert.truthy(err:find('namespaces: a "time" namespace is not in OCI runtime-spec 1.0', 1, true), err)
    local cfg, warnings = isol.oci.config(r, { lossy = true })
    assert.truthy(cfg.linux)
    local text = table.concat(warnings, "\n")
    assert.truthy(text:find("namespaces: dropped", 1, true), text)
    assert.truthy(text:find("time: dropped", 1, true), text)
    local ok2, err2 = pcall(isol.oci.config,
      { root = { mode = "chroot" }, namespaces = { "mount" }, command = { "x" } })
    assert.is_false(ok2)
    assert.truthy(err2:find("root.mode", 1, true), err2)
    local ok3, err3 = pcall(isol.oci.config, { limits = { ["memory.oom_control"] = 1 }, command = { "x" } })
    assert.is_false(ok3)
    assert.truthy(err3:find("limits: raw", 1, true), err3)
  end)

  it("isol export --help names every option; bad usage exits 2", function()
    local out, ok = h.sh(h.root .. "/bin/isol export --help 2>&1")
    assert(ok, out)
    for _, opt in ipairs { "--oci DIR", "--lossy", "--force", "--cgroups-path PATH", "runc run -b", "crun run -b" } do
      assert.truthy(out:find(opt, 1, true), opt .. " missing from:\n" .. out)
    end
    local _, _, code = h.sh(h.root .. "/bin/isol export --oci 2>&1")
    assert.equal(2, code)
    _, _, code = h.sh(h.root .. "/bin/isol export --bogus x 2>&1")
    assert.equal(2, code)
  end)

  it("isol export refuses a non-empty directory and writes a bundle with the CLI", function()
    local dir = tmp .. "/cli"
    local rf = tmp .. "/r.lua"
    local f = assert(io.open(rf, "w"))
    f:write('return { namespaces = { "uts" }, hostname = "clibox", command = { "/bin/hostname" } }')
    f:close()
    local out, ok = h.sh(string.format("%s/bin/isol export --oci %s %s 2>&1", h.root, dir, rf))
    assert(ok, out)
    assert.truthy(out:find("wrote " .. dir .. "/config.json", 1, true), out)
    out, ok = h.sh(string.format("%s/bin/isol export --oci %s %s 2>&1", h.root, dir, rf))
    assert.is_falsy(ok)
    assert.truthy(out:find("not empty", 1, true), out)
    -- an uts-only recipe gets the host's / read-only as its root: runc runs it
    out = runc_run(dir, "isolspec-cli-" .. isol.core.getpid())
    assert.equal("clibox\n", out)
  end)
end)

-- The same three bundles run with crun in the cgroup-v2 VM (spec/vm/run,
-- `make vm-test`; the host suite excludes #vm): the VM's root is the host's /
-- (read-only over 9p), so the host's crun and its libraries are there.
describe("OCI export with crun in the cgroup-v2 VM #vm #v2", function()
  local crun = ""
  setup(function()
    crun = (h.sh("command -v crun")):gsub("%s+$", "")
    if crun == "" then error("crun is not installed (Debian crun): .ci/deps installs it") end
  end)
  teardown(function() h.sh("rm -rf " .. h.shq(tmp)) end)

  three_bundles(function() return crun end, true)
end)
