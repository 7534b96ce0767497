-- The spine: spawn into every namespace kind, Process handles, errors,
-- safety defaults. Runs as root here; everything that would change the
-- runner's own namespaces runs in a child (the sandbox, or h.lua).
local isol = require "isol"
local h = require "support.helpers"
local leak = require "support.leak"

local function run(recipe, script)
  local st, out, err = isol.run(recipe, { "/bin/sh", "-c", script }, { capture = true })
  assert(st, out)
  return out, st, err
end

local function self_ns(kind)
  return isol.core.ns_inode(0, kind)
end

describe("spawn #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  describe("every namespace kind", function()
    for _, k in ipairs(isol.core.ns_kinds()) do
      it("creates a new " .. k.name .. " namespace", function()
        local r = { namespaces = { k.name } }
        local out = run(r, "stat -L -c %i /proc/self/ns/" .. k.procname)
        assert.are_not.equal(tostring(self_ns(k.name)), (out:gsub("%s", "")))
      end)
    end

    it("keeps namespaces that were not asked for", function()
      local out = run({ namespaces = { "uts" } }, "stat -L -c %i /proc/self/ns/net")
      assert.are.equal(tostring(self_ns("net")), (out:gsub("%s", "")))
    end)
  end)

  it("sets a hostname that is invisible outside", function()
    local before = isol.core.gethostname()
    local out = run({ namespaces = { "uts" }, hostname = "isol-test-box", domainname = "dom" },
      "hostname; domainname")
    assert.are.equal("isol-test-box\ndom\n", out)
    assert.are.equal(before, isol.core.gethostname())
  end)

  it("makes the command PID 1 of a pid namespace without init", function()
    local out = run({ namespaces = { "pid" }, init = false }, "echo $$")
    assert.are.equal("1\n", out)
  end)

  it("puts isol's init at PID 1 and the command at PID 2 by default", function()
    local out = run({ namespaces = { "pid", "mount" }, caps = "all" }, -- mounts /proc itself
      "echo $$; mount -t proc proc /proc && cat /proc/1/comm")
    assert.are.equal("2\nisol-init\n", out)
  end)

  it("maps uid 0 inside to the caller outside", function()
    local box = isol.sandbox { namespaces = { "user" }, user = { map_root = true } }
    local p = assert(box:spawn { "/bin/sh", "-c", "id -u; cat /proc/self/uid_map; exec sleep 5", stdout = "pipe" })
    local line = ""
    while not line:match("\n.*\n") do line = line .. p:read(64) end
    -- outside, the process runs as the caller (root here)
    local status = h.read("/proc/" .. p:pid() .. "/status")
    assert.matches("Uid:%s+0%s", status)
    assert.matches("^0\n%s+0%s+0%s+1", line)
    p:kill("SIGKILL")
    assert.are.equal("SIGKILL", p:wait().signal)
    box:close()
  end)

  it("maps an unprivileged caller's uid to 0 (isol as uid 65534)", function()
    local out, ok = h.lua([[
      local isol = require "isol"
      local st, out = isol.run({ namespaces = { "user", "uts", "mount", "pid", "ipc", "net" },
        user = { map_root = true }, hostname = "unpriv" },
        { "/bin/sh", "-c", "id -u; hostname; cat /proc/self/uid_map" }, { capture = true })
      io.write(assert(st, out).code, "\n", out)
    ]], "setpriv --reuid=65534 --regid=65534 --clear-groups")
    assert(ok, out)
    assert.matches("^0\n0\nunpriv\n%s+0%s+65534%s+1", out)
  end)

  it("shows nobody inside a user namespace without a map (the seed's whoami)", function()
    local out = run({ namespaces = { "user" } }, "id -u")
    assert.are.equal("65534\n", out)
  end)

  it("maps explicit uid/gid ranges", function()
    local out = run({ namespaces = { "user" }, user = { uid_map = { { 0, 100000, 1000 } },
      gid_map = { { 0, 100000, 1000 } } } }, "cat /proc/self/uid_map /proc/self/gid_map")
    assert.matches("^%s*0%s+100000%s+1000\n%s*0%s+100000%s+1000\n$", out)
  end)

  it("has only lo in a new network namespace", function()
    local out = run({ namespaces = { "net" } }, "tail -n +3 /proc/net/dev | cut -d: -f1")
    assert.are.equal("lo", (out:gsub("%s", "")))
  end)

  it("writes time namespace offsets", function()
    local out = run({ namespaces = { "time" }, time = { monotonic = 86400, boottime = 3600 } },
      "cat /proc/self/timens_offsets")
    assert.matches("monotonic%s+86400%s+0", out)
    assert.matches("boottime%s+3600%s+0", out)
  end)
