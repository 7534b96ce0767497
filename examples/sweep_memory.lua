-- Find the smallest memory limit at which a program still succeeds.
--
--   bin/isol run examples/sweep_memory.lua [-- MiB [CHART.svg]]
--       (default: a 24 MiB allocation, no chart)
--
-- A coarse isol.sweep over limits.memory.max (3 runs per limit) shows where
-- the program starts to succeed (the rows below it are OOM-killed), then
-- bisection with small sweeps (2 runs each, both must succeed) narrows it to
-- 1 MiB. Every run is a fresh sandbox with its own cgroup, removed
-- afterwards. With CHART.svg, the coarse sweep is also drawn there with
-- gnuplot (res:plot): memory peak and wall time against the limit, failed
-- limits crossed; `make charts` makes examples/sweep_memory.svg this way.
--
-- Needs the `limits` recipe field (the cgroup concern, isol.cgroup). On this
-- machine (cgroup v1) a 24 MiB string.rep needs about 49 MiB: Lua builds the
-- string in a buffer and then copies it, so the peak is twice the size.
local isol = require "isol"

local mib_arg, chart = ...
local mib = tonumber(mib_arg or "") or 24
local command = { "lua5.4", "-e", string.format("local s = string.rep('x', %d * 1024 * 1024) print(#s)", mib) }
local base = { description = "sweep_memory", namespaces = { "user", "pid" }, user = { map_root = true } }

local has_limits = false
for _, f in ipairs(isol.recipe.fields()) do if f.name == "limits" then has_limits = true end end
if not has_limits then
  print("sweep_memory: this isol has no `limits` field (the cgroup concern is not loaded); nothing to sweep")
  return
end

local function succeeds(limit_mib, runs)
  local res = isol.sweep { recipe = base, command = command, runs = runs or 2, timeout = 60,
    vary = { ["limits.memory.max"] = { limit_mib .. "M" } } }
  for _, row in ipairs(res) do
    if row.code ~= 0 then return false, row end
  end
  return true
end

-- coarse: powers of two around the allocation
local coarse = {}
local m = 4
while m <= mib * 8 do coarse[#coarse + 1] = m .. "M"; m = m * 2 end
print(string.format("program: allocate %d MiB in lua5.4; coarse sweep of limits.memory.max:", mib))
local res = isol.sweep { recipe = base, command = command, runs = 3, timeout = 60,
  vary = { ["limits.memory.max"] = coarse } }
res:print()
if chart then
  local ok, msg = res:plot(chart, { quantity = { "mem_peak", "wall" },
    title = string.format("lua5.4 allocating %d MiB under limits.memory.max (3 runs per limit)", mib) })
  if not ok then
    print("sweep_memory: no chart: " .. msg)
    os.exit(1)
  end
  print("chart: " .. chart)
end

local lo, hi -- lo fails, hi succeeds (in MiB)
for _, row in ipairs(res) do
  local v = tonumber(row.vary["limits.memory.max"]:match("%d+"))
  if row.code == 0 then
    if not hi or v < hi then hi = v end
  elseif not hi then
    lo = v
  end
end
if not hi then
  print("it fails even at " .. coarse[#coarse] .. "; is the program right?")
  os.exit(1)
end
lo = lo or 0
while hi - lo > 1 do
  local mid = (lo + hi) // 2
  local ok, row = succeeds(mid)
  print(string.format("  %4d MiB: %s", mid, ok and "ok" or require("isol.sweep").outcome(row)))
  if ok then hi = mid else lo = mid end
end
print(string.format("smallest memory.max at which it succeeds: %d MiB (fails at %d MiB)", hi, lo))
