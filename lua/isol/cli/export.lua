--- `isol export --oci DIR RECIPE.lua [-- CMD ARGS...]`
local cli = require "isol.cli"

local M = {
  summary = "write a recipe as an OCI bundle (runc, crun, containerd, Kubernetes)",
  usage = [==[
usage: isol export --oci DIR [--lossy] [--force] [--cgroups-path PATH] RECIPE.lua [-- CMD ARGS...]

Writes DIR/config.json (OCI runtime-spec 1.0) and DIR/rootfs for the recipe,
with CMD (or the recipe's `command`) as the process. Run it with
`runc run -b DIR NAME` or `crun run -b DIR NAME`.

What has no OCI equivalent (images, chroot mode, time namespaces, raw cgroup
files, veth/slirp4netns networking) is an error; --lossy drops each such
item with a warning instead. What OCI runtimes do their own way (isol's
init, die-with-parent) is always listed as a warning.
--cgroups-path sets linux.cgroupsPath (a relative path is placed under the
runtime's own cgroup by runc).]==],
}

function M.run(args)
  local dir, file, lossy, force, cgpath
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--oci" then dir = args[i + 1]; i = i + 2
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
  local ok, warnings, code = require("isol.oci").export(r, dir,
    { argv = #cmd > 0 and cmd or nil, lossy = lossy, force = force, cgroups_path = cgpath })
  if not ok then return cli.die("export: " .. tostring(warnings), code == nil and 1 or 1) end
  for _, w in ipairs(warnings) do io.stderr:write("isol: warning: ", w, "\n") end
  io.stdout:write("wrote ", dir, "/config.json\n")
  return 0
end

return M
