-- The seed's "Isolation with unshare": `unshare --fork --pid --mount-proc
-- --uts --ipc --net --user --map-root-user` as a recipe. The command shows
-- that each namespace differs from the host's.
local isol = require "isol"
local host = {}
for _, k in ipairs(isol.core.ns_kinds()) do host[k.procname] = isol.core.ns_inode(0, k.name) end

local box <close> = isol.sandbox {
  namespaces = { "user", "mount", "uts", "ipc", "net", "pid", "cgroup", "time" },
  user = { map_root = true },
  -- The seed's interactive style: a shell that mounts its own /proc (as
  -- `--mount-proc` did) needs every capability of its user namespace. The
  -- default set (isol.security.DEFAULT) has no CAP_SYS_ADMIN: no mount.
  caps = "all",
}
local script = "mount -t proc proc /proc || exit 1; "
  .. "for n in user mnt uts ipc net pid cgroup time; do echo $n $(stat -L -c %i /proc/self/ns/$n); done"
local st, out = box:run({ "/bin/sh", "-c", script }, { capture = true })
assert(st and st.code == 0, out)
for name, ino in out:gmatch("(%S+) (%d+)") do
  local differs = tonumber(ino) ~= host[name]
  print(string.format("%-7s host %-11d sandbox %-11s %s", name, host[name], ino, differs and "new" or "SAME"))
  assert(differs, name .. " namespace was not unshared")
end
