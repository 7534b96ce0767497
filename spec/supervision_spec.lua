-- Supervision (issue 10.5): after box:close() and after the caller dies, no
-- process of the sandbox survives, with or without a pid namespace, against
-- a command that kills its supervising init (`kill -9 $PPID`) and leaves a
-- setsid escapee; the combinations where isol could not find such an
-- escapee are refused, naming the fields. Every check is by pid, from the
-- host.
local h = require "support.helpers"
local leak = require "support.leak"
local isol = require "isol"
local core = isol.core

local tmp = leak.own((h.sh("mktemp -d /tmp/isol-superv-spec.XXXXXX"):gsub("%s+$", "")))
teardown(function() h.sh("rm -rf " .. h.shq(tmp)) end)

local function sleep(s) os.execute("sleep " .. s) end

local function read_pids(path)
  local out = {}
  local f = io.open(path, "r")
  if not f then return out end
  for l in f:lines() do out[#out + 1] = math.tointeger(tonumber(l)) end
  f:close()
  return out
end

local function wait_for(fn, secs)
  for _ = 1, (secs or 5) * 20 do
    local v = fn()
    if v then return v end
    sleep(0.05)
  end
  return fn()
end

-- pids still alive (zombies count as gone: they are dead, waiting to be reaped)
local function survivors(pids)
  local alive = {}
  for _, pid in ipairs(pids) do
    local st = core.proc_stat(pid)
    if st and st.state ~= "Z" then alive[#alive + 1] = pid end
  end
  return alive
end

local n = 0
local function tmpfile(tag)
  n = n + 1
  return string.format("%s/%s-%d", tmp, tag, n)
end

-- The attack: leave a setsid escapee (a double fork: re-parented away from
-- the command), kill the supervisor, then leave another; each records its
-- pid, and so does the command. (Where the command dies with its init, it
-- gets no further than the kill: the first escapee is the test then.)
local function attack(f)
  local esc = string.format("( setsid sh -c 'echo $$ >> %s; exec sleep 300' & ); ", f)
  return { "/bin/sh", "-c", string.format("echo $$ >> %s; %s sleep 0.2; echo ok > %s.ready; kill -9 $PPID; %s" ..
    "exec sleep 301", f, esc, f, esc) }
end

-- Spawn argv in a sandbox made from r, wait for `f`.ready, take the pids to
-- watch (watch(p) -> list), close the sandbox: nothing of them may survive.
-- Returns how many of them lived before the close.
local function close_ends_all(r, argv, f, watch)
  local snap = leak.snapshot()
  local pids, before
  do
    local box <close> = isol.sandbox(r)
    local p = assert(box:spawn(argv))
    assert.truthy(wait_for(function() return io.open(f .. ".ready") end))
    pids = watch(p)
    before = #survivors(pids)
  end
  assert.are.same({}, survivors(pids))
  leak.assert_clean(snap)
  return before
end

describe("box:close() ends a sandbox whose command killed its init #root", function()
  it("without a pid namespace, through its cgroup", function()
    local f = tmpfile("cg")
    local before = close_ends_all({ namespaces = { "mount" }, limits = { pids = { max = 64 } } }, attack(f), f,
      function(p)
        -- the init is dead: the command's kill reached it
        assert.truthy(wait_for(function() return p:poll() end))
        sleep(0.3) -- (time for the second escapee, where the command survives)
        local pids = read_pids(f)
        assert.is_true(#pids >= 2, "pids: " .. #pids)
        pids[#pids + 1] = p:pid()
        return pids
      end)
    assert.is_true(before >= 1, "no escapee ran") -- the escapees (and the command, if it outlived its init)
  end)

  it("with a pid namespace: PID 1 cannot be killed from inside, and takes everything with it", function()
    local f = tmpfile("pidns")
    local before = close_ends_all({ namespaces = { "pid", "mount" } }, attack(f), f, function(p)
      assert.is_false(p:poll()) -- kill -9 1 from inside is ignored
      return assert(isol.pidns.pids(p:pid()))
    end)
    assert.is_true(before >= 3, "processes: " .. before)
  end)
end)

-- Run a host Lua process in the background that starts the sandbox (after
-- the Lua code `pre`, if any), writes the pids to watch to `f` and sleeps;
-- return its pid.
local function host(recipe_src, f, cmd, pre)
  local script = f .. ".host.lua"
  local sf = assert(io.open(script, "w"))
  sf:write(string.format([[
local isol = require "isol"
local box = isol.sandbox(%s)
%s
local p = assert(box:spawn { "/bin/sh", "-c", %q })
for _ = 1, 100 do
  local r = io.open(%q) if r then r:close() break end
  os.execute("sleep 0.05")
end
local out = io.open(%q, "a")
out:write(p:pid(), "\n")
if box.recipe.namespaces[1] == "pid" then
  for _, pid in ipairs(assert(isol.pidns.pids(p:pid()))) do out:write(pid, "\n") end
else -- the escapee's own $$ is a host pid
  out:write(io.open(%q):read("a"))
end
out:close()
io.open(%q, "w"):close()
-- (asleep in this process: an os.execute'd sleep would outlive our SIGKILL)
isol.core.poll({}, 300)
]], recipe_src, pre or "", cmd, f .. ".ready", f, f .. ".esc", f .. ".watch"))
  sf:close()
  local root = h.root
  local out = h.sh(string.format(
    "cd %s && LUA_PATH=%s LUA_CPATH=%s %s %s </dev/null >%s.log 2>&1 & echo $!", h.shq(root),
    h.shq(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"), h.shq(root .. "/build/?.so;;"),
    h.lua_bin, h.shq(script), h.shq(f)))
  return math.tointeger(tonumber(out))
end

describe("the caller's death ends the sandbox #root", function()
  local escapee = "( setsid sh -c 'echo $$ >> %s; exec sleep 300' & ); sleep 0.2; echo ok > %s.ready; exec sleep 301"
  -- isol keeps a pidfd of the caller and its init's memfd from spawn to
  -- spawn: a host that closed every fd it did not open and reused the
  -- numbers must not have them taken for isol's (a file there would read
  -- as a dead caller, or be exec'd)
  local reuse_fds = [[
assert(box:spawn { "/bin/true" }):wait()
for fd = 3, 63 do isol.core.close_fd(fd) end
local fill = {}
for i = 1, 61 do fill[i] = assert(io.open("/proc/self/status")) end
]]

  for _, c in ipairs {
    { "pid namespace, init = false (the command is PID 1)", '{ namespaces = { "pid", "mount" }, init = false }' },
    { "pid namespace, isol's init", '{ namespaces = { "pid", "mount" } }' },
    { "no pid namespace, isol's init (a subreaper watching the caller)", '{ namespaces = { "mount" } }' },
    { "pid namespace, isol's init, after the host closed and reused isol's kept fds",
      '{ namespaces = { "pid", "mount" } }', reuse_fds },
    { "no pid namespace, isol's init, after the host closed and reused isol's kept fds",
      '{ namespaces = { "mount" } }', reuse_fds },
  } do
    it(c[1], function()
      local f = tmpfile("host")
      local hpid = host(c[2], f, string.format(escapee, f .. ".esc", f), c[3])
      assert.truthy(wait_for(function() return io.open(f .. ".watch") end, 10),
        "host did not start: " .. (h.read(f .. ".log") or ""))
      local pids = read_pids(f)
      assert.is_true(#pids >= 2, "pids: " .. #pids)
      assert.are.equal(#pids, #survivors(pids))
      os.execute("kill -KILL " .. hpid)
      assert.truthy(wait_for(function() return #survivors(pids) == 0 end, 5),
        "survivors after the host died: " .. table.concat(survivors(pids), " "))
    end)
  end
end)

describe("combinations isol cannot supervise are refused #root", function()
  -- nothing is started: the spawn fails with the reason
  local function refused(r)
    local snap = leak.snapshot()
    local box <close> = isol.sandbox(r)
    local p, msg, code = box:spawn { "/bin/sh", "-c", "setsid sleep 300 &" }
    assert.is_nil(p)
    assert.are.equal(core.errno.EINVAL, code)
    box:close()
    leak.assert_clean(snap)
    return msg
  end

  it("init = false without a pid namespace, dying with the caller", function()
    assert.are.equal('init: init = false without a "pid" namespace: a setsid grandchild of the command would ' ..
      'outlive the caller (die_with_parent reaches the command only): add "pid" to namespaces, or drop ' ..
      'init = false', refused { namespaces = { "mount" }, init = false })
    -- with a cgroup too: nothing kills a cgroup when the caller dies
    assert.matches("would outlive the caller", refused { init = false, limits = { pids = { max = 9 } } })
  end)

  it("init = false without a pid namespace or a cgroup", function()
    assert.are.equal('init: init = false without a "pid" namespace or a cgroup: isol cannot find a setsid ' ..
      'escapee after the command ends: add "pid" to namespaces or a limit',
      refused { init = false, die_with_parent = false })
  end)

  it("init = false, not dying with the caller, with a cgroup: close() ends a setsid escapee", function()
    local f = tmpfile("nodwp")
    local before = close_ends_all({ init = false, die_with_parent = false, limits = { pids = { max = 64 } } },
      { "/bin/sh", "-c", string.format("( setsid sh -c 'echo $$ >> %s; exec sleep 300' & ); sleep 0.2; " ..
        "echo ok > %s.ready; exec sleep 301", f, f) }, f,
      function(p)
        local pids = read_pids(f)
        pids[#pids + 1] = p:pid()
        return pids
      end)
    assert.are.equal(2, before)
  end)
end)
