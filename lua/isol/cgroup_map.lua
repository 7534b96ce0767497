--- The one mapping from normalized `limits` (isol.cgroup_limits) to cgroup
-- files, for a target version ("v1" or "v2") that the host need not have.
-- Pure: no file is read, no cgroup touched. isol.cgroup.plan wraps it
-- (validation, the host's version) and isol.cgroup creates from its result.
-- @module isol.cgroup_map
local util = require "isol.util"

local fail, show = util.fail, util.show

local M = {}

M.KNOWN_CTRL = { cpu = true, cpuacct = true, cpuset = true, memory = true, devices = true,
  freezer = true, blkio = true, io = true, pids = true, hugetlb = true, rdma = true, misc = true,
  net_cls = true, net_prio = true, perf_event = true, cgroup = true }

--- "v1" | "v2" | 1 | 2 -> 1 | 2 (raises on anything else).
function M.version_number(v, field)
  if v == "v1" or v == 1 then return 1 end
  if v == "v2" or v == 2 then return 2 end
  fail(field or "version", 'expected "v1" or "v2", got %s', show(v))
end

local IO_V1 = { rbps = "read_bps", wbps = "write_bps", riops = "read_iops", wiops = "write_iops" }

--- Map limits (normalized) and cgroup options (normalized) onto `version`.
-- `avail` (optional): set of controllers the target has, checked when given
-- (name -> true, or "builtin" for v2's freezer/devices).
-- Returns the plan: a list of writes { file=, value=, field= } in write
-- order (each also as { file, value, field } for older readers), and
--   version = 1|2, controllers = { names },
--   hierarchies = { { name=, implicit=, why= } } every hierarchy the run
--     may make a directory in (v1: one per controller; implicit ones are
--     added by isol itself: the unified tree of a hybrid host, whose
--     cgroup.kill, cgroup.freeze and cpu.stat serve kill, freeze and
--     stats; freezer and cpuacct where it cannot (not writable, a kernel
--     before 5.14); every hierarchy with a cgroup namespace),
--   writes = the same list, devices = normalized device rules or nil,
--   io = the normalized io limits or nil.
-- An io.max entry naming a device path has `device =` (resolved to
-- MAJOR:MINOR when the group is made) and `rest =` (the value after it).
function M.plan(lim, cg, path, version, avail)
  path = path or "limits"
  lim = lim or { raw = {} }
  cg = cg or {}
  version = M.version_number(version)
  local ctrls, writes = {}, {}
  local function need(c, field)
    local name = (version == 2 and c == "blkio") and "io" or (version == 1 and c == "io") and "blkio" or c
    if avail and not avail[name] then
      local l = {}
      for k, b in pairs(avail) do if b == true then l[#l + 1] = k end end
      table.sort(l)
      fail(field, "cgroup v%d controller %q is not available on this host (available: %s)", version, name,
        #l > 0 and table.concat(l, ", ") or "none")
    end
    if not (version == 2 and (name == "freezer" or name == "devices")) then ctrls[name] = true end
    return name
  end
  local function w(file, value, field, extra)
    local e = { file, tostring(value), field, file = file, value = tostring(value), field = field }
    for k, x in pairs(extra or {}) do e[k] = x end
    writes[#writes + 1] = e
  end

  local c = lim.cpu
  if c then
    need("cpu", path .. ".cpu")
    if c.weight or c.shares then
      if version == 2 then
        local wt = c.weight or math.max(1, math.min(10000, (c.shares * 100) // 1024))
        w("cpu.weight", wt, path .. ".cpu.weight")
      else
        local sh = c.shares or math.max(2, math.min(262144, (c.weight * 1024) // 100))
        w("cpu.shares", sh, path .. ".cpu.shares")
      end
    end
    if c.quota_us then
      if c.quota_pct then
        local n, what
        if lim.cpuset and lim.cpuset.ncpus then
          n, what = lim.cpuset.ncpus, 'cpuset.cpus "' .. lim.cpuset.cpus .. '"'
        else
          n, what = lim.online_cpus or math.huge, "online CPUs"
        end
        if c.quota_pct > n * 100 + 1e-9 then
          fail(path .. ".cpu.quota", "%s%% is more than the %d CPU%s allowed (%s), got %s", tostring(c.quota_pct),
            n, n == 1 and "" or "s", what, show(c.quota_pct .. "%"))
        end
      end
      if version == 2 then
        w("cpu.max", (c.quota_us == "max" and "max" or c.quota_us) .. " " .. c.period_us, path .. ".cpu.quota")
      else
        w("cpu.cfs_period_us", c.period_us, path .. ".cpu.period_us")
        w("cpu.cfs_quota_us", c.quota_us == "max" and -1 or c.quota_us, path .. ".cpu.quota")
      end
    end
  end
  if lim.cpuset then
    need("cpuset", path .. ".cpuset")
    if lim.cpuset.cpus then w("cpuset.cpus", lim.cpuset.cpus, path .. ".cpuset.cpus") end
    if lim.cpuset.mems then w("cpuset.mems", lim.cpuset.mems, path .. ".cpuset.mems") end
  end
  local m = lim.memory
  if m then
    if version == 2 and m.swappiness ~= nil then
      fail(path .. ".memory.swappiness", "cgroup v2 has no per-cgroup swappiness (got %s); use "
        .. "memory.swap = 0 to keep the group out of swap", show(m.swappiness))
    end
    need("memory", path .. ".memory")
    if version == 2 then
      if m.max then w("memory.max", m.max, path .. ".memory.max") end
      if m.swap then w("memory.swap.max", m.swap, path .. ".memory.swap") end
    else
      if m.max then w("memory.limit_in_bytes", m.max == "max" and -1 or m.max, path .. ".memory.max") end
      if m.swap then
        if not m.max or m.max == "max" then
          fail(path .. ".memory.swap", "on cgroup v1 swap is limited as memory+swap "
            .. "(memory.memsw.limit_in_bytes): give memory.max too (got swap = %s)", show(m.swap))
        end
        w("memory.memsw.limit_in_bytes", m.swap == "max" and -1 or (m.max + m.swap), path .. ".memory.swap")
      end
      if m.swappiness ~= nil then w("memory.swappiness", m.swappiness, path .. ".memory.swappiness") end
    end
  end
  if lim.pids then
    need("pids", path .. ".pids")
    if lim.pids.max then w("pids.max", lim.pids.max, path .. ".pids.max") end
  end
  local io = lim.io
  if io then
    need(version == 2 and "io" or "blkio", path .. ".io")
    if io.weight then
      if version == 2 then
        w("io.weight", "default " .. io.weight, path .. ".io.weight")
      else
        -- blkio.bfq.weight under BFQ, else blkio.weight: chosen when made
        w("blkio.weight", math.max(10, math.min(1000, io.weight // 10)), path .. ".io.weight",
          { alternatives = { "blkio.bfq.weight", "blkio.weight" } })
      end
    end
    for i, e in ipairs(io.max or {}) do
      local field = string.format("%s.io.max[%d]", path, i)
      local dev = e.device
      local function entry(file, rest, f)
        local extra = not dev:match("^%d+:%d+$") and { device = dev, rest = rest, device_field = field } or nil
        w(file, dev .. rest, f, extra)
      end
      if version == 2 then
        local parts = {}
        for _, k in ipairs { "rbps", "wbps", "riops", "wiops" } do
          if e[k] then parts[#parts + 1] = k .. "=" .. tostring(e[k]) end
        end
        entry("io.max", " " .. table.concat(parts, " "), field)
      else
        for _, k in ipairs { "rbps", "wbps", "riops", "wiops" } do
          if e[k] then
            entry("blkio.throttle." .. IO_V1[k] .. "_device", " " .. (e[k] == "max" and "0" or tostring(e[k])),
              field .. "." .. k)
          end
        end
      end
    end
  end
  local dev
  if lim.devices then
    need("devices", path .. ".devices")
    dev = lim.devices
  end
  for _, r in ipairs(lim.raw or {}) do
    local file, value, ctrl = r[1], r[2], r.ctrl
    local field = path .. "." .. file
    if not M.KNOWN_CTRL[ctrl] then
      fail(field, "unknown controller %q (known: cpu, cpuacct, cpuset, memory, devices, freezer, "
        .. "blkio/io, pids, hugetlb, rdma, misc)", ctrl)
    end
    if ctrl ~= "cgroup" then need(ctrl, field) end
    w(file, value, field)
  end
  for _, x in ipairs(cg.controllers or {}) do
    if not M.KNOWN_CTRL[x] or x == "cgroup" then
      fail("cgroup.controllers", "unknown controller %q", x)
    end
    need(x, "cgroup.controllers")
  end
  -- hierarchies = "all" (implied by a cgroup namespace): a directory in
  -- every hierarchy the target has, so the namespace's root is the box's
  -- own group everywhere (on v2 the one directory already is).
  if cg.hierarchies == "all" and version == 1 then
    for name, how in pairs(avail or {}) do
      if how == true and name ~= "io" then ctrls[name] = true end
    end
  end
  local list = {}
  for k in pairs(ctrls) do list[#list + 1] = k end
  table.sort(list)
  local hier = {}
  if version == 1 then
    local seen = {}
    for _, k in ipairs(list) do hier[#hier + 1] = { name = k, implicit = false }; seen[k] = true end
    if cg.hierarchies == "all" and not avail then
      hier[#hier + 1] = { name = "every other mounted v1 hierarchy", implicit = true, why = "cgroup namespace root" }
    end
    hier[#hier + 1] = { name = "unified (hybrid hosts)", implicit = true,
      why = "kill, freeze, cpu usage in stats (cgroup.kill, cgroup.freeze, cpu.stat); cgroup namespace root" }
    -- what the run adds on its own (when mounted) where the unified tree
    -- cannot serve: kill/freeze and stats
    if not seen.freezer and (not avail or avail.freezer) then
      hier[#hier + 1] = { name = "freezer", implicit = true,
        why = "kill and freeze, where the unified tree cannot (none, not writable, a kernel before 5.14)" }
    end
    if not seen.cpuacct and (not avail or avail.cpuacct) then
      hier[#hier + 1] = { name = "cpuacct", implicit = true,
        why = "cpu usage in stats, where the unified tree cannot (none, not writable, a kernel before 5.14)" }
    end
  else
    hier[1] = { name = "unified", implicit = false, controllers = list }
  end
  local plan = { version = version, controllers = list, hierarchies = hier, writes = writes, devices = dev,
    io = io }
  for i, e in ipairs(writes) do plan[i] = e end
  return plan
end

return M
