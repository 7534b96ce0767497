-- CPU core affinity (the seed's cpuset: `echo 0 > cpuset.cpus; echo 0 >
-- cpuset.mems`): the sandbox only runs on core 0. cpuset.mems is copied
-- from the parent when not given (v1 needs both before anything can join).
-- Run: bin/isol run examples/cpu_affinity.lua
return {
  description = "pinned to core 0",
  limits = { cpuset = { cpus = "0", mems = "0" } },
  command = { "/bin/sh", "-c", "grep -E 'Cpus_allowed_list|Mems_allowed_list' /proc/self/status" },
}
