-- `isol run` as a supervisor: signals, terminals, exit status, status JSON
-- and recipes from the command line, for both launchers (bin/isol, the Lua
-- script, and build/bin/isol, the native launcher). Terminal behaviour is
-- driven through a pseudo-terminal the spec makes (python3's pty module).
local h = require "support.helpers"
local leak = require "support.leak"

-- A pty driver: runs argv on a new pty, plays the steps (expect TEXT
-- [timeout], send TEXT, sleep S, winsize ROWS COLS), then prints everything
-- the pty showed and "<<rc=N ok=BOOL>>".
local DRIVER = [[
import os, pty, sys, json, time, select, struct, fcntl, termios
steps = json.loads(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b""
def read_until(pat, timeout):
    global buf
    end = time.time() + timeout
    while pat.encode() not in buf:
        left = end - time.time()
        if left <= 0: return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try: d = os.read(fd, 4096)
            except OSError: return False
            if not d: return False
            buf += d
    return True
ok = True
for st in steps:
    if st[0] == "expect":
        if not read_until(st[1], st[2] if len(st) > 2 else 10): ok = False; break
    elif st[0] == "send": os.write(fd, st[1].encode())
    elif st[0] == "sleep": time.sleep(st[1])
    elif st[0] == "winsize":
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", st[1], st[2], 0, 0))
while True:
    r, _, _ = select.select([fd], [], [], 10)
    if not r: break
    try: d = os.read(fd, 4096)
    except OSError: break
    if not d: break
    buf += d
r = os.waitpid(pid, os.WNOHANG)
if r == (0, 0):
    if not ok: os.kill(pid, 9)
    r = os.waitpid(pid, 0)
status = r[1]
sys.stdout.write(buf.decode("utf-8", "replace"))
sys.stdout.write("\n<<rc=%d ok=%s>>\n" % (os.waitstatus_to_exitcode(status), ok))
]]

local tmpdir
local function tmpfile(name, src)
  local path = tmpdir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return path
end

-- JSON for the driver's steps (strings and numbers only).
local function json(steps)
  local out = {}
  for i, st in ipairs(steps) do
    local parts = {}
    for j, v in ipairs(st) do
      if type(v) == "number" then parts[j] = tostring(v)
      else parts[j] = '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"' end
    end
    out[i] = "[" .. table.concat(parts, ",") .. "]"
  end
  return "[" .. table.concat(out, ",") .. "]"
end

-- Run a shell command line on a pty; returns the output and the exit status.
local function on_pty(steps, cmdline)
  local out = h.sh(string.format("python3 %s %s /bin/sh -c %s 2>&1", h.shq(tmpdir .. "/drive.py"),
    h.shq(json(steps)), h.shq(cmdline)))
  local rc, ok = out:match("<<rc=(%-?%d+) ok=(%a+)>>\n$")
  assert(rc, "pty driver failed: " .. out)
  return out, tonumber(rc), ok == "True"
end

local SIGNALS = { TERM = 15, HUP = 1, INT = 2, QUIT = 3, USR1 = 10, USR2 = 12, WINCH = 28 }

setup(function()
  tmpdir = h.sh("mktemp -d /tmp/isol-run-spec.XXXXXX"):gsub("%s+$", "")
  tmpfile("drive.py", DRIVER)
  tmpfile("pid.lua", 'return { namespaces = { "pid" } }')
end)
teardown(function() h.sh("rm -rf " .. h.shq(tmpdir)) end)

for _, exe in ipairs { "bin/isol", "build/bin/isol" } do
  describe(exe .. " run #root", function()
    local snap
    before_each(function() snap = leak.snapshot { dirs = { tmpdir } } end)
    after_each(function() leak.assert_clean(snap) end)

    it("forwards TERM, HUP, INT, QUIT, USR1, USR2 and WINCH to the command: its trap runs", function()
      for name in pairs(SIGNALS) do
        local out, _, code = h.sh(string.format(
          "rm -f %s/out; %s run %s/pid.lua -- /bin/sh -c 'trap \"echo got %s; exit 42\" %s; echo ready; "
          .. "while :; do sleep 0.02; done' > %s/out 2>&1 & pid=$!; "
          .. "for i in $(seq 200); do grep -q ready %s/out 2>/dev/null && break; sleep 0.02; done; "
          .. "kill -%s $pid; wait $pid; echo \"rc=$?\"; cat %s/out",
          tmpdir, exe, tmpdir, name, name, tmpdir, tmpdir, name, tmpdir))
        assert.is_nil(code and code ~= 0 and code or nil, out)
        assert.matches("rc=42\n", out, 1, true)
        assert.matches("got " .. name, out)
      end
    end)

    it("exits 128+N when the forwarded signal N killed the command", function()
      for _, name in ipairs { "TERM", "HUP", "USR1" } do
        local out = h.sh(string.format(
          "rm -f %s/out; %s run %s/pid.lua -- /bin/sh -c 'echo ready; while :; do sleep 0.02; done' "
          .. "> %s/out 2>&1 & pid=$!; "
          .. "for i in $(seq 200); do grep -q ready %s/out 2>/dev/null && break; sleep 0.02; done; "
          .. "kill -%s $pid; wait $pid; echo \"rc=$?\"", tmpdir, exe, tmpdir, tmpdir, tmpdir, name))
        assert.are.equal("rc=" .. (128 + SIGNALS[name]) .. "\n", out)
      end
    end)

    it("Ctrl-C on the caller's terminal reaches the command at once", function()
      local out, rc, ok = on_pty({ { "expect", "ready" }, { "send", "\3" } }, string.format(
        "exec %s run %s/pid.lua -- /bin/sh -c 'trap \"echo got INT; exit 3\" INT; echo ready; sleep 20 & wait'",
        exe, tmpdir))
      assert(ok, out)
      assert.matches("got INT", out)
      assert.are.equal(3, rc, out)
      -- no trap: the command dies of SIGINT, isol exits 130
      local t0 = os.time()
      out, rc, ok = on_pty({ { "expect", "ready" }, { "send", "\3" } }, string.format(
        "exec %s run %s/pid.lua -- /bin/sh -c 'echo ready; exec sleep 20'", exe, tmpdir))
      assert(ok, out)
      assert.are.equal(130, rc, out)
      assert.is_true(os.time() - t0 < 10, "Ctrl-C waited for the command to end")
    end)

    it("-t: an interactive sh -i gets job control on a new terminal", function()
      local out, rc, ok = on_pty({
        -- (the job says when it runs: dash's child ignores TERM until then)
        { "expect", "# " }, { "send", "sh -c 'echo job${x}started; exec sleep 30' &\n" },
        { "expect", "jobstarted" }, { "send", "jobs\n" }, { "expect", "Running" },
        { "send", "kill %1; wait %1; echo status=$?\n" }, { "expect", "status=143" },
        { "send", "tty; exit 5\n" },
      }, string.format("echo outer $(tty); exec %s run -t %s/pid.lua -- sh -i", exe, tmpdir))
      assert(ok, out)
      assert.are.equal(5, rc, out)
      assert.is_nil(out:find("job control turned off", 1, true), out)
      assert.matches("[1] + Running", out, 1, true)
      -- the command's terminal is a new one, not the caller's
      local outer = out:match("outer (/dev/pts/%d+)")
      local inner = out:match("tty; exit 5.-(/dev/pts/%d+)")
      assert.is_not_nil(outer, out)
      assert.is_not_nil(inner, out)
      assert.are_not.equal(outer, inner)
    end)

    it("-t: the window size follows the caller's; the terminal mode is restored", function()
      local out, rc, ok = on_pty({
        { "winsize", 30, 90 }, { "expect", "ready" }, { "winsize", 40, 100 }, { "expect", "40 100" },
        { "send", "\3" }, { "expect", "mode kept" },
      }, string.format("stty -g > %s/before; %s run -t %s/pid.lua -- /bin/sh -c "
        .. "'echo start $(stty size); trap \"stty size\" WINCH; echo ready; while :; do sleep 0.05; done'; "
        .. "echo rc=$?; stty -g | cmp -s - %s/before && echo mode kept", tmpdir, exe, tmpdir, tmpdir))
      assert(ok, out)
      assert.matches("start 30 90", out, 1, true)
      assert.matches("rc=130", out, 1, true)
      assert.are.equal(0, rc, out)
    end)

    it("-t: a reader of the output that goes away hangs the pty up; the terminal mode is restored", function()
      local out, rc, ok = on_pty({ { "expect", "mode kept" } }, string.format("exec bash -c %s",
        h.shq(string.format("stty -g > %s/before; %s run -t %s/pid.lua -- yes | head -2; "
          .. "echo isol=${PIPESTATUS[0]}; stty -g | cmp -s - %s/before && echo mode kept",
          tmpdir, exe, tmpdir, tmpdir))))
      assert(ok, out)
      assert.are.equal(0, rc, out)
      assert.matches("isol=129", out, 1, true) -- yes died of the hangup (SIGHUP)
    end)

    it("-t: TIOCSTI inside pushes into the sandbox's terminal, never the caller's", function()
      if h.read("/proc/sys/dev/tty/legacy_tiocsti") == "0\n" then
        print("skipped: TIOCSTI is disabled on this kernel (dev.tty.legacy_tiocsti = 0)")
        return
      end
      local inject = [[import fcntl, termios
for c in b"echo INJECTED\n": fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))]]
      -- (every sandbox denies TIOCSTI with a filter: the control lifts it)
      local shared = tmpfile("shared.lua", 'return { namespaces = { "pid" }, new_session = false, '
        .. 'seccomp = { profile = "none", tiocsti = true } }')
      local function outer_read(args)
        local out, _, ok = on_pty({ { "expect", "outer read" } }, string.format(
          "exec bash -c %s", h.shq(string.format("%s run %s -- python3 -c %s; read -t 2 line; "
            .. "echo \"outer read: [$line]\"", exe, args, h.shq(inject)))))
        assert(ok, out)
        return out:match("outer read: %[(.-)%]")
      end
      assert.are.equal("", outer_read("-t " .. tmpdir .. "/pid.lua"))
      -- the control: on the caller's own terminal, the injection works
      assert.are.equal("echo INJECTED", outer_read(shared))
    end)

    it("-t with a pipe as input; tty = true in a recipe does the same", function()
      local r = tmpfile("tty.lua", 'return { namespaces = { "pid" }, tty = true }')
      for _, args in ipairs { "-t " .. tmpdir .. "/pid.lua", r } do
        local out, ok = h.sh(string.format("printf 'one\\ntwo\\n' | %s run %s -- "
          .. "/bin/sh -c 'test -t 0 && echo on a tty; cat; echo done' 2>&1", exe, args))
        assert(ok, out)
        assert.matches("on a tty", out, 1, true)
        assert.matches("one\r\ntwo\r\n.*done", out)
      end
      -- more input than the pty holds, to a command that reads it late while
      -- the echo fills the other direction: relayed, no deadlock
      local out, ok = h.sh(string.format("seq 1 60000 | timeout -s KILL 60 %s run -t %s/pid.lua -- "
        .. "/bin/sh -c 'sleep 1; wc -l | sed s/^/lines=/' 2>&1 | tail -c 200", exe, tmpdir))
      assert(ok, out)
      assert.matches("lines=60000", out, 1, true)
    end)

    it("takes recipes from isol.recipes by name, with parameters; --dry-run shows the same plan", function()
      local file = tmpfile("u.lua", 'return require("isol").recipes.untrusted { memory = "64M", pids = 32 }')
      local a, ok1 = h.sh(string.format("%s run -n -r untrusted:memory=64M,pids=32 -- /bin/true 2>&1", exe))
      local b, ok2 = h.sh(string.format("%s run -n %s -- /bin/true 2>&1", exe, file))
      assert(ok1 and ok2, a .. b)
      assert.are.equal(b, a)
      assert.matches("pids.max = 32", a, 1, true)
      assert.matches("67108864", a, 1, true)
      -- and it runs
      local out, ok = h.sh(string.format("%s run -r untrusted -- /bin/sh -c 'hostname; id -u' 2>&1", exe))
      assert(ok, out)
      assert.matches("^untrusted\n", out)
      local _, code
      out, _, code = h.sh(string.format("%s run -r no_such_recipe -- true 2>&1", exe))
      assert.are.equal(125, code)
      assert.matches('no recipe "no_such_recipe" in isol.recipes (known: ', out, 1, true)
      assert.matches("untrusted", out, 1, true)
      out = h.sh(string.format("cd / && %s/%s run -r untrustd -- true 2>&1", h.root, exe))
      assert.matches('did you mean "untrusted"?', out, 1, true)
      out, _, code = h.sh(string.format("%s run -r untrusted:bogus=1 -- true 2>&1", exe))
      assert.are.equal(125, code)
      assert.matches("untrusted.bogus: unknown field", out, 1, true)
    end)

    it("maps quick flags onto recipe fields, alone or over a recipe file", function()
      local src = tmpdir .. "/src"
      h.sh("mkdir -p " .. src .. " && echo hello > " .. src .. "/f")
      local out, ok = h.sh(string.format("%s run --ns pid --hostname qbox --net --ro-bind %s /mnt "
        .. "--tmpfs /srv:1M --env QUICK=yes -- /bin/sh -c "
        .. "'hostname; cat /mnt/f; touch /mnt/g 2>/dev/null || echo ro; touch /srv/x && echo srv ok; "
        .. "echo $QUICK; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d \" \"; echo pid $$' 2>&1", exe, src))
      assert(ok, out)
      assert.are.equal("qbox\nhello\nro\nsrv ok\nyes\nlo\npid 2\n", out)
      -- over a file: the flag wins; a .lua word after the options is the recipe
      local f = tmpfile("base.lua", 'return { namespaces = { "uts" }, hostname = "fromfile" }')
      out, ok = h.sh(string.format("%s run --hostname flag %s hostname 2>&1", exe, f))
      assert(ok, out)
      assert.are.equal("flag\n", out)
      -- limits from flags
      out = h.sh(string.format("%s run -n --memory 32M --pids 7 --cpu 50 -- true 2>&1", exe))
      assert.matches("33554432", out, 1, true)
      assert.matches("= 7 ", out, 1, true)
      assert.matches("50000", out, 1, true)
      -- a bad value is named by the recipe check
      local _, code
      out, _, code = h.sh(string.format("%s run --memory lots -- true 2>&1", exe))
      assert.are.equal(125, code)
      assert.matches('limits.memory.max: expected size like "32M"', out, 1, true)
    end)

    it("reads the recipe from stdin with -", function()
      local out, ok = h.sh(string.format("echo 'return { namespaces = { \"uts\" }, hostname = \"piped\" }' "
        .. "| %s run - -- hostname 2>&1", exe))
      assert(ok, out)
      assert.are.equal("piped\n", out)
    end)

    it("--status-json FILE|- and --status-fd N write one JSON object when the command ends", function()
      local cjson = require "cjson"
      local r = tmpfile("st.lua", 'return { description = "status spec", namespaces = { "pid", "uts", "mount" }, '
        .. 'limits = { memory = { max = "32M", swap = 0 } } }')
      local file = tmpdir .. "/status.json"
      local out, _, code = h.sh(string.format("%s run --status-json %s %s -- /bin/sh -c "
        .. "'sleep 0.2; x=$(head -c 100000000 /dev/zero | tr \\\\0 x)' 2>/dev/null", exe, file, r))
      assert.are.equal(137, code, out)
      local text = h.read(file)
      assert.is_not_nil(text, "no status file")
      local rec = cjson.decode(text)
      assert.is_true(rec.pid > 1)
      assert.is_true(rec.oom)
      assert.is_false(rec.timeout)
      assert.are.same({ signal = "SIGKILL", signo = 9 }, rec.status)
      assert.are.equal(137, rec.exit_code)
      assert.are.equal("status spec", rec.description)
      for _, ns in ipairs { "pid", "uts", "mnt" } do
        local ino = math.tointeger(rec.namespaces[ns])
        assert.is_true(ino and ino > 0, ns)
        assert.are_not.equal(math.tointeger(tonumber((h.sh("stat -Lc %i /proc/self/ns/" .. ns)))), ino)
      end
      assert.is_nil(rec.namespaces.net) -- shared with the caller: not listed
      local mem
      for _, d in ipairs(rec.cgroups) do
        if d:find("/memory/", 1, true) or not d:find("/cgroup/%a+/") then mem = d end
      end
      assert.is_not_nil(mem, table.concat(rec.cgroups, " "))
      assert.is_true(rec.memory_peak > 16 * 1024 * 1024, tostring(rec.memory_peak))
      assert.is_true(rec.wall_s >= 0.2 and rec.wall_s < 60, tostring(rec.wall_s))
      assert.is_true(rec.cpu.user_s + rec.cpu.system_s > 0)
      for _, d in ipairs(rec.cgroups) do assert.is_nil(h.read(d .. "/cgroup.procs"), "left behind: " .. d) end
      -- stdout, and an fd; the command's own output comes first
      out, _, code = h.sh(string.format("%s run --status-json - --status-fd 7 --ns pid -- "
        .. "/bin/sh -c 'echo out; exit 3' "
        .. "7>%s/fd.json", exe, tmpdir))
      assert.are.equal(3, code)
      local line = out:match("^out\n(%{.*%})\n$")
      assert.is_not_nil(line, out)
      rec = cjson.decode(line)
      assert.are.same({ code = 3 }, rec.status)
      assert.is_false(rec.oom)
      assert.are.same(rec.status, cjson.decode(h.read(tmpdir .. "/fd.json")).status)
      -- a command that cannot start: the error and isol's status
      out, _, code = h.sh(string.format("%s run --status-json - --ns pid -- /nonexistent/x 2>/dev/null", exe))
      assert.are.equal(127, code)
      rec = cjson.decode(out)
      assert.are.equal(127, rec.exit_code)
      assert.matches("exec /nonexistent/x: not found", rec.error, 1, true)
    end)

    it("runs the demo: both hostnames, a new read-only root, the 32M cap and its OOM", function()
      local out, ok = h.sh(exe .. " run examples/demo.lua 2>&1")
      assert(ok, out)
      local host = h.read("/proc/sys/kernel/hostname"):gsub("%s+$", "")
      assert.matches("hostname: isol-demo   (the host's: " .. host .. ")", out, 1, true)
      assert.matches("root: bin dev etc ", out, 1, true)
      assert.matches("every one made for this sandbox: / /dev /proc /tmp /usr and", out, 1, true)
      assert.matches("Read-only file system", out, 1, true)
      assert.matches("killed (status 137: SIGKILL from the OOM killer)", out, 1, true)
      assert.is_nil(out:find("no limit", 1, true))
    end)

    it("exits with the command's code, 125/126/127 for isol's own failures", function()
      local noexec = tmpfile("noexec.sh", "#!/bin/sh\necho ran\n")
      local cases = {
        { "/bin/sh -c 'exit 9'", 9, nil },
        -- (without the ASan runtime of `make asan-test`, whose handler would
        -- catch the SEGV)
        { "/usr/bin/env -u LD_PRELOAD /bin/sh -c 'kill -SEGV $$'", 128 + 11, nil },
        { "/nonexistent/cmd", 127, "exec /nonexistent/cmd: not found" },
        { "no-such-command-anywhere", 127, "not found in PATH" },
        { h.shq(noexec), 126, "Permission denied" },
        { "/tmp", 126, "exec /tmp" },
      }
      for _, c in ipairs(cases) do
        local out, _, code = h.sh(string.format("%s run %s/pid.lua -- %s 2>&1", exe, tmpdir, c[1]))
        assert.are.equal(c[2], code, c[1] .. ": " .. out)
        if c[3] then assert.matches(c[3], out, 1, true) end
      end
      -- setup failures: a bad recipe, a mount that cannot be made
      local bad = tmpfile("bad.lua", 'return { namespaces = { "mount" }, '
        .. 'mounts = { { type = "bind", source = "/nonexistent/src", target = "/mnt" } } }')
      local out, _, code = h.sh(string.format("%s run %s -- /bin/true 2>&1", exe, bad))
      assert.are.equal(125, code, out)
      assert.matches("/nonexistent/src", out, 1, true)
    end)

    it("says so when the OOM killer ended the command, naming the limit", function()
      local r = tmpfile("oom.lua", 'return { namespaces = { "pid" }, limits = { memory = { max = "32M", swap = 0 } } }')
      local out, _, code = h.sh(string.format("%s run %s -- /bin/sh -c "
        .. "'x=$(head -c 200000000 /dev/zero | tr \\\\0 x); echo survived' 2>&1", exe, r))
      assert.are.equal(137, code, out)
      assert.matches("isol: killed by the OOM killer (memory.max 32M)\n", out, 1, true)
      assert.is_nil(out:find("survived", 1, true))
    end)
  end)
end

describe("isol run's exit status", function()
  local run = require "isol.cli.run"
  local isol = require "isol"

  it("is 124 after the recipe's timeout, 128+N for a signal, the code otherwise", function()
    local r = isol.sandbox({}).recipe
    local old = io.stderr
    io.stderr = { write = function() end } -- luacheck: ignore
    local t = run.report({ signal = "SIGKILL", signo = 9, timeout = true }, r)
    io.stderr = old -- luacheck: ignore
    assert.are.equal(124, t)
    assert.are.equal(128 + 9, run.report({ signal = "SIGKILL", signo = 9 }, r))
    assert.are.equal(3, run.report({ code = 3 }, r))
  end)

  it("tells exec failures (126, 127) from setup failures (125)", function()
    local E = isol.core.errno
    assert.are.equal(127, run.spawn_failure_code("exec x: not found in PATH", E.ENOENT))
    assert.are.equal(126, run.spawn_failure_code("exec /x: Permission denied", E.EACCES))
    assert.are.equal(125, run.spawn_failure_code("mount tmpfs on /tmp: Operation not permitted", E.EPERM))
    assert.are.equal(125, run.spawn_failure_code("bind /x on /y: source does not exist", E.ENOENT))
  end)
end)

describe("pseudo-terminals (isol.core) #root", function()
  local core = require "isol.core"
  local isol = require "isol"
  local snap
  before_each(function() snap = leak.snapshot {} end)
  after_each(function() leak.assert_clean(snap) end)

  it("opens a pair with a window size, and closes idempotently", function()
    local pty <close> = assert(core.pty_open { rows = 33, cols = 77 })
    local m, sl = pty:master(), pty:slave()
    assert.is_true(m >= 3 and sl >= 3)
    assert.is_true(core.isatty(sl))
    assert.are.same({ 33, 77 }, { core.tty_winsize(sl) })
    assert.is_true(pty:set_winsize(40, 100))
    assert.are.same({ 40, 100 }, { pty:winsize() })
    -- the master is non-blocking: nothing to read yet
    assert.is_false(core.fd_pump(m, sl))
    assert.is_false(core.fd_read(m))
    -- input the command does not read fills the pty: write_some takes less,
    -- then nothing, instead of blocking
    local n, total = 1, 0
    while n > 0 and total < 1 << 20 do
      n = pty:write_some(string.rep("x", 4096))
      total = total + n
    end
    assert.are.equal(0, n)
    assert.is_true(total > 0 and total < 1 << 20)
    -- the echo (the line discipline echoes asynchronously: wait a little)
    local echo = core.fd_read(m, 100)
    for _ = 1, 100 do
      if echo then break end
      core.poll({}, 0.01)
      echo = core.fd_read(m, 100)
    end
    assert.matches("^x+", echo)
    pty:close_slave()
    assert.is_nil(pty:slave())
    pty:close()
    pty:close()
    assert.is_nil(pty:master())
    assert.has_error(function() pty:write("x") end, "pty is closed")
    assert.matches("isol.Pty %(closed%)", tostring(pty))
  end)

  it("checks what Lua passes before the kernel sees it", function()
    assert.has_error(function() core.pty_open { rows = 70000 } end, "pty_open.rows: expected 0 to 65535, got 70000")
    assert.has_error(function() core.pty_open { cols = "wide" } end)
    local pty <close> = assert(core.pty_open())
    assert.has_error(function() pty:set_winsize(-1, 10) end, "rows: expected 0 to 65535, got -1")
    assert.has_error(function() core.fd_pump(-1, 1) end)
    assert.has_error(function() core.fd_write(2 ^ 40, "x") end)
    local mode, msg, code = core.tty_raw(1 << 30)
    assert.is_nil(mode)
    assert.are.equal(core.errno.EBADF, code, msg)
    assert.matches("tcgetattr fd 1073741824", msg, 1, true)
  end)

  it("raw mode is restored by restore, __close or __gc", function()
    local pty <close> = assert(core.pty_open())
    local sl = pty:slave()
    local before = h.sh(string.format("stty -g < /proc/%d/fd/%d", core.getpid(), sl))
    do
      local raw <close> = assert(core.tty_raw(sl))
      assert.matches("isol.TerminalMode", tostring(raw))
      assert.are_not.equal(before, h.sh(string.format("stty -g < /proc/%d/fd/%d", core.getpid(), sl)))
    end
    assert.are.equal(before, h.sh(string.format("stty -g < /proc/%d/fd/%d", core.getpid(), sl)))
    local mode = assert(core.tty_raw(sl))
    assert.is_true(mode:restore())
    assert.is_nil(mode:restore()) -- idempotent
  end)

  it("plan.ctty needs a terminal on fd 0: a clear error, nothing left", function()
    local p, msg = isol.spawn { argv = { "/bin/true" }, ctty = true, stdin = "null", init = false }
    assert.is_nil(p)
    assert.matches("make fd 0 the controlling terminal (TIOCSCTTY)", msg, 1, true)
    assert.has_error(function() isol.spawn { argv = { "/bin/true" }, ctty = "yes" } end)
  end)

  it("a sandbox with tty = true gives its process the pty; output comes through the master", function()
    local box <close> = isol.sandbox { namespaces = { "pid" }, tty = true }
    local p <close> = assert(box:spawn { "/bin/sh", "-c", "test -t 0 && test -t 1 && tty >/dev/null && echo tty" })
    assert.are.equal("isol.Pty", getmetatable(p.pty).__name)
    local st = p:wait()
    assert.are.same({ code = 0 }, st)
    local bytes = 0
    while true do
      local n = core.fd_pump(p.pty:master(), 2) -- to stderr: "tty\r\n"
      if not n or n == 0 then break end
      bytes = bytes + n
    end
    assert.are.equal(5, bytes)
    p.pty:close()
    assert.has_error(function() isol.sandbox { tty = "yes" } end, "tty: expected boolean, got string \"yes\"")
    local d = isol.sandbox { namespaces = { "pid" }, tty = true }
    local dp, dmsg = d:spawn { "/bin/true", detach = true, name = "tty-spec-refused" }
    d:close()
    assert.is_nil(dp)
    assert.matches("a detached sandbox has no terminal", dmsg, 1, true)
  end)
end)

