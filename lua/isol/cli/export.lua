--- `isol export --oci DIR RECIPE.lua [-- CMD ARGS...]`
local cli = require "isol.cli"

local M = {
  summary = "write a recipe as an OCI bundle (runc, crun, containerd, Kubernetes)",
  usage = [==[
usage: isol export --oci DIR [--lossy] [--force] [--cgroups-path PATH] RECIPE.lua [-- CMD ARGS...]

Writes the recipe as an OCI runtime-spec 1.0 bundle: DIR/config.json and
DIR/rootfs, with CMD ARGS (or the recipe's `command`) as the process. Run it
with an OCI runtime (as root; the bundle's cgroup limits need it):

    isol export --oci /tmp/box box.lua -- /bin/sh -c 'hostname'
    runc run -b /tmp/box mybox            (or: crun run -b /tmp/box mybox)

Options:
  --oci DIR            the bundle directory (created; must be absent or empty)
  --lossy              drop what has no OCI equivalent instead of failing:
                       each dropped item is printed on stderr as
                       "isol: warning: FIELD: dropped: WHY"
  --force              write into a non-empty DIR (config.json is replaced)
  --cgroups-path PATH  set linux.cgroupsPath (where a relative path goes is
                       the runtime's choice); default: the runtime's own
  -h, --help           this text

What maps: namespaces, uid/gid maps, hostname, env (only the recipe's, plus
PATH), cwd, mounts (a host_readonly root becomes read-only bind mounts, not
copies; root.dir is the bundle's root in place, with the recipe's mount
points and dir/symlink entries made in it), propagation (as the rootfs
propagation), capabilities, no_new_privs,
seccomp (OCI's JSON form of the same rules), rlimits, `limits` (cpu, cpuset,
memory with swap, pids, blockIO weight, devices: the runtime's default
devices are listed in linux.devices so that a deny really denies), and
/proc's masked and read-only paths (isol's own lists).

What has no OCI equivalent is an error naming the field, unless --lossy:
images (mount the image read-only yourself, `mount -o loop,ro FILE DIR`,
and use a read-only bind of DIR or root = { dir = DIR }), chroot mode, time
namespaces and offsets, domainname, raw cgroup files, io.max throttles,
remounts, overlays, Landlock, timeout, veth/slirp4netns/pasta networking, ports,
limits.net, cgroup.parent (use --cgroups-path), propagation "unchanged",
session_keyring "inherit". What OCI runtimes do their
own way (isol's init, die-with-parent, stdio) is always a warning.

With a user namespace, DIR and its parents must be searchable by the host
id the container's root maps to (chmod 755).
Prints "wrote DIR/config.json"; exit status 0, 1 on an error, 2 on a usage
error.]==],
}

function M.run(args)
  local dir, file, lossy, force, cgpath
  local i = 1
  while i <= #args do
    local a = args[i]
    if (a == "--oci" or a == "--cgroups-path") and args[i + 1] == nil then
      return cli.die("export: " .. a .. " needs a value (see `isol export --help`)", 2)
    elseif a == "--oci" then dir = args[i + 1]; i = i + 2
    elseif a == "--lossy" then lossy = true; i = i + 1
    elseif a == "--force" then force = true; i = i + 1
    elseif a == "--cgroups-path" then cgpath = args[i + 1]; i = i + 2
    elseif a == "--" then i = i + 1; break
    elseif a:sub(1, 1) == "-" then return cli.die("export: unknown option " .. a .. " (see `isol export --help`)", 2)
    elseif not file then file = a; i = i + 1
    else break end
  end
  if not dir or not file then return cli.die("export: expected --oci DIR RECIPE.lua (see `isol export --help`)", 2) end
  local cmd = {}
  for k = i, #args do cmd[#cmd + 1] = args[k] end
  local r = cli.load_recipe(file)
  local ok, warnings = require("isol.oci").export(r, dir,
    { argv = #cmd > 0 and cmd or nil, lossy = lossy, force = force, cgroups_path = cgpath })
  if not ok then return cli.die("export: " .. tostring(warnings), 1) end
  for _, w in ipairs(warnings) do io.stderr:write("isol: warning: ", w, "\n") end
  io.stdout:write("wrote ", dir, "/config.json\n")
  return 0
end

return M
