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
local cgroup_sandbox = require "isol.cgroup_sandbox"

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
  local st, raw = {}, {}
  for line in f:lines() do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k then raw[k] = unesc(v); st[k] = raw[k] end
  end
  f:close()
  st.raw = raw -- what write_state takes back
  st.pid = math.tointeger(tonumber(st.pid))
  st.start = math.tointeger(tonumber(st.start))
  st.created = math.tointeger(tonumber(st.created))
  st.cgroups = {}
  for d in (raw.cgroups or ""):gmatch("[^\n]+") do st.cgroups[#st.cgroups + 1] = d end
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

-- "running" | "exited" (status known; `isol kill` records its SIGKILL) |
-- "stale" (gone without a status: killed from outside, or its pid now
-- names another process)
local function entry_state(st)
  if st.killed then
    st.status = { signal = "SIGKILL", killed = true }
    return "exited"
  end
  if st.pid and core.proc_alive(st.pid, st.start) then return "running" end
  st.status = core.read_status(st.dir .. "/status")
  if st.status then return "exited" end
  return "stale"
end

-- An entry that no longer runs keeps its logs (until `isol rm`), not its
-- runtime state: its cgroups (and whatever an exec left in them) are ended
-- and the recorded plan removed. One with auto-remove (`run -d --rm`) goes
-- entirely. Returns true when the entry is gone.
local function reap(st, extra)
  if #st.cgroups > 0 then
    local ok, msg, code = cgroup_sandbox.end_dirs(st.cgroups)
    if not ok then return nil, msg, code end
  end
  os.remove(st.dir .. "/exec.plan")
  if st.raw.rm == "1" then
    remove_dir(st.dir)
    return "removed"
  end
  if #st.cgroups > 0 or extra then
    st.raw.cgroups = ""
    for k, v in pairs(extra or {}) do st.raw[k] = v end
    local ok, msg, code = write_state(st.dir, st.raw)
    if not ok then return nil, msg, code end
    st.cgroups = {}
  end
  return true
end

--- Claim a name: create its directory (atomically). An entry of the same
-- name that still exists is an error (EEXIST), whether it runs or not: its
-- logs are not replaced silently (`isol rm NAME` first); only an
-- auto-remove entry that has ended is removed.
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
    local state = st and entry_state(st)
    if state == "running" then
      return nil, string.format("sandbox %s is already running (pid %d)", name, st.pid), EEXIST
    end
    if st and st.raw.rm ~= "1" then
      return nil, string.format("%s exists (%s): isol rm %s first", name, state, name), EEXIST
    end
    -- an ended auto-remove entry, or a directory without state (a spawn
    -- that failed half-way)
    if st then reap(st) end
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
  if st.created then st.age = os.time() - st.created end
  if st.state ~= "running" and reap(st) == "removed" then
    return nil, string.format("no sandbox named %s (see `isol ps`)", name), ESRCH
  end
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

--- Remove an entry that is no longer running (`isol rm`): its logs, its
-- state and anything left of its cgroups. Returns true, or nil, msg, errno.
function M.remove(name)
  local st, msg, code = M.get(name)
  if not st then return nil, msg, code end
  if st.state == "running" then
    return nil, string.format("sandbox %s is running (pid %d): kill it first", name, st.pid), E.EBUSY
  end
  st.raw.rm = "1"
  local ok
  ok, msg, code = reap(st)
  if not ok then return nil, msg, code end
  remove_dir(st.dir)
  return true
end

--- Remove entry `name` as soon as it ends (`isol run -d --rm`): right away
-- when it already has, else when any isol command next finds it ended
-- (ps, logs, kill, a new run of the same name). Returns true, or nil, msg, errno.
function M.auto_remove(name)
  local st, msg, code = M.get(name)
  if not st then return nil, msg, code end
  st.raw.rm = "1"
  local ok
  ok, msg, code = write_state(st.dir, st.raw)
  if not ok then return nil, msg, code end
  M.get(name) -- ended meanwhile: removed now
  return true
end

--- Signal a detached sandbox. SIGKILL (default) ends every process of it,
-- waits until they are gone and removes its cgroups (every hierarchy) and
-- runtime state: the entry stays, "exited" (killed), with its logs, until
-- `isol rm` (or at once with auto-remove). Other signals go to its init,
-- which forwards them to the command.
-- @return the entry's state table (before), or nil, message, errno
function M.kill(name, sig)
  sig = kill.check_sig(sig)
  local st, msg, code = M.get(name)
  if not st then return nil, msg, code end
  if st.state ~= "running" then
    return nil, string.format("sandbox %s is not running (%s%s); `isol rm %s` removes it", name, st.state,
      st.status and (st.status.code and (", exit " .. st.status.code) or (", " .. st.status.signal)) or "",
      name), ESRCH
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
    -- exec'd processes live in its cgroups too: they end with them
    ok, msg, code = reap(st, { killed = "1" })
    if not ok then return nil, msg, code end
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

-- ---------------------------------------------------------------- exec

-- Plan keys that make the sandbox (namespaces, mounts, maps, cgroup, stdio,
-- supervision): `isol exec` enters them instead of making them again.
-- Every other key of the sandbox's final plan describes the command's
-- process (caps, identity, no_new_privs, new_session, session_keyring and
-- whatever a concern adds later: rlimits, seccomp...) and is recorded for
-- exec, so that an exec'd command gets exactly what the sandbox's got;
-- env and cwd are recorded as its defaults. Keys that hold file
-- descriptors (named *_fd, *_fds) mean nothing in another process and are
-- never recorded. A concern that adds a key describing how the sandbox is
-- made (not its command's process) adds it here.
M.EXEC_SKIP = {
  argv = true, file = true, stdin = true, stdout = true, stderr = true,
  keep_fds = true, namespaces = true, uid_map = true, gid_map = true, setgroups_deny = true,
  hostname = true, domainname = true, time = true, fs = true, net = true,
  die_with_parent = true, init = true, supervise = true, detach = true, status_fd = true,
  cgroup_fd = true, cgroup_dirs = true, join_pidfd = true, join_namespaces = true,
  timeout_ms = true,
}

-- Plan keys whose final value is a compiled object (a userdata the
-- sandbox's own plan hook made from the pure plan's data): exec records the
-- data and rebuilds the object with this function (closed after the spawn
-- when it has a close method). A concern whose plan key holds such an
-- object adds it here.
M.EXEC_REBUILD = {}

--- The data a compiled plan value was made from, when a later plan step put
-- it there (isol.policy's terminal filter): nil when unknown.
function M.exec_source(k, v)
  if k == "seccomp" then return require("isol.policy").options_of(v) end
end
if core.seccomp_compile then
  -- isol.policy: the filter compiled from the recipe's seccomp options
  M.EXEC_REBUILD.seccomp = function(opts) return core.seccomp_compile(opts) end
end

-- Lua source for plain data (strings, numbers, booleans, tables of them);
-- nil, what for anything else (userdata, functions).
local function serialize(v, path)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return string.format("%q", v) end
  if t ~= "table" then return nil, string.format("%s is a %s", path, t) end
  local keys = {}
  for k in pairs(v) do
    if type(k) ~= "string" and math.type(k) ~= "integer" then
      return nil, string.format("%s has a %s key", path, type(k))
    end
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  local parts = {}
  for _, k in ipairs(keys) do
    local s, why = serialize(v[k], path .. "." .. tostring(k))
    if not s then return nil, why end
    parts[#parts + 1] = "[" .. string.format("%q", k) .. "]=" .. s
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- The command-process part of a final plan, as Lua source (the fields
-- that cannot be recorded are listed in a field `unrecordable`; those to
-- rebuild, with their pure values, in a table `rebuild`). `pure`: the
-- plan's values before the later plan steps (a shallow copy).
local function exec_plan_source(plan, pure)
  local rec, bad = {}, {}
  -- the environment the command got (nil in the plan: the caller's, now)
  if plan.env == nil then rec.env = core.environ() end
  for k, v in pairs(plan) do
    if not M.EXEC_SKIP[k] and not (type(k) == "string" and k:match("_fds?$")) then
      if serialize(v, k) then rec[k] = v
      elseif M.EXEC_REBUILD[k] and serialize(pure[k] or M.exec_source(k, v), k) then
        rec.rebuild = rec.rebuild or {}
        rec.rebuild[k] = pure[k] or M.exec_source(k, v)
      else bad[#bad + 1] = k end
    end
  end
  table.sort(bad)
  if #bad > 0 then rec.unrecordable = table.concat(bad, ", ") end
  return "return " .. assert(serialize(rec, "plan")) .. "\n"
end

local function read_exec_plan(dir, name)
  local f = io.open(dir .. "/exec.plan", "r")
  if not f then
    return nil, string.format("sandbox %s has no recorded plan (started by an older isol?): cannot exec "
      .. "with its capabilities and limits", name), E.ENOENT
  end
  local text = f:read("a")
  f:close()
  local chunk = load(text, "=" .. dir .. "/exec.plan", "t", {})
  local ok, rec = pcall(chunk or error)
  if not chunk or not ok or type(rec) ~= "table" then
    return nil, string.format("%s/exec.plan: unreadable", dir), E.EINVAL
  end
  if rec.unrecordable then
    return nil, string.format("sandbox %s: plan field(s) %s could not be recorded: exec cannot give its "
      .. "command the same restrictions", name, rec.unrecordable), E.ENOTSUP
  end
  return rec
end

--- Run argv inside a running detached sandbox, as docker exec does: the
-- command enters every namespace of the sandbox (setns through a pidfd,
-- user first; its pid namespace through a fork), every cgroup it has (on
-- v1 every hierarchy), and gets what the sandbox's command got: the
-- recorded plan fields (capabilities, identity, no_new_privs, session,
-- keyring, and rlimits or a seccomp filter when the recipe has them), its
-- environment and working directory.
-- Refused (nil, message, errno) when any of these cannot be joined.
-- opts: env (added to the sandbox's; false removes a variable), cwd,
-- stdin, stdout, stderr (as for spawn).
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
  local plan
  plan, msg, code = read_exec_plan(st.dir, name)
  if not plan then return nil, msg, code end
  -- every cgroup directory, checked now: a group that is gone cannot be joined
  local dirs = {}
  for _, d in ipairs(st.cgroups) do
    local f = io.open(d .. "/cgroup.procs", "r")
    if not f then
      return nil, string.format("sandbox %s: its cgroup %s is gone: cannot exec inside its limits", name, d),
        ENOENT
    end
    f:close()
    dirs[#dirs + 1] = d
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
  -- compiled objects (a seccomp filter...), rebuilt from the recorded data
  local built = {}
  for k, v in pairs(plan.rebuild or {}) do
    local fn = M.EXEC_REBUILD[k]
    local obj
    if fn then obj, msg, code = fn(v) end
    if not obj then
      target:close()
      for _, o in pairs(built) do if o.close then o:close() end end
      return nil, string.format("sandbox %s: cannot rebuild its plan field %s for exec: %s", name, k,
        tostring(msg or "no builder in this isol")), code or E.ENOTSUP
    end
    built[k] = obj
    plan[k] = obj
  end
  plan.rebuild = nil
  plan.argv = util.copy_list(argv)
  if opts.env then
    -- the sandbox command's environment, with opts.env on top (false removes)
    local base = {}
    for _, e in ipairs(plan.env or {}) do
      local k, v = e:match("^([^=]*)=(.*)$")
      if k then base[k] = v end
    end
    plan.env = recipe.make_env(true, base, opts.env)
  end
  plan.cwd = opts.cwd or plan.cwd
  plan.stdin, plan.stdout, plan.stderr = opts.stdin, opts.stdout, opts.stderr
  if #join > 0 then plan.join_pidfd, plan.join_namespaces = target:pidfd(), join end
  if #dirs > 0 then plan.cgroup_dirs = dirs end
  local p
  p, msg, code = core.spawn(plan)
  target:close()
  for _, o in pairs(built) do if o.close then o:close() end end
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
  -- the final plan (later steps fill it too) is recorded for exec after the
  -- spawn; the values as they are now, for the keys later steps compile
  ctx.plan = plan
  ctx.pure_plan = {}
  for k, v in pairs(plan) do ctx.pure_plan[k] = v end
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
  local f, msg, code = io.open(dir .. "/exec.plan", "w")
  if not f then return nil, msg, code end
  local ok
  ok, msg, code = f:write(exec_plan_source(ctx.plan, ctx.pure_plan))
  f:close()
  if not ok then return nil, msg, code end
  local g = box.cgroup
  return write_state(dir, {
    name = ctx.name, pid = p:pid(), start = ps and ps.start or 0, created = os.time(),
    -- every directory of its cgroup (v1: one per hierarchy), for exec,
    -- kill and ps
    cgroups = g and table.concat(g:dirs(), "\n") or "", cgroup_version = g and g:version() or "",
    description = box.recipe.description or "",
    namespaces = table.concat(nss, ","),
    -- the cgroup concern sets box.cgroup_path (a directory) when it made one
    cgroup = box.cgroup_path or "",
    recipe = src, command = table.concat(ctx.argv, " "),
    stdout = ctx.stdout or "", stderr = ctx.stderr or "",
    init = "1", pidns = recipe.has_ns(box.recipe, "pid") and "1" or "0",
  })
end

return M
