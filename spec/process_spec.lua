-- Processes: pid-namespace init, kill by session / pid namespace / sandbox,
-- detached sandboxes (state directory, ps, kill, logs, attach, exec).
-- Real processes throughout; every test checks that nothing is left behind.
local h = require "support.helpers"
local leak = require "support.leak"
local isol = require "isol"
local core = isol.core

local ESRCH = 3

local tmp = leak.own((h.sh("mktemp -d /tmp/isol-proc-spec.XXXXXX"):gsub("%s+$", "")))
local state_dir = tmp .. "/state"
isol.detached.state_dir = state_dir

local function sleep(s) os.execute("sleep " .. s) end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

local assert_clean = leak.assert_clean

local function wait_for(fn, secs)
  local deadline = os.time() + (secs or 5)
  repeat
    local v = fn()
    if v then return v end
    sleep(0.05)
  until os.time() > deadline
  return fn()
end

local function lines(path)
  local out = {}
  local f = io.open(path, "r")
  if not f then return out end
  for l in f:lines() do out[#out + 1] = l end
  f:close()
  return out
end

local function pids_in(path)
  local out = {}
  for _, l in ipairs(lines(path)) do
    local n = math.tointeger(tonumber(l))
    if n then out[#out + 1] = n end
  end
  return out
end

-- survivors (alive, not zombie) and zombies among pids
local function census(pids)
  local alive, zombies = 0, 0
  for _, pid in ipairs(pids) do
    local st = core.proc_stat(pid)
    if st then
      if st.state == "Z" then zombies = zombies + 1 else alive = alive + 1 end
    end
  end
  return alive, zombies
end

local function settle(pids)
  -- Zombies re-parented to the host's init are reaped by it, a moment later.
  local alive, zombies
  wait_for(function()
    alive, zombies = census(pids)
    return alive == 0 and zombies == 0
  end, 3)
  return alive, zombies
end

local counter = 0
local function tmpfile(tag)
  counter = counter + 1
  return string.format("%s/%s-%d", tmp, tag, counter)
end

-- A workload of ~200 processes: 150 sleepers, 20 escapees (double fork +
-- setsid, each a shell and a sleeper) and a fork loop that keeps forking
-- during the kill. Every pid goes to file F; F.ready appears when set up.
local function workload(f)
  return { "/bin/sh", "-c", string.format([[
F=%s
for i in $(seq 150); do sleep 300 & echo $! >> $F; done
for i in $(seq 20); do ( setsid sh -c 'sleep 300 & echo $! >> '"$F"'; echo $$ >> '"$F"'; exec sleep 301' & ) ; done
( while :; do sleep 300 & echo $! >> $F; sleep 0.02; done ) &
echo $! >> $F
echo $$ >> $F
while [ $(wc -l < $F) -lt 212 ]; do sleep 0.05; done
echo ok > $F.ready
wait
]], f) }
end

local function started(f)
  return wait_for(function() return exists(f .. ".ready") end, 20)
end

teardown(function()
  h.sh("rm -rf " .. h.shq(tmp))
end)

describe("pid namespace init #root", function()
  it("is PID 1, reaps 100 orphans, and ps inside sees only the sandbox", function()
    local snap = leak.snapshot()
    local st, stdout = isol.run({ namespaces = { "user", "pid", "mount" }, user = { map_root = true },
      caps = "all" }, { -- mounts /proc itself
      "/bin/sh", "-c", [[
mount --make-rprivate / && mount -t proc proc /proc || exit 9
echo "pid1=$(cat /proc/1/comm) me=$$"
for i in $(seq 100); do ( sleep 0.2 & ) ; done
sleep 1
echo "zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)"
echo "procs=$(ls -d /proc/[0-9]* | wc -l)"
echo "maxpid=$(ls /proc | grep '^[0-9]' | sort -n | tail -1)"
]] }, { capture = true })
    assert.are.same({ code = 0 }, st, stdout)
    assert.matches("pid1=isol%-init me=2", stdout)
    assert.matches("zombies=0", stdout)
    -- init, the shell, and the `ls` of the command substitution (+ its subshell)
    local n = tonumber(stdout:match("procs=(%d+)"))
    assert.is_true(n >= 2 and n <= 6, "processes seen inside: " .. tostring(n))
    -- the largest pid seen is the namespace's (~200 pids used), no host one
    assert.is_true(tonumber(stdout:match("maxpid=(%d+)")) < 1000, stdout)
    assert_clean(snap)
  end)

  it("forwards SIGTERM to the command and exits with its status", function()
    local snap = leak.snapshot()
    local box <close> = isol.sandbox { namespaces = { "pid" } }
    local f = tmpfile("term")
    local p = assert(box:spawn { "/bin/sh", "-c", "trap 'exit 7' TERM; echo > " .. f .. "; sleep 100 & wait" })
    assert.truthy(wait_for(function() return exists(f) end))
    assert(p:kill("SIGTERM"))
    assert.are.same({ code = 7 }, p:wait())
    box:close()
    assert_clean(snap)
  end)

  it("without a pid namespace supervises as a subreaper: the command's daemons end with it", function()
    local snap = leak.snapshot()
    local f = tmpfile("daemon")
    local st = isol.run({}, { "/bin/sh", "-c",
      "( setsid sh -c 'sleep 300 & echo $! > " .. f .. "; exec sleep 301' & ) ; sleep 0.3; exit 3" })
    assert.are.same({ code = 3 }, st)
    local pids = pids_in(f)
    assert.are.equal(1, #pids)
    assert.are.same({ 0, 0 }, { settle(pids) })
    assert_clean(snap)
  end)
end)

describe("isol.session #root", function()
  it("kills 200 processes of a session, a fork loop included: 0 survivors, 0 zombies", function()
    local snap = leak.snapshot()
    local f = tmpfile("sid")
    -- init = false: the command itself leads the session (without a pid
    -- namespace that needs a cgroup and die_with_parent = false: kill.lua).
    local box <close> = isol.sandbox { init = false, die_with_parent = false, limits = { pids = { max = 4096 } } }
    local script = workload(f)
    script[3] = script[3]:gsub("for i in %$%(seq 20%).-\n", "for i in $(seq 40); do sleep 300 & echo $! >> $F; done\n")
    local p = assert(box:spawn(script))
    assert.truthy(started(f))
    local sid = p:pid()
    assert.are.equal(sid, core.proc_stat(p:pid()).sid)
    local before = assert(isol.session.pids(sid))
    assert.is_true(#before >= 200, "processes in the session: " .. #before)
    local n = assert(isol.session.kill(sid))
    assert.is_true(n >= 200)
    local none, _, code = isol.session.pids(sid)
    assert.is_nil(none)
    assert.are.equal(ESRCH, code)
    assert.are.equal("SIGKILL", p:wait().signal)
    assert.are.same({ 0, 0 }, { settle(pids_in(f)) })
    box:close()
    assert_clean(snap)
  end)

  it("rejects bad input with clear errors", function()
    assert.has_error(function() isol.session.kill("abc") end,
      'sid: expected a session id (an integer > 0), got "abc"')
    assert.has_error(function() isol.session.pids(-4) end)
    assert.has_error(function() isol.session.kill(1, "SIGNOPE") end, 'signal: unknown signal "SIGNOPE"')
    local r, msg, code = isol.session.kill(4000000)
    assert.is_nil(r)
    assert.matches("session 4000000: no such session", msg)
    assert.are.equal(ESRCH, code)
  end)
end)

describe("isol.pidns #root", function()
  it("kills 200 processes of a namespace, escapees and a fork loop included", function()
    local snap = leak.snapshot()
    local f = tmpfile("ns")
    local box <close> = isol.sandbox { namespaces = { "pid" } }
    local p = assert(box:spawn(workload(f)))
    assert.truthy(started(f))
    local ino = assert(isol.pidns.inode(p:pid()))
    assert.are.equal(ino, isol.pidns.inode(string.format("pid:[%d]", ino)))
    local before = assert(isol.pidns.pids(ino))
    assert.is_true(#before >= 200, "processes in the namespace: " .. #before)
    assert(isol.pidns.kill(ino))
    local none, _, code = isol.pidns.pids(ino)
    assert.is_nil(none)
    assert.are.equal(ESRCH, code)
    assert.are.equal("SIGKILL", p:wait().signal)
    -- pids written inside are the namespace's own: check the host's view
    assert.are.same({ 0, 0 }, { settle(before) })
    box:close()
    assert_clean(snap)
  end)

  it("refuses the caller's own namespace and rejects bad input", function()
    local r, msg, code = isol.pidns.kill(core.getpid())
    assert.is_nil(r)
    assert.matches("caller's own", msg)
    assert.are.equal(1, code)
    assert.has_error(function() isol.pidns.pids("pid:[x]") end)
    assert.has_error(function() isol.pidns.kill(1, "NOPE") end, 'signal: unknown signal "NOPE"')
    r, msg, code = isol.pidns.pids(4000000)
    assert.is_nil(r)
    assert.matches("process 4000000: no such process", msg)
    assert.are.equal(ESRCH, code)
    r, msg, code = isol.pidns.pids(4026599999)
    assert.is_nil(r)
    assert.matches("pid namespace 4026599999: no process", msg)
    assert.are.equal(ESRCH, code)
  end)
end)

describe("box:kill #root", function()
  local variants = {
    { "with a pid namespace", { namespaces = { "pid", "mount" } } },
    { "without a pid namespace (/proc tree + namespace loop)", { namespaces = { "mount", "uts" } } },
    { "with no namespace at all (subreaper tree)", {} },
  }
  for _, v in ipairs(variants) do
    it(v[1] .. ": 200 processes, escapees, fork loop -> 0 survivors, 0 zombies", function()
      local snap = leak.snapshot()
      local f = tmpfile("box")
      local box <close> = isol.sandbox(v[2])
      local p = assert(box:spawn(workload(f)))
      assert.truthy(started(f))
      assert.is_true(#pids_in(f) >= 212)
      -- host pids: with a pid namespace, the ones written inside are its own
      local pids = v[2].namespaces and v[2].namespaces[1] == "pid" and assert(isol.pidns.pids(p:pid()))
        or pids_in(f)
      assert.is_true(#pids >= 200, "processes: " .. #pids)
      assert.is_true(box:kill())
      -- box:kill returns when all are gone: no grace period for survivors
      local alive = census(pids)
      assert.are.equal(0, alive)
      assert.are.equal("SIGKILL", p:wait().signal)
      assert.are.same({ 0, 0 }, { settle(pids) })
      box:close()
      assert_clean(snap)
    end)
  end

  it("with SIGTERM asks the command to end; the init then ends the rest", function()
    local snap = leak.snapshot()
    local f = tmpfile("term-box")
    local box <close> = isol.sandbox { namespaces = { "mount" } }
    local p = assert(box:spawn { "/bin/sh", "-c", string.format(
      "trap 'exit 4' TERM; ( setsid sh -c 'trap \"\" TERM; echo $$ > %s; exec sleep 300' & ); " ..
      "sleep 0.2; echo ok > %s.ready; sleep 300 & wait", f, f) })
    assert.truthy(started(f))
    local esc = pids_in(f)[1]
    assert.truthy(core.proc_alive(esc))
    assert.is_true(box:kill("SIGTERM"))
    assert.are.same({ code = 4 }, p:wait())
    -- the escapee ignores SIGTERM: the init SIGKILLed it on its way out
    assert.are.same({ 0, 0 }, { settle({ esc }) })
    box:close()
    assert_clean(snap)
  end)

  it("rejects a bad signal", function()
    local box <close> = isol.sandbox {}
    assert.has_error(function() box:kill("SIGBOGUS") end)
  end)
end)

-- Start Lua source in the background (its own session), output to a file.
-- (SIGHUP back to its default action: a runner started under nohup passes
-- it on ignored, and the detached-sandbox spec below has the parent die of it)
local function bg_lua(src, out)
  local cmd = string.format("cd %s && setsid env --default-signal=HUP %s -e %s > %s 2>&1 < /dev/null & echo $!",
    h.shq(h.root), h.lua_bin,
    h.shq(string.format("package.path=%q..package.path; package.cpath=%q..package.cpath\n%s",
      h.root .. "/lua/?.lua;", h.root .. "/build/?.so;", src)), h.shq(out))
  return math.tointeger(tonumber((h.sh(cmd):gsub("%s", ""))))
end

describe("supervisor death #root", function()
  for _, ns in ipairs { { "pid" }, { "mount" } } do
    it("SIGKILL of the supervising Lua process kills the sandbox (" .. ns[1] .. ")", function()
      local f = tmpfile("sup")
      local out = tmpfile("sup-out")
      local w = workload(f)
      local lpid = bg_lua(string.format([[
local isol = require "isol"
local box = isol.sandbox { namespaces = { %q } }
local p = assert(box:spawn { %q, %q, %q })
print("spawned", p:pid())
io.stdout:flush()
p:wait() -- blocks: no child of our own outlives our SIGKILL
]], ns[1], w[1], w[2], w[3]), out)
      assert.truthy(started(f))
      local pids = pids_in(f)
      assert.is_true(#pids >= 212)
      if ns[1] == "pid" then
        local root = math.tointeger(tonumber(h.read(out):match("spawned%s+(%d+)")))
        pids = assert(isol.pidns.pids(root))
        assert.is_true(#pids >= 200)
      end
      assert.truthy(core.proc_alive(lpid))
      os.execute("kill -KILL " .. lpid)
      local alive, zombies = settle(pids)
      assert.are.equal(0, alive, "survivors after the supervisor died")
      assert.are.equal(0, zombies)
    end)
  end
end)

describe("detached sandboxes #root", function()
  local function cli(args)
    return (h.sh(string.format("ISOL_STATE_DIR=%s bin/isol %s 2>&1; echo \"rc=$?\"", h.shq(state_dir), args)))
  end

  it("survive the parent's exit and SIGHUP; ps lists, logs show, exec enters, kill ends them", function()
    local snap = leak.snapshot()
    local out = tmpfile("parent")
    local lpid = bg_lua(string.format([[
local isol = require "isol"
isol.detached.state_dir = %q
local box = isol.sandbox { namespaces = { "pid", "mount", "uts" }, hostname = "bg" }
local p, name = assert(box:spawn { "/bin/sh", "-c", "echo hello from $(hostname); echo oops >&2; sleep 300",
  detach = true, name = "spec-bg" })
print("started", name, p:pid())
io.stdout:flush()
-- the parent's whole session gets SIGHUP, as when its terminal closes
os.execute("kill -HUP -" .. isol.core.proc_stat(isol.core.getpid()).sid)
os.execute("sleep 5")
print("not reached")
]], state_dir), out)
    assert.truthy(wait_for(function() return not core.proc_alive(lpid) end, 10), "parent still alive")
    local text = h.read(out)
    assert.matches("started%s+spec%-bg", text)
    assert.not_matches("not reached", text)
    local st = assert(isol.detached.get("spec-bg"))
    assert.are.equal("running", st.state)
    assert.matches("^mnt:%d+,pid:%d+,uts:%d+$", st.namespaces)
    local ps = cli("ps")
    assert.matches("spec%-bg%s+running%s+%d+", ps)
    assert.truthy(wait_for(function() return cli("logs spec-bg"):match("hello from bg") end))
    assert.matches("oops", cli("logs --stderr spec-bg"))
    assert.matches("^bg\nrc=0", cli("exec spec-bg -- hostname"))
    -- in its pid namespace: the shell sees init as 1 and itself as a small pid
    local e = assert(isol.exec("spec-bg", { "/bin/sh", "-c", "readlink /proc/self/ns/pid" }, { stdout = "pipe" }))
    assert.matches(tostring(st.ns.pid), e:read())
    assert.are.equal(0, e:wait().code)
    e:close()
    local a = assert(isol.attach("spec-bg"))
    assert.is_false(a:poll())
    assert.matches("rc=0", cli("kill spec-bg"))
    assert.truthy(a:wait().ended)
    a:close()
    assert.is_false(core.proc_alive(st.pid))
    -- killed: its runtime state is gone, its logs stay until rm
    local after = assert(isol.detached.get("spec-bg"))
    assert.are.equal("exited", after.state)
    assert.matches("spec%-bg%s+killed", cli("ps -a"))
    assert.matches("hello from bg", cli("logs spec-bg"))
    assert.matches("rc=0", cli("rm spec-bg"))
    local none, _, code = isol.detached.get("spec-bg")
    assert.is_nil(none)
    assert.are.equal(ESRCH, code)
    assert_clean(snap)
  end)

  it("record the command's exit status and a stale entry after SIGKILL", function()
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox { namespaces = { "pid" } }
      local p = assert(box:spawn { "/bin/sh", "-c", "exit 5", detach = true, name = "spec-exit" })
      local st = p:wait()
      assert.are.equal(5, st.code)
      local q = assert(box:spawn { "sleep", "300", detach = true, name = "spec-stale" })
      os.execute("kill -KILL " .. q:pid())
      assert.truthy(q:wait().ended)
    end
    assert.are.equal("exited", isol.detached.get("spec-exit").state)
    assert.are.equal(5, isol.detached.get("spec-exit").status.code)
    assert.are.equal("stale", isol.detached.get("spec-stale").state)
    local ps = cli("ps -a")
    assert.matches("spec%-exit%s+exited 5", ps)
    assert.matches("spec%-stale%s+stale", ps)
    -- neither name is reused silently: their logs would go
    local box <close> = isol.sandbox { namespaces = { "pid" } }
    local none, msg = box:spawn { "true", detach = true, name = "spec-exit" }
    assert.is_nil(none)
    assert.matches("spec%-exit exists %(exited%): isol rm spec%-exit first", msg)
    assert.matches("not running %(exited, exit 5%); `isol rm spec%-exit` removes it\nrc=1", cli("kill spec-exit"))
    assert.matches("rc=0", cli("rm spec-exit spec-stale"))
    assert.is_nil(isol.detached.get("spec-stale"))
    assert.is_nil(isol.detached.get("spec-exit"))
    assert.matches("no sandbox named spec%-exit.*rc=1", cli("rm spec-exit"))
    assert_clean(snap)
  end)

  it("auto-remove (run -d --rm) drops the entry once it has ended; rm -f kills first", function()
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox { namespaces = { "pid" } }
      local p = assert(box:spawn { "/bin/sh", "-c", "cat >/dev/null", detach = true, name = "spec-autorm",
        stdin = "pipe" })
      assert(isol.detached.auto_remove("spec-autorm"))
      assert.are.equal("running", isol.detached.get("spec-autorm").state)
      p:close_stdin()
      assert.are.equal(0, p:wait().code)
      assert.is_nil(isol.detached.get("spec-autorm"))
      -- an ended entry is removed at once
      local q = assert(box:spawn { "true", detach = true, name = "spec-autorm2" })
      q:wait()
      assert(isol.detached.auto_remove("spec-autorm2"))
      assert.is_nil(isol.detached.get("spec-autorm2"))
      assert(box:spawn { "sleep", "300", detach = true, name = "spec-rmf" })
      assert.matches("spec%-rmf is running.*kill it first.*rc=1", cli("rm spec-rmf"))
      assert.matches("rc=0", cli("rm -f spec-rmf"))
      assert.is_nil(isol.detached.get("spec-rmf"))
    end
    assert_clean(snap)
  end)

  it("isol run -d starts a recipe detached", function()
    local snap = leak.snapshot()
    local recipe = tmpfile("recipe") .. ".lua"
    local f = io.open(recipe, "w")
    f:write('return { namespaces = { "pid" }, command = { "/bin/sh", "-c", "echo up; sleep 300" } }\n')
    f:close()
    local out = cli("run -d --name spec-run " .. recipe)
    assert.matches("^spec%-run %d+\nrc=0", out)
    local st = assert(isol.detached.get("spec-run"))
    assert.are.equal("running", st.state)
    assert.are.equal(recipe, st.recipe)
    assert.truthy(exists(st.dir .. "/recipe.lua"))
    -- a second one with the same name is refused while the first runs
    assert.matches("already running.*rc=125", cli("run -d --name spec-run " .. recipe))
    assert.matches("rc=0", cli("kill spec-run TERM"))
    assert.truthy(wait_for(function() return not core.proc_alive(st.pid) end))
    assert.matches("rc=1", cli("kill spec-run"))
    assert.matches("rc=0", cli("rm spec-run"))
    assert_clean(snap)
  end)

  it("exec gets the sandbox's environment and working directory", function()
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox { namespaces = { "pid", "mount" }, clear_env = true,
        env = { FOO = "bar" }, cwd = "/tmp" }
      local p = assert(box:spawn { "sleep", "300", detach = true, name = "spec-env" })
      local e = assert(isol.exec("spec-env", { "/bin/sh", "-c", "echo FOO=$FOO HOME=$HOME X=$X; pwd" },
        { stdout = "pipe" }))
      assert.are.equal("FOO=bar HOME= X=\n/tmp\n", (e:communicate()))
      e:wait()
      e:close()
      e = assert(isol.exec("spec-env", { "/bin/sh", "-c", "echo FOO=$FOO X=$X; pwd" },
        { stdout = "pipe", env = { X = "y", FOO = false }, cwd = "/" }))
      assert.are.equal("FOO= X=y\n/\n", (e:communicate()))
      e:wait()
      e:close()
      assert(isol.detached.kill("spec-env"))
      p:close()
    end
    assert(isol.detached.remove("spec-env"))
    assert_clean(snap)
  end)

  it("exec gets the sandbox's seccomp filter and rlimits (isol.policy)", function()
    if not core.seccomp_compile then
      pending("needs isol.policy (seccomp, rlimits), merged separately")
      return
    end
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox { namespaces = { "pid", "mount" },
        seccomp = { deny = { "mkdir", "mkdirat" } }, rlimits = { nofile = 64 } }
      local p = assert(box:spawn { "sleep", "300", detach = true, name = "spec-policy" })
      local e = assert(isol.exec("spec-policy", { "/bin/sh", "-c",
        "ulimit -n; d=/tmp/isol-exec-sc-$$; mkdir $d 2>&1 && rmdir $d; echo rc=$?" }, { stdout = "pipe" }))
      local out = e:communicate()
      e:wait()
      e:close()
      assert.matches("^64\n", out)
      assert.matches("Operation not permitted\nrc=1", out)
      assert(isol.detached.kill("spec-policy"))
      p:close()
    end
    assert(isol.detached.remove("spec-policy"))
    assert_clean(snap)
  end)

  it("exec refuses what it cannot join, with the reason", function()
    local snap = leak.snapshot()
    do
      local box <close> = isol.sandbox { namespaces = { "pid", "mount" }, caps = "none" }
      local p = assert(box:spawn { "sleep", "300", detach = true, name = "spec-nojoin" })
      -- the command's capabilities are what exec gets too
      local e = assert(isol.exec("spec-nojoin", { "/bin/sh", "-c", "grep CapEff /proc/self/status" },
        { stdout = "pipe" }))
      assert.matches("CapEff:%s*0+\n", (e:communicate()))
      e:wait()
      e:close()
      local st = assert(isol.detached.get("spec-nojoin"))
      os.remove(st.dir .. "/exec.plan")
      local none, msg = isol.exec("spec-nojoin", { "true" })
      assert.is_nil(none)
      assert.matches("spec%-nojoin has no recorded plan", msg)
      assert(isol.detached.kill("spec-nojoin"))
      p:close()
    end
    isol.detached.remove("spec-nojoin")
    assert_clean(snap)
  end)

  it("ps without a state directory says so", function()
    local out, ok = h.lua('os.exit(require("isol.cli").main({ "ps" }))',
      "setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_RUNTIME_DIR -u ISOL_STATE_DIR")
    assert.is_false(not not ok)
    assert.matches("ps: no state directory: set XDG_RUNTIME_DIR or ISOL_STATE_DIR", out)
  end)

  it("reject bad input with clear errors", function()
    assert.matches("no sandbox named nope.*rc=1", cli("kill nope"))
    assert.matches('unknown signal "SIGWHAT".*rc=2', cli("kill nope SIGWHAT"))
    assert.matches("name: expected a sandbox name.*rc=2", cli("kill ../etc"))
    assert.matches("no sandbox named nope.*rc=1", cli("logs nope"))
    assert.matches("no sandbox named nope.*rc=127", cli("exec nope -- true"))
    local r, msg, code = isol.attach("nope")
    assert.is_nil(r)
    assert.matches("no sandbox named nope", msg)
    assert.are.equal(ESRCH, code)
    assert.has_error(function() isol.attach("a/b") end)
    local box <close> = isol.sandbox {}
    assert.has_error(function() box:spawn { "true", detach = "yes" } end,
      'command.detach: expected boolean, got string "yes"')
    assert.has_error(function() box:spawn { "true", name = "x" } end)
    assert.has_error(function() box:spawn { "true", detach = true, name = "bad name" } end)
  end)
end)

describe("closing an un-waited sandbox #root", function()
  -- (init = false without a pid namespace is refused unless the sandbox
  -- has a cgroup and does not die with its caller: spec/supervision_spec.lua)
  for _, r in ipairs { { "pid ns", { namespaces = { "pid" } } }, { "no pid ns", {} },
    { "mount ns, init = false, a cgroup", { init = false, namespaces = { "mount" }, die_with_parent = false,
      limits = { pids = { max = 100 } } } } } do
    it("kills its whole tree, escapees included (" .. r[1] .. ")", function()
      local snap = leak.snapshot()
      local f = tmpfile("close")
      local pids
      do
        local box <close> = isol.sandbox(r[2])
        local p = assert(box:spawn { "/bin/sh", "-c", string.format(
          "sleep 300 & echo $! >> %s; ( setsid sh -c 'echo $$ > %s.esc; sleep 300 & echo $! >> %s; " ..
          "exec sleep 301' & ); sleep 0.2; echo ok > %s.ready; wait", f, f, f, f) })
        assert.truthy(started(f))
        local pidns = r[2].namespaces and r[2].namespaces[1] == "pid"
        pids = pidns and assert(isol.pidns.pids(p:pid())) or pids_in(f)
        if not pidns then
          local esc = pids_in(f .. ".esc")[1]
          pids[#pids + 1] = esc
          if r[2].init ~= false then
            -- the escapee was re-parented to isol's init (a subreaper)
            assert.are.equal(p:pid(), core.proc_stat(esc).ppid)
          end
        end
      end -- box closed: the process handle is closed un-waited
      local alive = census(pids)
      assert.are.equal(0, alive)
      assert_clean(snap)
    end)
  end

  it("p:close() of a raw supervised spawn kills the tree too (C path)", function()
    local snap = leak.snapshot()
    local f = tmpfile("raw")
    local p = assert(isol.spawn { argv = { "/bin/sh", "-c", string.format(
      "( setsid sh -c 'echo $$ > %s.esc; sleep 300 & echo $! >> %s; exec sleep 301' & ); " ..
      "sleep 0.2; echo ok > %s.ready; wait", f, f, f) }, supervise = true })
    assert.truthy(started(f))
    local pids = pids_in(f)
    pids[#pids + 1] = pids_in(f .. ".esc")[1]
    assert.are.equal(2, #pids)
    p:close()
    assert.are.equal(0, (census(pids)))
    assert_clean(snap)
  end)
end)
