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

local function runc_run(dir, id)
  return h.sh(string.format("cd %s && timeout 30 %s run -b %s %s 2>&1", h.shq(dir), runc, h.shq(dir), id))
end

local function isol_out(r, argv)
  local st, out, err = isol.run(r, argv, { capture = true })
  assert(st, out)
  return out .. (err or ""), st
end

describe("OCI export #root", function()
  setup(function()
    if runc == "" then error("runc is not installed (Debian runc): .ci/deps installs it") end
  end)
  teardown(function() h.sh("rm -rf " .. h.shq(tmp)) end)

  it("plain namespaces: config.json maps them, and runc prints what isol run prints", function()
    local r = { namespaces = { "user", "pid", "mount", "uts", "ipc" }, user = { map_root = true }, hostname = "plainbox",
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
    local out = runc_run(dir, "isolspec-plain-" .. isol.core.getpid())
    local want = isol_out(r, argv)
    assert.equal(want, out)
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
    local f = io.popen(string.format("cd %s && timeout 30 %s run -b %s %s 2>&1", h.shq(dir), runc, h.shq(dir), id))
    -- find the container's first process while it sleeps, then its cgroup files
    local pid
    for _ = 1, 50 do
      local s = h.sh(runc .. " state " .. id .. " 2>/dev/null")
      local ok, st = pcall(cjson.decode, s)
      if ok and type(st) == "table" and st.status == "running" and st.pid then pid = math.tointeger(st.pid) break end
      os.execute("sleep 0.1")
    end
    assert(pid, "the container never ran")
    local files = {}
    for line in io.lines("/proc/" .. pid .. "/cgroup") do
      local ctrl, path = line:match("^%d+:([^:]*):(.*)$")
      for c1 in (ctrl or ""):gmatch("[^,]+") do files[c1] = path end
    end
    local function read(ctrl, file)
      return (h.read("/sys/fs/cgroup/" .. ctrl .. files[ctrl] .. "/" .. file) or ""):gsub("%s+$", "")
    end
    assert.truthy(files.memory:find(cgname, 1, true), files.memory)
    assert.equal(tostring(64 * 1024 * 1024), read("memory", "memory.limit_in_bytes"))
    assert.equal("32", read("pids", "pids.max"))
    assert.equal("50000", read("cpu", "cpu.cfs_quota_us"))
    assert.equal("512", read("cpu", "cpu.shares"))
    local out = f:read("a")
    f:close()
    assert.equal("limbox\ndone\n", out)
    -- nothing left: the runtime's cgroups and its state
    for ctrl, path in pairs(files) do
      if path:find(cgname, 1, true) then
        assert.is_nil(isol.core.lstat("/sys/fs/cgroup/" .. ctrl .. path), ctrl .. path .. " left behind")
      end
    end
    assert.equal("", (h.sh(runc .. " list -q | grep -x " .. id)))
  end)

  it("untrusted: no capabilities, seccomp, rlimits, the devices allow-list, hardened /proc, root not host root", function()
    local r = isol.recipes.untrusted()
    local argv = { "/bin/sh", "-c", "grep CapEff /proc/self/status; hostname; echo x > /dev/null && echo null-ok; " ..
      "head -c1 /proc/kcore >/dev/null 2>&1 && echo kcore-readable || echo kcore-masked; " ..
      "grep -E '^Seccomp:' /proc/self/status; grep 'Max core' /proc/self/limits | tr -s ' '; " ..
      "unshare -U true 2>/dev/null && echo userns-ok || echo userns-denied" }
    -- Landlock has no OCI equivalent: an error, or dropped with a warning
    local ok, e = pcall(isol.oci.config, r, { argv = argv })
    assert.is_false(ok)
    assert.truthy(e:find("landlock: OCI runtime-spec has no Landlock rules", 1, true), e)
    local dir, warnings = export(r, { argv = argv, lossy = true, cgroups_path = "isol-oci-u-" .. isol.core.getpid() })
    local c = config(dir)
    assert.is_nil(c.process.capabilities) -- every set empty
    assert.is_true(c.process.noNewPrivileges)
    assert.equal(false, c.linux.resources.devices[1].allow) -- deny all first
    assert.truthy(#c.linux.resources.devices > 3)
    assert.truthy(#c.linux.maskedPaths > 0 and #c.linux.readonlyPaths > 0)
    assert.is_true(c.linux.uidMappings[1].hostID ~= 0)
    assert.truthy(table.concat(warnings, "\n"):find("landlock: dropped", 1, true))
    assert.equal("SCMP_ACT_ALLOW", c.linux.seccomp.defaultAction)
    local found
    for _, sc in ipairs(c.linux.seccomp.syscalls) do
      for _, name in ipairs(sc.names) do if name == "keyctl" then found = sc end end
    end
    assert.equal("SCMP_ACT_ERRNO", found.action)
    assert.equal(1, found.errnoRet)
    local out = runc_run(dir, "isolspec-untr-" .. isol.core.getpid())
    assert.equal("CapEff:\t0000000000000000\nuntrusted\nnull-ok\nkcore-masked\nSeccomp:\t2\n" ..
      "Max core file size 0 0 bytes \nuserns-denied\n", out)
    local want = isol_out(r, argv)
    assert.equal(want, out)
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
    local ok2, err2 = pcall(isol.oci.config, { root = { mode = "chroot" }, namespaces = { "mount" }, command = { "x" } })
    assert.is_false(ok2)
    assert.truthy(err2:find("root.mode", 1, true), err2)
    local ok3, err3 = pcall(isol.oci.config, { limits = { ["memory.oom_control"] = 1 }, command = { "x" } })
    assert.is_false(ok3)
    assert.truthy(err3:find("limits: raw", 1, true), err3)
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
