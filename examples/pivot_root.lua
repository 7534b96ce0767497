-- A new root with pivot_root: the sandbox sees read-only host /usr, a few
-- /etc files, a fresh /proc for its own PID namespace, a minimal /dev and a
-- private tmpfs /tmp. The old root is detached: there is no path back to the
-- host's filesystem (compare examples/chroot.lua).
--
--   isol run examples/pivot_root.lua
--   isol run examples/pivot_root.lua -- /bin/sh     (interactive)
local isol = require "isol"

return {
  description = "pivot_root into a read-only host root",
  namespaces = { "mount", "pid", "uts", "ipc" },
  hostname = "pivoted",
  root = isol.recipes.host_readonly { tmp_size = "16M" },
  mounts = { { type = "tmpfs", target = "/scratch", size = "1M" } },
  command = { "/bin/sh", "-c", [[
set -e
echo "/ inside: $(ls / | tr '\n' ' ')"
echo "PID 1: $(tr '\0' ' ' < /proc/1/cmdline) ; processes visible: $(ls /proc | grep -c '^[0-9]')"
echo "mounts inside: $(wc -l < /proc/self/mountinfo) (no host mount listed)"
if touch /usr/isol-test 2>/dev/null; then echo "/usr is writable?!"; exit 1; fi
echo "/usr is read-only"
echo ok > /tmp/t && echo "/tmp is writable"
echo ok > /scratch/t && echo "/scratch is a 1M tmpfs: $(df -h /scratch | awk 'NR==2 {print $2}')"
# the host's / is gone: .. of / is / itself
[ "$(stat -c %i /..)" = "$(stat -c %i /)" ] && echo "/.. is / (no way up)"
]] },
}
