--- Validation of the `limits` and `cgroup` recipe fields (pure: nothing is
-- read; `check_host` checks cpusets and quotas against the CPUs the host
-- has, when a sandbox is made). Errors raise naming the field and the
-- value. See isol/cgroup.lua for the vocabulary.
-- @module isol.cgroup_limits
local util = require "isol.util"

local fail, show = util.fail, util.show

local M = {}

-- Normalized tables (so a mapping can tell them from raw input).
M.normalized = setmetatable({}, { __mode = "k" })

local function read_line(path) return util.read_file(path, "l") end

-- Largest CPU or node number accepted (the kernel's NR_CPUS tops at 8192;
-- anything far beyond is an error, not a loop).
local MAX_ID = 1 << 20

--- "0-2,5" -> { {0, 2}, {5, 5} } (sorted as given), or nil, why. Ranges are
-- kept as pairs: "0-100000000" costs two numbers, never a list.
function M.parse_ranges(s)
  if math.type(s) == "integer" then s = tostring(s) end
  if type(s) ~= "string" then return nil, "not a string" end
  if #s > 4096 then return nil, "longer than 4096 characters" end
  if not s:match("^[%d,%-]+$") then return nil, "only digits, ',' and '-'" end
  local out = {}
  for part in (s .. ","):gmatch("([^,]*),") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    if not a then a = part:match("^(%d+)$"); b = a end
    if not a or #a > 9 or #b > 9 then return nil, "bad range " .. string.format("%q", part) end
    a, b = tonumber(a), tonumber(b)
    if b < a then return nil, "range " .. part .. " goes down" end
    if b > MAX_ID then return nil, "number " .. b .. " is too large" end
    out[#out + 1] = { a, b }
  end
  if #out == 0 then return nil, "empty" end
  return out
end

--- First number of range r = {a, b} not covered by the ranges in `set`, or nil.
function M.first_uncovered(r, set)
  local x = r[1]
  while x <= r[2] do
    local moved = false
    for _, s in ipairs(set) do
      if x >= s[1] and x <= s[2] then x = s[2] + 1; moved = true; break end
    end
    if not moved then return x end
  end
  return nil
end

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

--- Validate a devices table {allow=, deny=, default=} (raises naming the field).
function M.check_devices(v, path)
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
  local nested, raw, net = {}, {}, nil
  for k, x in pairs(v) do
    if type(k) ~= "string" then fail(path, "unexpected key %s", show(k)) end
    if k == "net" then
      -- shaping of a veth, not a cgroup limit: isol.net checks it
      net = require("isol.net").check_shaping(x, path .. ".net")
    elseif GROUPS[k] then
      nested[k] = nested[k] or {}
      if type(x) ~= "table" then util.check_type(path .. "." .. k, x, "table") end
      for kk, xx in pairs(x) do nested[k][kk] = xx end
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
      fail(path .. "." .. k,
        "unknown limit (known: cpu, cpuset, memory, pids, io, devices, net, or \"controller.file\")")
    end
  end
  table.sort(raw, function(a, b) return a[1] < b[1] end)
  local out = { raw = raw, net = net }
  if nested.cpu then out.cpu = check_cpu(nested.cpu, path .. ".cpu") end
  if nested.cpuset then
    local p, c = path .. ".cpuset", nested.cpuset
    util.check_type(p, c, "table")
    util.check_keys(p, c, { cpus = true, mems = true })
    out.cpuset = {}
    for _, k in ipairs { "cpus", "mems" } do
      if c[k] ~= nil then
        local kind = k == "cpus" and "cpu" or "node"
        local ranges, why = M.parse_ranges(c[k])
        if not ranges then fail(p .. "." .. k, 'expected a list like "0-1,3" (%s), got %s', why, show(c[k])) end
        local n = 0
        for _, r in ipairs(ranges) do n = n + r[2] - r[1] + 1 end
        out.cpuset[k] = tostring(c[k])
        out.cpuset["n" .. k] = n
        out.cpuset_ranges = out.cpuset_ranges or {}
        out.cpuset_ranges[k] = { ranges = ranges, kind = kind }
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
  if nested.devices then out.devices = M.check_devices(nested.devices, path .. ".devices") end
  M.normalized[out] = true
  return out
end

--- The host's side of a normalized limits table (validation itself reads
-- nothing): the CPUs and memory nodes online, checked against cpuset and
-- kept for the quota check of the mapping (lim.online_cpus). Called by
-- isol.cgroup.plan, i.e. when a sandbox is made, not by recipe.validate.
function M.check_host(lim, path)
  path = path or "limits"
  if lim.cpu then
    local on = M.parse_ranges(read_line("/sys/devices/system/cpu/online") or "0") or { { 0, 0 } }
    lim.online_cpus = 0
    for _, r in ipairs(on) do lim.online_cpus = lim.online_cpus + r[2] - r[1] + 1 end
  end
  for k, e in pairs(lim.cpuset_ranges or {}) do
    local p = path .. ".cpuset." .. k
    local on_text = read_line("/sys/devices/system/" .. e.kind .. "/online") or "0"
    local on = M.parse_ranges(on_text) or { { 0, 0 } }
    for _, r in ipairs(e.ranges) do
      local missing = M.first_uncovered(r, on)
      if missing then
        fail(p, "%s %d is not online (online: %s), got %s", e.kind == "cpu" and "CPU" or "memory node",
          missing, on_text, show(lim.cpuset[k]))
      end
    end
  end
  return lim
end

--- Validate the `cgroup` field: { parent=, name=, version=, owner={uid=,gid=}, controllers= }.
function M.check_cgroup(v, path)
  path = path or "cgroup"
  util.check_type(path, v, "table")
  util.check_keys(path, v, { parent = true, name = true, version = true, owner = true, controllers = true,
    backend = true, hierarchies = true })
  local out = {}
  if v.hierarchies ~= nil then
    if v.hierarchies ~= "all" and v.hierarchies ~= "needed" then
      fail(path .. ".hierarchies", 'expected "all" or "needed", got %s', show(v.hierarchies))
    end
    out.hierarchies = v.hierarchies
  end
  if v.backend ~= nil then
    if v.backend ~= "direct" and v.backend ~= "libcgroup" then
      fail(path .. ".backend", 'expected "direct" or "libcgroup", got %s', show(v.backend))
    end
    out.backend = v.backend
  end
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

return M
