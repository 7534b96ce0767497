-- Leak check for integration specs: snapshot what a spec could leave behind,
-- run the spec, then everything new that belongs to this run must be gone.
--
--   local leak = require "support.leak"
--   local snap = leak.snapshot { dirs = { tmpdir } }
--   ... spec ...
--   leak.assert_clean(snap)                      -- or leak.assert_clean(snap, { ignore = "loop" })
--
-- What is looked at, and how it is attributed to this run (the test runner,
-- the process that loads this file) so that suites running at the same time
-- on the same host never fail each other:
--   process  descendants of the runner (read from /proc/*/stat in process:
--            the check starts no helper process of its own).
--   fd       every fd of the runner, close-on-exec ones included, from its own
--            /proc/<pid>/fd.
--   cgroup   isol names its groups isol-<creator pid>-<seq>: a group counts
--            when its creator is the runner, a process seen as one of the
--            runner's descendants by any check of this run, or a child that
--            wrote its pid to this run's registry (M.registry: the child
--            interpreters of support.helpers do) before it exited.
--   loop     a loop device whose backing file is under a directory of this
--            run (snapshot{dirs=}, snapshot{loop_prefix=}, leak.own(dir)),
--            or anywhere outside the shared temp directories.
--   mount    a new mount point under a directory of this run, or anywhere
--            outside the shared temp directories (the mount namespace of the
--            runner is the host's, shared with every other suite).
local core = require "isol.core"

local M = {}

local self_pid = core.getpid()
M.pid = self_pid

-- What isol opens once per process and keeps (a cache, such as the copy of
-- its init it execs) is not a leak: one spawn before any snapshot creates it.
do
  -- supervised, so that isol's init memfd (kept once per process) exists
  local ok, p = pcall(core.spawn, { argv = { "/bin/true" }, supervise = true })
  if ok and p then
    p:wait()
    p:close()
  end
end

-- Directories that belong to this run (prefixes with a trailing "/").
local own_dirs = {}
-- Every pid seen as a descendant of the runner during this run.
local seen = {}

--- File where child interpreters of this run append their pid, one a line
-- (removed when the runner exits).
M.registry = string.format("/tmp/isol-leak-%d.children", self_pid)
M._registry_gc = setmetatable({}, { __gc = function() os.remove(M.registry) end })

local function registered()
  local f = io.open(M.registry, "r")
  if not f then return end
  for l in f:lines() do
    local pid = tonumber(l)
    if pid then seen[pid] = true end
  end
  f:close()
end

-- Temp directories every suite shares: what is under them belongs to a
-- run only when that run said so.
local SHARED = { "/tmp/", "/var/tmp/", "/dev/shm/" }

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function slash(dir) return (dir:gsub("/*$", "/")) end

--- Declare `dir` as this run's: loop devices backed by and mounts under it count.
function M.own(dir)
  own_dirs[slash(dir)] = true
  return dir
end

local function ours(path)
  path = path:gsub(" %(deleted%)$", "")
  for d in pairs(own_dirs) do
    if path == d:sub(1, -2) or path:sub(1, #d) == d then return true end
  end
  for _, d in ipairs(SHARED) do
    if path:sub(1, #d) == d then return false end
  end
  return true
end

-- pid -> {ppid=, comm=, state=}
local function procs()
  local t = {}
  for _, name in ipairs(core.listdir("/proc") or {}) do
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

--- The runner's descendants: pid -> {ppid=, comm=, state=}.
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
      mine[pid] = p
      seen[pid] = true
    end
  end
  return mine
end

--- The runner's open fds: fd number (string) -> target.
function M.fds()
  local t = {}
  local dir = "/proc/" .. self_pid .. "/fd"
  for _, fd in ipairs(core.listdir(dir) or {}) do
    -- the directory listing's own fd is closed by now: no target, skipped
    local target = core.readlink(dir .. "/" .. fd)
    if target then t[fd] = target end
  end
  return t
end

--- Mount points of the runner's mount namespace: mount point -> count.
function M.mounts()
  local t = {}
  for line in (read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    t[mp] = (t[mp] or 0) + 1
  end
  return t
end

--- Loop devices: name -> backing file. With `prefix`, only those backed by a
-- file under it.
function M.loops(prefix)
  local t = {}
  for _, dev in ipairs(core.listdir("/sys/block") or {}) do
    if dev:match("^loop") then
      local b = read("/sys/block/" .. dev .. "/loop/backing_file")
      if b then
        b = b:gsub("\n$", "")
        if not prefix or b:sub(1, #prefix) == prefix then t[dev] = b end
      end
    end
  end
  return t
end

-- Control files without a dot in their name (v1); every other entry with a
-- dot is a file, not a group.
local PLAIN_FILES = { tasks = true, notify_on_release = true, release_agent = true }

--- Every cgroup named isol-<pid>-<seq> on the host: path -> creator pid.
function M.all_cgroups()
  local t = {}
  local function walk(dir, depth)
    for _, name in ipairs(core.listdir(dir) or {}) do
      if not name:find(".", 1, true) and not PLAIN_FILES[name] then
        local path = dir .. "/" .. name
        local pid = tonumber(name:match("^isol%-(%d+)%-%d+$"))
        if pid then t[path] = pid end
        if depth < 8 then walk(path, depth + 1) end
      end
    end
  end
  walk("/sys/fs/cgroup", 1)
  return t
end

--- This run's isol cgroups: path -> creator pid.
function M.cgroups()
  registered()
  local live = M.processes()
  local t = {}
  for path, pid in pairs(M.all_cgroups()) do
    if pid == self_pid or live[pid] or seen[pid] then t[path] = pid end
  end
  return t
end

--- Snapshot before a spec. opts: dirs = {dir, ...} (this spec's directories:
-- see the header), loop_prefix = dir (the same, for one directory).
function M.snapshot(opts)
  opts = opts or {}
  if opts.loop_prefix then M.own(opts.loop_prefix) end
  for _, d in ipairs(opts.dirs or {}) do M.own(d) end
  return { procs = M.processes(), fds = M.fds(), mounts = M.mounts(), loops = M.loops(),
    cgroups = M.all_cgroups() }
end

local KINDS = { process = true, loop = true, fd = true, mount = true, cgroup = true }

local function sleep(s) core.poll({}, s) end

--- What is new since snap and belongs to this run, as a list of
-- "<kind> <what>" strings (after waiting up to `grace` seconds, default 2,
-- for processes to exit and autoclear loop devices to go).
function M.diff(snap, grace)
  local deadline = core.now() + (grace or 2)
  local new
  repeat
    new = {}
    for pid, p in pairs(M.processes()) do
      if not snap.procs[pid] then new[#new + 1] = string.format("process %d (%s, %s)", pid, p.comm, p.state) end
    end
    for dev, b in pairs(M.loops()) do
      if not snap.loops[dev] and ours(b) then new[#new + 1] = "loop device " .. dev .. " -> " .. b end
    end
    if #new == 0 then break end
    sleep(0.05)
  until core.now() > deadline
  -- an unreachable handle is closed by its finalizer: only fds that
  -- something still holds, or that nothing will ever close, are leaks
  collectgarbage("collect")
  collectgarbage("collect")
  for fd, target in pairs(M.fds()) do
    if not snap.fds[fd] then new[#new + 1] = string.format("fd %s -> %s", fd, target) end
  end
  for mp, n in pairs(M.mounts()) do
    if n > (snap.mounts[mp] or 0) and ours(mp) then new[#new + 1] = "mount " .. mp end
  end
  for cg in pairs(M.cgroups()) do
    if not snap.cgroups[cg] then new[#new + 1] = "cgroup " .. cg end
  end
  table.sort(new)
  return new
end

--- Fail when something new since snap is left. opts: ignore = kind or
-- {kind, ...} (process, fd, cgroup, loop, mount) not to check, with the
-- reason in a comment at the call; grace = seconds (see diff).
function M.assert_clean(snap, opts)
  if type(opts) == "number" then opts = { grace = opts } end
  opts = opts or {}
  local ignore = {}
  for _, k in ipairs(type(opts.ignore) == "table" and opts.ignore or { opts.ignore }) do
    assert(KINDS[k], "leak.assert_clean: unknown kind to ignore: " .. tostring(k))
    ignore[k] = true
  end
  local left = {}
  for _, x in ipairs(M.diff(snap, opts.grace)) do
    local kind = x:match("^(%a+)")
    if not ignore[kind] then left[#left + 1] = x end
  end
  assert(#left == 0, "leaked: " .. table.concat(left, "; "))
end

return M
