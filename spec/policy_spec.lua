-- Policy: seccomp filters (libseccomp, every ABI), rlimits, Landlock,
-- timeouts, as recipe fields; untrusted uses them. The syscall probes come
-- from spec/policy/sysprobe.c, compiled here.
local isol = require "isol"
local h = require "support.helpers"
local leak = require "support.leak"

local EPERM, ENOSYS = 1, 38

local dir, probe
local function compile_probe()
  if probe then return probe end
  dir = os.tmpname()
  os.remove(dir)
  local _, made = h.sh("mkdir -p " .. h.shq(dir))
  assert(made, "mkdir " .. dir)
  probe = dir .. "/sysprobe"
  local ok = os.execute(string.format("cc -O2 -o %s %s 2>&1", h.shq(probe),
    h.shq(h.root .. "/spec/policy/sysprobe.c")))
  assert(ok, "cc spec/policy/sysprobe.c")
  return probe
end

-- Run the probe under recipe r; returns { name = "ok" | errno number }.
local function probes(r, ...)
  local argv = { compile_probe(), ... }
  local st, out, err = isol.run(r, argv, { capture = true })
  assert(st, out)
  assert.are.same({ code = 0 }, st, err)
  local res = {}
  for name, v in out:gmatch("(%S+) (%S+)\n") do
    res[name] = v == "ok" and "ok" or tonumber(v:match("errno=(%d+)"))
  end
  return res
end

local function sh(r, script)
  local st, out, err = isol.run(r, { "/bin/sh", "-c", script }, { capture = true })
  assert(st, out)
  return st, out, err
end

local function with(base, extra)
  local r = {}
  for k, v in pairs(base) do r[k] = v end
  for k, v in pairs(extra) do r[k] = v end
  return r
end

