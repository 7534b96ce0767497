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
--
-- Killing itself (sessions, pid namespaces, kill_tree, the kill step) is
-- isol.kill_procs, loaded the first time something is killed; `check_sig`,
-- `kill_tree`, `session` and `pidns` are reached here all the same.
-- @module isol.kill
local core = require "isol.core"
local recipe = require "isol.recipe"

local E = core.errno

-- sessions, pid namespaces, process trees: what ends processes
local PROCS = "isol.kill_procs"

local M = {}

-- ---------------------------------------------------------------- helpers

local kinds -- core.ns_kinds(), made once

--- Inodes of the namespaces `names` (recipe names) of process pid that
-- differ from the caller's: {procname = ino}. `known` (optional): inodes
-- already read, p:ns_inodes() of a spawned process (read by the spawn
-- before it ran: right even once it has exited); the others from /proc.
function M.ns_inodes(pid, names, known)
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
      local ino = known and known[k.procname] or core.ns_inode(pid, k.procname)
      if ino and ino ~= core.ns_inode(0, k.procname) then out[k.procname] = ino end
    end
  end
  return out
end

-- isol.kill_procs' tables of functions under their names here
local function procs_table(name)
  return setmetatable({}, { __index = function(_, k) return require(PROCS)[name][k] end })
end
M.session = procs_table("session")
M.pidns = procs_table("pidns")

-- ---------------------------------------------------------------- Sandbox steps

-- Per process handle: what box:kill needs even after the root has died.
local info = setmetatable({}, { __mode = "k" })

--- plan step: isol's init supervises without a pid namespace too; the
-- combinations where nothing could end a setsid grandchild are refused:
-- the spawn fails (nil, message naming the fields, EINVAL) and nothing is
-- started (see the module's notes). Detached spawns always have an init.
function M.plan_step(box, plan, ctx)
  local r = box.recipe
  -- the namespaces' inodes, read by the spawn before the command runs:
  -- kill_tree's without a pid namespace, or asked for (p:ns_inodes())
  if ctx.ns_inodes or not recipe.has_ns(r, "pid") then plan.ns_inodes = true end
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

--- after_spawn step: record what kill_tree needs (the namespaces, as the
-- spawn read them before the root ran). With a pid namespace the root is its PID 1
-- (clone3 made it, CLONE_NEWPID): kill_tree needs no inode then (not even
-- that namespace's: a lookup under /proc costs ~7 us, and a root that is
-- already a zombie has none to read).
function M.after_spawn_step(box, p, ctx)
  local pid = p:pid()
  if recipe.has_ns(box.recipe, "pid") then
    info[p] = { pid = pid, pidns = true, ns = {}, detached = ctx.detach or nil, supervised = ctx.detach }
    return true
  end
  local ns = M.ns_inodes(pid, box.recipe.namespaces, p:ns_inodes())
  ns.pid = nil
  info[p] = { pid = pid, ns = ns, detached = ctx.detach or nil,
    supervised = ctx.detach or box.recipe.init ~= false }
  return true
end

--- kill step: SIGKILL ends every process tree of the box; another signal
-- goes to the roots that still run (isol.kill_procs.kill_step).
function M.kill_step(box, sig)
  return require(PROCS).kill_step(box, sig, info)
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

-- isol.kill_procs' functions under their names here
local COLD = { check_sig = true, kill_tree = true }
return setmetatable(M, { __index = function(_, k)
  if COLD[k] then return require(PROCS)[k] end
end })
