-- Leak check for integration specs: snapshot processes (descendants of the
-- runner), open fds, mounts of this mount namespace, loop
-- devices and isol cgroups; after the spec, everything new must be gone.
--
--   local leak = require "support.leak"
--   local snap = leak.snapshot()
--   ... spec ...
--   leak.assert_clean(snap)
local M = {}

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function ls(dir)
  local out = {}
  local p = io.popen("ls -1 " .. dir .. " 2>/dev/null")
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

-- pid -> {ppid=, comm=, state=}
local function procs()
  local t = {}
  for _, name in ipairs(ls("/proc")) do
    local pid = tonumber(name)
    if pid then
      local st = read("/proc/" .. pid .. "/stat")
      if st then
        local comm, state, ppid = st:match("^%d+ %((.*)%) (%S) (%d+)")
        if comm then t[pid] = { ppid = tonumber(ppid), comm = comm, state = state } end
      end
    end
  end
  return t
end

local self_pid = tonumber(read("/proc/self/stat"):match("^(%d+)"))

-- Our descendants and isol-init processes (the ones a spec may leave).
function M.processes()
  local t = procs()
  local mine = {}
  local function is_mine(pid, depth)
    if depth > 64 then return false end
    local p = t[pid]
    if not p then return false end
    if p.ppid == self_pid then return true end
    return is_mine(p.ppid, depth + 1)
  end
  for pid, p in pairs(t) do
    if pid ~= self_pid and is_mine(pid, 0) then
      -- the `ls` and `io.popen` helpers of this very check are excluded
      if p.comm ~= "ls" and p.comm ~= "sh" then mine[pid] = p end
    end
  end
  return mine
end

-- The fds `ls` inherits from this process, with their targets, from one
-- `ls -l` (a readlink per fd cost ~0.2 s each in the VM suite, under TCG).
function M.fds()
  local t = {}
  local p = io.popen("ls -l /proc/self/fd 2>/dev/null")
  for l in p:lines() do
    local fd, target = l:match(" (%d+) %-> (.*)$")
    if fd then t[fd] = target end
  end
  p:close()
  return t
end

function M.mounts()
  local t = {}
  for line in (read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    t[mp] = (t[mp] or 0) + 1
  end
  return t
end

function M.loops()
  local t = {}
  for _, dev in ipairs(ls("/sys/block")) do
    if dev:match("^loop") then
      local b = read("/sys/block/" .. dev .. "/loop/backing_file")
      if b then t[dev] = b:gsub("\n$", "") end
    end
  end
  return t
end

-- isol's cgroups are named isol-<creator pid>-<seq>. Other runs (other
-- worktrees' suites) may create and remove theirs at the same time, so only
-- groups whose creator is this process, one of its live descendants, or a
-- process that has exited (a spec's child `lua5.4`) are counted; a group
-- whose creator is alive elsewhere belongs to someone else.
function M.cgroups()
  local t = {}
  local p = io.popen("find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name 'isol-*' 2>/dev/null")
  local mine
  for l in p:lines() do
    local pid = tonumber(l:match("/isol%-(%d+)%-%d+$"))
    if pid then
      if pid ~= self_pid and read("/proc/" .. pid .. "/stat") then
        mine = mine or M.processes()
        if mine[pid] then t[l] = true end
      else
        t[l] = true
      end
    end
  end
  p:close()
  return t
end

function M.snapshot()
  return { procs = M.processes(), fds = M.fds(), mounts = M.mounts(), loops = M.loops(),
    cgroups = M.cgroups() }
end

-- What is new since snap (after waiting up to `grace` seconds for exits).
function M.diff(snap, grace)
  grace = grace or 2
  local deadline = os.time() + grace
  local new
  repeat
    new = {}
    for pid, p in pairs(M.processes()) do
      if not snap.procs[pid] then new[#new + 1] = string.format("process %d (%s, %s)", pid, p.comm, p.state) end
    end
    if #new == 0 then break end
    os.execute("sleep 0.05")
  until os.time() > deadline
  local fdnow = M.fds()
  for fd, target in pairs(fdnow) do
    if not snap.fds[fd] and not target:match("^/proc/%d+/fd$") then
      new[#new + 1] = string.format("fd %s -> %s", fd, target)
    end
  end
  for mp, n in pairs(M.mounts()) do
    if n > (snap.mounts[mp] or 0) then new[#new + 1] = "mount " .. mp end
  end
  for dev, b in pairs(M.loops()) do
    if not snap.loops[dev] then new[#new + 1] = "loop device " .. dev .. " -> " .. b end
  end
  for cg in pairs(M.cgroups()) do
    if not snap.cgroups[cg] then new[#new + 1] = "cgroup " .. cg end
  end
  return new
end

function M.assert_clean(snap, grace)
  local new = M.diff(snap, grace)
  assert(#new == 0, "leaked: " .. table.concat(new, "; "))
end

return M
