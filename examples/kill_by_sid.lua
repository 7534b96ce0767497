-- Killing processes by session id (the seed's `ps --sid`): every process of
-- a session, found by a scan of /proc in C, killed until none is left
-- (also the ones forked while the kill runs).
local isol = require "isol"

-- init = false: the command itself leads the new session (setsid), as PID 1
-- of its pid namespace (init = false without one is refused: a setsid
-- grandchild could outlive the script).
local box <close> = isol.sandbox { namespaces = { "pid" }, init = false }
local p = assert(box:spawn { "/bin/sh", "-c", "for i in 1 2 3 4 5; do sleep 30 & done; wait" })
os.execute("sleep 0.2")

local sid = isol.core.proc_stat(p:pid()).sid
local pids = assert(isol.session.pids(sid))
table.sort(pids)
print(string.format("session %d: %d processes: %s", sid, #pids, table.concat(pids, " ")))

print("killed:", assert(isol.session.kill(sid, "SIGKILL")))
print("status of the leader:", p:wait().signal)
print("left in the session:", select(2, isol.session.pids(sid)))
