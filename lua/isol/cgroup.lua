--- Control groups for sandboxes: creation and `isol.cgroup.*` (the Sandbox
-- steps and the `limits`/`cgroup` recipe fields are in isol.cgroup_sandbox).
-- Validation lives in isol.cgroup_limits, the one limits -> files mapping in
-- isol.cgroup_map (require("isol.cgroup").plan).
--
-- One vocabulary for cgroup v1 and v2, mapped at run time to the version
-- the host (or `cgroup.version`) uses:
--
--   limits.cpu.weight   1..10000 (v2 cpu.weight)  <-> v1 cpu.shares = weight*1024/100
--   limits.cpu.shares   2..262144 (v1 cpu.shares) <-> v2 cpu.weight = shares*100/1024
--       Both defaults (100 and 1024) map onto each other, so "128 shares next
--       to a default group" means the same on both (crun's linear range map
--       does not keep that). Values are clamped to the target range.
--   limits.cpu.quota    "20%" of one CPU (or quota_us= and period_us=, default
--       period 100000): v1 cpu.cfs_quota_us/cfs_period_us, v2 cpu.max.
--       More than 100% * (number of CPUs allowed) is an error.
--   limits.cpuset       { cpus = "0-1", mems = "0" }: a missing one is copied
--       from the parent (v1 needs both before anything can join).
--   limits.memory.max   size ("32M"): v1 memory.limit_in_bytes, v2 memory.max
--   limits.memory.swap  swap allowed ON TOP of memory.max (v2 memory.swap.max
--       semantics). v1 only knows memory+swap (memory.memsw.limit_in_bytes),
--       so isol writes max + swap there, and needs memory.max with it.
--   limits.memory.swappiness 0..100: v1 only (v2 has no per-cgroup
--       swappiness: an error says to use memory.swap = 0 instead).
--   limits.pids.max     integer or "max"
--   limits.io.weight    1..10000 (v2 io.weight; v1 blkio.bfq.weight or
--       blkio.weight, 10..1000, = weight/10 clamped)
--   limits.io.max       { { device = "/dev/vda" | "254:0", rbps=, wbps=, riops=, wiops= } }
--       v2 io.max, v1 blkio.throttle.*_device
--   limits.devices      { allow = {...}, deny = {...}, default = "allow"|"deny" }:
--       paths, globs ("/dev/nvidia*") or rules ("c 195:* rwm"); see
--       csrc/devices.h. Default: "deny" when an allow list is given, else
--       "allow". v1 devices.allow/deny, v2 an eBPF program.
--   limits["controller.file"] = value   any other control file, written as is
--       (the controller must exist; flat spellings of the names above, like
--       ["cpu.shares"] or ["memory.max"], are mapped, not raw).
--
-- Backend (`cgroup.backend`): "direct" (default) writes cgroupfs itself;
-- "libcgroup" creates the group with every limit, attaches and deletes
-- through libcgroup's API (cgroup_new_cgroup, cgroup_add_controller,
-- cgroup_add_value_string, cgroup_create_cgroup, cgroup_attach_task_pid,
-- cgroup_delete_cgroup_ext) and uses an isol handle on the same
-- directories for what libcgroup 2.0.2 lacks (placing the child at spawn,
-- freeze, cgroup.kill, stats, BPF device rules, and on v2 a group without
-- controllers, which its calls skip). ~3x slower (bench/cgroup).
-- `cgroup.hierarchies = "all"` (implied by a cgroup namespace) makes the
-- group in every mounted hierarchy, so the namespace is rooted at the
-- box's own group everywhere.
--
-- Placement (field `cgroup`): the group is made under the caller's own
-- cgroup in every hierarchy (v1: per controller, e.g. memory may sit under
-- /process_api/<id> while cpu sits under /), or under `parent` ("a/b"
-- relative to that, "/a/b" from each hierarchy's root). On a hybrid host
-- a directory in the unified tree is added: its cgroup.kill, cgroup.freeze
-- and cpu.stat serve kill, freeze and cpu usage; where it cannot (pure v1,
-- not writable, a kernel before 5.14) a freezer and a cpuacct directory
-- are added instead, when mounted. On
-- v2 the wanted controllers are enabled in cgroup.subtree_control on the
-- way down; a non-root parent that holds processes cannot have children
-- with controllers (no-internal-processes rule): that is a clear EBUSY
-- error naming the way out (run from a delegated leaf, or cgroup.parent).
-- `version = 2` on a hybrid host uses the controller-less unified tree
-- (freeze, kill, eBPF devices and cpu.stat work there).
-- Without root on v2, a delegated own cgroup is used through a leaf (see
-- M.delegated_parent).
-- `owner = { uid =, gid = }` delegates the group: v1 chowns the directory
-- and every file (the seed's `cgcreate -a user -t user`); v2 chowns the
-- directory and the files in /sys/kernel/cgroup/delegate (cgroup.procs,
-- cgroup.threads, cgroup.subtree_control...), never the limits themselves.
-- Names are isol-<creator pid>-<seq>: `isol cgroup gc` removes leftovers
-- whose creator is gone.
-- @module isol.cgroup
local core = require "isol.core"
local util = require "isol.util"
local limits = require "isol.cgroup_limits"
local map = require "isol.cgroup_map"

local M = {}

M.check_limits = limits.check_limits
M.check_cgroup = limits.check_cgroup
local check_devices = limits.check_devices

-- ------------------------------------------------------------ layout helpers

-- The layout is read once per process (like the C side's cache).
local cached_layout
local function layout(refresh)
  if cached_layout and not refresh then return cached_layout end
  local lay, msg, code = core.cgroup_layout(refresh)
  if not lay then return nil, "cgroup layout: " .. tostring(msg), code end
  cached_layout = lay
  return lay
end

-- For plans and checks: a host without a readable layout is an error there.
local function host_layout()
  local lay, msg = layout()
  if not lay then util.fail("cgroup", "%s", msg) end
  return lay
end

local avail_cache = {}

--- Which version a recipe gets: `want` (1, 2) or the host's.
local function pick_version(want)
  if want then return want end
  return host_layout().mode == "v2" and 2 or 1
end

-- Set of controllers available for `version`.
local function available(version)
  if avail_cache[version] then return avail_cache[version] end
  local set = {}
  avail_cache[version] = set
  for _, h in ipairs(host_layout().hierarchies) do
    if h.version == version then
      for _, c in ipairs(h.controllers) do set[c] = true end
    end
  end
  if version == 2 then set.freezer, set.devices = "builtin", "builtin" end
  return set
end

--- The one limits -> files mapping (see isol.cgroup_map for the result).
-- `lim` and `cg` may be raw (they are validated then) or normalized;
-- `version` ("v1" | "v2") is the target: given, the host need not have it
-- (nothing is checked against the host's controllers); nil: the host's
-- version (or cg.version) and its available controllers.
function M.plan(lim, cg, path, version)
  path = path or "limits"
  if lim ~= nil and not limits.normalized[lim] then lim = limits.check_limits(lim, path) end
  if lim ~= nil then limits.check_host(lim, path) end
  cg = cg and limits.check_cgroup(cg, "cgroup") or {}
  if version ~= nil then return map.plan(lim, cg, path, map.version_number(version, "version")) end
  local v = pick_version(cg.version)
  return map.plan(lim, cg, path, v, available(v))
end

-- ------------------------------------------------------------ create

local seq = 0
local self_pid = select(5, core.ids())

--- A fresh name: isol-<creator pid>-<seq> (the marker `isol cgroup gc` uses).
function M.new_name()
  seq = seq + 1
  return string.format("isol-%d-%d", self_pid, seq)
end

-- "/dev/vda" or "254:0" -> "254:0"
local function blockdev(dev, field)
  if dev:match("^%d+:%d+$") then return dev end
  local rules, msg, code = core.cgroup_devices_resolve { { dev, "rwm", true } }
  if not rules then return nil, field .. ": " .. msg, code end
  local t, mm = rules[1]:match("^allow (%a) (%d+:%d+)")
  if t ~= "b" then return nil, string.format("%s: %s is not a block device", field, dev), 19 end
  return mm
end

--- Resolve device lists into rules: {"deny c 195:* rwm", ...}.
function M.resolve_devices(dev)
  local spec = {}
  for _, d in ipairs(dev.deny or {}) do spec[#spec + 1] = { d[1], d[2], false } end
  for _, d in ipairs(dev.allow or {}) do spec[#spec + 1] = { d[1], d[2], true } end
  return core.cgroup_devices_resolve(spec)
end

-- Writes of a plan with device paths resolved (io.max needs MAJOR:MINOR).
local function resolved_writes(plan)
  local out = {}
  for i, x in ipairs(plan.writes) do
    if x.device then
      local mm, msg, code = blockdev(x.device, (x.device_field or x.field) .. ".device")
      if not mm then return nil, msg, code end
      out[i] = { file = x.file, value = mm .. x.rest, field = x.field }
    else
      out[i] = x
    end
  end
  return out
end

--- Create a cgroup from a plan (M.plan) and cgroup options; everything or
-- nothing: on failure the group is deleted and nil, msg, errno returned.
function M.create_from_plan(plan, cg)
  cg = cg or {}
  local rules, msg, code
  if plan.devices then
    rules, msg, code = M.resolve_devices(plan.devices)
    if not rules then return nil, "limits.devices: " .. msg, code end
  end
  local writes
  writes, msg, code = resolved_writes(plan)
  if not writes then return nil, msg, code end
  -- The libcgroup backend sets every value through libcgroup as it
  -- creates the group; what needs the group first (blkio.weight's two
  -- names) and the device rules are written on the handle after.
  local values, later
  if cg.backend == "libcgroup" then
    values, later = {}, {}
    for _, x in ipairs(writes) do
      if x.alternatives then later[#later + 1] = x else values[#values + 1] = { x.file, x.value } end
    end
    writes = later
  end
  local g
  g, msg, code = core.cgroup_create {
    name = cg.name or M.new_name(), parent = cg.parent, version = plan.version,
    controllers = plan.controllers, uid = cg.owner and cg.owner.uid, gid = cg.owner and cg.owner.gid,
    backend = cg.backend, values = values,
  }
  if not g then return nil, msg, code end
  local function undo(m, c)
    g:close()
    return nil, m, c
  end
  local ok
  for _, x in ipairs(writes) do
    local file = x.file
    if x.alternatives then
      for _, alt in ipairs(x.alternatives) do
        if g:get(alt) then file = alt; break end
      end
    end
    ok, msg, code = g:set(file, x.value)
    if not ok then return undo(string.format("%s: %s", x.field, msg), code) end
  end
  if rules then
    ok, msg, code = g:devices(plan.devices.default == "allow", rules)
    if not ok then return undo("limits.devices: " .. msg, code) end
  end
  return g
end

-- ------------------------------------------------------------ delegation

-- The parent sandboxes get once this process has moved into its leaf.
local delegated_parent

--- v2 delegation (systemd's Delegate=yes, or a subtree root chowned to the
-- user): a caller without root whose own cgroup is its own (it may create
-- a child there and move itself) moves this process into a leaf of it,
-- `isol-caller`, once, so that sandboxes can be made beside that leaf (the
-- no-internal-processes rule forbids controllers below a group that holds
-- processes); the controllers of the cgroup are enabled for its children.
-- The leaf stays when the process ends (an empty group costs
-- nothing; the next run reuses it). Root callers, v1, a given
-- `cgroup.parent` and a caller in the root cgroup are left alone.
-- @return the absolute parent for sandboxes ("/a/b"), or nil
function M.delegated_parent(cg)
  if delegated_parent then return delegated_parent end
  if (cg and cg.parent) or core.ids() == 0 then return nil end
  local lay = layout()
  if lay.mode ~= "v2" then return nil end
  local h
  for _, x in ipairs(lay.hierarchies) do if x.version == 2 then h = x end end
  if not h or h.self == "/" or h.self == "" then return nil end
  local own = h.mount .. h.self
  local leaf = own .. "/isol-caller"
  local ok, _, code = core.mkdir(leaf, tonumber("755", 8))
  if not ok and code ~= core.errno.EEXIST then return nil end
  local f = io.open(leaf .. "/cgroup.procs", "w")
  local wok = f and f:write(tostring(core.getpid()))
  local cok = f and f:close()
  if not (wok and cok) then
    if ok then os.remove(leaf) end -- made here, not ours to keep
    return nil
  end
  -- the cgroup is empty now: make its controllers available below it (the
  -- leaf and the sandboxes), as systemd does for a delegated unit
  local cf = io.open(own .. "/cgroup.controllers", "r")
  for c in ((cf and cf:read("a")) or ""):gmatch("%S+") do
    local sf = io.open(own .. "/cgroup.subtree_control", "w")
    if sf then
      sf:write("+" .. c)
      sf:close()
    end
  end
  if cf then cf:close() end
  delegated_parent = h.self
  layout(true) -- the C side's cached own cgroup is the leaf now
  return delegated_parent
end

-- ------------------------------------------------------------ install

--- Install `isol.cgroup` (called by isol.lua; the Sandbox steps and the
-- recipe fields are in isol/cgroup_sandbox.lua).
function M.install(isol)
  local C = {}
  isol.cgroup = C
  C.layout = function(refresh)
    if refresh then avail_cache = {} end
    return layout(refresh)
  end
  C.check_limits = M.check_limits
  C.plan = M.plan
  C.resolve_devices = function(dev)
    return M.resolve_devices(check_devices(dev, "devices"))
  end
  C.new_name = M.new_name

  --- isol.cgroup.create{ limits=, parent=, name=, version=, owner=, controllers= }
  -- -> isol.Cgroup with the limits applied (or nil, msg, errno). Raises on
  -- bad values, naming the field; creates nothing then.
  function C.create(spec)
    util.check_type("cgroup", spec or {}, "table")
    spec = spec or {}
    local opts = {}
    for k, v in pairs(spec) do if k ~= "limits" then opts[k] = v end end
    local cg = M.check_cgroup(opts, "cgroup")
    local lim = spec.limits and M.check_limits(spec.limits, "limits") or nil
    return M.create_from_plan(M.plan(lim, cg), cg)
  end

  --- libcgroup's own calls, for groups named the libcgroup way (one name
  -- under the caller's cgroup for all the given controllers): create(name,
  -- {ctrls}, {["cpu.shares"]="128"}, ignore_ownership), attach(name, {ctrls},
  -- pid), delete(name, {ctrls}), mount(ctrl). libcgroup is initialised on the
  -- first of these calls only.
  C.libcgroup = {
    init = core.cgroup_libcgroup_init,
    create = core.cgroup_libcgroup_create,
    attach = core.cgroup_libcgroup_attach,
    delete = core.cgroup_libcgroup_delete,
    mount = core.cgroup_libcgroup_mount,
  }

  --- Cross-check isol's layout against libcgroup's discovery: returns a list
  -- of disagreements ({} when both agree on every controller's mount: the
  -- v1 ones, or on pure v2 those of the unified tree; a hybrid host's
  -- unified tree has none of its own).
  function C.libcgroup_check()
    local diff = {}
    local lay = host_layout()
    for _, h in ipairs(lay.hierarchies) do
      if h.version == 1 or lay.mode == "v2" then
        for _, c in ipairs(h.controllers) do
          local mp, msg = core.cgroup_libcgroup_mount(c)
          if mp ~= h.mount then diff[#diff + 1] = string.format("%s: isol %s, libcgroup %s", c, h.mount, mp or msg) end
        end
      end
    end
    return diff
  end

  --- cgexec-style: run argv in a fresh cgroup with these limits and wait.
  -- isol.cgroup.exec({ memory = { max = "32M" } }, { "cmd", ... }) -> status
  function C.exec(lim, argv, opts)
    return isol.run({ limits = lim }, argv, opts)
  end

  --- Remove leftovers of crashed runs: directories named isol-<pid>-<seq>
  -- whose creator is gone (opts.all: also those of living creators).
  -- opts.kill kills what still runs inside; opts.dry_run only lists.
  -- Returns { removed = {...}, kept = {...} }. All through the core
  -- (core.cgroup_find, core.cgroup_remove): no shell, no /proc in Lua.
  function C.gc(opts)
    opts = opts or {}
    local removed, kept = {}, {}
    local found, msg, code = core.cgroup_find("isol-", 8)
    if not found then return nil, msg, code end
    for _, e in ipairs(found) do
      local dir = e.dir
      if not e.creator then -- luacheck: ignore 542
        -- not an isol name (isol-hostile-...): left alone
      elseif e.creator_alive and not opts.all then
        kept[#kept + 1] = dir .. " (creator " .. e.creator .. " still runs)"
      elseif opts.dry_run then
        removed[#removed + 1] = dir
      else
        local ok, err, ecode = core.cgroup_remove(dir, { kill = opts.kill and true or false })
        if ok then removed[#removed + 1] = dir
        elseif ecode == 16 and not opts.kill then kept[#kept + 1] = dir .. " (has processes; use --kill)"
        else kept[#kept + 1] = dir .. " (" .. tostring(err) .. ")" end
      end
    end
    return { removed = removed, kept = kept }
  end

  --- Kill and remove cgroup directories recorded for a group this process
  -- has no handle on (a detached sandbox's `cgroup_paths`). Every path is
  -- tried; returns true, or nil, first message, errno.
  C.remove_paths = M.remove_paths
end

--- isol.cgroup.remove_paths(paths [, timeout_ms]): see above (also usable
-- before `require "isol"` wires the module, e.g. by isol.process).
function M.remove_paths(paths, timeout_ms)
  util.check_type("paths", paths, "table")
  local first_msg, first_code
  for i, dir in ipairs(paths) do
    util.check_type(string.format("paths[%d]", i), dir, "string")
    local ok, msg, code = core.cgroup_remove(dir, { kill = true, timeout_ms = timeout_ms or 2000 })
    if not ok and not first_msg then first_msg, first_code = msg, code end
  end
  if first_msg then return nil, first_msg, first_code end
  return true
end

return M
