-- Memory (the seed's `memory.limit_in_bytes = 32M`, `memory.swappiness = 0`):
-- a process that allocates past 32 MiB is killed by the kernel's OOM killer
-- inside the group; :wait() reports it with oom = true and the stats count
-- it. swappiness only exists on cgroup v1 (on v2 `swap = 0` keeps the group
-- out of swap; isol refuses swappiness there with that advice).
-- Run: bin/isol run examples/memory.lua
local isol = require "isol"

local v1 = isol.cgroup.layout().mode ~= "v2"
local memory = { max = "32M" }
if v1 then memory.swappiness = 0 else memory.swap = 0 end
local box <close> = isol.sandbox { limits = { memory = memory } }
local p <close> = assert(box:spawn { "lua5.4", "-e",
  "local t = {} for i = 1, 1000 do t[i] = string.rep('x', 1048576 - 64) .. i end print('survived?')" })
local st = p:wait()
local s = box:stats()
print(string.format("hog ended by %s, oom = %s", st.signal or ("exit " .. tostring(st.code)), tostring(st.oom)))
print(string.format("memory peak %.1f MiB of %.0f MiB, OOM kills %d",
  (s.memory.peak or 0) / 1048576, 32, s.memory.oom_kills or 0))
assert(st.oom, "expected an OOM kill")
