-- CPU shares (the seed's `echo 128 > cpu.shares; cgexec -g cpu:test ...`):
-- two busy loops pinned to the same core, one group at 128 shares, one at
-- 1024 (the default). Under contention the first gets about
-- 128 / (128 + 1024) = 11% of that core, the second about 89%.
-- On cgroup v2 the same recipe writes cpu.weight (shares * 100 / 1024).
-- Run: bin/isol run examples/cpu_shares.lua
local isol = require "isol"

local function box(shares)
  return isol.sandbox { limits = { cpu = { shares = shares }, cpuset = { cpus = "0" } } }
end
local low <close> = box(128)
local high <close> = box(1024)
local loop = { "/bin/sh", "-c", "while :; do :; done" }
local pa <close> = assert(low:spawn(loop))
local pb <close> = assert(high:spawn(loop))
-- Measure one second once both loops run.
os.execute("sleep 0.3")
local a0, b0 = low:stats().cpu.usage_us or 0, high:stats().cpu.usage_us or 0
os.execute("sleep 1")
local ua, ub = (low:stats().cpu.usage_us or 0) - a0, (high:stats().cpu.usage_us or 0) - b0
low:kill(); high:kill(); pa:wait(); pb:wait()
local total = math.max(ua + ub, 1)
print(string.format("128 shares:  %4d ms  (%2.0f%%, expected ~11%%)", ua // 1000, 100 * ua / total))
print(string.format("1024 shares: %4d ms  (%2.0f%%, expected ~89%%)", ub // 1000, 100 * ub / total))
