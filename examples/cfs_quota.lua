-- CFS quota (the seed's `echo 2000 > cpu.cfs_quota_us`): a hard ceiling,
-- even when the machine is idle. Here 20% of one CPU: a busy loop running
-- for one second of wall time gets about 200 ms of CPU and is throttled in
-- most 100 ms periods. quota = "20%" becomes cfs_quota_us=20000 /
-- cfs_period_us=100000 on v1, cpu.max "20000 100000" on v2.
-- Run: bin/isol run examples/cfs_quota.lua
local isol = require "isol"

local box <close> = isol.sandbox { limits = { cpu = { quota = "20%" } } }
box:run { "/usr/bin/timeout", "1", "/bin/sh", "-c", "while :; do :; done" }
local s = assert(box:stats())
print(string.format("cpu used: %d ms in 1000 ms of wall time (quota 20%%)", (s.cpu.usage_us or 0) // 1000))
print(string.format("throttled in %d of %d periods, %d ms in total",
  s.cpu.nr_throttled or 0, s.cpu.nr_periods or 0, (s.cpu.throttled_us or 0) // 1000))
