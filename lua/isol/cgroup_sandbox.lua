--- The cgroup concern's part of the Sandbox pipeline: the `limits` and
-- `cgroup` recipe fields and the steps isol.lua wires (the group is made
-- once, children start inside it, SIGKILL ends what is left in it, close
-- deletes it), plus box:stats(), box:freeze() and box:thaw().
--
-- The mapping of `limits` to files is `isol.cgroup.plan`, the only one.
-- @module isol.cgroup_sandbox
local core = require "isol.core"
local recipe = require "isol.recipe"
local cgroup = require "isol.cgroup"

local E = core.errno

local M = {}

recipe.define("limits", {
  doc = "cgroup limits: cpu={weight|shares, quota}, cpuset={cpus, mems}, memory={max, swap, swappiness}, "
    .. "pids={max}, io={weight, max}, devices={allow, deny}, [\"controller.file\"]=value",
  check = function(v, path) return cgroup.check_limits(v, path) end,
})
recipe.define("cgroup", {
  doc = "cgroup placement: {parent=, name=, version=1|2, owner={uid=, gid=}, controllers={...}}",
  check = function(v, path) return cgroup.check_cgroup(v, path) end,
})

-- limits.net shapes a veth (isol.net): on its own it needs no cgroup
local function needs_cgroup(l)
  if not l then return false end
  if #l.raw > 0 then return true end
  for k in pairs(l) do if k ~= "net" and k ~= "raw" then return true end end
  return false
end

local plans = setmetatable({}, { __mode = "k" }) -- limits -> cgroup -> hierarchies -> plan
local NONE = {}

--- validate step: map the limits on this host's cgroups now, so that a
-- recipe the host cannot express fails at isol.sandbox() naming the field
-- (controllers present, CPUs online). Nothing is created here.
-- A cgroup namespace needs a group of the box's own on every hierarchy, or
-- its root there is the caller's cgroup (issue 10 item 7). Without root
-- only the hierarchies the limits need (a caller can only move into groups
-- of a subtree delegated to it: there the namespace's root is the caller's
-- own cgroup, which it could read anyway).
--
-- The plans of limits whose mapping reads nothing from the host (no cpu or
-- cpuset limits, whose checks read the CPUs online) are kept, by the
-- validated recipe's limits and cgroup tables: a sweep makes a sandbox per
-- run from one validated recipe. A plan is only read once made.
function M.validate_step(box)
  local r = box.recipe
  local cgns = recipe.has_ns(r, "cgroup")
  if needs_cgroup(r.limits) or r.cgroup or cgns then
    local cg = r.cgroup
    if cgns then
      cg = {}
      for k, v in pairs(r.cgroup or {}) do cg[k] = v end
      cg.hierarchies = cg.hierarchies or (require("isol.userns").privileged() and "all" or "needed")
    end
    local lim = r.limits
    if lim and (lim.cpu or lim.cpuset_ranges) then
      box.cgroup_plan = cgroup.plan(lim, cg, "limits")
      return true
    end
    local by_cg = plans[lim or NONE]
    if not by_cg then
      by_cg = setmetatable({}, { __mode = "k" })
      plans[lim or NONE] = by_cg
    end
    local by_h = by_cg[r.cgroup or NONE]
    if not by_h then
      by_h = {}
      by_cg[r.cgroup or NONE] = by_h
    end
    local h = cg and cg.hierarchies or "-"
    local plan = by_h[h]
    if not plan then
      plan = cgroup.plan(lim, cg, "limits")
      by_h[h] = plan
    end
    box.cgroup_plan = plan
  end
  return true
end

--- prepare step: create the group, with every limit written.
function M.prepare_step(box)
  local plan = box.cgroup_plan
  if not plan then return true end
  local cg = box.recipe.cgroup
  -- v2 without root: beside a leaf of the caller's delegated cgroup
  local parent = plan.version == 2 and cgroup.delegated_parent(cg)
  if parent then
    local c = { parent = parent }
    for k, v in pairs(cg or {}) do c[k] = v end
    cg = c
  end
  local g, msg, code = cgroup.create_from_plan(plan, cg)
  if not g then return nil, msg, code end
  box.cgroup = g
  box.cgroup_fresh = true -- made just now: no OOM kill counted yet
  box.cgroup_path = g:path() -- recorded by detached sandboxes
  return true
end

--- plan step: start the child inside the group; take the OOM count before
-- the spawn (a kill right after exec is not missed). A group no process
-- has entered yet counts none: the first spawn reads nothing.
function M.plan_step(box, plan, ctx)
  local g = box.cgroup
  if not g then return true end
  if g:version() == 2 then plan.cgroup_fd = g:fd()
  else plan.cgroup_dirs = g:dirs() end
  ctx.oom_before = box.cgroup_fresh and 0 or g:oom_kills() or 0
  box.cgroup_fresh = nil
  return true
end

local WATCH = setmetatable({}, { __mode = "k" })

