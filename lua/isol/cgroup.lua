--- Control groups for sandboxes: validation and mapping of `limits` and
-- `cgroup`, creation, and `isol.cgroup.*` (the Sandbox steps and the recipe
-- fields are in isol/cgroup_sandbox.lua).
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
-- Placement (field `cgroup`): the group is made under the caller's own
-- cgroup in every hierarchy (v1: per controller, e.g. memory may sit under
-- /process_api/<id> while cpu sits under /), or under `parent` ("a/b"
-- relative to that, "/a/b" from each hierarchy's root). On v1 a freezer
-- (kill, freeze) and cpuacct (stats) directory is added when mounted. On
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

local fail, show = util.fail, util.show

local M = {}

-- ------------------------------------------------------------ layout helpers

-- The layout is read once per process (like the C side's cache).
local cached_layout
local function layout(refresh)
  if cached_layout and not refresh then return cached_layout end
  local lay, msg = core.cgroup_layout(refresh)
  if not lay then error("cgroup layout: " .. tostring(msg), 0) end
  cached_layout = lay
  return lay
end

local avail_cache = {}

--- Which version a recipe gets: `want` (1, 2) or the host's.
local function pick_version(want)
  if want then return want end
  return layout().mode == "v2" and 2 or 1
end

-- Set of controllers available for `version`.
local function available(version)
  if avail_cache[version] then return avail_cache[version] end
  local set = {}
  avail_cache[version] = set
  for _, h in ipairs(layout().hierarchies) do
    if h.version == version then
      for _, c in ipairs(h.controllers) do set[c] = true end
    end
  end
  if version == 2 then set.freezer, set.devices = "builtin", "builtin" end
  return set
end

local function read_line(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

-- "0-2,5" -> sorted list of integers, or nil
local function parse_list(s)
  if type(s) == "number" and math.type(s) == "integer" then s = tostring(s) end
  if type(s) ~= "string" or not s:match("^[%d,%-]+$") then return nil end
  local out = {}
  for part in s:gmatch("[^,]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a or part:match("^(%d+)$")), tonumber(b)
    if not a then return nil end
    b = b or a
    if b < a then return nil end
    for i = a, b do out[#out + 1] = i end
  end
  return out
end

local function online(kind)
  local s = read_line("/sys/devices/system/" .. kind .. "/online") or "0"
  local set = {}
  for _, i in ipairs(parse_list(s) or { 0 }) do set[i] = true end
  return set
end

-- ------------------------------------------------------------ limits: check

local function int_in(path, v, lo, hi)
  if type(v) == "string" and v:match("^%d+$") then v = tonumber(v) end
  if math.type(v) ~= "integer" or v < lo or v > hi then
    fail(path, "expected an integer from %d to %d, got %s", lo, hi, show(v))
  end
  return v
end

local function size_or_max(path, v)
  if v == "max" or v == -1 then return "max" end
  if type(v) == "string" and v:match("^%s*$") then
    fail(path, 'expected size like "32M" or "max", got %s', show(v))
  end
  local ok, r = pcall(util.parse_size, path, v)
  if not ok then fail(path, 'expected size like "32M" or "max", got %s', show(v)) end
  return r
end

local CPU_KEYS = { weight = true, shares = true, quota = true, quota_us = true, period_us = true }
local MEM_KEYS = { max = true, swap = true, swappiness = true }

local function check_cpu(v, path)
  util.check_type(path, v, "table")
  util.check_keys(path, v, CPU_KEYS)
  local out = {}
  if v.weight ~= nil and v.shares ~= nil then
    fail(path, "give weight (v2 scale) or shares (v1 scale), not both")
  end
  if v.weight ~= nil then out.weight = int_in(path .. ".weight", v.weight, 1, 10000) end
  if v.shares ~= nil then out.shares = int_in(path .. ".shares", v.shares, 2, 262144) end
  if v.quota ~= nil and v.quota_us ~= nil then fail(path, "give quota or quota_us, not both") end
  local period = 100000
  if v.period_us ~= nil then period = int_in(path .. ".period_us", v.period_us, 1000, 1000000) end
  if v.quota ~= nil then
    local q = v.quota
    local pct
    if type(q) == "string" then pct = tonumber(q:match("^%s*(%d+%.?%d*)%s*%%%s*$")) end
    if type(q) == "number" and q > 0 and q <= 1024 then pct = q * 100 end -- fraction of a CPU
    if q == "max" then
      out.quota_us = "max"
    elseif not pct or pct <= 0 then
      fail(path .. ".quota", 'expected a percentage of one CPU like "20%%", got %s', show(q))
    else
      out.quota_us = math.max(1000, math.floor(period * pct / 100 + 0.5))
      out.quota_pct = pct
    end
  end
  if v.quota_us ~= nil then
    if v.quota_us == "max" or v.quota_us == -1 then out.quota_us = "max"
    else
      out.quota_us = int_in(path .. ".quota_us", v.quota_us, 1000, 1000000 * 1024)
      out.quota_pct = out.quota_us * 100 / period
    end
  end
  if v.period_us ~= nil or out.quota_us then out.period_us = period end
  return out
end

local function check_memory(v, path)
  util.check_type(path, v, "table")
  util.check_keys(path, v, MEM_KEYS)
  local out = {}
  if v.max ~= nil then out.max = size_or_max(path .. ".max", v.max) end
  if v.swap ~= nil then out.swap = size_or_max(path .. ".swap", v.swap) end
  if v.swappiness ~= nil then out.swappiness = int_in(path .. ".swappiness", v.swappiness, 0, 100) end
  return out
end

local function check_dev_list(v, path)
  if type(v) == "string" then v = { v } end
  util.check_type(path, v, "table")
  local out = {}
  for i, s in ipairs(v) do
    local p = string.format("%s[%d]", path, i)
    local what, access = s, "rwm"
    if type(s) == "table" then
      util.check_keys(p, s, { path = true, access = true, rule = true, [1] = true })
      what, access = s.path or s.rule or s[1], s.access or "rwm"
    end
    util.check_type(p, what, "string")
    if type(access) ~= "string" or not access:match("^[rwm]+$") then
      fail(p .. ".access", 'expected letters of "rwm", got %s', show(access))
    end
    if what:sub(1, 1) ~= "/" and not what:match("^[acb]$")
        and not what:match("^[cb] [%d%*]+:[%d%*]+ ?[rwm]*$") then
      fail(p, 'expected a /dev path, a glob like "/dev/nvidia*" or a rule like "c 195:* rwm", got %s',
        show(what))
    end
    out[#out + 1] = { what, access }
  end
  return out
end

local function check_devices(v, path)
  util.check_type(path, v, "table")
  util.check_keys(path, v, { allow = true, deny = true, default = true })
  local out = { allow = {}, deny = {} }
  if v.allow ~= nil then out.allow = check_dev_list(v.allow, path .. ".allow") end
  if v.deny ~= nil then out.deny = check_dev_list(v.deny, path .. ".deny") end
  if v.default ~= nil and v.default ~= "allow" and v.default ~= "deny" then
    fail(path .. ".default", 'expected "allow" or "deny", got %s', show(v.default))
  end
  out.default = v.default or (v.allow ~= nil and "deny" or "allow")
  return out
end

local function check_io(v, path)
  util.check_type(path, v, "table")
  util.check_keys(path, v, { weight = true, max = true })
  local out = {}
  if v.weight ~= nil then out.weight = int_in(path .. ".weight", v.weight, 1, 10000) end
  if v.max ~= nil then
    util.check_type(path .. ".max", v.max, "table")
    out.max = {}
    for i, e in ipairs(v.max) do
      local p = string.format("%s.max[%d]", path, i)
      util.check_type(p, e, "table")
      util.check_keys(p, e, { device = true, rbps = true, wbps = true, riops = true, wiops = true })
      util.check_type(p .. ".device", e.device, "string")
      if not (e.device:match("^/") or e.device:match("^%d+:%d+$")) then
        fail(p .. ".device", 'expected a block device path or "MAJOR:MINOR", got %s', show(e.device))
      end
      local x = { device = e.device }
      for _, k in ipairs { "rbps", "wbps", "riops", "wiops" } do
        if e[k] ~= nil then
          if e[k] == "max" then x[k] = "max"
          elseif k:match("bps$") then x[k] = size_or_max(p .. "." .. k, e[k])
          else x[k] = int_in(p .. "." .. k, e[k], 1, 1 << 40) end
        end
      end
      out.max[i] = x
    end
  end
  return out
end

-- Flat spellings of the vocabulary: ["cpu.shares"] = 128 etc.
local FLAT = {
  ["cpu.weight"] = { "cpu", "weight" }, ["cpu.shares"] = { "cpu", "shares" },
  ["cpu.quota"] = { "cpu", "quota" }, ["cpuset.cpus"] = { "cpuset", "cpus" },
  ["cpuset.mems"] = { "cpuset", "mems" }, ["memory.max"] = { "memory", "max" },
  ["memory.swap"] = { "memory", "swap" }, ["memory.swappiness"] = { "memory", "swappiness" },
  ["memory.limit_in_bytes"] = { "memory", "max" }, ["pids.max"] = { "pids", "max" },
  ["io.weight"] = { "io", "weight" },
}

local GROUPS = { cpu = true, cpuset = true, memory = true, pids = true, io = true, devices = true }

--- Validate and normalize a limits table (raises naming field and value).
function M.check_limits(v, path)
  path = path or "limits"
  util.check_type(path, v, "table")
  local nested, raw, net_shaping = {}, {}, nil
  for k, x in pairs(v) do
    if type(k) ~= "string" then fail(path, "unexpected key %s", show(k)) end
    if GROUPS[k] then
      nested[k] = nested[k] or {}
      if type(x) ~= "table" then util.check_type(path .. "." .. k, x, "table") end
      for kk, xx in pairs(x) do nested[k][kk] = xx end
    elseif k == "net" then
      net_shaping = require("isol.net").check_shaping(x, path .. ".net")
    elseif FLAT[k] then
      local g, f = FLAT[k][1], FLAT[k][2]
      nested[g] = nested[g] or {}
      nested[g][f] = x
    elseif k:match("^[%w_]+%.[%w_%.]+$") then
      local ctrl = k:match("^([%w_]+)%.")
      if type(x) ~= "string" and type(x) ~= "number" then
        fail(path .. "." .. k, "expected a string or number, got %s", show(x))
      end
      raw[#raw + 1] = { k, tostring(math.type(x) == "float" and string.format("%.17g", x) or x), ctrl = ctrl }
    else
      fail(path .. "." .. k, "unknown limit (known: cpu, cpuset, memory, pids, io, devices, net, or \"controller.file\")")
    end
  end
  table.sort(raw, function(a, b) return a[1] < b[1] end)
  local out = { raw = raw, net = net_shaping }
  if nested.cpu then out.cpu = check_cpu(nested.cpu, path .. ".cpu") end
  if nested.cpuset then
    local p, c = path .. ".cpuset", nested.cpuset
    util.check_type(p, c, "table")
    util.check_keys(p, c, { cpus = true, mems = true })
    out.cpuset = {}
    for _, k in ipairs { "cpus", "mems" } do
      if c[k] ~= nil then
        local list = parse_list(c[k])
        if not list or #list == 0 then fail(p .. "." .. k, 'expected a list like "0-1,3", got %s', show(c[k])) end
        local on = online(k == "cpus" and "cpu" or "node")
        for _, i in ipairs(list) do
          if not on[i] then
            fail(p .. "." .. k, "%s %d is not online (online: %s), got %s", k == "cpus" and "CPU" or "memory node",
              i, read_line("/sys/devices/system/" .. (k == "cpus" and "cpu" or "node") .. "/online") or "?", show(c[k]))
          end
        end
        out.cpuset[k] = tostring(c[k])
        out.cpuset["n" .. k] = #list
      end
    end
  end
  if nested.memory then out.memory = check_memory(nested.memory, path .. ".memory") end
  if nested.pids then
    local p = path .. ".pids"
    util.check_keys(p, nested.pids, { max = true })
    local m = nested.pids.max
    if m == "max" or m == -1 then out.pids = { max = "max" }
    elseif m ~= nil then out.pids = { max = int_in(p .. ".max", m, 1, 4194304) } end
  end
  if nested.io then out.io = check_io(nested.io, path .. ".io") end
  if nested.devices then out.devices = check_devices(nested.devices, path .. ".devices") end
  return out
end

--- Validate the `cgroup` field: { parent=, name=, version=, owner={uid=,gid=}, controllers= }.
function M.check_cgroup(v, path)
  path = path or "cgroup"
  util.check_type(path, v, "table")
  util.check_keys(path, v, { parent = true, name = true, version = true, owner = true, controllers = true })
  local out = {}
  if v.parent ~= nil then
    util.check_type(path .. ".parent", v.parent, "string")
    if v.parent:find("..", 1, true) then fail(path .. ".parent", '".." is not allowed, got %s', show(v.parent)) end
    out.parent = v.parent
  end
  if v.name ~= nil then
    util.check_type(path .. ".name", v.name, "string")
    if not v.name:match("^[%w_%-%.]+$") or v.name == "." or v.name == ".." then
      fail(path .. ".name", "expected one path component of letters, digits, _ - ., got %s", show(v.name))
    end
    out.name = v.name
  end
  if v.version ~= nil then
    if v.version ~= 1 and v.version ~= 2 then fail(path .. ".version", "expected 1 or 2, got %s", show(v.version)) end
    out.version = v.version
  end
  if v.owner ~= nil then
    util.check_type(path .. ".owner", v.owner, "table")
    util.check_keys(path .. ".owner", v.owner, { uid = true, gid = true })
    local o = {}
    for _, k in ipairs { "uid", "gid" } do
      local x = v.owner[k]
      if x ~= nil and (math.type(x) ~= "integer" or x < 0 or x > 0xfffffffe) then
        fail(path .. ".owner." .. k, "expected a numeric id, got %s", show(x))
      end
      o[k] = x
    end
    if o.uid == nil then fail(path .. ".owner.uid", "required") end
    o.gid = o.gid or o.uid
    out.owner = o
  end
  if v.controllers ~= nil then
    util.check_type(path .. ".controllers", v.controllers, "table")
    out.controllers = {}
    for i, c in ipairs(v.controllers) do
      util.check_type(string.format("%s.controllers[%d]", path, i), c, "string")
      out.controllers[i] = c
    end
  end
  return out
end

-- ------------------------------------------------------------ limits: plan

local KNOWN_CTRL = { cpu = true, cpuacct = true, cpuset = true, memory = true, devices = true,
  freezer = true, blkio = true, io = true, pids = true, hugetlb = true, rdma = true, misc = true,
  net_cls = true, net_prio = true, perf_event = true, cgroup = true }

local function ncpus_allowed(lim)
  if lim.cpuset and lim.cpuset.ncpus then return lim.cpuset.ncpus, 'cpuset.cpus "' .. lim.cpuset.cpus .. '"' end
  local n = 0
  for _ in pairs(online("cpu")) do n = n + 1 end
  return n, "online CPUs"
end

--- Build the creation plan for limits (normalized) on a cgroup version:
-- { version=, controllers={...}, writes={{file, value, field}...}, devices= }.
-- Raises naming the field when something cannot be expressed there.
function M.plan(lim, cg, path)
  path = path or "limits"
  lim = lim or { raw = {} }
  cg = cg or {}
  local version = pick_version(cg.version)
  local avail = available(version)
  local ctrls, writes = {}, {}
  local function need(c, field)
    local name = (version == 2 and c == "blkio") and "io" or (version == 1 and c == "io") and "blkio" or c
    if not avail[name] then
      fail(field, "cgroup v%d controller %q is not available on this host (available: %s)", version, name,
        (function()
          local l = {}
          for k, b in pairs(avail) do if b == true then l[#l + 1] = k end end
          table.sort(l)
          return #l > 0 and table.concat(l, ", ") or "none"
        end)())
    end
    if avail[name] == true then ctrls[name] = true end
    return name
  end
  local function w(file, value, field) writes[#writes + 1] = { file, tostring(value), field } end

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
        local n, what = ncpus_allowed(lim)
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
  local io_spec
  if lim.io then
    need(version == 2 and "io" or "blkio", path .. ".io")
    io_spec = lim.io
  end
  local dev
  if lim.devices then
    if version == 1 then need("devices", path .. ".devices") end
    dev = lim.devices
  end
  for _, r in ipairs(lim.raw or {}) do
    local file, value, ctrl = r[1], r[2], r.ctrl
    local field = path .. "." .. file
    if not KNOWN_CTRL[ctrl] then
      fail(field, "unknown controller %q (known: cpu, cpuacct, cpuset, memory, devices, freezer, "
        .. "blkio/io, pids, hugetlb, rdma, misc)", ctrl)
    end
    if ctrl ~= "cgroup" then need(ctrl, field) end
    w(file, value, field)
  end
  for _, x in ipairs(cg.controllers or {}) do
    if not KNOWN_CTRL[x] or x == "cgroup" then
      fail("cgroup.controllers", "unknown controller %q", x)
    end
    need(x, "cgroup.controllers")
  end
  local list = {}
  for k in pairs(ctrls) do list[#list + 1] = k end
  table.sort(list)
  return { version = version, controllers = list, writes = writes, devices = dev, io = io_spec }
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

local function io_writes(plan, writes)
  local io = plan.io
  if not io then return true end
  if io.weight then
    if plan.version == 2 then
      writes[#writes + 1] = { "io.weight", "default " .. io.weight, "limits.io.weight" }
    else
      writes[#writes + 1] = { "blkio.weight?", tostring(math.max(10, math.min(1000, io.weight // 10))),
        "limits.io.weight" }
    end
  end
  for i, e in ipairs(io.max or {}) do
    local field = string.format("limits.io.max[%d]", i)
    local mm, msg, code = blockdev(e.device, field .. ".device")
    if not mm then return nil, msg, code end
    if plan.version == 2 then
      local parts = { mm }
      for _, k in ipairs { "rbps", "wbps", "riops", "wiops" } do
        if e[k] then parts[#parts + 1] = k .. "=" .. tostring(e[k]) end
      end
      writes[#writes + 1] = { "io.max", table.concat(parts, " "), field }
    else
      local files = { rbps = "read_bps", wbps = "write_bps", riops = "read_iops", wiops = "write_iops" }
      for _, k in ipairs { "rbps", "wbps", "riops", "wiops" } do
        if e[k] then
          writes[#writes + 1] = { "blkio.throttle." .. files[k] .. "_device",
            mm .. " " .. (e[k] == "max" and "0" or tostring(e[k])), field .. "." .. k }
        end
      end
    end
  end
  return true
end

--- Resolve device lists into rules: {"deny c 195:* rwm", ...}.
function M.resolve_devices(dev)
  local spec = {}
  for _, d in ipairs(dev.deny or {}) do spec[#spec + 1] = { d[1], d[2], false } end
  for _, d in ipairs(dev.allow or {}) do spec[#spec + 1] = { d[1], d[2], true } end
  return core.cgroup_devices_resolve(spec)
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
  local writes = {}
  for i, x in ipairs(plan.writes) do writes[i] = x end
  local ok
  ok, msg, code = io_writes(plan, writes)
  if not ok then return nil, msg, code end
  local g
  g, msg, code = core.cgroup_create {
    name = cg.name or M.new_name(), parent = cg.parent, version = plan.version,
    controllers = plan.controllers, uid = cg.owner and cg.owner.uid, gid = cg.owner and cg.owner.gid,
  }
  if not g then return nil, msg, code end
  local function undo(m, c)
    g:delete()
    return nil, m, c
  end
  for _, x in ipairs(writes) do
    local file = x[1]
    if file == "blkio.weight?" then
      file = g:get("blkio.bfq.weight") and "blkio.bfq.weight" or "blkio.weight"
    end
    ok, msg, code = g:set(file, x[2])
    if not ok then return undo(string.format("%s: %s", x[3], msg), code) end
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

--- Install `isol.cgroup` (called by isol.lua).
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
  -- of disagreements ({} when both agree on every v1 controller's mount).
  function C.libcgroup_check()
    local diff = {}
    for _, h in ipairs(layout().hierarchies) do
      if h.version == 1 then
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
  function C.exec(limits, argv, opts)
    return isol.run({ limits = limits }, argv, opts)
  end

  --- Remove leftovers of crashed runs: directories named isol-<pid>-<seq>
  -- whose creator is gone. opts.kill kills what still runs inside;
  -- opts.dry_run only lists. Returns { removed = {...}, kept = {...} }.
  function C.gc(opts)
    opts = opts or {}
    local removed, kept = {}, {}
    local seen = {}
    for _, h in ipairs(layout().hierarchies) do
      local p = io.popen("find " .. h.mount .. " -mindepth 1 -maxdepth 8 -type d -name 'isol-*' 2>/dev/null")
      for dir in p:lines() do
        local pid = dir:match("/isol%-(%d+)%-%d+$")
        if pid and not seen[dir] and not dir:match("/isol%-%d+%-%d+/.") then
          seen[dir] = true
          local st = io.open("/proc/" .. pid .. "/stat")
          local alive = st ~= nil
          if st then st:close() end
          if alive and not opts.all then
            kept[#kept + 1] = dir .. " (creator " .. pid .. " still runs)"
          else
            local procs = ""
            local f = io.open(dir .. "/cgroup.procs")
            if f then procs = f:read("a") or ""; f:close() end
            if procs ~= "" and not opts.kill then
              kept[#kept + 1] = dir .. " (has processes; use --kill)"
            elseif opts.dry_run then
              removed[#removed + 1] = dir
            else
              if procs ~= "" then
                for pp in procs:gmatch("%d+") do os.execute("kill -9 " .. pp .. " 2>/dev/null") end
              end
              local ok, msg = core.cgroup_rmdir_tree(dir, 2000)
              if ok then removed[#removed + 1] = dir else kept[#kept + 1] = dir .. " (" .. msg .. ")" end
            end
          end
        end
      end
      p:close()
    end
    return { removed = removed, kept = kept }
  end
end

return M
