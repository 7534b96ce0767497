-- The default recipe of `make demo`: a shell in new namespaces (user, pid,
-- mount, uts, ipc, net, cgroup) on a new root, under a 32M memory cap,
-- showing what isol adds: its own hostname next to the host's, uid 0
-- mapped to the caller, PID 1 (isol's init), its own processes and
-- network, a read-only root made of host binds (no host mount in sight),
-- and the memory limit at work (an allocation over it dies, the shell
-- carries on).
local isol = require "isol"

local function host_hostname()
  local f = io.open("/proc/sys/kernel/hostname", "r")
  local h = f and f:read("l") or "?"
  if f then f:close() end
  return h
end

return {
  description = "isolation demo",
  namespaces = { "user", "pid", "mount", "uts", "ipc", "net", "cgroup" },
  user = { map_root = true },
  hostname = "isol-demo",
  -- a new root: read-only binds of the host's /usr and a few /etc files, a
  -- fresh /proc for the new pid namespace, a minimal /dev, a tmpfs /tmp
  root = isol.recipes.host_readonly(),
  limits = { memory = { max = "32M", swap = 0 } },
  env = { DEMO_HOST_HOSTNAME = host_hostname() },
  command = { "/bin/sh", "-c", [[
echo "hostname: $(hostname)   (the host's: $DEMO_HOST_HOSTNAME)"
echo "uid inside: $(id -u) ($(id -un 2>/dev/null || echo root))"
echo "my pid: $$; PID 1 is: $(cat /proc/1/comm) (isol's init); processes I can see:"
for d in /proc/[0-9]*; do echo "  ${d#/proc/} $(cat $d/comm 2>/dev/null)"; done
echo "network interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "namespaces:"; for n in user pid mnt uts ipc net cgroup; do echo "  $n -> $(readlink /proc/self/ns/$n)"; done
echo "root: $(ls / | tr '\n' ' ')"
top=$(cut -d' ' -f5 /proc/self/mountinfo | grep -v '^/.*/' | sort | tr '\n' ' ')
n=$(wc -l < /proc/self/mountinfo)
echo "  $n mounts, every one made for this sandbox: ${top}and files under /etc, /dev, /proc"
echo "  writing to /usr: $(touch /usr/isol-demo 2>&1 || true)"
echo "memory: capped at 32M; allocating 64M in a child process..."
/bin/sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" x); echo "  allocated ${#x} bytes (no limit?)"' 2>/dev/null
st=$?
[ $st = 137 ] && echo "  the child was killed (status $st: SIGKILL from the OOM killer); this shell carries on" \
  || echo "  the child ended with status $st"
]] },
}
