-- CPU shares and core affinity together (the seed's `-g cpu,cpuset:test`):
-- the group runs ONLY on core 0 and, under contention, takes its share of
-- the machine's CPU time from that core. With 128 shares next to a 1024
-- group on the same core it gets ~11% of core 0, i.e. ~5.5% of this whole
-- 2-core machine; alone it could take the full core (50% of the machine),
-- never more, however many shares or processes it had.
-- Run: bin/isol run examples/shares_and_affinity.lua
local isol = require "isol"

local small <close> = isol.sandbox { limits = { cpu = { shares = 128 }, cpuset = { cpus = "0" } } }
local big <close> = isol.sandbox { limits = { cpu = { shares = 1024 }, cpuset = { cpus = "0" } } }
-- two loops each: they still get only core 0
local loop = { "/bin/sh", "-c", "while :; do :; done & while :; do :; done" }
local pa <close> = assert(small:spawn(loop))
local pb <close> = assert(big:spawn(loop))
os.execute("sleep 0.3")
local t0 = isol.core.now()
local a0, b0 = small:stats().cpu.usage_us or 0, big:stats().cpu.usage_us or 0
os.execute("sleep 1")
local ua, ub = (small:stats().cpu.usage_us or 0) - a0, (big:stats().cpu.usage_us or 0) - b0
local wall = (isol.core.now() - t0) * 1e6
small:kill(); big:kill(); pa:wait(); pb:wait()
print(string.format("128 shares on core 0:  %4d ms of %d ms (core), %.1f%% of the 2-core machine",
  ua // 1000, wall // 1000, 100 * ua / (2 * wall)))
print(string.format("1024 shares on core 0: %4d ms of %d ms (core), %.1f%% of the 2-core machine",
  ub // 1000, wall // 1000, 100 * ub / (2 * wall)))
