--- Kill policy: what ends a session, a pid namespace or a sandbox's
-- process tree. The one place for it (box:kill, box:close and
-- `isol.detached.kill` all use `M.kill_tree`).
--
--   isol.session.pids(sid) / isol.session.kill(sid [, sig])
--       every process of a session (the seed's `ps --sid`), scanned from /proc in C
--   isol.pidns.pids(pid_or_inode) / isol.pidns.kill(pid_or_inode [, sig])
--       every process whose /proc/<pid>/ns/pid is that namespace
--
-- A sandbox's processes, whatever concerns its recipe uses (B22: a cgroup
-- changes nothing here):
--   box:kill("SIGKILL") (the default) ends every process of the sandbox and
--       waits until none is left (`kill_tree`); the cgroup concern's kill
--       step then ends anything still in the group.
--   box:kill(other) signals the roots only: isol's init forwards the signal
--       to the command and, when the command ends, ends the rest.
--
-- Without a pid namespace, isol's init still supervises (as a child
-- subreaper) unless the recipe says `init = false`: escapees (double fork +
-- setsid) are re-parented to it, so they stay findable and die with the
-- sandbox.
--
-- What holds, against a command that tries to outlive its sandbox (issue
-- 10.5; spec/supervision_spec.lua shows each case):
--   * with a "pid" namespace (init or not): everything. No process can
--     leave a pid namespace, its PID 1 cannot be killed from inside, and
--     when PID 1 dies (box:close(), or the caller's death through
--     die_with_parent) the kernel kills every other process of it.
--   * without one, with a cgroup (limits or cgroup): box:close() and
--     box:kill() end everything, through the group (cgroup.kill on v2,
--     freeze + kill on v1), also after the command killed its init
--     (`kill -9 $PPID`) and left a setsid escapee. The caller's death ends
--     the sandbox through isol's init, while it lives: a command that kills
--     its init first leaves escapees when the caller then dies (nothing in
--     the kernel kills a cgroup on a process's death).
--   * without either: escapees are found through the init's tree and the
--     sandbox's own namespaces; a command that kills its init and moves an
--     escapee into namespaces of its own (unshare -U...) is not found.
-- So code you do not trust gets a pid namespace (every recipe meant for it
-- has one). Refused, because not even a plain `setsid` is contained:
--   * init = false without a pid namespace while dying with its parent (a
--     setsid grandchild has no supervisor: PDEATHSIG reaches the command
--     only), and init = false without a pid namespace or a cgroup (close()
--     cannot find such a grandchild). Detached spawns always have an init.
-- @module isol.kill
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local E = core.errno
local ESRCH, EPERM, ENOENT = E.ESRCH, E.EPERM, E.ENOENT
local PID_MAX = 4194304 -- kernel limit: anything larger is a namespace inode

local M = {}

-- ---------------------------------------------------------------- helpers

--- Check a signal (name or number); nil means SIGKILL. Raises naming `path`.
function M.check_sig(sig, path)
  if sig == nil then return "SIGKILL" end
  local ok = pcall(core.signum, sig)
  if not ok then
    util.fail(path or "signal", "unknown signal %s", util.show(sig))
  end
  return sig
end
local check_sig = M.check_sig

local function check_id(v, path, what)
  if math.type(v) ~= "integer" or v <= 0 or v > 0x7fffffff then
    util.fail(path, "expected %s (an integer > 0), got %s", what, util.show(v))
  end
  return v
end

local kinds -- core.ns_kinds(), made once

--- Inodes of the namespaces `names` (recipe names) of process pid that
-- differ from the caller's: {procname = ino}.
function M.ns_inodes(pid, names)
  local out = {}
  if not names or #names == 0 then return out end -- (every spawn without namespaces)
  local want = {}
  for _, n in ipairs(names) do want[n] = true end
  kinds = kinds or core.ns_kinds()
  for _, k in ipairs(kinds) do
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

-- A process's own pid namespace never changes (unshare and setns of a pid
-- namespace apply to its children only): read once.
local own_pidns_ino
local function own_pidns()
  if not own_pidns_ino then own_pidns_ino = core.ns_inode(0, "pid") end
  return own_pidns_ino
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

