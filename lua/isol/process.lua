--- The process concern's part of the Lua layer.
--
-- Installs into the isol module:
--
--   isol.session.pids(sid) / isol.session.kill(sid [, sig])
--       every process of a session (the seed's `ps --sid`), scanned from /proc in C
--   isol.pidns.pids(pid_or_inode) / isol.pidns.kill(pid_or_inode [, sig])
--       every process whose /proc/<pid>/ns/pid is that namespace
--   isol.attach(name) -> Process            a detached sandbox, by name
--   isol.exec(name, argv [, opts]) -> Process   a command inside a running sandbox
--   isol.detached.list() / .get(name) / .kill(name [, sig]) / .remove(name) / .dir(name)
--
-- and into the Sandbox:
--
--   box:spawn{..., detach = true, name = "web"}   survives the script (nohup problem)
--   box:kill()   ends every process of the sandbox, none survives (see `kill_hook`)
--
-- Without a pid namespace, isol's init still supervises (as a child subreaper)
-- unless the recipe says `init = false`: escapees (double fork + setsid) are
-- re-parented to it, so they stay findable and die with the sandbox.
-- @module isol.process
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"
local Sandbox = require "isol.sandbox"

local ESRCH, EEXIST, EPERM, ENOENT = 3, 17, 1, 2
local PID_MAX = 4194304 -- kernel limit: anything larger is a namespace inode

local M = {}

-- ---------------------------------------------------------------- helpers

local function check_sig(sig, path)
  if sig == nil then return "SIGKILL" end
  local ok, err = pcall(core.signum, sig)
  if not ok then
    util.fail(path or "signal", "unknown signal %s", util.show(sig))
  end
  return sig, err
end

local function check_id(v, path, what)
  if math.type(v) ~= "integer" or v <= 0 or v > 0x7fffffff then
    util.fail(path, "expected %s (an integer > 0), got %s", what, util.show(v))
  end
  return v
end

local function ns_kinds()
  return core.ns_kinds() -- { {name=, procname=}, ... }
end

-- Inodes of the namespaces `names` (recipe names) of process pid: {procname = ino}.
local function ns_inodes(pid, names)
  local want = {}
  for _, n in ipairs(names or {}) do want[n] = true end
  local out = {}
  for _, k in ipairs(ns_kinds()) do
    if want[k.name] then
      -- Only namespaces that differ from ours: e.g. a time namespace applies
      -- to the children of the root, and the root itself stays in ours
      -- (selecting by it would select the whole host).
      local ino = core.ns_inode(pid, k.procname)
      if ino and ino ~= core.ns_inode(0, k.procname) then out[k.procname] = ino end
    end
  end
  return out
end

-- ---------------------------------------------------------------- sessions

M.session = {}

--- Every live process of session `sid` (zombies left out), from /proc.
-- @return list of pids, or nil, message, errno (ESRCH: no such session)
function M.session.pids(sid)
  check_id(sid, "sid", "a session id")
  local pids, msg, code = core.proc_select { sid = sid }
  if not pids then return nil, msg, code end
  if #pids == 0 then return nil, string.format("session %d: no such session", sid), ESRCH end
  return pids
end

--- Signal every process of session `sid` (default SIGKILL: repeated until
-- none is left, also those forked during the kill). The caller is spared.
-- @return number of processes signalled, or nil, message, errno
function M.session.kill(sid, sig)
  check_id(sid, "sid", "a session id")
  sig = check_sig(sig)
  local pids, msg, code = M.session.pids(sid)
  if not pids then return nil, msg, code end
  return core.proc_kill({ sid = sid }, sig)
end

-- ---------------------------------------------------------------- pid namespaces

M.pidns = {}

--- Inode of a pid namespace given a pid (its namespace) or an inode.
-- Accepts 1234 (a pid), 4026532189 (an inode, larger than any pid),
-- "pid:[4026532189]" (readlink of /proc/<pid>/ns/pid).
function M.pidns.inode(x)
  if type(x) == "string" then
    local n = x:match("^pid:%[(%d+)%]$") or x:match("^(%d+)$")
    if not n then util.fail("pidns", 'expected a pid, an inode or "pid:[inode]", got %s', util.show(x)) end
    x = math.tointeger(tonumber(n))
  end
  if math.type(x) ~= "integer" or x <= 0 then
    util.fail("pidns", 'expected a pid, an inode or "pid:[inode]", got %s', util.show(x))
  end
  if x > PID_MAX then return x end
  local ino, msg, code = core.ns_inode(x, "pid")
  if not ino then
    if code == ENOENT then return nil, string.format("process %d: no such process", x), ESRCH end
    return nil, msg, code
  end
  return ino
end

local function own_pidns()
  return core.ns_inode(0, "pid")
end

--- Every live process of a pid namespace (seen from here), from /proc.
function M.pidns.pids(x)
  local ino, msg, code = M.pidns.inode(x)
  if not ino then return nil, msg, code end
  local pids
  pids, msg, code = core.proc_select { pidns = ino }
  if not pids then return nil, msg, code end
  if #pids == 0 then return nil, string.format("pid namespace %d: no process", ino), ESRCH end
  return pids
end

--- Signal every process of a pid namespace (default SIGKILL, until none is
-- left). Refuses the caller's own namespace.
function M.pidns.kill(x, sig)
  sig = check_sig(sig)
  local ino, msg, code = M.pidns.inode(x)
  if not ino then return nil, msg, code end
  if ino == own_pidns() then
    return nil, string.format("pid namespace %d is the caller's own: refusing to kill it", ino), EPERM
  end
  local pids
  pids, msg, code = core.proc_select { pidns = ino }
  if not pids then return nil, msg, code end
  if #pids == 0 then return nil, string.format("pid namespace %d: no process", ino), ESRCH end
  return core.proc_kill({ pidns = ino }, sig)
end

-- ---------------------------------------------------------------- the sandbox side

-- Per process handle: what box:kill needs even after the root has died.
local info = setmetatable({}, { __mode = "k" })

--- Kill everything of one spawned process tree with SIGKILL and reap it.
local function kill_everything(p, i)
  local pidns = i.pidns
  if pidns then
    -- PID 1 of the namespace: the kernel kills every other process of it
    -- and the init's exit completes only once they are all gone.
    p:kill("SIGKILL")
    p:wait()
    -- An init that had already ended took its namespace with it; a
    -- recipe without init (command is PID 1) behaves the same.
    return true
  end
  -- No pid namespace: descendants of the root (isol's init is a subreaper,
  -- so escapees stay in its tree: walking the tree is enough, and cheap)
  -- and, without that init, every process in a namespace the sandbox
  -- created. The root stays alive meanwhile to reap its children.
  local sel = { roots = { i.pid }, keep_roots = true, namespaces = not i.supervised and i.ns or nil }
  local n, msg, code = core.proc_kill(sel, "SIGKILL")
  p:kill("SIGKILL")
  p:wait()
  -- The root's last orphans (if it was no subreaper) are re-parented away:
  -- once more, now by namespaces only.
  if next(i.ns) then
    local n2, msg2, code2 = core.proc_kill({ namespaces = i.ns }, "SIGKILL")
    if not n2 then return nil, msg2, code2 end
  end
  if not n then return nil, msg, code end
  return true
end

-- Sandbox.hooks.kill: with SIGKILL, end every process of the sandbox and
-- wait until none is left. Other signals go to the roots only (the init
-- forwards them to the command; when the command ends, the init ends the
-- rest), which the default loop of Sandbox:kill does. Returns false so that
-- later hooks (cgroup kill) still run.
local function kill_hook(box, sig)
  if core.signum(sig) ~= core.signum("SIGKILL") then return false end
  for p in pairs(box.procs) do
    local i = info[p]
    if i and p:poll() == false then
      local ok, msg = kill_everything(p, i)
      if not ok then box.kill_error = msg end
    end
  end
  return false
end

-- Sandbox.hooks.plan: supervise without a pid namespace too.
local function plan_hook(box, plan)
  if not recipe.has_ns(box.recipe, "pid") and box.recipe.init ~= false then
    plan.supervise = true
  end
  local d = box._detaching
  if d then
    plan.detach = true
    plan.die_with_parent = false
    plan.supervise = true
    plan.status_fd = d.status_fd
    plan.stdin = plan.stdin or "null"
    plan.stdout = plan.stdout or { path = d.dir .. "/stdout.log", mode = "a" }
    plan.stderr = plan.stderr or { path = d.dir .. "/stderr.log", mode = "a" }
    d.stdout = type(plan.stdout) == "table" and plan.stdout.path or tostring(plan.stdout)
    d.stderr = type(plan.stderr) == "table" and plan.stderr.path or tostring(plan.stderr)
  end
  return true
end

-- ---------------------------------------------------------------- state directory

M.detached = {}

--- Where detached sandboxes are recorded: isol.detached.state_dir if set,
-- else $ISOL_STATE_DIR, else /run/isol
-- for root, else $XDG_RUNTIME_DIR/isol.
function M.detached.root()
  local d = M.detached.state_dir or os.getenv("ISOL_STATE_DIR")
  if d and d ~= "" then return d end
  local uid = core.ids()
  if uid == 0 then return "/run/isol" end
  local x = os.getenv("XDG_RUNTIME_DIR")
  if x and x ~= "" then return x .. "/isol" end
  return nil, "no state directory: set XDG_RUNTIME_DIR or ISOL_STATE_DIR", ENOENT
end

local function check_name(name, path)
  if type(name) ~= "string" or not name:match("^[%w][%w_.-]*$") or #name > 64 then
    util.fail(path or "name", "expected a sandbox name of letters, digits, '_', '.', '-' (at most 64, "
      .. "not starting with a symbol), got %s", util.show(name))
  end
  return name
end

--- The state directory of sandbox `name` (raises on a bad name).
function M.detached.dir(name)
  check_name(name)
  local root, msg, code = M.detached.root()
  if not root then return nil, msg, code end
  return root .. "/" .. name
end

local function esc(v) return (tostring(v):gsub("\\", "\\\\"):gsub("\n", "\\n")) end
local function unesc(v) return (v:gsub("\\(.)", function(c) return c == "n" and "\n" or c end)) end

local function write_state(dir, st)
  local keys = {}
  for k in pairs(st) do keys[#keys + 1] = k end
  table.sort(keys)
  local tmp = dir .. "/state.tmp"
  local f, msg, code = io.open(tmp, "w")
  if not f then return nil, msg, code end
  for _, k in ipairs(keys) do f:write(k, "=", esc(st[k]), "\n") end
  f:close()
  return os.rename(tmp, dir .. "/state")
end

local function read_state(dir)
  local f = io.open(dir .. "/state", "r")
  if not f then return nil end
  local st = {}
  for line in f:lines() do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k then st[k] = unesc(v) end
  end
  f:close()
  st.pid = math.tointeger(tonumber(st.pid))
  st.start = math.tointeger(tonumber(st.start))
  st.created = math.tointeger(tonumber(st.created))
  st.ns = {}
  for kind, ino in (st.namespaces or ""):gmatch("(%w+):(%d+)") do st.ns[kind] = math.tointeger(tonumber(ino)) end
  st.dir = dir
  return st
end

local function remove_dir(dir)
  local names = core.listdir(dir)
  for _, n in ipairs(names or {}) do os.remove(dir .. "/" .. n) end
  return os.remove(dir)
end

-- "running" | "exited" (status known) | "stale" (gone without a status:
-- killed, or its pid now names another process)
local function entry_state(st)
  if st.pid and core.proc_alive(st.pid, st.start) then return "running" end
  st.status = core.read_status(st.dir .. "/status")
  if st.status then return "exited" end
  return "stale"
end

--- Claim a name: create its directory (atomically). A stale entry of the
-- same name is removed first; a running one is an error (EEXIST).
local function claim(name)
  local dir, msg, code = M.detached.dir(name)
  if not dir then return nil, msg, code end
  local root = dir:match("^(.*)/[^/]*$")
  -- create the root (and its parent for $XDG_RUNTIME_DIR/isol) if needed
  local parent = root:match("^(.*)/[^/]*$")
  if parent and parent ~= "" then core.mkdir(parent, 493) end
  core.mkdir(root, 448)
  local ok
  ok, msg, code = core.mkdir(dir, 448)
  if not ok and code == EEXIST then
    local st = read_state(dir)
    if st and entry_state(st) == "running" then
      return nil, string.format("sandbox %s is already running (pid %d)", name, st.pid), EEXIST
    end
    remove_dir(dir)
    ok, msg, code = core.mkdir(dir, 448)
  end
  if not ok then return nil, msg, code end
  return dir
end

--- One entry: state table with fields name, pid, start, state ("running",
-- "exited", "stale"), status, uptime, command, namespaces, cgroup, recipe,
-- stdout, stderr, dir. nil, msg, ESRCH for an unknown name.
function M.detached.get(name)
  local dir, msg, code = M.detached.dir(name)
  if not dir then return nil, msg, code end
  local st = read_state(dir)
  if not st then return nil, string.format("no sandbox named %s (see `isol ps`)", name), ESRCH end
  st.name = st.name or name
  st.state = entry_state(st)
  if st.state == "running" and st.created then st.uptime = os.time() - st.created end
  return st
end

--- Every recorded sandbox, sorted by name.
function M.detached.list()
  local root = M.detached.root()
  local out = {}
  if not root then return out end
  for _, n in ipairs(core.listdir(root) or {}) do
    if n:match("^[%w][%w_.-]*$") then
      local st = M.detached.get(n)
      if st then out[#out + 1] = st end
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- Remove an entry that is no longer running. Returns true, or nil, msg, errno.
function M.detached.remove(name)
  local st, msg, code = M.detached.get(name)
  if not st then return nil, msg, code end
  if st.state == "running" then
    return nil, string.format("sandbox %s is running (pid %d): kill it first", name, st.pid), 16
  end
  remove_dir(st.dir)
  return true
end

--- Signal a detached sandbox. SIGKILL (default) ends every process of it,
-- waits until they are gone and removes the entry; other signals go to its
-- init, which forwards them to the command.
-- @return the entry's state table (before), or nil, message, errno
function M.detached.kill(name, sig)
  sig = check_sig(sig)
  local st, msg, code = M.detached.get(name)
  if not st then return nil, msg, code end
  if st.state ~= "running" then
    remove_dir(st.dir)
    return nil, string.format("sandbox %s is not running (%s%s); entry removed", name, st.state,
      st.status and (st.status.code and (", exit " .. st.status.code) or (", " .. st.status.signal)) or ""), ESRCH
  end
  local p
  p, msg, code = core.attach(st.pid, st.start, st.dir .. "/status")
  if not p then return nil, msg, code end
  if core.signum(sig) == core.signum("SIGKILL") then
    local ok
    -- a cgroup v2 recorded by the cgroup concern: its cgroup.kill first
    if st.cgroup and st.cgroup ~= "" then
      local f = io.open(st.cgroup .. "/cgroup.kill", "w")
      if f then f:write("1"); f:close() end
    end
    ok, msg, code = kill_everything(p, { pid = st.pid, pidns = st.ns.pid, supervised = st.init == "1", ns = (function()
      local t = {}
      for k, v in pairs(st.ns) do if k ~= "pid" then t[k] = v end end
      return t
    end)() })
    p:close()
    if not ok then return nil, msg, code end
    remove_dir(st.dir)
  else
    local ok
    ok, msg, code = p:kill(sig)
    p:close()
    if not ok then return nil, msg, code end
  end
  return st
end

--- A Process handle on a detached sandbox's init (pidfd_open, checked
-- against the recorded start time). Closing it does not kill the sandbox.
function M.attach(name)
  check_name(name)
  local st, msg, code = M.detached.get(name)
  if not st then return nil, msg, code end
  if st.state ~= "running" then
    return nil, string.format("sandbox %s is not running (%s)", name, st.state), ESRCH
  end
  return core.attach(st.pid, st.start, st.dir .. "/status")
end

--- Run argv inside a running detached sandbox (like nsenter): its
-- namespaces are entered through a pidfd (user first, pid through a fork).
-- opts: env, cwd, stdin, stdout, stderr (as for spawn).
-- @return Process (a child of the caller), or nil, message, errno
function M.exec(name, argv, opts)
  check_name(name)
  if type(argv) == "string" then argv = { argv } end
  util.check_type("argv", argv, "table")
  if #argv == 0 then util.fail("argv", "expected a non-empty argv list") end
  for i, a in ipairs(argv) do util.check_type(string.format("argv[%d]", i), a, "string") end
  opts = opts or {}
  util.check_keys("opts", opts, { env = true, cwd = true, stdin = true, stdout = true, stderr = true })
  local st, msg, code = M.detached.get(name)
  if not st then return nil, msg, code end
  if st.state ~= "running" then
    return nil, string.format("sandbox %s is not running (%s)", name, st.state), ESRCH
  end
  local target
  target, msg, code = core.attach(st.pid, st.start)
  if not target then return nil, msg, code end
  -- Every namespace in which the sandbox differs from us.
  local join = {}
  for _, k in ipairs(ns_kinds()) do
    local theirs = core.ns_inode(st.pid, k.procname)
    if theirs and theirs ~= core.ns_inode(0, k.procname) then join[#join + 1] = k.name end
  end
  local plan = { argv = util.copy_list(argv), join_pidfd = target:pidfd(), join_namespaces = join,
    env = opts.env and recipe.make_env(false, nil, opts.env) or nil,
    cwd = opts.cwd, stdin = opts.stdin, stdout = opts.stdout, stderr = opts.stderr }
  if #join == 0 then plan.join_pidfd = nil; plan.join_namespaces = nil end
  if st.cgroup and st.cgroup ~= "" then plan.cgroup_procs = { st.cgroup .. "/cgroup.procs" } end
  local p
  p, msg, code = core.spawn(plan)
  target:close()
  if not p then return nil, msg, code end
  return p
end

-- box:spawn{..., detach = true, name = "web", recipe_source = "file.lua"}
local base_spawn = Sandbox.spawn
local detach_counter = 0

local function spawn_detached(box, cmd, name, source)
  if name == nil then
    detach_counter = detach_counter + 1
    name = string.format("isol-%d-%d", core.getpid(), detach_counter)
  end
  check_name(name, "command.name")
  local dir, msg, code = claim(name)
  if not dir then return nil, msg, code end
  local sfd
  sfd, msg, code = core.open_status_file(dir .. "/status")
  if not sfd then remove_dir(dir); return nil, msg, code end
  local d = { dir = dir, status_fd = sfd }
  box._detaching = d
  local ok, p, emsg, ecode = pcall(base_spawn, box, cmd)
  box._detaching = nil
  core.close_fd(sfd)
  if not ok then remove_dir(dir); error(p, 0) end
  if not p then remove_dir(dir); return nil, emsg, ecode end
  box.detached = true -- other concerns' close hooks must leave it running
  local ps = core.proc_stat(p:pid())
  local nss = {}
  for procname, ino in pairs(ns_inodes(p:pid(), box.recipe.namespaces)) do
    nss[#nss + 1] = procname .. ":" .. ino
  end
  table.sort(nss)
  local argv = {}
  for i, a in ipairs(type(cmd) == "table" and cmd or box.recipe.command or {}) do argv[i] = a end
  if #argv == 0 then argv = box.recipe.command or {} end
  local src = ""
  if source then
    src = source
    local f = io.open(source, "r")
    if f then
      local text = f:read("a")
      f:close()
      local g = io.open(dir .. "/recipe.lua", "w")
      if g then g:write(text); g:close() end
    end
  end
  ok, msg, code = write_state(dir, {
    name = name, pid = p:pid(), start = ps and ps.start or 0, created = os.time(),
    namespaces = table.concat(nss, ","),
    -- the cgroup concern sets box.cgroup_path (a directory) when it made one
    cgroup = box.cgroup_path or "",
    recipe = src, command = table.concat(argv, " "),
    stdout = d.stdout or "", stderr = d.stderr or "",
    init = "1", pidns = recipe.has_ns(box.recipe, "pid") and "1" or "0",
  })
  if not ok then
    p:kill("SIGKILL")
    remove_dir(dir)
    return nil, msg, code
  end
  info[p] = { pid = p:pid(), pidns = recipe.has_ns(box.recipe, "pid") and ps and true or nil,
    ns = ns_inodes(p:pid(), box.recipe.namespaces), detached = true, supervised = true }
  info[p].ns.pid = nil
  return p, name
end

local base_close = Sandbox.close
--- Close the box: its running (not detached) processes end as with
-- box:kill() (closing a handle alone kills the init, not what it left
-- behind), then the box's resources are released.
function Sandbox:close()
  if not self.closed then
    for p in pairs(self.procs) do
      local i = info[p]
      if i and not i.detached and p:poll() == false then kill_everything(p, i) end
    end
  end
  return base_close(self)
end
Sandbox.__close = Sandbox.close
Sandbox.__gc = Sandbox.close

--- Sandbox:spawn with the process concern's options: `detach = true`
-- (survives the caller; recorded under `name`, with `recipe_source` the
-- recipe file) and the bookkeeping box:kill needs.
function Sandbox:spawn(cmd)
  local detach, name, source
  if type(cmd) == "table" and (cmd.detach ~= nil or cmd.name ~= nil or cmd.recipe_source ~= nil) then
    detach, name, source = cmd.detach, cmd.name, cmd.recipe_source
    if detach ~= nil then util.check_type("command.detach", detach, "boolean") end
    if source ~= nil then util.check_type("command.recipe_source", source, "string") end
    if not detach and (name ~= nil or source ~= nil) then
      util.fail(name ~= nil and "command.name" or "command.recipe_source", "applies to detach = true only")
    end
    local c = {}
    for k, v in pairs(cmd) do
      if k ~= "detach" and k ~= "name" and k ~= "recipe_source" then c[k] = v end
    end
    cmd = c
  end
  if detach then return spawn_detached(self, cmd, name, source) end
  local p, msg, code = base_spawn(self, cmd)
  if not p then return nil, msg, code end
  local ns = ns_inodes(p:pid(), self.recipe.namespaces)
  local pidns = ns.pid
  ns.pid = nil
  info[p] = { pid = p:pid(), pidns = pidns, ns = ns,
    supervised = not pidns and self.recipe.init ~= false }
  return p
end

return function(isol)
  isol.session = M.session
  isol.pidns = M.pidns
  isol.attach = M.attach
  isol.exec = M.exec
  isol.detached = M.detached
  table.insert(Sandbox.hooks.plan, plan_hook)
  table.insert(Sandbox.hooks.kill, kill_hook)
end
