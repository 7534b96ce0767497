-- The fuzzer's driver (run by spec/fuzz_spec.lua, never by busted itself):
-- calls functions of isol, isol.core and methods of every userdata type with
-- hostile arguments, every call protected (pcall). A crash (signal), a hang
-- or a leak is what the spec looks for; a Lua error is a correct answer.
--
--   lua5.4 spec/fuzz_driver.lua list
--   lua5.4 spec/fuzz_driver.lua run SEED CALLS SCRATCH TARGET...
--
-- It runs as PID 1 of fresh pid, mount, uts, ipc and net namespaces with
-- tmpfs on /tmp, /run and SCRATCH (the spec sets that up), so that what the
-- calls do (kill, unshare, mount, mkdir) stays in there.
local isol = require "isol"
local core = isol.core

-- Not called, and why. Everything else in isol, isol.<module> and isol.core,
-- and every method of the userdata types below, is.
local SKIP = {
  ["core.close_fd"] = "closes descriptors by number: the driver's own stdout (a raw-fd API)",
  ["core.cgroup_rmdir_tree"] = "removes every empty directory under any path (\"/\" included): " ..
    "the filesystem is the host's, not the mount namespace's",
  ["core.cgroup_libcgroup_create"] = "creates cgroups by name at the hierarchy root (host-wide)",
  ["core.cgroup_libcgroup_delete"] = "deletes cgroups by name anywhere in the host hierarchy",
  ["core.cgroup_libcgroup_attach"] = "moves processes into cgroups by name at the hierarchy root",
  ["isol.cgroup.gc"] = "removes and kills stale isol cgroups host-wide (other suites' included)",
  ["isol.sweep"] = "runs sandboxes for every limit combination: minutes by design",
}

-- Per-target argument filters: valid but blocking or self-harming values
-- replaced (a long timeout is not a hang; attaching PID 1, the driver, to a
-- group the fuzzer then freezes is not a finding).
-- (nil and negative timeouts mean "forever")
local function small_timeout(v)
  if math.random(4) == 1 then return ({ 0 / 0, math.huge, -math.huge })[math.random(3)] end -- errors
  if v == nil or (type(v) == "number" and v == v and (v > 0.05 or v < 0)) then return 0 end
  return v
end
-- Cgroup:attach(pid): 0, 1 (the driver) and, until l_cgroup.c checks the
-- range, any integer whose low 32 bits are 0 or 1 (2^32, mininteger).
local function not_self(v)
  if v == nil then return 2 end -- no pid: the caller
  local i = math.tointeger(v)
  if i and (i % 0x100000000 == 0 or i % 0x100000000 == 1) then return 2 end
  return v
end
local FILTER = {
  ["core.poll"] = { n = 2, [2] = small_timeout },
  -- the driver (PID 1, immune to its own SIGKILL) may be selected: the
  -- kill then retries until its timeout (10 s when none or 0)
  ["core.proc_kill"] = { n = 3, [3] = function(v)
    if v == nil or (math.type(v) == "integer" and (v == 0 or v > 50)) then return 1 end
    return v
  end },
  ["Cgroup:attach"] = { n = 1, [1] = not_self },
  ["Cgroup:delete"] = { n = 1, [1] = function(v)
    if v == nil or (math.type(v) == "integer" and v > 50) then return 1 end
    return v
  end },
}

local TYPES = { "Process", "Cgroup", "Image", "SignalCatcher", "Sandbox" }