-- ---------------------------------------------------------------- a process tree

--- Kill everything of one spawned process tree with SIGKILL and reap it.
-- p: its root (a Process); i: {pid=, pidns=inode|true|nil (true: the root
-- is PID 1 of a pid namespace of its own), ns={procname=ino},
-- supervised=bool (isol's init is a subreaper)}.
-- @return true, or nil, message, errno
function M.kill_tree(p, i)
  if i.pidns then
    -- PID 1 of the namespace: the kernel kills every other process of it
    -- and the init's exit completes only once they are all gone.
    -- An init that had already ended took its namespace with it; a
    -- recipe without init (command is PID 1) behaves the same.
    local ok, msg, code = p:kill("SIGKILL")
    p:wait()
    if not ok and code ~= ESRCH then return nil, msg, code end
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

-- ---------------------------------------------------------------- Sandbox steps

-- Per process handle: what box:kill needs even after the root has died.
local info = setmetatable({}, { __mode = "k" })

--- plan step: isol's init supervises without a pid namespace too; the
-- combinations where nothing could end a setsid grandchild are refused:
-- the spawn fails (nil, message naming the fields, EINVAL) and nothing is
-- started (see the module's notes). Detached spawns always have an init.
function M.plan_step(box, plan, ctx)
  local r = box.recipe
  if recipe.has_ns(r, "pid") then return true end
  if r.init ~= false then
    plan.supervise = true
  elseif not ctx.detach then
    if r.die_with_parent ~= false then
      return nil, 'init: init = false without a "pid" namespace: a setsid grandchild of the command would '
        .. "outlive the caller (die_with_parent reaches the command only): add \"pid\" to namespaces, "
        .. "or drop init = false", E.EINVAL
    elseif not box.cgroup then
      return nil, 'init: init = false without a "pid" namespace or a cgroup: isol cannot find a setsid '
        .. 'escapee after the command ends: add "pid" to namespaces or a limit', E.EINVAL
    end
  end
  return true
end

--- after_spawn step: record what kill_tree needs (the namespaces are read
-- now, while the root lives). With a pid namespace the root is its PID 1
-- (clone3 made it, CLONE_NEWPID): kill_tree needs no inode then (not even
-- that namespace's: a lookup under /proc costs ~7 us, and a root that is
-- already a zombie has none to read).
function M.after_spawn_step(box, p, ctx)
  local pid = p:pid()
  if recipe.has_ns(box.recipe, "pid") then
    info[p] = { pid = pid, pidns = true, ns = {}, detached = ctx.detach or nil, supervised = ctx.detach }
    return true
  end
  local ns = M.ns_inodes(pid, box.recipe.namespaces)
  ns.pid = nil
  info[p] = { pid = pid, ns = ns, detached = ctx.detach or nil,
    supervised = ctx.detach or box.recipe.init ~= false }
  return true
end

local function is_kill(sig) return core.signum(sig) == core.signum("SIGKILL") end

--- kill step: SIGKILL ends every process tree of the box; another signal
-- goes to the roots that still run.
function M.kill_step(box, sig)
  local fmsg, fcode
  for p in pairs(box.procs) do
    if p:poll() == false then
      local ok, msg, code
      if is_kill(sig) and info[p] then ok, msg, code = M.kill_tree(p, info[p])
      else
        ok, msg, code = p:kill(sig)
        if not ok and code == ESRCH then ok = true end
      end
      if not ok and not fmsg then fmsg, fcode = string.format("pid %d: %s", p:pid(), tostring(msg)), code end
    end
  end
  if fmsg then return nil, fmsg, fcode end
  return true
end

--- close step: the box's running (not detached) processes end as with
-- box:kill() (closing a handle alone kills the init, not what it left
-- behind), then every handle is closed.
function M.close_step(box)
  local fmsg, fcode
  for p in pairs(box.procs) do
    local i = info[p]
    if i and not i.detached and p:poll() == false then
      local ok, msg, code = M.kill_tree(p, i)
      if not ok and not fmsg then fmsg, fcode = msg, code end
    end
  end
  for p in pairs(box.procs) do p:close() end
  if fmsg then return nil, fmsg, fcode end
  return true
end

return M
