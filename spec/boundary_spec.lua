-- The sandbox boundary (issue 10): each escape class an auditor tried
-- against isol.recipes.untrusted() run as root (through `bin/isol run`, as
-- the README and the CLI run it), and where the class applies also as an
-- ordinary user made for the test. Every `it` really does the attack against
-- temporary targets the spec made (never a real host file) and asserts that
-- it FAILS. The attacks that need more than a shell are in spec/attack/.
--
-- Class, attack (one `it` each), and whether the attack succeeded on main at
-- 28e5bcb (this kernel 6.18, cgroup v1 hybrid, 2026-11-29). "user: no start"
-- means untrusted() cannot run as an ordinary user at all today (isol:
-- mkdir /sys/fs/cgroup/cpu/isol-...: Permission denied), so that spec fails.
--  1 read-only mounts  remount,bind,rw of a read-only bind, write the file     yes
--                      remount,bind,rw /usr; umount /etc/passwd, /proc;
--                      mount tmpfs over /usr                                   yes
--                      the same after `unshare -Urm` inside                    no (locked there)
--                      as an ordinary user (own 0600 file)                     user: no start
--  2 capabilities      untrusted: no capability in any set (root)              yes (full set)
--                      untrusted: no capability (ordinary user)                user: no start
--                      no `caps`: exactly the runtime default, no SYS_ADMIN    yes (full set)
--                      caps = {keep}, {drop}, "all"                            yes (no `caps` field)
--  3 /proc and /sys    open core_pattern, drop_caches (sysrq-trigger) for write yes
--                      the same as an ordinary user                            user: no start
--                      kcore, keys, timer_list, sched_debug masked             yes (keys, timer_list read)
--                      a `sysfs` mount is read-only                            yes (no sysfs type)
--                      nested `unshare -Urmpf --mount-proc`                    yes
--  4 init              /proc/1/mem holds a secret of the host's Lua state      yes
--                      /proc/1/environ shows the host env despite clear_env    yes
--                      both as an ordinary user                                user: no start
--                      ptrace-stop init, SIGKILL host: the sandbox survives    yes
--                      fake wait status into the init's pipe: 0, not 137       yes
--                      CVE-2019-5736, detached, /proc/1/exe opened for write   no (ETXTBSY: init runs it)
--                      CVE-2019-5736, no pid ns: O_PATH of the init's exe,
--                      kill the init, reopen for write                         yes (launcher copy written)
--  5 supervision       kill -9 $PPID + setsid escapee, box:close(), cgroup     no (the cgroup kill gets it)
--    (no pid ns)       the same without limits (no cgroup)                     no (close's namespace scan)
--                      init = false: setsid grandchild outlives killed host    yes
--  6 identity          sandbox root is host uid 0; untrusted has a pid ns      yes (uid 0; the pid ns exists)
--                      no pid ns: SIGKILL of a host root sleeper               yes
--  7 cgroupfs          mount cgroup2 and cgroup v1 pids, mkdir a group (root)  yes
--                      the same as an ordinary user                            user: no start
--  8 terminal          TIOCSTI from untrusted (new session, user ns)           no
--                      the same as an ordinary user                            user: no start
--                      TIOCSTI from a recipe without a user namespace          yes
--                      the same with new_session = false                       yes
--  9 chroot mode       double chroot reaches the host's / (root)               yes
--                      the same as an ordinary user                            user: no start
-- 10 keyring           read a key of the caller's session keyring (root)       yes
--                      the same as an ordinary user                            user: no start
-- 11 bind sources      planted symlink vs the next run's nofollow bind         yes (no `nofollow` option)
-- 12 own cgroup        attach the caller to its sandbox group, close           yes (never ends)
-- Orphans are re-parented to the helper's child subreaper, not to this
-- machine's PID 1 (which ended some of them itself, making class 5 flaky).
-- ISOLATK_VERBOSE=1 shows every attack's output.
local h = require "support.helpers"
local A = require "support.attack"

local ROOT = h.is_root()

local function root_only()
  if not ROOT then
    pending("needs root: the boundary attacks run isol as root and as a temporary user")
    return true
  end
end

-- A helper dir (0755, the static attack program) for one describe.
local function helper_fixture()
  local fx = {}
  lazy_setup(function()
    if not ROOT then return end
    fx.dir = A.tmpdir("0755")
    A.build_helper(fx.dir)
  end)
  lazy_teardown(function() A.rm(fx.dir) end)
  return fx
end

-- Run `fn(user, tree)` as a temporary user with a world-readable copy of the tree.
local function as_user(fn)
  local user, tree_dir
  A.defer(function()
    A.user_delete(user)
    A.rm(tree_dir)
  end)
  user = A.user_create()
  A.delegate(user) -- limits without root: a delegated cgroup, as `isol check` explains
  tree_dir = A.tmpdir("0755")
  A.copy_tree(tree_dir)
  return fn(user, tree_dir)
end

local ATT = "/opt/isolatk/attack"

-- every temporary user, dir and process a test made goes after it
after_each(A.cleanup)

-- untrusted without its pid namespace (and so without a fresh /proc, which
-- a sandbox cannot mount for its host's pid namespace)
local NO_PID = [[
for i = #r.namespaces, 1, -1 do if r.namespaces[i] == "pid" then table.remove(r.namespaces, i) end end
for i = #mounts, 1, -1 do if mounts[i].type == "proc" then table.remove(mounts, i) end end
]]

describe("boundary 1: read-only mounts stay read-only #root #boundary", function()
  local fx = helper_fixture()

  -- A private target (dir 0700, file 0600 with random content) bound read-only.
  local function target(owner)
    local t = A.tmpdir("0700")
    local content = "orig-" .. A.token()
    A.write(t .. "/f", content, "0600")
    if owner then h.sh("chown -R " .. owner .. " " .. h.shq(t)) end
    return t, content
  end
  local RO_BIND = "mounts[#mounts + 1] = { type = 'bind', source = %q, target = '/opt/isolatk-ro', readonly = true }"
  local ATTACK = "mount -o remount,bind,rw /opt/isolatk-ro && echo ESCAPED remount rw; "
    .. "echo pwned > /opt/isolatk-ro/f && echo ESCAPED wrote the read-only file; "

  it("a read-only bind cannot be remounted read-write and written (root)", function()
    if root_only() then return end
    local t, content = target()
    local d = A.tmpdir()
    A.defer(function() A.rm(t); A.rm(d) end)
    local out = A.run { recipe = A.recipe(d, fx.dir, RO_BIND:format(t)), argv = A.sh(ATTACK) }
    assert.are.equal(content, h.read(t .. "/f"), "the host file was written:\n" .. out)
    A.assert_blocked(out, "remount of a read-only bind")
  end)

  it("/usr cannot be remounted read-write, inherited mounts cannot be unmounted or covered (root)", function()
    if root_only() then return end
    local d = A.workdir("0700")
    -- per-mount flags only (remount,bind): never the superblock, never a write
    local out = A.run { recipe = A.recipe(d, fx.dir), argv = A.sh(
      "mount -o remount,bind,rw /usr 2>/dev/null && echo ESCAPED remount rw /usr; "
      .. "umount /etc/passwd 2>/dev/null && echo ESCAPED umount /etc/passwd; "
      .. "umount -l /proc 2>/dev/null && echo ESCAPED umount /proc; "
      .. "mount -t tmpfs isolatk /usr 2>/dev/null && echo ESCAPED mount over /usr; true") }
    A.assert_blocked(out, "mount changes of inherited mounts")
  end)

  it("the same fail after `unshare -Urm` inside (root)", function()
    if root_only() then return end
    local t, content = target()
    local d = A.tmpdir()
    A.defer(function() A.rm(t); A.rm(d) end)
    local out = A.run { recipe = A.recipe(d, fx.dir, RO_BIND:format(t)), argv = A.sh(
      "unshare -Urm /bin/sh -c " .. h.shq(ATTACK
        .. "mount -o remount,bind,rw /usr 2>/dev/null && echo ESCAPED nested remount rw /usr; "
        .. "umount /etc/passwd 2>/dev/null && echo ESCAPED nested umount /etc/passwd; true")) }
    assert.are.equal(content, h.read(t .. "/f"), "the host file was written:\n" .. out)
    A.assert_blocked(out, "mount changes after unshare -Urm")
  end)

  it("a read-only bind stays read-only for an ordinary user", function()
    if root_only() then return end
    as_user(function(user, tree)
      local t, content = target(user)
      local d = A.tmpdir("0755")
      A.defer(function() A.rm(t); A.rm(d) end)
      local out = A.run { tree = tree, user = user, recipe = A.recipe(d, fx.dir, RO_BIND:format(t)),
        argv = A.sh(ATTACK .. "unshare -Urm /bin/sh -c " .. h.shq(ATTACK)) }
      assert.are.equal(content, h.read(t .. "/f"), "the file was written:\n" .. out)
      A.assert_blocked(out, "remount as an ordinary user")
    end)
  end)
end)

-- Capability sets of the command, from /proc/self/status inside.
local CAP_SETS = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" }
local function caps_of(out)
  local t = {}
  for _, k in ipairs(CAP_SETS) do
    local v = out:match(k .. ":%s*(%x+)")
    t[k] = v and tonumber(v, 16)
  end
  return t
end
-- CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
-- NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP: the container runtimes' default
local DEFAULT_CAPS = 0
for _, n in ipairs { 0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31 } do DEFAULT_CAPS = DEFAULT_CAPS | (1 << n) end
local CAP_SYS_ADMIN, CAP_CHOWN, CAP_NET_RAW = 21, 0, 13

describe("boundary 2: capabilities #root #boundary", function()
  local SHOW = A.sh("grep ^Cap /proc/self/status")
  local BASE = "{ namespaces = { 'user', 'mount', 'pid' }, user = { map_root = true } }"

  local function caps_run(body, base, o)
    local d = A.workdir()
    o = o or {}
    o.recipe = A.recipe(d, nil, body, base)
    o.argv = SHOW
    local out = A.run(o)
    A.started(out)
    return caps_of(out), out
  end

  it("untrusted leaves the command no capability at all (root)", function()
    if root_only() then return end
    local c, out = caps_run()
    for _, k in ipairs(CAP_SETS) do assert.are.equal(0, c[k], k .. " is not empty:\n" .. out) end
  end)

  it("untrusted leaves the command no capability at all (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree)
      local c, out = caps_run(nil, nil, { user = user, tree = tree })
      for _, k in ipairs(CAP_SETS) do assert.are.equal(0, c[k], k .. " is not empty:\n" .. out) end
    end)
  end)

  it("a recipe without caps gets exactly the runtime default set, never SYS_ADMIN", function()
    if root_only() then return end
    local c, out = caps_run(nil, BASE)
    assert.are.equal(0, (c.CapEff or -1) & (1 << CAP_SYS_ADMIN), "CAP_SYS_ADMIN kept:\n" .. out)
    assert.are.equal(DEFAULT_CAPS, c.CapBnd, "bounding set:\n" .. out)
    assert.are.equal(DEFAULT_CAPS, c.CapEff, "effective set:\n" .. out)
    assert.are.equal(0, c.CapAmb, "ambient set:\n" .. out)
  end)

  it("a caller with inheritable and ambient capabilities passes none of them on", function()
    if root_only() then return end
    -- (the kernel keeps ambient within permitted & inheritable: an empty
    -- inheritable set leaves no ambient capability to clear)
    local wrap = "setpriv --inh-caps +net_raw,+sys_admin --ambient-caps +net_raw,+sys_admin --"
    local caller = h.sh(wrap .. " grep -E '^Cap(Inh|Amb)' /proc/self/status")
    assert.are.same({ 0x202000, 0x202000 }, { tonumber(caller:match("CapInh:%s*(%x+)"), 16),
      tonumber(caller:match("CapAmb:%s*(%x+)"), 16) }, "the caller's sets:\n" .. caller)
    -- without a user namespace (one starts with both sets empty)
    local c, out = caps_run(nil, "{ namespaces = { 'mount', 'pid' } }", { wrap = wrap })
    assert.are.equal(DEFAULT_CAPS, c.CapEff, "effective set:\n" .. out)
    assert.are.equal(0, c.CapInh, "inheritable set:\n" .. out)
    assert.are.equal(0, c.CapAmb, "ambient set:\n" .. out)
  end)

  it("caps = { keep = {...} } keeps exactly those", function()
    if root_only() then return end
    local c, out = caps_run("r.caps = { keep = { 'CAP_CHOWN' } }", BASE)
    assert.are.equal(1 << CAP_CHOWN, c.CapEff, out)
    assert.are.equal(1 << CAP_CHOWN, c.CapBnd, out)
  end)

  it("caps = { drop = {...} } drops those from the default", function()
    if root_only() then return end
    local c, out = caps_run("r.caps = { drop = { 'CAP_NET_RAW' } }", BASE)
    assert.are.equal(DEFAULT_CAPS & ~(1 << CAP_NET_RAW), c.CapEff, out)
    assert.are.equal(DEFAULT_CAPS & ~(1 << CAP_NET_RAW), c.CapBnd, out)
  end)

  it('caps = "all" keeps every capability (a shell that mounts)', function()
    if root_only() then return end
    local c, out = caps_run("r.caps = 'all'", BASE)
    assert.are_not.equal(0, (c.CapEff or 0) & (1 << CAP_SYS_ADMIN), out)
  end)
end)

describe("boundary 3: /proc and /sys are hardened #root #boundary", function()
  local fx = helper_fixture()

  local function run(body, argv, o)
    local d = A.workdir()
    o = o or {}
    o.recipe = A.recipe(d, fx.dir, body)
    o.argv = argv
    return A.run(o)
  end

  it("kernel tunables cannot be opened for writing (root)", function()
    if root_only() then return end
    -- open only, O_WRONLY without O_TRUNC, closed without writing a byte
    local out = run(nil, { ATT, "openw", "/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches",
      "/proc/sysrq-trigger" })
    A.assert_blocked(out, "write access to /proc/sys")
  end)

  it("kernel tunables cannot be opened for writing (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree)
      local out = run(nil, { ATT, "openw", "/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches",
        "/proc/sysrq-trigger" }, { user = user, tree = tree })
      A.assert_blocked(out, "write access to /proc/sys")
    end)
  end)

  it("/proc/kcore, /proc/keys, /proc/timer_list, /proc/sched_debug are masked (root)", function()
    if root_only() then return end
    local out = run(nil, { ATT, "readsome", "/proc/kcore", "/proc/keys", "/proc/timer_list",
      "/proc/sched_debug" })
    A.assert_blocked(out, "reading masked /proc files")
  end)

  it("a sysfs mount is read-only (root)", function()
    if root_only() then return end
    local out = run("mounts[#mounts + 1] = { type = 'sysfs', target = '/sys' }", A.sh(
      "test -d /sys/kernel || echo NOSYSFS; " .. ATT .. " openw /sys/kernel/mm/transparent_hugepage/enabled "
      .. "/sys/kernel/profiling; mount -o remount,rw /sys 2>/dev/null && echo ESCAPED remount rw /sys; true"))
    assert.is_nil(out:match("NOSYSFS"), "no sysfs mounted:\n" .. out)
    A.assert_blocked(out, "write access to sysfs")
  end)

  it("a nested pid namespace cannot mount a fresh /proc (root)", function()
    if root_only() then return end
    local out = run(nil, A.sh("unshare -Urmpf --mount-proc /bin/true 2>/dev/null && echo ESCAPED mounted proc; true"))
    A.assert_blocked(out, "mounting a fresh proc")
  end)
end)

