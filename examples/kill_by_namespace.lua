-- Killing processes by pid namespace (the seed's readlink /proc/<pid>/ns/pid):
-- every process whose /proc/<pid>/ns/pid is the namespace's inode, seen from
-- the host, including ones that double-forked and called setsid.
local isol = require "isol"

local box <close> = isol.sandbox { namespaces = { "pid" } }
local p = assert(box:spawn { "/bin/sh", "-c",
  "sleep 30 & sleep 30 & ( setsid sh -c 'sleep 30 & exec sleep 31' & ); wait" })
os.execute("sleep 0.2")

local ino = assert(isol.pidns.inode(p:pid()))
print(string.format("pid namespace pid:[%d]", ino))
for _, pid in ipairs(assert(isol.pidns.pids(ino))) do
  local st = isol.core.proc_stat(pid)
  print(string.format("  pid %-7d sid %-7d %s", pid, st.sid, st.state))
end

-- usually 1 signalled: the first one hit is the init (PID 1), and the kernel
-- ends the rest of the namespace with it
print("signalled:", assert(isol.pidns.kill(ino)))
print("status of the init:", p:wait().signal)
print("left in the namespace:", select(2, isol.pidns.pids(ino)))
