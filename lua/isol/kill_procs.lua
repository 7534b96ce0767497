--- Ending processes (the cold half of isol.kill): sessions, pid
-- namespaces, a sandbox's process trees and its kill step. isol.kill is the
-- policy and its module doc says what each reaches; this module is loaded
-- the first time something is killed (box:kill(), box:close() of a box
-- whose command still runs, isol.session, isol.pidns, `isol kill`), not by
-- an `isol run` whose command ends by itself. `check_sig` and `kill_tree`
-- are reached as isol.kill's, `session` and `pidns` as isol.session and
-- isol.pidns.
-- @module isol.kill_procs
local core = require "isol.core"
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

-- ---------------------------------------------------------------- the kill step

local function is_kill(sig) return core.signum(sig) == core.signum("SIGKILL") end

--- isol.kill's kill step: SIGKILL ends every process tree of the box;
-- another signal goes to the roots that still run. `info`: isol.kill's
-- record of each process (made by its after_spawn step).
function M.kill_step(box, sig, info)
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

return M
