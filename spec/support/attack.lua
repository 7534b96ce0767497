-- Support for spec/boundary_spec.lua: temporary targets, the attack helper
-- (spec/attack/attack.c, compiled static into a temp dir), recipe files built
-- on isol.recipes.untrusted(), `isol run` as root or as a temporary user,
-- and finding/killing the processes an attack started (by a random token in
-- their command line, by pid, never by name).
local h = require "support.helpers"

local M = {}
local shq = h.shq
-- spec/attack/, found from this file (so the spec also runs against another tree)
local ATTACK_DIR = (debug.getinfo(1, "S").source:match("^@(.*)/support/[^/]*$") or "spec") .. "/attack"
M.attack_dir = ATTACK_DIR

-- Cleanups of the running test, last in first out (busted's `finally`
-- keeps only one function per test); the spec runs M.cleanup after each.
local cleanups = {}

--- Run `fn` after the current test, whatever happens.
function M.defer(fn)
  cleanups[#cleanups + 1] = fn
end

function M.cleanup()
  while #cleanups > 0 do
    local fn = table.remove(cleanups)
    local ok, err = pcall(fn)
    if not ok then io.stderr:write("boundary spec cleanup: ", tostring(err), "\n") end
  end
end

function M.token()
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = f:read(16)
  f:close()
  return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

--- A fresh directory under /tmp, owned by root, with `mode` (default 0700).
function M.tmpdir(mode)
  local d = h.sh("mktemp -d /tmp/isolatk.XXXXXX"):gsub("%s+$", "")
  assert(d:match("^/tmp/isolatk%.%w+$"), "mktemp failed: " .. d)
  h.sh("chmod " .. (mode or "0700") .. " " .. shq(d))
  return d
end

--- A tmpdir removed after the current test.
function M.workdir(mode)
  local d = M.tmpdir(mode or "0755")
  M.defer(function() M.rm(d) end)
  return d
end

function M.rm(path)
  if path and path:match("^/tmp/isolatk%.") then h.sh("rm -rf " .. shq(path)) end
end

function M.write(path, s, mode)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
  if mode then h.sh("chmod " .. mode .. " " .. shq(path)) end
end

--- Compile the attack helper into dir/attack (world-executable).
function M.build_helper(dir)
  local out, ok = h.sh(string.format("cc -static -O1 -o %s %s 2>&1 && chmod 0755 %s", shq(dir .. "/attack"),
    shq(ATTACK_DIR .. "/attack.c"), shq(dir .. "/attack")))
  assert(ok, "cannot build spec/attack/attack.c: " .. out)
  return dir .. "/attack"
end

--- A world-readable copy of what `bin/isol` needs (bin, lua, build), for a
-- user who cannot read the checkout.
function M.copy_tree(dir)
  local out, ok = h.sh(string.format("cp -r %s %s %s %s 2>&1 && chmod -R a+rX %s",
    shq(h.root .. "/bin"), shq(h.root .. "/lua"), shq(h.root .. "/build"), shq(dir), shq(dir)))
  assert(ok, "copy of the tree failed: " .. out)
  return dir
end

--- A temporary ordinary user; returns name, uid.
function M.user_create()
  local name = "isolatk" .. M.token():sub(1, 8)
  local out, ok = h.sh("useradd -M -s /bin/sh " .. name .. " 2>&1")
  assert(ok, "useradd: " .. out)
  local uid = tonumber((h.sh("id -u " .. name)))
  return name, uid
end

function M.user_delete(name)
  if name and name:match("^isolatk%x+$") then
    -- whatever the attack left running as that user goes first, by pid
    -- (quietly: one may end between the listing and the kill)
    local uid = tonumber((h.sh("id -u " .. name .. " 2>/dev/null")))
    if uid and uid ~= 0 then
      local p = io.popen("ls -1 /proc")
      for pid in p:lines() do
        local st = pid:match("^%d+$") and h.read("/proc/" .. pid .. "/status")
        if st and tonumber(st:match("\nUid:%s+(%d+)")) == uid then h.sh("kill -KILL " .. pid .. " 2>/dev/null") end
      end
      p:close()
    end
    h.sh("userdel -r " .. name .. " >/dev/null 2>&1; userdel " .. name .. " >/dev/null 2>&1")
  end
end

--- Delegate a cgroup to `user` the way an administrator would for limits
-- without root: one directory of its own, under this process's cgroup, in
-- each v1 hierarchy (chowned; a v1 cpuset gets its parent's CPUs and nodes).
-- Its runs then set cgroup.parent to it (ISOLATK_PARENT). Removed after the
-- test. The devices controller cannot be delegated (no rule is written for
-- an ordinary user) and the unified tree of a hybrid host is not needed.
M.delegated = {}
function M.delegate(user)
  local name = "isolatk-" .. M.token():sub(1, 12)
  M.defer(function() M.cgroup_remove(name); M.delegated[user] = nil end)
  local own, mounts = {}, {}
  for line in (h.read("/proc/self/cgroup") or ""):gmatch("[^\n]+") do
    local ctls, path = line:match("^%d+:([^:]+):(.*)$")
    if ctls then for c in ctls:gmatch("[^,]+") do own[c] = path end end
  end
  for line in (h.read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp, fstype, opts = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) %S+ (%S+)")
    if fstype == "cgroup" then for o in opts:gmatch("[^,]+") do mounts[o] = mp end end
  end
  local seen = {}
  for _, c in ipairs { "memory", "pids", "cpu", "cpuacct", "freezer", "blkio", "cpuset", "devices" } do
    local dir = mounts[c] and own[c] and mounts[c] .. (own[c] == "/" and "" or own[c]) .. "/" .. name
    if dir and not seen[dir] then
      seen[dir] = true
      local out, ok = h.sh(string.format("mkdir %s && chown -R %s %s 2>&1", shq(dir), user, shq(dir)))
      assert(ok, "delegate " .. dir .. ": " .. out)
      if c == "cpuset" then
        h.sh(string.format("cat %s/../cpuset.cpus > %s/cpuset.cpus; cat %s/../cpuset.mems > %s/cpuset.mems",
          shq(dir), shq(dir), shq(dir), shq(dir)))
      end
    end
  end
  M.delegated[user] = name
  return name
end

--- Remove every cgroup directory called `name` (a random one a recipe of
-- this spec asked for) in every hierarchy: thaw it, SIGKILL what the attack
-- left in it (processes this spec started), rmdir depth first.
function M.cgroup_remove(name)
  if not (name and name:match("^isolatk%-%x+$")) then return end
  for _ = 1, 30 do
    local dirs = h.sh("find /sys/fs/cgroup -maxdepth 8 -depth -type d -name " .. name .. " 2>/dev/null")
    if not dirs:match("%S") then return end
    for dir in dirs:gmatch("[^\n]+") do
      local f = io.open(dir .. "/freezer.state", "w")
      if f then f:write("THAWED"); f:close() end
      for d in h.sh("find " .. shq(dir) .. " -depth -type d 2>/dev/null"):gmatch("[^\n]+") do
        for pid in (h.read(d .. "/cgroup.procs") or ""):gmatch("%d+") do
          h.sh("kill -KILL " .. pid .. " 2>/dev/null")
        end
        h.sh("rmdir " .. shq(d) .. " 2>/dev/null")
      end
    end
    h.sh("sleep 0.1")
  end
  io.stderr:write("boundary spec: cgroup ", name, " could not be removed\n")
end

--- Write DIR/recipe.lua: untrusted(), the helper dir bound read-only at
-- /opt/isolatk, then `body` (Lua statements over the table `r`). A recipe
-- with limits gets its own random cgroup name, removed after the test (an
-- attack that kills its host leaves the group behind).
function M.recipe(dir, helper_dir, body, base)
  local cg = "isolatk-" .. M.token():sub(1, 12)
  M.defer(function() M.cgroup_remove(cg) end)
  local src = string.format([[
local isol = require "isol"
local r = %s
local mounts = r.root and r.root.mounts
if r.limits and not r.cgroup then r.cgroup = { name = %q } end
-- an ordinary user's run: under the cgroup root delegated to it (M.delegate)
if r.cgroup and os.getenv("ISOLATK_PARENT") then r.cgroup.parent = os.getenv("ISOLATK_PARENT") end
%s
%s
return r
]], base or "isol.recipes.untrusted()", cg,
    helper_dir and string.format(
      "mounts[#mounts + 1] = { type = 'bind', source = %q, target = '/opt/isolatk', readonly = true }",
      helper_dir) or "",
    body or "")
  local path = dir .. "/recipe.lua"
  M.write(path, src, "0644")
  return path
end

local function cmdline(argv)
  local t = {}
  for i, a in ipairs(argv) do t[i] = shq(a) end
  return table.concat(t, " ")
end
M.cmdline = cmdline

--- The shell command that runs `isol run RECIPE -- argv` (from `tree`, as
-- `user` when given), bounded by `timeout` seconds.
function M.isol_cmd(o)
  local tree = o.tree or h.root
  local pre = ""
  if o.user then
    pre = string.format("setpriv --reuid=%s --regid=%s --init-groups -- ", o.user, o.user)
  end
  local env = "env -i PATH=/usr/bin:/bin HOME=/tmp LUA_PATH= LUA_CPATH="
  if o.user and M.delegated[o.user] then env = env .. " ISOLATK_PARENT=" .. M.delegated[o.user] end
  for k, v in pairs(o.env or {}) do env = env .. " " .. k .. "=" .. shq(v) end
  local launcher = o.launcher and (shq(o.launcher) .. " ") or ""
  return string.format("cd %s && %stimeout -s KILL %d %s %s%s ./bin/isol run %s%s -- %s",
    shq(tree), o.wrap and (o.wrap .. " ") or "", o.timeout or 30, pre, env .. " ", launcher,
    o.detach and "-d --name " .. o.detach .. " " or "", shq(o.recipe), cmdline(o.argv))
end

--- ISOLATK_VERBOSE=1: show every attack's output on stderr.
function M.trace(out)
  if os.getenv("ISOLATK_VERBOSE") then io.stderr:write("---- attack output:\n", tostring(out), "\n") end
  return out
end

--- Run it; returns combined output and exit code.
function M.run(o)
  local out, _, code = h.sh(M.isol_cmd(o) .. " 2>&1")
  M.trace(out)
  return out, code
end

--- A shell script as the sandbox's command, after a STARTED line (so a
-- sandbox that never starts is not taken for a defended one).
function M.sh(script)
  return { "/bin/sh", "-c", "echo STARTED; " .. script }
end

function M.started(out)
  assert(out:match("STARTED") or out:match("ESCAPED") or out:match("BLOCKED") or out:match("ATTACK "),
    "the sandbox did not start, so the attack proves nothing:\n" .. out)
end

--- Assert no line says ESCAPED.
function M.assert_blocked(out, what)
  M.started(out)
  local esc = {}
  for l in out:gmatch("[^\n]+") do if l:match("ESCAPED") then esc[#esc + 1] = l end end
  assert(#esc == 0, (what or "attack") .. " got through:\n" .. out)
end

--- Pids (not ours) whose command line contains `token`.
function M.pids_with(token)
  local t = {}
  local self = h.sh("echo $PPID"):gsub("%s", "")
  local p = io.popen("grep -laF " .. shq(token) .. " /proc/[0-9]*/cmdline 2>/dev/null")
  for l in p:lines() do
    local pid = l:match("^/proc/(%d+)/")
    if pid and pid ~= self then t[#t + 1] = tonumber(pid) end
  end
  p:close()
  return t
end

--- The process with `token` in its command line whose parent is `timeout`
-- (the `isol run` process that M.isol_cmd starts).
function M.child_of_timeout(token)
  for _, pid in ipairs(M.pids_with(token)) do
    local st = h.read("/proc/" .. pid .. "/stat") or ""
    local ppid = st:match("^%d+ %(.-%) %S (%d+)")
    if ppid and (h.read("/proc/" .. ppid .. "/comm") or ""):match("^timeout") then return pid end
  end
end

function M.alive(pid)
  local st = h.read("/proc/" .. pid .. "/stat")
  return st ~= nil and not st:match("^%d+ %(.-%) Z")
end

--- SIGKILL each pid (thawing its v1 freezer group first, if frozen).
function M.kill_pids(pids)
  for _, pid in ipairs(pids) do
    local cg = h.read("/proc/" .. pid .. "/cgroup") or ""
    local fz = cg:match("%d+:freezer:([^\n]+)")
    if fz and fz ~= "/" then
      local f = io.open("/sys/fs/cgroup/freezer" .. fz .. "/freezer.state", "w")
      if f then f:write("THAWED"); f:close() end
    end
    h.sh("kill -KILL " .. math.tointeger(pid) .. " 2>/dev/null")
  end
end

--- Wait up to `secs` for fn() to be true.
function M.wait_for(fn, secs)
  local deadline = os.time() + secs
  repeat
    if fn() then return true end
    h.sh("sleep 0.1")
  until os.time() > deadline
  return fn()
end

--- A root sleeper started by the spec (setsid, own process); returns pid.
function M.sleeper(token, secs)
  local pid = h.sh(string.format("setsid bash -c %s >/dev/null 2>&1 & echo $!",
    shq("exec -a isolatk-sleeper-" .. token .. " sleep " .. (secs or 60)))):gsub("%s", "")
  return tonumber(pid)
end

return M
