-- The default recipe of `make demo`: a shell in new namespaces (user, pid,
-- mount, uts, ipc, net, cgroup) showing that isolation happened: its own
-- hostname, uid 0 mapped to the caller, PID 1 (isol's init) and its own view
-- of processes and the network.
return {
  description = "isolation demo",
  namespaces = { "user", "pid", "mount", "uts", "ipc", "net", "cgroup" },
  user = { map_root = true },
  hostname = "isol-demo",
  -- a fresh /proc for the new pid namespace (the seed's --mount-proc)
  mounts = { { type = "proc" } },
  command = { "/bin/sh", "-c", [[
echo "hostname: $(hostname)   (host: outside this sandbox it is different)"
echo "uid inside: $(id -u) ($(id -un 2>/dev/null || echo root))"
echo "my pid: $$; PID 1 is: $(cat /proc/1/comm) (isol's init); processes I can see:"
for d in /proc/[0-9]*; do echo "  ${d#/proc/} $(cat $d/comm 2>/dev/null)"; done
echo "network interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "namespaces:"; for n in user pid mnt uts ipc net cgroup; do echo "  $n -> $(readlink /proc/self/ns/$n)"; done
echo "mount table: $(wc -l < /proc/self/mountinfo) mounts, private to this sandbox; the last ones:"
tail -3 /proc/self/mountinfo | sed 's/^/  /'
]] },
}
