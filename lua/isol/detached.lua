--- Detached sandboxes: started with `box:spawn{..., detach = true, name =}`,
-- they survive the script (the nohup problem) and are recorded in a state
-- directory, one directory per name (state, status, stdout/stderr logs and
-- a copy of the recipe file):
--
--   isol.detached.list() / .get(name) / .kill(name [, sig]) / .remove(name) / .dir(name)
--   isol.attach(name) -> Process            a detached sandbox, by name
--   isol.exec(name, argv [, opts]) -> Process   a command inside a running sandbox
--
-- Its Sandbox steps (wired in isol.lua): `plan` claims the name and points
-- the plan at the status file and logs; `after_spawn` writes the state.
-- @module isol.detached
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"
local kill = require "isol.kill"

local E = core.errno
local ESRCH, EEXIST, ENOENT = E.ESRCH, E.EEXIST, E.ENOENT

local M = {}

--- Where detached sandboxes are recorded: isol.detached.state_dir if set,
-- else $ISOL_STATE_DIR, else /run/isol
-- for root, else $XDG_RUNTIME_DIR/isol.
function M.root()
  local d = M.state_dir or os.getenv("ISOL_STATE_DIR")
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
function M.dir(name)
  check_name(name)
  local root, msg, code = M.root()
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
  local ok = true
  for _, k in ipairs(keys) do
    if ok then ok, msg, code = f:write(k, "=", esc(st[k]), "\n") end
  end
  local cok, cmsg, ccode = f:close()
  if ok and not cok then ok, msg, code = cok, cmsg, ccode end
  if not ok then os.remove(tmp); return nil, msg, code end
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
  local dir, msg, code = M.dir(name)
  if not dir then return nil, msg, code end
  local root = dir:match("^(.*)/[^/]*$")
  -- create the root (and its parent for $XDG_RUNTIME_DIR/isol) if needed
  local parent = root:match("^(.*)/[^/]*$")
  if parent and parent ~= "" then core.mkdir(parent, tonumber("755", 8)) end
  core.mkdir(root, tonumber("700", 8))
  local ok
  ok, msg, code = core.mkdir(dir, tonumber("700", 8))
  if not ok and code == EEXIST then
    local st = read_state(dir)
    if st and entry_state(st) == "running" then
      return nil, string.format("sandbox %s is already running (pid %d)", name, st.pid), EEXIST
    end
    remove_dir(dir)
    ok, msg, code = core.mkdir(dir, tonumber("700", 8))
  end
  if not ok then return nil, msg, code end
  return dir
end

--- One entry: state table with fields name, pid, start, state ("running",
-- "exited", "stale"), status, uptime, command, namespaces, cgroup, recipe,
-- stdout, stderr, dir. nil, msg, ESRCH for an unknown name.
function M.get(name)
  local dir, msg, code = M.dir(name)
  if not dir then return nil, msg, code end
  local st = read_state(dir)
  if not st then return nil, string.format("no sandbox named %s (see `isol ps`)", name), ESRCH end
  st.name = st.name or name
  st.state = entry_state(st)
  if st.state == "running" and st.created then st.uptime = os.time() - st.created end
  return st
end