end)

describe("safety defaults #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  it("closes every fd but 0-2 and the ones passed", function()
    local f = io.open("/dev/null")  -- an fd the sandbox must not get
    local out = run({}, "ls /proc/self/fd")
    f:close()
    -- ls itself opens one directory fd
    local fds = {}
    for fd in out:gmatch("%d+") do fds[#fds + 1] = tonumber(fd) end
    table.sort(fds)
    assert.are.same({ 0, 1, 2, 3 }, fds)
  end)

  it("passes keep_fds through with their numbers", function()
    local out, ok = h.lua([[
      local isol = require "isol"
      local rd = io.open("/etc/hostname")
      -- the lowest free fd >= 3 of this fresh interpreter is rd's
      local fds = {}
      for l in io.popen("ls /proc/self/fd"):lines() do fds[#fds + 1] = l end
      local st, out = isol.run({ keep_fds = { 3 } }, { "/bin/sh", "-c", "ls /proc/self/fd; readlink /proc/self/fd/3" },
        { capture = true })
      io.write(out)
      rd:close()
    ]])
    assert(ok, out)
    assert.matches("^0\n1\n2\n3\n4\n/etc/hostname\n$", out)
  end)

  it("starts a new session (setsid) and sets no_new_privs", function()
    -- fields 4-7 of /proc/<pid>/stat: ppid, process group, session, tty
    -- (no `ps`: it hangs under ASan's preload). The init leads the new
    -- session, which has no controlling terminal; the command has a
    -- process group of its own in it (a `kill 0` inside misses the init).
    local out = run({}, "cut -d' ' -f4-7 /proc/$$/stat; echo $$; cut -d' ' -f6 /proc/$PPID/stat; "
      .. "grep NoNewPrivs /proc/self/status")
    local ppid, pgrp, sid, tty, pid, init_sid = out:match("^%s*(%d+) (%d+) (%d+) (%d+)\n(%d+)\n(%d+)\n")
    local f = assert(io.open("/proc/self/stat"))
    local caller_sid = f:read("a"):match("^%d+ %b() %S+ %d+ %d+ (%d+)")
    f:close()
    assert.is_not_nil(ppid, out)
    assert.are.equal(ppid, sid)      -- the init leads it
    assert.are.equal(init_sid, sid)
    assert.are.equal(pid, pgrp)      -- the command's own group
    assert.are.equal("0", tty)       -- no controlling terminal
    assert.are_not.equal(caller_sid, sid)
    assert.matches("NoNewPrivs:%s+1", out)
  end)

  it("with init = false, the command itself leads the new session", function()
    -- (without a pid namespace, init = false needs a cgroup and no die_with_parent: isol.kill)
    local out = run({ init = false, die_with_parent = false, limits = { pids = { max = 64 } } },
      "cut -d' ' -f6 /proc/$$/stat; echo $$")
    local sid, pid = out:match("^%s*(%d+)\n(%d+)\n")
    assert.are.equal(sid, pid)
  end)

  it("can turn the defaults off", function()
    local out = run({ new_session = false, no_new_privs = false }, "grep NoNewPrivs /proc/self/status")
    assert.matches("NoNewPrivs:%s+0", out)
  end)

  for _, ns in ipairs { {}, { "pid" } } do
    it("kills the sandbox when the Lua parent is SIGKILLed" .. (ns[1] and " (pid ns + init)" or ""), function()
      local out = h.sh(string.format([[
        %s -e 'package.path="lua/?.lua;"..package.path; package.cpath="build/?.so;"..package.cpath
          local isol = require "isol"
          local p = assert(isol.sandbox{ namespaces = { %s } }:spawn{ "/bin/sh", "-c", "exec sleep 300" })
          io.write(p:pid(), "\n"); io.flush()
          p:wait()' &
        lp=$!
        sleep 0.5
        # children from /proc (no pgrep: procps hangs under ASan's preload)
        kidsof() { awk -v pp="$1" '$4 == pp { print $1 }' /proc/[0-9]*/stat 2>/dev/null; }
        kids=$(kidsof $lp | tr '\n' ' ')
        echo "kids=$kids"
        kill -9 $lp; wait $lp 2>/dev/null
        sleep 0.3
        # a zombie reparented to the machine's init counts as dead
        for k in $kids $(for k in $kids; do kidsof $k; done); do
          st=$(cut -d" " -f3 /proc/$k/stat 2>/dev/null)
          [ -n "$st" ] && [ "$st" != Z ] && echo "alive $k $st"
        done
        echo done]], h.lua_bin, ns[1] and '"pid"' or ""))
      assert.matches("kids=%d", out)
      assert.not_matches("alive", out)
      assert.matches("done", out)
    end)
  end
end)

describe("Process #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  it("knows its namespaces once it has exited (ns_inodes: read at the spawn, before it ran)", function()
    for _, init in ipairs { false, true } do
      local box = isol.sandbox { namespaces = { "pid", "uts", "mount", "ipc" }, init = init,
        command = { "/bin/true" } }
      local p = assert(box:spawn { ns_inodes = true })
      assert.are.same({ code = 0 }, p:wait()) -- reaped: /proc/<pid>/ns is gone
      assert.is_nil(isol.core.ns_inode(p:pid(), "uts"))
      local ns = p:ns_inodes()
      for _, n in ipairs { "pid", "uts", "mnt", "ipc" } do
        assert.is_true(math.type(ns[n]) == "integer" and ns[n] > 0, n)
        assert.are_not.equal(isol.core.ns_inode(0, n), ns[n], n)
      end
      assert.is_nil(ns.net) -- not a new one
      -- not asked for: none read (a pid namespace's sandbox needs none)
      local q = assert(box:spawn())
      q:wait()
      assert.are.same({}, q:ns_inodes())
      box:close()
    end
    local ok, err = pcall(isol.sandbox({}).spawn, isol.sandbox({}), { "/bin/true", ns_inodes = "yes" })
    assert.is_false(ok)
    assert.matches('command.ns_inodes: expected boolean, got string "yes"', err, 1, true)
    local q = assert(isol.sandbox({}):spawn { "/bin/true" })
    q:wait()
    assert.are.same({}, q:ns_inodes())
    q:close()
  end)

  it("reports exit codes and signals", function()
    local box = isol.sandbox {}
    assert.are.same({ code = 3 }, box:run { "/bin/sh", "-c", "exit 3" })
    local p = assert(box:spawn { "/bin/sleep", "30" })
    assert.is_false(p:poll())
    assert.is_true(p:kill("term"))
    local st = p:wait()
    assert.are.equal("SIGTERM", st.signal)
    assert.are.equal(15, st.signo)
    assert.are.same(st, p:wait()) -- idempotent
    local ok, msg, code = p:kill()
    assert.is_nil(ok); assert.matches("already ended", msg); assert.are.equal(3, code)
    box:close()
  end)

  it("forwards the command's real status through init", function()
    local box = isol.sandbox { namespaces = { "pid" } }
    assert.are.same({ code = 7 }, box:run { "/bin/sh", "-c", "exit 7" })
    local p = assert(box:spawn { "/bin/sh", "-c", "kill -USR1 $$" })
    assert.are.equal("SIGUSR1", p:wait().signal)
    box:close()
  end)

  it("forwards SIGTERM from the init to the command", function()
    local box = isol.sandbox { namespaces = { "pid" } }
    local p = assert(box:spawn { "/bin/sh", "-c",
      "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.05; done", stdout = "pipe" })
    assert.are.equal("ready\n", p:read(6))
    p:kill("SIGTERM")
    assert.are.equal("got-term\n", p:read())
    assert.are.same({ code = 9 }, p:wait())
    box:close()
  end)

  it("kills and reaps an un-waited process on close and on <close>", function()
    local pid
    do
      local p <close> = assert(isol.sandbox{}:spawn { "/bin/sleep", "60" })
      pid = p:pid()
    end
    assert.is_nil(h.read("/proc/" .. pid .. "/stat"))
    local p = assert(isol.sandbox{}:spawn { "/bin/sleep", "60" })
    pid = p:pid()
    p = nil -- luacheck: ignore
    collectgarbage(); collectgarbage()
    assert.is_nil(h.read("/proc/" .. pid .. "/stat"))
  end)

  it("pipes stdin, stdout and stderr", function()
    local p <close> = assert(isol.sandbox{}:spawn { "/bin/sh", "-c", "tr a-z A-Z; echo err >&2",
      stdin = "pipe", stdout = "pipe", stderr = "pipe" })
    local out, err = p:communicate(string.rep("abc", 1000000)) -- far more than a pipe holds, both ways
    assert.are.equal(3000000, #out)
    assert.is_truthy(out == string.rep("ABC", 1000000), "output differs")
    assert.are.equal("err\n", err)
    assert.are.same({ code = 0 }, p:wait())
  end)

  it("writes stdout to a file and reads /dev/null as stdin", function()
    local path = os.tmpname()
    local st = isol.run({ stdout = { path = path }, stdin = "null" }, { "/bin/sh", "-c", "cat; echo hi" })
    assert.are.same({ code = 0 }, st)
    assert.are.equal("hi\n", h.read(path))
    os.remove(path)
  end)

  it("sets env and cwd", function()
    local out = run({ env = { ISOL_X = "1", HOME = false }, cwd = "/tmp" },
      'echo "$ISOL_X ${HOME-unset} $(pwd)"')
    assert.are.equal("1 unset /tmp\n", out)
    out = run({ clear_env = true, env = { A = "b" } }, "env | sort")
    assert.matches("^A=b\nPWD=[^\n]*\n$", out)
  end)
end)

describe("errors #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  it("raises naming the field and value for bad recipes", function()
    local cases = {
      { { namespaces = { "user", "mount", "netw" } }, 'namespaces[3]: unknown namespace "netw"' },
      { { namespaces = "pid" }, "namespaces: expected table, got string" },
      { { hostname = "x" }, 'hostname: needs the "uts" namespace' },
      { { nonsense = 1 }, "nonsense: unknown recipe field" },
      { { namespaces = { "user" }, user = { map_root = "yes" } }, 'user.map_root: expected boolean, got string "yes"' },
      { { namespaces = { "user" }, user = { uid_map = { { 0, -1, 1 } } } }, "user.uid_map[1]" },
      { { stdout = "pip" }, 'stdout: expected "inherit", "null", "pipe"' },
      { { namespaces = { "time" }, time = { monotonic = 1.5 } }, "time.monotonic: expected whole seconds, got 1.5" },
      { { env = { A = {} } }, "env.A: expected string" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(isol.sandbox, c[1])
      assert.is_false(ok)
      assert.is_truthy(err:find(c[2], 1, true), "got: " .. tostring(err) .. "\nwanted: " .. c[2])
    end
    local ok, err = pcall(isol.sandbox({}).spawn, isol.sandbox {}, { "/bin/true", bogus = 1 })
    assert.is_false(ok)
    assert.matches("command.bogus: unknown spawn option", err)
    assert.has_error(function() isol.signum("SIGNOPE") end)
  end)

  it("returns nil, message, errno for a missing executable", function()
    local p, msg, code = isol.sandbox({}):spawn { "/nonexistent/prog" }
    assert.is_nil(p)
    assert.are.equal("exec /nonexistent/prog: not found", msg)
    assert.are.equal(2, code)
    p, msg, code = isol.sandbox({}):spawn { "no-such-program-isol" }
    assert.is_nil(p)
    assert.matches("exec no%-such%-program%-isol: not found in PATH", msg)
    assert.are.equal(2, code)
    local tmp = os.tmpname() -- mode 0600: not executable, even for root
    p, msg, code = isol.sandbox({}):spawn { tmp }
    os.remove(tmp)
    assert.is_nil(p)
    assert.are.equal("exec " .. tmp .. ": Permission denied", msg)
    assert.are.equal(13, code)
  end)

  it("names the failing step of an EPERM in the child", function()
    -- as uid 65534 without a user namespace, sethostname must fail in the uts ns
    local out = h.lua([[
      local isol = require "isol"
      print(isol.sandbox{ namespaces = { "user", "uts" } }:spawn{ "/bin/true" } and "ok")
      local p, msg, code = isol.core.spawn{ argv = { "/bin/true" }, namespaces = { "user" },
        hostname = "nope" }
      print(p, msg, code)
      p, msg, code = isol.core.spawn{ argv = { "/bin/true" }, namespaces = { "uts" } }
      print(p, msg, code)
    ]], "setpriv --reuid=65534 --regid=65534 --clear-groups")
    assert.matches("nil\tsethostname nope: Operation not permitted\t1", out)
    assert.matches("nil\tclone3: Operation not permitted\t1", out)
  end)

  it("reports an unknown working directory", function()
    local p, msg, code = isol.sandbox({ cwd = "/nonexistent-dir" }):spawn { "/bin/true" }
    assert.is_nil(p)
    assert.are.equal("chdir /nonexistent-dir: No such file or directory", msg)
    assert.are.equal(2, code)
  end)

  it("reports a stdout file that cannot be opened", function()
    local p, msg = isol.sandbox({ stdout = { path = "/nonexistent-dir/x" } }):spawn { "/bin/true" }
    assert.is_nil(p)
    assert.matches("open /nonexistent%-dir/x for stdout: No such file", msg)
  end)
end)

describe("isol.unshare", function()
  it("unshares the calling process (in a child lua) #root", function()
    local out, ok = h.lua([[
      local isol = require "isol"
      local before = isol.core.ns_inode(0, "uts")
      assert(isol.unshare{ "uts", "user", user = { map_root = true }, hostname = "me" })
      print(isol.core.gethostname(), before ~= isol.core.ns_inode(0, "uts"))
      local f = io.open("/proc/self/uid_map"):read("a")
      print((f:gsub("%s+", " ")))
      print(pcall(isol.unshare, { "bogus" }))
    ]], "setpriv --reuid=65534 --regid=65534 --clear-groups")
    assert(ok, out)
    assert.matches("^me\ttrue\n 0 65534 1 \n", out)
    assert.matches('namespaces%[1%]: unknown namespace "bogus"', out)
  end)
end)

-- Hostile input to the binding (issue 9 item 6). Each case runs in its own
-- lua5.4 with a time limit, so that a crash fails the spec, not the runner.
-- Every plan asks for mount and uts namespaces and targets a scratch path:
-- should a check be missing, the child acts in namespaces of its own.
describe("hostile input to core.spawn", function()
  local function child(src)
    local out, _, code = h.lua("local core = require 'isol.core'\n" ..
      "local BASE = { namespaces = { 'mount', 'uts' }, stdout = 'null', stderr = 'null' }\n" ..
      "local function plan(t) for k, v in pairs(BASE) do if t[k] == nil then t[k] = v end end " ..
      "return t end\n" .. src, "timeout 20")
    return out, code
  end
  -- Run `expr` (a call) in a child; it must raise an error matching `want`.
  local function rejects(expr, want)
    local out, code = child("local ok, e = pcall(function() return " .. expr .. " end)\n" ..
      "if ok then print('ACCEPTED', e) else print('ERR ' .. tostring(e)) end")
    assert.are.equal(0, code, "the child crashed or hung (exit " .. tostring(code) .. "): " .. out)
    assert.matches("^ERR ", out, nil, false)
    assert.matches(want, out)
  end

  it("ignores metamethods: a plan read through __index cannot change what runs #root", function()
    local out, code = child([[
      local reads = 0
      local argv = setmetatable({ "/bin/echo", "checked" }, {
        __index = function(_, i) reads = reads + 1; return "swapped" .. reads end,
        __len = function() reads = reads + 1; return 5 + reads end })
      local big = setmetatable({}, { __index = function(_, k)
        reads = reads + 1
        if k == "options" then
          local o = {}; for i = 1, 100 * reads do o["k" .. i] = "v" end; return o
        end
        return "/tmp/sw" .. reads end })
      big.type = "tmpfs"; big.target = "/mnt"
      local p = assert(core.spawn(plan { argv = argv, stdout = "pipe", fs = { ops = { big } } }))
      local o = p:read()
      local st = p:wait()
      print(o:gsub("\n", ""), st.code, reads)
      -- a plan whose fields exist only through __index is an empty plan
      local ok, e = pcall(core.spawn, setmetatable({}, { __index = function() return { "/bin/true" } end }))
      print(ok, e)
    ]])
    assert.are.equal(0, code, out)
    assert.matches("^checked\t0\t0\n", out)
    assert.matches("false\tplan.argv: required", out, nil, true)
  end)

  it("a mount op without a target is an error naming the field", function()
    rejects([[core.spawn(plan { argv = { "/bin/true" }, fs = { ops = { { type = "tmpfs" } } } })]],
      "plan.fs.ops%[1%].target: required")
    rejects([[core.spawn(plan { argv = { "/bin/true" },
      fs = { ops = { { type = "tmpfs", target = "/mnt" }, { type = "bind", source = "/tmp" } } } })]],
      "plan.fs.ops%[2%].target: required")
    rejects([[core.fs_apply { propagation = "unchanged", ops = { { type = "fs", source = "x", fstype = "ext4" } } }]],
      "plan.fs.ops%[1%].target: required")
  end)

  local nul = {
    { "argv[1]", [[argv = { "/bin/tr\0ue" }]], "plan.argv%[1%]" },
    { "argv[2]", [[argv = { "/bin/true", "a\0b" }]], "plan.argv%[2%]" },
    { "env", [[argv = { "/bin/true" }, env = { "A=1", "B=\0" }]], "plan.env%[2%]" },
    { "hostname", [[argv = { "/bin/true" }, hostname = "box\0evil"]], "plan.hostname" },
    { "domainname", [[argv = { "/bin/true" }, domainname = "d\0"]], "plan.domainname" },
    { "cwd", [[argv = { "/bin/true" }, cwd = "/tmp\0/x"]], "plan.cwd" },
    { "file", [[argv = { "x" }, file = "/bin/true\0"]], "plan.file" },
    { "stdout.path", [[argv = { "/bin/true" }, stdout = { path = "/tmp/x\0y" }]], "plan.stdout.path" },
    { "stdin name", [[argv = { "/bin/true" }, stdin = "null\0"]], "plan.stdin" },
    { "cgroup_dirs", [[argv = { "/bin/true" }, cgroup_dirs = { "/tmp/p\0" }]], "plan.cgroup_dirs%[1%]" },
    { "namespaces", [[argv = { "/bin/true" }, namespaces = { "mount\0" }]], "plan.namespaces%[1%]" },
    { "fs target", [[argv = { "/bin/true" }, fs = { ops = { { type = "tmpfs", target = "/mnt\0/x" } } }]],
      "plan.fs.ops%[1%].target" },
    { "fs source", [[argv = { "/bin/true" }, fs = { ops = { { type = "bind", source = "/\0", target = "/mnt" } } }]],
      "plan.fs.ops%[1%].source" },
    { "fs fstype", [[argv = { "/bin/true" },
      fs = { ops = { { type = "fs", source = "x", fstype = "ext\0", target = "/mnt" } } }]],
      "plan.fs.ops%[1%].fstype" },
    { "fs option key", [[argv = { "/bin/true" },
      fs = { ops = { { type = "tmpfs", target = "/mnt", options = { ["si\0ze"] = "1M" } } } }]],
      "plan.fs.ops%[1%].options" },
    { "fs option value", [[argv = { "/bin/true" },
      fs = { ops = { { type = "tmpfs", target = "/mnt", options = { size = "1M\0" } } } }]],
      "plan.fs.ops%[1%].options.size" },
    { "fs propagation", [[argv = { "/bin/true" }, fs = { propagation = "private\0" }]], "plan.fs.propagation" },
    { "fs root mount", [[argv = { "/bin/true" }, fs = { root = { mount = { type = "bind", source = "/\0" } } }]],
      "plan.fs.root.mount.source" },
  }
  for _, c in ipairs(nul) do
    it("rejects a NUL byte in " .. c[1] .. ", naming the field", function()
      rejects("core.spawn(plan { " .. c[2] .. " })", c[3] .. ": contains a NUL byte")
    end)
  end

  local ints = {
    { "stdout fd 2^31", [[stdout = 2147483648]], "plan.stdout: out of range" },
    { "stdin fd -1", [[stdin = -1]], "plan.stdin: out of range" },
    { "stdin fd 1.5", [[stdin = 1.5]], "plan.stdin: expected integer" },
    { "keep_fds not a list", [[keep_fds = "3"]], "plan.keep_fds: expected a list of fds, got string" },
    { "keep_fds[1] negative", [[keep_fds = { -1 }]], "plan.keep_fds%[1%]: out of range" },
    { "keep_fds[2] 2^32", [[keep_fds = { 3, 4294967296 }]], "plan.keep_fds%[2%]: out of range" },
    { "keep_fds[1] a string", [[keep_fds = { "3" }]], "plan.keep_fds%[1%]: expected integer" },
    { "status_fd 2^63", [[status_fd = 2^63]], "plan.status_fd: expected integer" },
    { "cgroup_fd -2", [[cgroup_fd = -2]], "plan.cgroup_fd: out of range" },
    { "join_pidfd maxinteger", [[join_pidfd = math.maxinteger, join_namespaces = { "uts" }]],
      "plan.join_pidfd: out of range" },
    { "mode -1", [[fs = { ops = { { type = "dir", target = "/mnt/x", mode = -1 } } }]],
      "plan.fs.ops%[1%].mode: out of range" },
    { "mode 1.5", [[fs = { ops = { { type = "dir", target = "/mnt/x", mode = 1.5 } } }]],
      "plan.fs.ops%[1%].mode: expected integer" },
    { "uid_map 2^32", [[namespaces = { "user" }, uid_map = { { 0, 4294967296, 1 } }]],
      "plan.uid_map%[1%]%[2%]: out of range" },
    { "time offset with a fraction", [[time = { monotonic = 0.5 }]], "plan.time.monotonic: expected integer" },
    { "time offset mininteger-1", [[time = { boottime = -2^63 - 2^20 }]], "plan.time.boottime: expected integer" },
  }
  for _, c in ipairs(ints) do
    it("rejects " .. c[1] .. ", naming the field", function()
      rejects([[core.spawn(plan { argv = { "/bin/true" }, ]] .. c[2] .. " })", c[3])
    end)
  end

  it("rejects out-of-range pids and fds in the other calls", function()
    rejects("core.attach(2^32)", "bad argument #1")
    rejects("core.attach(4294967296 + 1)", "out of range")
    rejects("core.proc_stat(-1)", "out of range")
    rejects("core.proc_kill({ roots = { 2^31 } })", "selector.roots%[1%]: out of range")
    rejects("core.proc_kill({ sid = 4294967296 + 5 })", "selector.sid: out of range")
    rejects("core.write_id_maps(2147483648, {}, {})", "out of range")
    rejects("core.setns(-1, { 'net' })", "out of range")
    rejects("core.isatty(2^40)", "out of range")
    rejects("core.signame(1e10)", "out of range")
    rejects("core.mkdir('/tmp/x', -1)", "out of range")
  end)

  it("NaN and infinite poll timeouts are errors", function()
    rejects("core.poll({}, 0/0)", "timeout must be a finite number")
    rejects("core.poll({}, math.huge)", "timeout must be a finite number")
    rejects("core.poll({}, -math.huge)", "timeout must be a finite number")
    rejects("core.poll({ 2^31 }, 0)", "fds%[1%]: out of range")
  end)

  it("deep and cyclic plans are errors, not a crash", function()
    rejects([[(function() local t = {} local r = t for _ = 1, 200 do t.x = {} t = t.x end
      r.argv = { "/bin/true" } return core.spawn(r) end)()]], "plan: tables nested deeper than")
    rejects([[(function() local t = { argv = { "/bin/true" } } t.self = t t.fs = { ops = { t } }
      return core.spawn(plan(t)) end)()]], "plan.fs.ops%[1%].type: required")
  end)
end)

describe("Process finalizer #root", function()
  it("does not block: an un-waited tree is killed and reaped in well under a second", function()
    local out, ok = h.lua([[
      local core = require "isol.core"
      local p = assert(core.spawn { argv = { "/bin/sh", "-c",
        "trap '' TERM; for i in 1 2 3 4 5 6 7 8; do sleep 300 & echo $!; done; echo up; wait" },
        stdout = "pipe", init = false })
      local text = ""
      repeat text = text .. p:read(4096) until text:match("up\n$")
      local pid = p:pid()
      local t0 = core.now()
      p = nil
      collectgarbage(); collectgarbage()
      local dt = core.now() - t0
      local st = core.proc_stat(pid)
      local alive = 0
      for sp in text:gmatch("(%d+)\n") do
        local s2 = core.proc_stat(tonumber(sp))
        if s2 and s2.state ~= "Z" then alive = alive + 1 end
      end
      print(string.format("%.3f %s %d", dt, st and st.state or "gone", alive))
    ]], "timeout 20")
    assert(ok, out)
    local dt, state, alive = out:match("^([%d.]+) (%S+) (%d+)")
    assert.is_true(tonumber(dt) < 1, out)
    assert.are.equal("gone", state)
    assert.are.equal("0", alive, "descendants still running")
  end)
end)