local function targets()
  local list = {}
  local function add(prefix, t)
    local names = {}
    for k, v in pairs(t) do
      if type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do list[#list + 1] = prefix .. k end
  end
  add("core.", core)
  add("isol.", isol)
  local mods = {}
  for k, v in pairs(isol) do
    if type(v) == "table" and k ~= "core" and k ~= "Sandbox" then mods[#mods + 1] = k end
  end
  table.sort(mods)
  for _, m in ipairs(mods) do add("isol." .. m .. ".", isol[m]) end
  local reg = debug.getregistry()
  for _, ty in ipairs(TYPES) do
    local mt = ty == "Sandbox" and isol.Sandbox or reg["isol." .. ty]
    local idx = mt and mt.__index
    if type(idx) == "table" then add(ty .. ":", idx) end
  end
  return list
end

if arg[1] == "list" then
  for _, t in ipairs(targets()) do print(t, SKIP[t] or "") end
  os.exit(0)
end

local seed, ncalls, scratch = tonumber(arg[2]), tonumber(arg[3]), arg[4]
local want = {}
for i = 5, #arg do want[#want + 1] = arg[i] end
math.randomseed(seed)
io.stdout:setvbuf("line")
print("START " .. seed)

local function fds()
  local n = 0
  for _ in pairs(core.listdir("/proc/self/fd") or {}) do n = n + 1 end
  return n
end

-- The hostile values.
local reads = 0
local deep, dag = {}, {}
do
  local t = deep
  for _ = 1, 200 do t.x = {}; t = t.x end
  t = dag -- 2^200 paths through 200 tables: a copy must not unfold it
  for _ = 1, 200 do t.x = {}; t[1] = t.x; t = t.x end
end
local big = {}
for i = 1, 100000 do big[i] = "x" end
local bigmap = {}
for i = 1, 100000 do bigmap["k" .. i] = i end
local function boom() error("boom") end
local erring = setmetatable({}, { __index = boom, __newindex = boom, __len = boom, __pairs = boom,
  __tostring = boom, __call = boom, __eq = boom, __lt = boom, __le = boom, __concat = boom })
local fickle = setmetatable({}, {
  __index = function()
    reads = reads + 1
    local vals = { "/bin/true", 1, { "/bin/true" }, "a\0b", nil, 2 ^ 63, { ops = { { type = "tmpfs" } } } }
    return vals[reads % #vals + 1]
  end,
  __len = function() reads = reads + 1; return reads % 7 end,
  __pairs = function() reads = reads + 1; return next, { argv = { "/bin/true" }, reads }, nil end,
  __tostring = function() reads = reads + 1; return string.rep("t", reads % 5) end,
})
local cyclic = { argv = { "/bin/true" } }
cyclic.self = cyclic
cyclic.fs = { ops = { cyclic } }

local POOL = {
  { "nil", nil }, { "true", true }, { "false", false },
  { "0", 0 }, { "1", 1 }, { "-1", -1 }, { "2", 2 }, { "3", 3 }, { "9", 9 }, { "64", 64 }, { "65", 65 },
  { "2^31-1", 0x7fffffff }, { "2^31", 0x80000000 }, { "2^32", 0x100000000 }, { "-2^31-1", -0x80000001 },
  { "2^53", 2 ^ 53 }, { "2^63 (float)", 2 ^ 63 }, { "-2^63 (float)", -2 ^ 63 },
  { "maxinteger", math.maxinteger }, { "mininteger", math.mininteger },
  { "0.5", 0.5 }, { "-0.0", -0.0 }, { "1e308", 1e308 }, { "NaN", 0 / 0 }, { "inf", math.huge }, { "-inf", -math.huge },
  { '""', "" }, { '"a\\0b"', "a\0b" }, { '"\\0"', "\0" }, { "100 KB string", string.rep("A", 100 * 1024) },
  { '"/"', "/" }, { "scratch", scratch }, { "scratch/f", scratch .. "/f" }, { "scratch/\\0x", scratch .. "/\0x" },
  { '"/dev/null"', "/dev/null" }, { '"SIGKILL"', "SIGKILL" }, { '"SIGUSR1"', "SIGUSR1" }, { '"term"', "term" },
  { '"pid"', "pid" }, { '"mount"', "mount" }, { '"net"', "net" }, { '"user"', "user" }, { '"ext4"', "ext4" },
  { '"tmpfs"', "tmpfs" }, { '"gzip"', "gzip" }, { '"pipe"', "pipe" }, { '"%s%n%p"', "%s%n%p" }, { '".."', ".." },
  { "{}", {} }, { "{{}}", { {} } }, { "deep (200 levels)", deep },
  { "shared DAG (200 levels)", dag, c_only = true }, { "100k list", big }, { "100k map", bigmap },
  { "erring metatable", erring }, { "fickle metatable", fickle }, { "cyclic plan", cyclic },
  { "{'/bin/true'}", { "/bin/true" } }, { "{'uts','net'}", { "uts", "net" } },
  { "{argv=}", { argv = { "/bin/true" }, stdout = "null" } },
  { "{argv=, fs=no target}",
    { argv = { "/bin/true" }, namespaces = { "mount" }, fs = { ops = { { type = "tmpfs" } } } } },
  { "{type=tmpfs,target=}", { type = "tmpfs", target = scratch .. "/m" } },
  { "{ops={no target}}", { propagation = "unchanged", ops = { { type = "tmpfs" } } } },
  { "{ops={bind no target}}", { propagation = "unchanged", ops = { { type = "bind", source = scratch } } } },
  { "{argv=fickle}", { argv = fickle, stdout = "null" } },
  { "{argv=, keep_fds=2^32}", { argv = { "/bin/true" }, keep_fds = { 0x100000000 } } },
  { "{argv=, stdout={path=fickle}}", { argv = { "/bin/true" }, stdout = fickle } },
  { "{name=}", { name = "fz" } }, { "{sid=2^32}", { sid = 0x100000000 } }, { "{roots={1.5}}", { roots = { 1.5 } } },
  { "{{0,2^32,1}}", { { 0, 0x100000000, 1 } } },
  { "print", print }, { "erroring function", boom }, { "coroutine", coroutine.create(function() end) },
  { "io.stdout", io.stdout },
}

-- c_only: values the Lua layer is known not to survive yet (reported:
-- util.deepcopy unfolds a shared DAG exponentially), given to C only.
local function pick(lua_layer)
  local v
  repeat v = POOL[math.random(#POOL)] until not (lua_layer and v.c_only)
  return v[1], v[2]
end

local n_instances, cg_dirs = 0, {}
local function instance(ty)
  n_instances = n_instances + 1
  if ty == "Process" then
    return core.spawn { argv = { "/bin/sh", "-c", "echo out; echo err >&2" }, stdin = "pipe", stdout = "pipe",
      stderr = "pipe" }
  elseif ty == "Cgroup" then
    local g, msg = core.cgroup_create { name = string.format("isol-fuzz-%d-%d", seed % 100000, n_instances),
      controllers = { "pids" } }
    cg_dirs = g and g:dirs() or {}
    return g, msg
  elseif ty == "Image" then
    return core.image_create(scratch .. "/img" .. n_instances, 16 * 1024 * 1024, "ext4")
  elseif ty == "SignalCatcher" then
    return core.sigcatch { "SIGUSR1" }
  elseif ty == "Sandbox" then
    return isol.sandbox { namespaces = { "uts" } }
  end
end

local function resolve(t)
  local ty, m = t:match("^(%u%w*):(.*)$")
  if ty then
    local obj, msg = instance(ty)
    if not obj then return nil, "no " .. ty .. " instance: " .. tostring(msg) end
    return function(...) return obj[m](obj, ...) end, obj
  end
  local f = { isol = isol, core = core }
  for part in t:gmatch("[^.]+") do f = f and f[part] end
  return f
end

-- What isol opens once per process and keeps is not a leak: a supervised
-- spawn makes the sealed memfd of its init (cached), before the count.
do
  local p = core.spawn { argv = { "/bin/true" }, supervise = true }
  if p then p:wait(); p:close() end
end
local fd0 = fds()
for _, t in ipairs(want) do
  if SKIP[t] then goto next end
  do
    local f, obj = resolve(t)
    if type(f) ~= "function" then
      print("NOINSTANCE", t, obj)
      goto next
    end
    local filter = FILTER[t] or {}
    local lua_layer = t:match("^isol%.") or t:match("^Sandbox:")
    local t0 = core.now()
    for _ = 1, ncalls do
      local nargs = math.max(math.random(0, 4), filter.n or 0)
      local args, shown = {}, {}
      for i = 1, nargs do
        local name, v = pick(lua_layer)
        if filter[i] then
          local w = filter[i](v)
          if rawequal(w, v) then v = w else name, v = "(filtered) " .. tostring(w), w end
        end
        args[i], shown[i] = v, name
      end
      print("CALL " .. t .. "(" .. table.concat(shown, ", ") .. ")")
      local co = coroutine.create(f) -- a yield from a callback must not escape
      local r = table.pack(coroutine.resume(co, table.unpack(args, 1, nargs)))
      if t == "core.open_status_file" and r[1] and math.type(r[2]) == "integer" then
        core.close_fd(r[2]) -- a raw fd by design: closing it is the caller's job
      end
    end
    if obj and type(obj) ~= "function" then
      pcall(function() obj:close() end)
    end
    if t == "Cgroup:release" then
      -- release gives the group up on purpose (a detached sandbox keeps it)
      for _, d in ipairs(cg_dirs) do os.remove(d) end
    end
    print(string.format("TIME %s %.2f", t, core.now() - t0))
  end
  ::next::
  collectgarbage()
  collectgarbage()
end
local fd1 = fds()
print(string.format("FDS %d %d", fd0, fd1))
-- Cgroups the library made for these calls are named isol-1-<seq> (we are
-- PID 1 here), seq below the next one; each must be gone by now.
do
  local next_seq = tonumber(isol.cgroup.new_name():match("%-(%d+)$"))
  local p = io.popen("find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name 'isol-1-*' 2>/dev/null")
  for l in p:lines() do
    local k = tonumber(l:match("/isol%-1%-(%d+)$"))
    if k and k < next_seq then print("LEFT cgroup " .. l) end
  end
  p:close()
end
print("END")
os.exit(0, true)
