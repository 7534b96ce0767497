-- The fuzzer (issue 9 item 6): every function of isol, isol.<module> and
-- isol.core, and every method of Process, Cgroup, Image, SignalCatcher and
-- Sandbox, called with hostile values (wrong types, nil, NaN, +-inf, huge
-- and negative numbers, math.mininteger, NUL bytes, 100 KB strings, 200-level
-- and 100k-element tables, metatables that raise or change their answers).
-- The calls run in spec/fuzz_driver.lua, as PID 1 of new pid, mount, uts,
-- ipc and net namespaces with tmpfs on /tmp and /run, under a time limit.
-- A batch fails on a crash (killed by a signal), a hang (time limit), a
-- descriptor the calls left open, or a cgroup or loop device left behind.
--
-- `make test`: a fixed seed, a few calls per function (well under a minute).
-- `make fuzz`: ISOL_FUZZ_SECONDS of rounds with fresh seeds, under ASan+UBSan.
-- ISOL_FUZZ_SEED=N replays a round; the failing call is the last CALL line.
local h = require "support.helpers"

local SECONDS = tonumber(os.getenv("ISOL_FUZZ_SECONDS"))
local CALLS = tonumber(os.getenv("ISOL_FUZZ_CALLS")) or (SECONDS and 60 or 40)
local SEED = tonumber(os.getenv("ISOL_FUZZ_SEED")) or (SECONDS and os.time() or 20261129)
local BATCH = 48      -- targets per child
local LIMIT = 120     -- seconds per child
-- inside the child's own tmpfs on /tmp; named after this run (loop devices
-- show their backing file's path, and are host-wide)
local SCRATCH = "/tmp/isol-fuzz-" .. io.open("/proc/self/stat"):read("n")
local driver = h.root .. "/spec/fuzz_driver.lua"

local function lua_env()
  return string.format("LUA_PATH=%s LUA_CPATH=%s ",
    h.shq(h.root .. "/lua/?.lua;" .. h.root .. "/lua/?/init.lua;;"),
    h.shq((os.getenv("ISOL_CPATH") or (h.root .. "/build/?.so")) .. ";;"))
end

local function list()
  local out, ok = h.sh(lua_env() .. h.lua_bin .. " " .. h.shq(driver) .. " list 2>&1")
  assert(ok, out)
  local t, skipped = {}, {}
  for line in out:gmatch("[^\n]+") do
    local name, why = line:match("^([^\t]+)\t?(.*)$")
    if why ~= "" then skipped[#skipped + 1] = name .. ": " .. why else t[#t + 1] = name end
  end
  return t, skipped
end

-- Leftovers a batch could make on the host: cgroups the driver made
-- (isol-fuzz-<tag>-*; those of the library are checked by the driver
-- itself, LEFT lines), loop devices backed by files of its scratch.
local function leftovers(tag)
  local found = {}
  local p = io.popen("find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name 'isol-fuzz-" ..
    (tag or "") .. "*' 2>/dev/null")
  for l in p:lines() do found[#found + 1] = "cgroup " .. l end
  p:close()
  for _, dev in ipairs((function()
    local t, q = {}, io.popen("ls /sys/block 2>/dev/null")
    for l in q:lines() do if l:match("^loop") then t[#t + 1] = l end end
    q:close()
    return t
  end)()) do
    local f = io.open("/sys/block/" .. dev .. "/loop/backing_file")
    local b = f and f:read("l")
    if f then f:close() end
    if b and b:sub(1, #SCRATCH) == SCRATCH then found[#found + 1] = "loop " .. dev .. " " .. b end
  end
  return found
end

local function run_batch(seed, targets)
  local cmd = string.format("%stimeout -s KILL %d unshare -fp --kill-child --mount-proc -muin sh -c %s 2>&1",
    lua_env(), LIMIT, h.shq(string.format(
      -- the checkout may sit under /tmp (a CI clone): kept visible at its
      -- own path, bound back over the fresh tmpfs
      "mount --bind %s /mnt && mount -t tmpfs fz /tmp && mount -t tmpfs fz /run && mkdir -p %s && "
        .. "mount --bind /mnt %s && mkdir -p %s && cd %s && exec %s %s run %d %d %s %s",
      h.shq(h.root), h.shq(h.root), h.shq(h.root), SCRATCH, SCRATCH, h.lua_bin, h.shq(driver), seed, CALLS, SCRATCH,
      table.concat(targets, " "))))
  local out, _, code = h.sh(cmd)
  local problems = {}
  if code ~= 0 or not out:find("\nEND", 1, true) then
    local last = {}
    for l in out:gmatch("[^\n]+") do
      last[#last + 1] = l
      if #last > 8 then table.remove(last, 1) end
    end
    if not out:find("START", 1, true) then last[#last + 1] = "(the driver never started)" end
    problems[#problems + 1] = string.format("%s (exit %s; seed %d); last lines:\n  %s",
      code == 137 and "hang (time limit)" or (code and code > 128) and "crash (signal " .. (code - 128) .. ")"
      or "driver failed", tostring(code), seed, table.concat(last, "\n  "))
  end
  local a, b = out:match("\nFDS (%d+) (%d+)\n")
  if a and tonumber(b) > tonumber(a) then
    problems[#problems + 1] = string.format("fd leak: %s open before the calls, %s after (seed %d, %s)",
      a, b, seed, table.concat(targets, " "))
  end
  for l in out:gmatch("\nLEFT ([^\n]+)") do
    problems[#problems + 1] = "left behind: " .. l .. " (seed " .. seed .. ")"
  end
  for _, l in ipairs(leftovers(string.format("%d-", seed % 100000))) do
    problems[#problems + 1] = "left behind: " .. l .. " (seed " .. seed .. ")"
  end
  return problems
end

describe("fuzz #root", function()
  local targets, skipped = list()

  it("lists every function and method, and says why it skips any", function()
    assert.is_true(#targets > 150, "too few targets: " .. #targets)
    for _, t in ipairs { "core.spawn", "core.poll", "isol.run", "Process:wait", "Cgroup:set", "Image:trim",
      "SignalCatcher:read", "Sandbox:spawn" } do
      local found = false
      for _, x in ipairs(targets) do found = found or x == t end
      assert.is_true(found, t .. " is not fuzzed")
    end
    print("\nfuzz: " .. #targets .. " targets, " .. CALLS .. " calls each, seed " .. SEED ..
      "; not called:\n  " .. table.concat(skipped, "\n  "))
  end)

  it("no call crashes, hangs or leaks", function()
    local deadline = SECONDS and os.time() + SECONDS
    local round, problems = 0, {}
    repeat
      local seed = SEED + round
      for i = 1, #targets, BATCH do
        local batch = table.move(targets, i, math.min(i + BATCH - 1, #targets), 1, {})
        for _, p in ipairs(run_batch(seed * 1000 + i, batch)) do problems[#problems + 1] = p end
        if deadline and os.time() >= deadline then break end
      end
      round = round + 1
    until not deadline or os.time() >= deadline or #problems > 0
    if SECONDS then print(string.format("\nfuzz: %d round(s) from seed %d", round, SEED)) end
    assert(#problems == 0, table.concat(problems, "\n"))
  end)
end)
