-- The default recipe of `make demo`: a shell in new namespaces (user, pid,
-- mount, uts, ipc, net, cgroup) showing that isolation happened: its own
-- hostname, uid 0 mapped to the caller, PID 1 (isol's init) and its own view
-- of processes and the network.
return {
  description = "isolation demo",
  namespaces = { "user", "pid", "mount", "uts", "ipc", "net", "cgroup" },
  user = { map_root = true },
  hostname = "isol-demo",
  command = { "/bin/sh", "-c", [[
echo "hostname: $(hostname)   (host: outside this sandbox it is different)"
echo "uid inside: $(id -u) ($(id -un 2>/dev/null || echo root))"
echo "my pid: $$; PID 1 is: $(tr '\0' ' ' < /proc/1/cmdline 2>/dev/null || echo '?')"
echo "network interfaces:"; ls /sys/class/net 2>/dev/null | sed 's/^/  /'
echo "namespaces:"; for n in user pid mnt uts ipc net cgroup; do echo "  $n -> $(readlink /proc/self/ns/$n)"; done
echo "mount table (first 5 lines of /proc/self/mountinfo):"; head -5 /proc/self/mountinfo | sed 's/^/  /'
]] },
}