describe("policy #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)
  teardown(function()
    if dir then os.execute("rm -rf " .. h.shq(dir)) end
  end)

  for _, init in ipairs { false, true } do
    local base = { namespaces = { "pid" }, init = init }
    local tag = init and " (under isol's init)" or " (init = false)"

    describe("seccomp" .. tag, function()
      it("default: keyctl, bpf and perf_event_open fail with EPERM; unfiltered they do not", function()
        local names = { "keyctl", "bpf", "perf_event_open" }
        local free = probes(base, table.unpack(names))
        local filtered = probes(with(base, { seccomp = { profile = "default" } }), table.unpack(names))
        for _, n in ipairs(names) do
          assert.are_not.equal(EPERM, free[n], n .. " without a filter")
          assert.are.equal(EPERM, filtered[n], n .. " under default")
        end
      end)

      it("default: an allowed call still works, and allow = {...} lifts a denial", function()
        local res = probes(with(base, { seccomp = "default" }), "getpid", "keyctl")
        assert.are.equal("ok", res.getpid)
        assert.are.equal(EPERM, res.keyctl)
        res = probes(with(base, { seccomp = { allow = { "keyctl" } } }), "keyctl")
        assert.are.equal("ok", res.keyctl)
        local st, out = sh(with(base, { seccomp = "default" }), "echo hello | tr a-z A-Z")
        assert.are.same({ code = 0 }, st)
        assert.are.equal("HELLO\n", out)
      end)

      it("default: ADDR_NO_RANDOMIZE personality and TIOCSTI are denied", function()
        -- (without a seccomp field TIOCSTI is denied too: the control allows it)
        local free = probes(with(base, { seccomp = { profile = "none", tiocsti = true } }), "personality", "tiocsti")
        local res = probes(with(base, { seccomp = "default" }), "personality", "tiocsti")
        assert.are.equal("ok", free.personality)
        assert.are.equal(EPERM, res.personality)
        assert.are_not.equal(EPERM, free.tiocsti) -- ENOTTY: stdin is not a tty
        assert.are.equal(EPERM, res.tiocsti)
        -- no seccomp field at all: only the terminal filter
        local bare = probes(base, "personality", "tiocsti")
        assert.are.equal("ok", bare.personality)
        assert.are.equal(EPERM, bare.tiocsti)
      end)

      it("filters the i386 entry (int $0x80) too", function()
        local free = probes(base, "getpid32", "keyctl32")
        if free.getpid32 ~= "ok" then
          pending("this kernel does not run i386 code (no IA32 emulation): " .. tostring(free.getpid32))
          return
        end
        assert.are.equal("ok", free.keyctl32)
        local res = probes(with(base, { seccomp = "default" }), "getpid32", "keyctl32")
        assert.are.equal("ok", res.getpid32)
        assert.are.equal(EPERM, res.keyctl32)
      end)

      it("the terminal filter every sandbox gets denies TIOCSTI through each entry: x86_64, i386, x32", function()
        -- (written out in csrc/seccomp.c rather than compiled by libseccomp)
        local entries = { "tiocsti", "tiocsti32", "tiocsti_x32" }
        local free = probes(with(base, { seccomp = { profile = "none", tiocsti = true } }), table.unpack(entries))
        local bare = probes(base, table.unpack(entries))
        assert.are_not.equal(EPERM, free.tiocsti)
        assert.are.equal(EPERM, bare.tiocsti)
        for _, e in ipairs { "tiocsti32", "tiocsti_x32" } do
          if free[e] == ENOSYS then
            -- the call fails with the filter too (the filter may answer first)
            print(string.format("  (%s: this kernel does not run that ABI: ENOSYS without the filter)", e))
            assert.is_true(bare[e] == ENOSYS or bare[e] == EPERM, tostring(bare[e]))
          else
            assert.are_not.equal(EPERM, free[e])
            assert.are.equal(EPERM, bare[e], e)
          end
        end
        -- and the other calls still go through
        local control = probes(with(base, { seccomp = { profile = "none", tiocsti = true } }), "getpid32")
        assert.are.same({ getpid = "ok", getpid32 = control.getpid32 }, probes(base, "getpid", "getpid32"))
      end)

      it("nested_userns = false: unshare -U fails; by default it works", function()
        local st = sh(with(base, { seccomp = { nested_userns = true } }), "unshare -U true")
        assert.are.same({ code = 0 }, st)
        local st2, _, err = sh(with(base, { seccomp = { profile = "none", nested_userns = false } }),
          "unshare -U true")
        assert.are_not.equal(0, st2.code)
        assert.matches("Operation not permitted", err)
        -- clone3 is answered ENOSYS, so libc falls back to clone, whose flags are checked
        st2 = sh(with(base, { seccomp = { nested_userns = false } }), "unshare -U true")
        assert.are_not.equal(0, st2.code)
      end)

      it("errno = \"ENOSYS\" and deny = {...}", function()
        local res = probes(with(base, { seccomp = { errno = "ENOSYS", deny = { "getpid" } } }),
          "keyctl", "getpid")
        assert.are.equal(ENOSYS, res.keyctl)
        assert.are.equal(ENOSYS, res.getpid)
      end)

      it("log = true lets denied calls through (logged); sys_admin lifts the mount/namespace denials", function()
        assert.are.equal("ok", probes(with(base, { seccomp = { log = true } }), "keyctl").keyctl)
        local st = sh(with(base, { seccomp = "default" }), "unshare -m true")
        assert.are_not.equal(0, st.code)
        -- (the filter no longer denies it; the capability is still needed)
        st = sh(with(base, { seccomp = { sys_admin = true }, caps = { keep = { "SYS_ADMIN" } } }), "unshare -m true")
        assert.are.same({ code = 0 }, st)
      end)

      it("action = \"kill\" ends the process with SIGSYS", function()
        local st = isol.run(with(base, { seccomp = { action = "kill" } }), { compile_probe(), "keyctl" },
          { capture = true })
        assert.are.equal("SIGSYS", st.signal)
      end)

      it("strict: sh, coreutils and python3 -c work; keyctl and sockets do not", function()
        local r = with(base, { seccomp = "strict" })
        local st, out, err = sh(r, "ls / >/dev/null && printf '%s\\n' a b | sort -r | head -1 && "
          .. "date +%Y >/dev/null && python3 -c 'print(sum(range(10)))'")
        assert.are.same({ code = 0 }, st, err)
        assert.are.equal("b\n45\n", out)
        assert.are.same({ keyctl = EPERM, tiocsti = EPERM, getpid = "ok" }, probes(r, "keyctl", "tiocsti", "getpid"))
        local _, o2 = sh(r, "python3 -c 'import socket\ntry:\n socket.socket()\nexcept OSError as e: print(e.errno)'")
        assert.are.equal("1\n", o2)
      end)
    end)

    describe("rlimits and Landlock" .. tag, function()
      it("/proc/self/limits shows each rlimit", function()
        local r = with(base, { rlimits = { nofile = 77, nproc = { soft = 900, hard = 1000 }, core = 0,
          cpu = 50, as = "3G", fsize = "5M", stack = "6M", memlock = "64K", msgqueue = 4096, nice = 0,
          rtprio = 0 } })
        local want = {
          ["Max open files"] = { "77", "77" }, ["Max processes"] = { "900", "1000" },
          ["Max core file size"] = { "0", "0" }, ["Max cpu time"] = { "50", "50" },
          ["Max address space"] = { "3221225472", "3221225472" },
          ["Max file size"] = { "5242880", "5242880" }, ["Max stack size"] = { "6291456", "6291456" },
          ["Max locked memory"] = { "65536", "65536" }, ["Max msgqueue size"] = { "4096", "4096" },
          ["Max nice priority"] = { "0", "0" }, ["Max realtime priority"] = { "0", "0" },
        }
        if os.getenv("ISOL_ASAN") then
          -- ASan (preloaded into the sandbox too) reserves terabytes of
          -- address space: an RLIMIT_AS of 3G would stop it, not the test
          r.rlimits.as, want["Max address space"] = nil, nil
        end
        local st, out = sh(r, "cat /proc/self/limits")
        assert.are.same({ code = 0 }, st)
        for label, v in pairs(want) do
          local soft, hard = out:match(label .. "%s+(%S+)%s+(%S+)")
          assert.are.same(v, { soft, hard }, label)
        end
      end)

      it("Landlock bind_tcp allows its ports only (ABI 4)", function()
        local abi = isol.core.landlock_abi()
        if not abi or abi < 4 then pending("Landlock ABI 4 needed, this kernel has " .. tostring(abi)) return end
        local r = with(base, { namespaces = { "pid", "net" }, landlock = { bind_tcp = { 8766 } } })
        local py = "import socket\nfor p in (8766, 8765):\n s = socket.socket()\n try:\n  s.bind(('127.0.0.1', p)); "
          .. "print(p, 'ok')\n except OSError as e: print(p, e.errno)"
        local st, out, err = sh(r, "python3 -c " .. h.shq(py))
        assert.are.same({ code = 0 }, st, err)
        assert.are.equal("8766 ok\n8765 13\n", out)
      end)

      it("Landlock exec: programs run only from its paths", function()
        local r = with(base, { landlock = { exec = { "/usr", "/bin" } } })
        local st, out, err = sh(r, "/bin/echo from-usr; " .. compile_probe() .. " getpid || echo denied")
        assert.are.same({ code = 0 }, st, err)
        assert.are.equal("from-usr\ndenied\n", out)
        assert.matches("Permission denied", err)
      end)

      it("a Landlock path missing inside the sandbox is a spawn error naming it", function()
        local st, msg, code = isol.run(with(base, { landlock = { write = { "/nonexistent-isol-ll" } } }),
          { "/bin/true" })
        assert.is_nil(st)
        assert.are.equal("landlock write /nonexistent-isol-ll: No such file or directory", msg)
        assert.are.equal(2, code)
      end)

      it("a Landlock rule denies a write outside its paths and allows one inside", function()
        local inside, outside = os.tmpname(), os.tmpname()
        os.remove(inside); os.remove(outside)
        local _, made = h.sh("mkdir -p " .. h.shq(inside) .. " " .. h.shq(outside))
        assert(made, "mkdir")
        local ok, e = pcall(function()
          local st, out, err = sh(with(base, { landlock = { write = { inside } } }),
            string.format("echo in > %s/f && echo in-ok; echo out > %s/f || echo out-denied; cat %s/f",
              inside, outside, inside))
          assert.are.same({ code = 0 }, st, err)
          assert.are.equal("in-ok\nout-denied\nin\n", out)
          assert.matches("Permission denied", err)
          assert.is_nil(io.open(outside .. "/f"))
        end)
        os.execute("rm -rf " .. h.shq(inside) .. " " .. h.shq(outside))
        assert(ok, e)
      end)
    end)
  end

  it("the filter is compiled once per sandbox and closed with it", function()
    local box = isol.sandbox { namespaces = { "pid" }, seccomp = "default" }
    assert.are.same({ code = 0 }, box:run { "/bin/true" })
    local f = box.seccomp
    assert.matches("^isol.Seccomp %(%d+ instructions%)", tostring(f))
    assert.are.same({ code = 0 }, box:run { "/bin/true" })
    assert.are.equal(f, box.seccomp)
    box:close()
    assert.are.equal("isol.Seccomp (closed)", tostring(f))
  end)

  it("cpu_timeout stops a busy loop with SIGXCPU", function()
    local st = isol.run({ cpu_timeout = 1 }, { "/bin/sh", "-c", "while :; do :; done" })
    assert.are.equal("SIGXCPU", st.signal)
  end)

  -- Enforced by isol's init (core branch: plan.timeout_ms). Before that
  -- branch is merged the init ignores timeout_ms and this spec is pending.
  it("timeout = 0.5 ends sleep 100 within seconds with timeout = true (needs the core merge)", function()
    local box <close> = isol.sandbox { namespaces = { "pid" }, timeout = 0.5 }
    local p <close> = assert(box:spawn { "sleep", "100" })
    local t0 = isol.core.now()
    local st
    repeat
      st = p:poll()
      if not st then os.execute("sleep 0.1") end
    until st or isol.core.now() - t0 > 8
    if not st then
      p:kill()
      p:wait()
      pending("timeout is not enforced yet: isol's init gets plan.timeout_ms from the core branch")
      return
    end
    assert.is_true(st.timeout)
    assert.are.equal("SIGKILL", st.signal)
    assert.is_true(isol.core.now() - t0 < 8)
  end)

  it("a sweep varies rlimits.nofile", function()
    local rows = isol.sweep { recipe = {}, command = { "/bin/sh", "-c", "exit $(( $(ulimit -n) / 64 ))" },
      vary = { ["rlimits.nofile"] = { 64, 1024 } } }
    local codes = {}
    for _, row in ipairs(rows) do codes[row.vary["rlimits.nofile"]] = row.status.code end
    assert.are.same({ [64] = 1, [1024] = 16 }, codes)
  end)

  it("untrusted: default filter, no nested user namespaces, no core dumps, Landlock on /tmp", function()
    local r = isol.recipe.extend(require "isol.recipes.untrusted" (), {
      mounts = { { type = "bind", source = (compile_probe():match("^(.*)/")), target = "/tmp/probe",
        readonly = true } } })
    probe = "/tmp/probe/sysprobe" -- as the sandbox sees it
    local ok, res = pcall(probes, r, "keyctl", "bpf", "getpid")
    probe = dir .. "/sysprobe"
    assert(ok, res)
    assert.are.same({ keyctl = EPERM, bpf = EPERM, getpid = "ok" }, res)
    local st, out = sh(r, "ulimit -c; unshare -U true 2>/dev/null || echo no-userns; "
      .. "echo x > /tmp/f && cat /tmp/f")
    assert.are.same({ code = 0 }, st)
    assert.are.equal("0\nno-userns\nx\n", out)
  end)

  it("isol check reports seccomp with the libseccomp version, the Landlock ABI and rlimits", function()
    local out = h.lua('os.exit(require("isol.cli.check").run())')
    local ver = isol.core.seccomp_version()
    assert.matches("seccomp filters%s+yes%s+libseccomp " .. ver:gsub("%.", "%%."), out)
    assert.matches("landlock%s+yes%s+ABI " .. isol.core.landlock_abi(), out)
    assert.matches("rlimits %(prlimit%)%s+yes", out)
  end)

  describe("validation names the field and the value", function()
    local cases = {
      { { seccomp = { deny = { "keyctl", "nosuchcall" } } }, 'seccomp.deny%[2%]: unknown syscall "nosuchcall"' },
      { { seccomp = { profile = "tight" } }, 'seccomp.profile: .*"tight"' },
      { { seccomp = { errno = "EWHAT" } }, 'seccomp.errno: .*"EWHAT"' },
      { { seccomp = { errno = 5000 } }, "seccomp.errno: .*5000" },
      { { seccomp = { allow = { "kill" }, deny = { "kill" } } }, 'seccomp.allow%[1%]: "kill" is also in deny' },
      { { seccomp = { log = true, action = "kill" } }, "seccomp.log" },
      { { seccomp = { bogus = 1 } }, "seccomp.bogus: unknown field" },
      { { rlimits = { nofile = { soft = 10, hard = 5 } } }, "rlimits.nofile: soft limit 10 above the hard limit 5" },
      { { rlimits = { nofile = -3 } }, "rlimits.nofile: .*%-3" },
      { { rlimits = { as = "lots" } }, 'rlimits.as: .*"lots"' },
      { { rlimits = { rtprio = 200 } }, "rlimits.rtprio: expected 0..99, got 200" },
      { { rlimits = { files = 3 } }, "rlimits.files: unknown field" },
      { { landlock = { write = { "tmp" } } }, 'landlock.write%[1%]: .*"tmp"' },
      { { landlock = { bind_tcp = { 70000 } } }, "landlock.bind_tcp%[1%]: .*70000" },
      { { landlock = { read = "/" } }, "landlock.read: expected table" },
      { { timeout = 0 }, "timeout: expected seconds > 0, got 0" },
      { { timeout = math.huge }, "timeout: expected seconds > 0" },
      { { cpu_timeout = -1 }, "cpu_timeout: expected seconds > 0" },
      { { cpu_timeout = 5, rlimits = { cpu = 3 } }, "cpu_timeout: rlimits.cpu is set too" },
    }
    for _, c in ipairs(cases) do
      it(c[2], function()
        local ok, err = pcall(isol.sandbox, c[1])
        assert.is_false(ok)
        assert.matches(c[2], err)
      end)
    end

    it("a function returning the table is accepted", function()
      local box <close> = isol.sandbox { seccomp = function() return { profile = "strict" } end }
      assert.are.equal("strict", box.recipe.seccomp.profile)
    end)

    it("the core refuses a seccomp table that was not compiled (no silent unfiltered run)", function()
      local ok, err = pcall(isol.core.spawn, { argv = { "/bin/true" }, seccomp = { profile = "default" } })
      assert.is_false(ok)
      assert.matches("plan.seccomp: expected an isol.Seccomp", err)
    end)
  end)
end)
