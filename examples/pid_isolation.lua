-- PID isolation (the seed's `unshare --fork --pid --mount-proc`): in a new
-- pid namespace isol's init is PID 1 (it reaps orphans and forwards
-- signals); with /proc mounted for the namespace, `ps` sees only the sandbox.
--
--   bin/isol run examples/pid_isolation.lua
return {
  description = "pid namespace: ps sees only the sandbox",
  namespaces = { "user", "pid", "mount" },
  user = { map_root = true },
  command = { "/bin/sh", "-c", [[
# a private /proc for this pid namespace (mount propagation private first,
# so nothing shows on the host)
mount --make-rprivate / && mount -t proc proc /proc || exit 1
sleep 30 & sleep 30 &
echo "my pid: $$ (PID 1 is $(cat /proc/1/comm))"
ps -o pid,ppid,comm -e 2>/dev/null || ls /proc | grep '^[0-9]'
true # leaving: the init ends the sleepers with the namespace
]] },
}
