-- PID isolation (the seed's `unshare --fork --pid --mount-proc`): in a new
-- pid namespace isol's init is PID 1 (it reaps orphans and forwards
-- signals); with a fresh /proc for the namespace (the recipe's `proc`
-- mount: --mount-proc), every process listed is the sandbox's.
--
--   bin/isol run examples/pid_isolation.lua
return {
  description = "pid namespace: ps sees only the sandbox",
  namespaces = { "user", "pid", "mount" },
  user = { map_root = true },
  mounts = { { type = "proc" } },
  command = { "/bin/sh", "-c", [[
sleep 30 & sleep 30 &
echo "my pid: $$ (PID 1 is $(cat /proc/1/comm))"
# what `ps -e` shows, read from /proc
echo "  PID  PPID COMMAND"
for d in /proc/[0-9]*; do
  set -- $(cat $d/stat 2>/dev/null) && printf '%5s %5s %s\n' "$1" "$4" "$2"
done
true # leaving: the init ends the sleepers with the namespace
]] },
}