describe("boundary 4: isol's init holds nothing of the host #root #boundary", function()
  local fx = helper_fixture()

  local function memscan(o)
    local secret = A.token()
    local d = A.workdir()
    -- the secret lives only in the launcher's Lua state (a global string)
    o.recipe = A.recipe(d, fx.dir, "ISOLATK_SECRET = 'ISOL' .. 'SECRET:' .. '" .. secret .. "'")
    o.argv = { ATT, "memscan" }
    local out = A.run(o)
    assert.is_nil(out:find(secret, 1, true), "the host's secret was read from /proc/1/mem:\n" .. out)
    A.assert_blocked(out, "reading the init's memory")
  end

  local function environ(o)
    local secret = A.token()
    local d = A.workdir()
    o.recipe = A.recipe(d, fx.dir)
    o.env = { ISOLATK_ENV = secret }
    o.argv = A.sh("tr '\\0' '\\n' < /proc/1/environ 2>&1; tr '\\0' '\\n' < /proc/self/environ")
    local out = A.run(o)
    A.started(out)
    assert.is_nil(out:find(secret, 1, true), "the host's environment leaked:\n" .. out)
  end

  it("/proc/1/mem does not hold the host's secret (root)", function()
    if root_only() then return end
    memscan {}
  end)

  it("/proc/1/mem does not hold the host's secret (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree) memscan { user = user, tree = tree } end)
  end)

  it("/proc/1/environ does not show the host's environment (root)", function()
    if root_only() then return end
    environ {}
  end)

  it("/proc/1/environ does not show the host's environment (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree) environ { user = user, tree = tree } end)
  end)

  it("a ptrace-stopped init does not keep the sandbox alive after the host is killed (root)", function()
    if root_only() then return end
    local tok = A.token()
    local d = A.tmpdir("0755")
    local pids = {}
    A.defer(function()
      A.kill_pids(pids)
      A.kill_pids(A.pids_with(tok))
      A.rm(d)
    end)
    local cmd = A.isol_cmd { recipe = A.recipe(d, fx.dir), argv = { ATT, "ptrace-init", "isolatk-" .. tok } }
    local host = tonumber((h.sh("(" .. cmd .. " > " .. d .. "/out 2>&1 & echo $!)"):gsub("%s", "")))
    pids[#pids + 1] = host
    local ran = A.wait_for(function()
      local o = h.read(d .. "/out") or ""
      return o:match("ESCAPED") or o:match("BLOCKED")
    end, 10)
    local out = h.read(d .. "/out") or ""
    assert.is_truthy(ran, "the attack did not run:\n" .. out)
    -- the host: the `isol run` process (timeout's child), SIGKILLed
    for _, p in ipairs(A.pids_with(tok)) do pids[#pids + 1] = p end
    local launcher = A.child_of_timeout(tok)
    assert.is_truthy(launcher, "no launcher process found:\n" .. out)
    h.sh("kill -KILL " .. launcher)
    assert.is_truthy(A.wait_for(function() return not A.alive(launcher) end, 3), "the launcher survived SIGKILL")
    local gone = A.wait_for(function()
      for _, p in ipairs(A.pids_with(tok)) do if A.alive(p) then return false end end
      return true
    end, 3)
    assert.is_true(gone, "the sandbox outlived its SIGKILLed host:\n" .. out)
  end)

  it("the command cannot forge its exit status (root)", function()
    if root_only() then return end
    local d = A.workdir()
    local out, code = A.run { recipe = A.recipe(d, fx.dir), argv = { ATT, "fakestatus" } }
    A.started(out)
    -- killed by SIGKILL: `isol run` exits 128 + 9
    assert.are.equal(137, code, "a sandbox killed by SIGKILL reported another status:\n" .. out)
  end)

  -- CVE-2019-5736: the launcher is a copy of lua5.4 that ends with a random
  -- token, the only file the attack program will write into.
  local function cve(body, mode)
    local tok = A.token()
    local d = A.tmpdir("0755")
    local state = A.tmpdir("0700")
    local name = "isolatk" .. tok:sub(1, 8)
    local function isol_in_state(args)
      return h.sh("cd " .. h.shq(h.root) .. " && ISOL_STATE_DIR=" .. state .. " timeout -s KILL 10 ./bin/isol "
        .. args .. " 2>&1")
    end
    A.defer(function()
      isol_in_state("kill " .. name)
      A.kill_pids(A.pids_with(tok))
      A.rm(d)
      A.rm(state)
    end)
    local copy = d .. "/lua5.4"
    h.sh("cp /usr/bin/lua5.4 " .. copy .. " && printf %s " .. h.shq("isolatk-" .. tok) .. " >> " .. copy)
    local before = h.read(copy)
    local argv = { ATT, "exe-overwrite", "isolatk-" .. tok, "5", mode }
    local out = A.run { recipe = A.recipe(d, fx.dir, body), launcher = copy, detach = name,
      env = { ISOL_STATE_DIR = state }, argv = argv }
    -- the detached sandbox writes to its log: wait for the attack to end
    A.wait_for(function()
      for _, p in ipairs(A.pids_with("isolatk-" .. tok)) do
        if (h.read("/proc/" .. p .. "/cmdline") or ""):find("exe-overwrite", 1, true) and A.alive(p) then
          return false
        end
      end
      return true
    end, 10)
    local logs = A.trace(isol_in_state("logs " .. name))
    assert.is_truthy(logs:match("ESCAPED") or logs:match("BLOCKED"), "the attack did not run:\n" .. out .. logs)
    assert.is_true(before == h.read(copy), "the launcher was overwritten:\n" .. out .. logs)
    assert.is_nil(logs:match("ESCAPED"), logs)
  end

  it("a detached sandbox cannot overwrite its launcher through /proc/1/exe (CVE-2019-5736, root)", function()
    if root_only() then return end
    cve()
  end)

  it("nor by killing its init and reopening the exe (no pid namespace, CVE-2019-5736, root)", function()
    if root_only() then return end
    -- without a pid namespace there is no fresh /proc: the host's is bound
    cve(NO_PID .. "mounts[#mounts + 1] = { type = 'bind', source = '/proc', target = '/proc', recursive = true }",
      "orphan")
  end)
end)

describe("boundary 5: supervision without a pid namespace #root #boundary", function()
  local fx = helper_fixture()

  -- a refusal must be a clear one about the pid namespace; else the run happened
  local function refused_or(out, mark)
    local why = out:match("REFUSED ([^\n]*)")
    if why then
      assert.matches("pid", why, "refused, but not clearly for the missing pid namespace:\n" .. out)
    else
      assert.matches(mark, out)
    end
  end

  local function script(d, body, extra)
    local rp = A.recipe(d, fx.dir, NO_PID .. (extra or ""))
    return string.format([[
local isol = require "isol"
local r = dofile(%q)
local box, msg = pcall(isol.sandbox, r)
if not box then print("REFUSED " .. tostring(msg)) return end
box = msg
%s
]], rp, body)
  end

  -- The host runs under the helper's child subreaper: what its sandbox
  -- leaves behind is re-parented there (not to this machine's PID 1, which
  -- seems to end some orphans itself), listed as SURVIVOR 1 s after the
  -- host ended, and killed.
  local function reaper()
    return "timeout -s KILL 40 " .. fx.dir .. "/attack subreaper 1"
  end

  local function kill_init(extra)
    local tok = A.token()
    local d = A.workdir()
    A.defer(function() A.kill_pids(A.pids_with(tok)) end)
    local esc = "setsid -f bash -c 'exec -a isolatk-" .. tok .. " sleep 30' </dev/null >/dev/null 2>&1; "
      .. "sleep 0.3; kill -9 $PPID; echo STARTED"
    local out = h.lua(script(d, string.format([[
local p, err = box:spawn { "/bin/sh", "-c", %q }
if not p then print("REFUSED " .. tostring(err)) return end
print(p:wait())
box:close()
print("CLOSED")
]], esc), extra), reaper())
    A.trace(out)
    refused_or(out, "CLOSED")
    assert.matches("SUBREAPER%-DONE", out)
    assert.is_nil(out:match("SURVIVOR"), "an escapee survived box:close():\n" .. out)
  end

  it("a command that kills its init leaves no setsid escapee after box:close() (root)", function()
    if root_only() then return end
    kill_init()
  end)

  it("the same without limits, so without a cgroup to sweep (root)", function()
    if root_only() then return end
    kill_init("r.limits = nil\n")
  end)

  it("with init = false, a setsid grandchild dies with the SIGKILLed host (root)", function()
    if root_only() then return end
    local tok = A.token()
    local d = A.workdir()
    A.defer(function() A.kill_pids(A.pids_with(tok)) end)
    local esc = "setsid -f bash -c 'exec -a isolatk-" .. tok .. " sleep 30' </dev/null >/dev/null 2>&1; "
      .. "sleep 0.5; echo STARTED; sleep 30"
    -- the host spawns, then SIGKILLs itself
    local out = h.lua(script(d, string.format([[
local p, err = box:spawn { "/bin/sh", "-c", %q }
if not p then print("REFUSED " .. tostring(err)) return end
io.stdout:flush()
os.execute("sleep 1.5")
os.execute("kill -KILL " .. io.open("/proc/self/stat"):read("l"):match("^(%%d+)"))
]], esc), "r.init = false\nr.die_with_parent = true\nr.limits = nil\n"), reaper())
    A.trace(out)
    refused_or(out, "STARTED")
    assert.matches("SUBREAPER%-DONE", out)
    assert.is_nil(out:match("SURVIVOR"), "a setsid grandchild outlived the SIGKILLed host:\n" .. out)
  end)
end)

describe("boundary 6: identity #root #boundary", function()
  local fx = helper_fixture()

  it("untrusted run as root maps sandbox root to an unprivileged host id, in a pid namespace", function()
    if root_only() then return end
    local tok = A.token()
    local d = A.workdir()
    A.defer(function() A.kill_pids(A.pids_with(tok)) end)
    local cmd = A.isol_cmd { recipe = A.recipe(d, fx.dir), timeout = 20,
      argv = { "/bin/bash", "-c", "echo STARTED; exec -a isolatk-" .. tok .. " sleep 10" } }
    h.sh("(" .. cmd .. " > " .. d .. "/out 2>&1 &)")
    local pid
    A.wait_for(function()
      for _, p in ipairs(A.pids_with("isolatk-" .. tok)) do
        if (h.read("/proc/" .. p .. "/cmdline") or ""):match("^isolatk%-") then pid = p end
      end
      return pid
    end, 10)
    assert.is_truthy(pid, "the sandbox did not start:\n" .. (h.read(d .. "/out") or ""))
    local status = h.read("/proc/" .. pid .. "/status") or ""
    local uids = status:match("\nUid:%s*([^\n]+)") or ""
    local pidns = h.sh("readlink /proc/" .. pid .. "/ns/pid"):gsub("%s", "")
    local mine = h.sh("readlink /proc/self/ns/pid"):gsub("%s", "")
    assert.are_not.equal(mine, pidns, "untrusted has no pid namespace")
    for u in uids:gmatch("%d+") do
      assert.are_not.equal("0", u, "sandbox root is host root (Uid: " .. uids .. ")")
    end
  end)

  it("a sandbox without a pid namespace cannot SIGKILL a host root process (root)", function()
    if root_only() then return end
    local tok = A.token()
    local d = A.tmpdir("0755")
    local sleeper = A.sleeper(tok, 60)
    A.defer(function() A.kill_pids { sleeper }; A.rm(d) end)
    assert.is_true(A.alive(sleeper))
    local out = A.run { recipe = A.recipe(d, fx.dir, NO_PID), argv = { ATT, "kill", tostring(sleeper) } }
    h.sh("sleep 0.2")
    assert.is_true(A.alive(sleeper), "the host's root process was killed:\n" .. out)
  end)
end)

describe("boundary 7: cgroupfs #root #boundary", function()
  local fx = helper_fixture()

  local function attempt(o)
    local tok = A.token()
    local d = A.tmpdir("0755")
    A.defer(function()
      -- whatever a successful attack made at a hierarchy's root goes
      for dir in (h.sh("ls -d /sys/fs/cgroup/*/isolatk-" .. tok .. " /sys/fs/cgroup/isolatk-" .. tok
        .. " 2>/dev/null")):gmatch("[^\n]+") do h.sh("rmdir " .. h.shq(dir)) end
      A.rm(d)
    end)
    local g = "isolatk-" .. tok
    o = o or {}
    o.recipe = A.recipe(d, fx.dir)
    o.argv = A.sh(
      "mkdir -p /tmp/cg2 /tmp/cgp; "
      .. "if mount -t cgroup2 none /tmp/cg2 2>/dev/null; then echo ESCAPED mounted cgroup2; "
      .. "mkdir /tmp/cg2/" .. g .. " && echo ESCAPED created a cgroup2 group; "
      .. "rmdir /tmp/cg2/" .. g .. " 2>/dev/null; fi; "
      .. "if mount -t cgroup -o pids none /tmp/cgp 2>/dev/null; then echo ESCAPED mounted cgroup v1 pids; "
      .. "mkdir /tmp/cgp/" .. g .. " && echo ESCAPED created a pids group; rmdir /tmp/cgp/" .. g .. " 2>/dev/null; fi; "
      .. "cat /proc/self/cgroup")
    return A.run(o)
  end

  it("cgroupfs cannot be mounted from inside, the cgroup namespace is rooted at the sandbox (root)", function()
    if root_only() then return end
    local out = attempt()
    A.assert_blocked(out, "mounting cgroupfs")
    for line in out:gmatch("[^\n]+") do
      local path = line:match("^%d+:[^:]*:(.*)$")
      if path then assert.are.equal("/", path, "cgroup namespace not rooted at the sandbox: " .. line) end
    end
  end)

  it("cgroupfs cannot be mounted from inside (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree)
      A.assert_blocked(attempt { user = user, tree = tree }, "mounting cgroupfs")
    end)
  end)
end)

describe("boundary 8: no TIOCSTI into the caller's terminal #root #boundary", function()
  local fx = helper_fixture()

  -- Run the attack on a pty the spec made; the pushed bytes (the token
  -- reversed, so the command line itself never matches) echo on the master.
  local function on_pty(body, base, o)
    local tok = A.token()
    local d = A.workdir()
    o = o or {}
    o.recipe, o.timeout, o.argv = A.recipe(d, fx.dir, body, base), 20, { ATT, "tiocsti", tok:reverse() }
    local cmd = A.isol_cmd(o)
    local out = h.sh("/usr/bin/python3 " .. h.shq(A.attack_dir .. "/pty_run.py") .. " 25 /bin/sh -c "
      .. h.shq(cmd) .. " 2>&1")
    A.started(out)
    local echoed = out:gsub("[\r\n]", ""):find(tok:reverse(), 1, true)
    assert.is_nil(echoed, "keystrokes were pushed into the terminal:\n" .. out)
    A.assert_blocked(out, "TIOCSTI")
  end

  it("from untrusted (root)", function()
    if root_only() then return end
    on_pty()
  end)

  it("from untrusted (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree) on_pty(nil, nil, { user = user, tree = tree }) end)
  end)

  it("from a recipe without a user namespace (root)", function()
    if root_only() then return end
    on_pty(nil, "{ namespaces = { 'mount', 'pid' }, root = require('isol').recipes.host_readonly() }")
  end)

  it("from a recipe without a user namespace and new_session = false (root)", function()
    if root_only() then return end
    on_pty([[r.new_session = false]],
      "{ namespaces = { 'mount', 'pid' }, root = require('isol').recipes.host_readonly() }")
  end)
end)

describe("boundary 9: chroot mode #root #boundary", function()
  local fx = helper_fixture()

  local function escape(o, owner)
    local marker_dir = A.tmpdir("0700")
    local secret = A.token()
    A.write(marker_dir .. "/marker", secret, "0600")
    if owner then h.sh("chown -R " .. owner .. " " .. h.shq(marker_dir)) end
    local d = A.tmpdir("0755")
    A.defer(function() A.rm(marker_dir); A.rm(d) end)
    o.recipe = A.recipe(d, fx.dir, "r.root.mode = 'chroot'")
    o.argv = { ATT, "chroot-escape", marker_dir .. "/marker" }
    local out = A.run(o)
    A.started(out)
    assert.is_nil(out:find(secret, 1, true), "the double chroot read a host file:\n" .. out)
    local host_root = h.sh("stat -c %d:%i /"):gsub("%s", "")
    assert.is_nil(out:find("ROOT=" .. host_root, 1, true), "the double chroot reached the host's /:\n" .. out)
  end

  it("the double-chroot escape fails (root)", function()
    if root_only() then return end
    escape({})
  end)

  it("the double-chroot escape fails (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree) escape({ user = user, tree = tree }, user) end)
  end)
end)

describe("boundary 10: keyring #root #boundary", function()
  local fx = helper_fixture()

  local function steal(o)
    local payload = A.token()
    local d = A.workdir()
    o.recipe = A.recipe(d, fx.dir)
    o.argv = { ATT, "keyread", "isolatk", "@KEYID@" }
    -- keyhost: a fresh session keyring of the spec's own launcher with one key
    o.launcher = nil
    local cmd = A.isol_cmd(o)
    cmd = cmd:gsub("timeout %-s KILL", fx.dir .. "/attack keyhost isolatk " .. payload .. " timeout -s KILL", 1)
    local out = h.sh(cmd .. " 2>&1")
    assert.is_nil(out:find(payload, 1, true), "the sandbox read the caller's key:\n" .. out)
    A.assert_blocked(out, "keyring")
  end

  it("the sandbox cannot read the caller's session keyring (root)", function()
    if root_only() then return end
    steal({})
  end)

  it("the sandbox cannot read the caller's session keyring (ordinary user)", function()
    if root_only() then return end
    as_user(function(user, tree)
      local o = { user = user, tree = tree }
      -- the key is added by the user's own process: keyhost after setpriv
      local payload = A.token()
      local d = A.workdir()
      o.recipe = A.recipe(d, fx.dir)
      o.argv = { ATT, "keyread", "isolatk", "@KEYID@" }
      local cmd = A.isol_cmd(o):gsub("%-%- env %-i", "-- " .. fx.dir .. "/attack keyhost isolatk " .. payload
        .. " env -i", 1)
      local out = h.sh(cmd .. " 2>&1")
      assert.is_nil(out:find(payload, 1, true), "the sandbox read the caller's key:\n" .. out)
      A.assert_blocked(out, "keyring")
    end)
  end)
end)

describe("boundary 11: bind sources are not redirected by planted symlinks #root #boundary", function()
  local fx = helper_fixture()

  it("a symlink planted in a workspace does not redirect the next run's nofollow bind (root)", function()
    if root_only() then return end
    -- the workspace is writable by whatever host id sandbox root maps to
    local ws = A.tmpdir("0777")
    local priv = A.tmpdir("0700")
    local secret = A.token()
    A.write(priv .. "/secret", secret, "0600")
    local d = A.tmpdir("0755")
    A.defer(function() A.rm(ws); A.rm(priv); A.rm(d) end)
    -- run 1: the untrusted command plants ws/x -> the private host dir (its
    -- workspace is writable: in untrusted's Landlock write list too)
    local out1 = A.run { recipe = A.recipe(d, fx.dir, string.format(
      "mounts[#mounts + 1] = { type = 'bind', source = %q, target = '/work' }; " ..
      "table.insert(r.landlock.write, '/work')", ws)),
      argv = A.sh("ln -s " .. priv .. " /work/x && echo planted") }
    assert.matches("planted", out1)
    assert.is_truthy(h.sh("readlink " .. h.shq(ws .. "/x")):match("isolatk"), out1)
    -- run 2: the next run binds ws/x with nofollow: it must fail cleanly
    local out2, code2 = A.run { recipe = A.recipe(d, fx.dir, string.format(
      "mounts[#mounts + 1] = { type = 'bind', source = %q, target = '/data', nofollow = true }", ws .. "/x")),
      argv = A.sh("cat /data/secret") }
    assert.is_nil(out2:find(secret, 1, true), "the bind followed the planted symlink:\n" .. out2)
    assert.are_not.equal(0, code2, out2)
    assert.is_nil(out2:match("unknown"), "nofollow is not a bind option:\n" .. out2)
    assert.is_nil(out2:match("STARTED"), "the sandbox ran with the redirected bind:\n" .. out2)
    -- and nofollow on a real directory works
    h.sh("rm -f " .. h.shq(ws .. "/x") .. " && mkdir " .. h.shq(ws .. "/x") .. " && echo ok > " .. h.shq(ws .. "/x/f"))
    local out3, code3 = A.run { recipe = A.recipe(d, fx.dir, string.format(
      "mounts[#mounts + 1] = { type = 'bind', source = %q, target = '/data', nofollow = true }", ws .. "/x")),
      argv = A.sh("cat /data/f") }
    assert.are.equal(0, code3, out3)
    assert.matches("ok", out3)
  end)
end)

describe("boundary 12: a script attached to its own sandbox cgroup does not freeze itself #root #boundary", function()
  it("attaching the caller and closing ends normally (root)", function()
    if root_only() then return end
    local d = A.tmpdir("0755")
    local pid
    A.defer(function()
      if pid then A.kill_pids { pid } end
      A.rm(d)
    end)
    local rp = A.recipe(d, nil)
    A.write(d .. "/own.lua", string.format([[
package.path = %q .. package.path
package.cpath = %q .. package.cpath
local isol = require "isol"
local box = isol.sandbox(dofile(%q))
local p = assert(box:spawn { "/bin/sleep", "1" })
print("SPAWNED")
io.stdout:flush()
local ok, msg = pcall(function() return box.cgroup:attach() end)
print("ATTACH", ok, msg)
io.stdout:flush()
p:wait()
box:close()
print("DONE")
]], h.root .. "/lua/?.lua;" .. h.root .. "/lua/?/init.lua;", h.root .. "/build/?.so;", rp), "0644")
    pid = tonumber((h.sh("(" .. h.lua_bin .. " " .. d .. "/own.lua > " .. d .. "/out 2>&1 & echo $!)"):gsub("%s", "")))
    local ended = A.wait_for(function() return not A.alive(pid) end, 15)
    local out = h.read(d .. "/out") or ""
    assert.matches("SPAWNED", out)
    assert.is_true(ended, "the script froze itself in its own cgroup:\n" .. out)
    assert.matches("DONE", out, "the script did not end normally:\n" .. out)
  end)
end)