--- Every recorded sandbox, sorted by name.
function M.list()
  local root = M.root()
  local out = {}
  if not root then return out end
  for _, n in ipairs(core.listdir(root) or {}) do
    if n:match("^[%w][%w_.-]*$") then
      local st = M.get(n)
      if st then out[#out + 1] = st end
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- Remove an entry that is no longer running. Returns true, or nil, msg, errno.
function M.remove(name)
  local st, msg, code = M.get(name)
  if not st then return nil, msg, code end
  if st.state == "running" then
    return nil, string.format("sandbox %s is running (pid %d): kill it first", name, st.pid), E.EBUSY
  end
  remove_dir(st.dir)
  return true
end

--- Signal a detached sandbox. SIGKILL (default) ends every process of it,
-- waits until they are gone and removes the entry; other signals go to its
-- init, which forwards them to the command.
-- @return the entry's state table (before), or nil, message, errno
function M.kill(name, sig)
  sig = kill.check_sig(sig)
  local st, msg, code = M.get(name)
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
    -- The recorded tree (the init is a subreaper, or PID 1 of its pid
    -- namespace) is everything: the same policy as box:kill().
    local ns = {}
    for k, v in pairs(st.ns) do if k ~= "pid" then ns[k] = v end end
    local ok
    ok, msg, code = kill.kill_tree(p, { pid = st.pid, pidns = st.ns.pid, supervised = st.init == "1", ns = ns })
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
  local st, msg, code = M.get(name)
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
  local st, msg, code = M.get(name)
  if not st then return nil, msg, code end
  if st.state ~= "running" then
    return nil, string.format("sandbox %s is not running (%s)", name, st.state), ESRCH
  end
  local target
  target, msg, code = core.attach(st.pid, st.start)
  if not target then return nil, msg, code end
  -- Every namespace in which the sandbox differs from us.
  local join = {}
  for _, k in ipairs(core.ns_kinds()) do
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

-- ---------------------------------------------------------------- Sandbox steps

local detach_counter = 0

--- plan step (spawns with detach = true): claim the name, open the status
-- file (closed after the spawn), send stdio to the logs.
function M.plan_step(_, plan, ctx)
  if not ctx.detach then return true end
  local name = ctx.name
  if name == nil then
    detach_counter = detach_counter + 1
    name = string.format("isol-%d-%d", core.getpid(), detach_counter)
  end
  check_name(name, "command.name")
  local dir, msg, code = claim(name)
  if not dir then return nil, msg, code end
  ctx.undo[#ctx.undo + 1] = function() remove_dir(dir) end
  local sfd
  sfd, msg, code = core.open_status_file(dir .. "/status")
  if not sfd then return nil, msg, code end
  ctx.finally[#ctx.finally + 1] = function() core.close_fd(sfd) end
  ctx.name, ctx.dir = name, dir
  plan.detach = true
  plan.die_with_parent = false
  plan.supervise = true
  plan.status_fd = sfd
  plan.stdin = plan.stdin or "null"
  plan.stdout = plan.stdout or { path = dir .. "/stdout.log", mode = "a" }
  plan.stderr = plan.stderr or { path = dir .. "/stderr.log", mode = "a" }
  ctx.stdout = type(plan.stdout) == "table" and plan.stdout.path or tostring(plan.stdout)
  ctx.stderr = type(plan.stderr) == "table" and plan.stderr.path or tostring(plan.stderr)
  return true
end

--- after_spawn step: record the sandbox (on failure the spawn is undone).
function M.after_spawn_step(box, p, ctx)
  if not ctx.detach then return true end
  box.detached = true -- the close steps leave it running (cgroup: released, not deleted)
  local dir = ctx.dir
  local ps = core.proc_stat(p:pid())
  local nss = {}
  for procname, ino in pairs(kill.ns_inodes(p:pid(), box.recipe.namespaces)) do
    nss[#nss + 1] = procname .. ":" .. ino
  end
  table.sort(nss)
  local src = ""
  if ctx.source then
    src = ctx.source
    -- a copy of the recipe file for `isol ps`/`logs`: a failure to copy it
    -- fails the spawn (undone by the pipeline) rather than being forgotten
    local f, msg, code = io.open(ctx.source, "r")
    if not f then return nil, msg, code end
    local text = f:read("a")
    f:close()
    local g
    g, msg, code = io.open(dir .. "/recipe.lua", "w")
    if not g then return nil, msg, code end
    local ok
    ok, msg, code = g:write(text)
    g:close()
    if not ok then return nil, msg, code end
  end
  return write_state(dir, {
    name = ctx.name, pid = p:pid(), start = ps and ps.start or 0, created = os.time(),
    namespaces = table.concat(nss, ","),
    -- the cgroup concern sets box.cgroup_path (a directory) when it made one
    cgroup = box.cgroup_path or "",
    recipe = src, command = table.concat(ctx.argv, " "),
    stdout = ctx.stdout or "", stderr = ctx.stderr or "",
    init = "1", pidns = recipe.has_ns(box.recipe, "pid") and "1" or "0",
  })
end

return M
