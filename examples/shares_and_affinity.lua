-- CPU shares and core affinity together (the seed's `-g cpu,cpuset:test`):
-- the group runs ONLY on core 0 and, under contention, takes its share of
-- the machine's CPU time from that core. With 128 shares next to a 1024
-- group on the same core it gets ~11% of core 0, i.e. ~5.5% of this whole
-- 2-core machine; alone it could take the full core (50% of the machine),
-- never more, however many shares it had.
-- Run: bin/isol run examples/shares_and_affinity.lua
local isol = require "isol"

local small <close> = isol.sandbox { limits = { cpu = { shares = 128 }, cpuset = { cpus = "0" } } }
local big <close> = isol.sandbox { limits = { cpu = { shares = 1024 }, cpuset = { cpus = "0" } } }
local loop = { "/usr/bin/timeout", "1", "/bin/sh", "-c",
  "while :; do :; done & while :; do :; done" } -- two loops: they still get only core 0
local a <close> = assert(small:spawn(loop))
local b <close> = assert(big:spawn(loop))
a:wait(); b:wait()
small:kill(); big:kill()
local ua, ub = small:stats().cpu.usage_us or 0, big:stats().cpu.usage_us or 0
print(string.format("128 shares on core 0:  %4d ms of 1000 ms (core), %.1f%% of the 2-core machine",
  ua // 1000, ua / 20000))
print(string.format("1024 shares on core 0: %4d ms of 1000 ms (core), %.1f%% of the 2-core machine",
  ub // 1000, ub / 20000))