--- after_spawn step: watch the process for OOM kills.
function M.after_spawn_step(box, p, ctx)
  if box.cgroup then WATCH[p] = { cg = box.cgroup, before = ctx.oom_before or 0 } end
  return true
end

--- wait step: a status says oom = true when the box's cgroup counted an
-- OOM kill while the process lived and it died of SIGKILL (a heuristic).
function M.wait_step(box, p, st)
  local w = WATCH[p]
  if w and st.signal == "SIGKILL" and not st.oom and box.cgroup == w.cg then
    local n = w.cg:oom_kills()
    if n and n > w.before then st.oom = true end
  end
end

--- kill step: with SIGKILL, whatever is still in the group dies too
-- (other signals reach the same processes as without a cgroup: isol.kill).
function M.kill_step(box, sig)
  if not box.cgroup or core.signum(sig) ~= core.signum("SIGKILL") then return true end
  local ok, msg, code = box.cgroup:kill("SIGKILL")
  if not ok then return nil, msg, code end
  return true
end

--- close step: delete the group (a detached sandbox keeps it).
function M.close_step(box)
  local g = box.cgroup
  if not g then return true end
  box.cgroup = nil
  -- A detached sandbox outlives the script, in its cgroup.
  if box.detached then g:release(); return true end
  -- Whatever the processes left behind (daemons in new sessions) goes too:
  -- g:close kills what is still in the group (one read of cgroup.events
  -- where there is one), then deletes it.
  local ok, msg, code = g:close(5000)
  if not ok then return nil, "cgroup close: " .. tostring(msg), code end
  return true
end

-- ------------------------------------------------------------ recorded groups
-- A detached sandbox's cgroup outlives the isol.Cgroup handle that made it:
-- its directories (one per v1 hierarchy, or one v2 directory) are recorded
-- in its state and ended from there by `isol kill` / `isol rm`.

local function procs_of(dirs)
  local pids = {}
  for _, d in ipairs(dirs) do
    local f = io.open(d .. "/cgroup.procs", "r")
    if f then
      for l in f:lines() do pids[#pids + 1] = math.tointeger(tonumber(l)) end
      f:close()
    end
  end
  return pids
end

--- Kill every process in the recorded directories `dirs` (v2: cgroup.kill;
-- else each listed process and its descendants through pidfds, until the
-- groups stay empty), then remove the directories (sub-groups included).
-- Directories already gone are fine.
-- @return true, or nil, message, errno (the first failure; every directory is tried)
function M.end_dirs(dirs)
  for _, d in ipairs(dirs) do
    local f = io.open(d .. "/cgroup.kill", "w")
    if f then f:write("1"); f:close() end
  end
  for _ = 1, 100 do
    local pids = procs_of(dirs)
    if #pids == 0 then break end
    for i = 1, #pids, 256 do
      core.proc_kill({ roots = table.move(pids, i, math.min(i + 255, #pids), 1, {}) }, "SIGKILL", 2000)
    end
  end
  local fmsg, fcode
  for _, d in ipairs(dirs) do
    local f = io.open(d .. "/cgroup.procs", "r")
    if f then
      f:close()
      local ok, msg, code = core.cgroup_rmdir_tree(d, 2000)
      if not ok and not fmsg then fmsg, fcode = msg, code end
    end
  end
  if fmsg then return nil, fmsg, fcode end
  return true
end

--- Usage of recorded directories: { memory = bytes, cpu_us = microseconds }
-- (a field is nil where the group has no such counter).
function M.usage_of(dirs)
  local u = {}
  local function num(path, pat)
    local f = io.open(path, "r")
    if not f then return nil end
    local t = f:read("a")
    f:close()
    return math.tointeger(tonumber(t:match(pat or "^%s*(%d+)")))
  end
  for _, d in ipairs(dirs) do
    u.memory = u.memory or num(d .. "/memory.current") or num(d .. "/memory.usage_in_bytes")
    local us = num(d .. "/cpu.stat", "usage_usec (%d+)")
    local ns = num(d .. "/cpuacct.usage")
    u.cpu_us = u.cpu_us or us or (ns and ns // 1000)
  end
  return u
end

--- Sandbox methods (added by isol.lua through Sandbox.method).
M.methods = {}

--- box:stats() -> cpu/memory/pids/io counters of the box's cgroup (see
-- isol.Cgroup:stats), or nil, msg, errno when it has none.
function M.methods.stats(box)
  if not box.cgroup then
    if box.cgroup_plan and not box.prepared then return nil, "sandbox has not started yet", E.ESRCH end
    return nil, "sandbox has no cgroup (give limits or cgroup in the recipe)", E.ENODEV
  end
  return box.cgroup:stats()
end
--- box:freeze(): stop every process of the box (cgroup freezer).
function M.methods.freeze(box)
  if not box.cgroup then return nil, "sandbox has no cgroup", E.ENODEV end
  return box.cgroup:freeze()
end
--- box:thaw(): resume a frozen box.
function M.methods.thaw(box)
  if not box.cgroup then return nil, "sandbox has no cgroup", E.ENODEV end
  return box.cgroup:thaw()
end

return M
