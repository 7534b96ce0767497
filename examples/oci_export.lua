-- A recipe as an OCI bundle (`isol export`): the same sandbox, run by an OCI
-- runtime (runc, crun, and through them containerd, Kubernetes, Podman)
-- instead of isol. The command-line form of this script is
--
--   bin/isol export --oci /tmp/box RECIPE.lua -- /bin/sh -c 'hostname'
--   runc run -b /tmp/box mybox          (or: crun run -b /tmp/box mybox)
--
-- This script writes a bundle for a recipe with its own namespaces, the
-- host's system directories read-only, and memory and pids limits into a
-- temporary directory, prints the warnings (what OCI runtimes do their own
-- way) and the runc command, runs it when runc is installed, and removes the
-- bundle. What has no OCI equivalent (an image, chroot mode, Landlock, ...)
-- would be an error naming the field; `lossy = true` (`--lossy`) drops each
-- such item with a warning instead.
local isol = require "isol"

local recipe = {
  namespaces = { "pid", "mount", "uts", "ipc" },
  hostname = "ocibox",
  root = isol.recipes.host_readonly(),
  limits = { memory = { max = "64M" }, pids = { max = 16 } },
}
local argv = { "/bin/sh", "-c", "echo hello from $(hostname), pid $$" }

local tmp = io.popen("mktemp -d /tmp/isol-oci-example.XXXXXX"):read("l")
local dir = tmp .. "/bundle"
local ok, warnings = assert(isol.oci.export(recipe, dir, { argv = argv }))
print(ok and ("wrote " .. dir .. "/config.json"))
for _, w in ipairs(warnings) do print("  warning: " .. w) end

local id = "isol-example-" .. isol.core.getpid()
local cmd = string.format("runc run -b %s %s", dir, id)
print("run it with: " .. cmd)
if os.execute("command -v runc >/dev/null 2>&1") then
  local p = io.popen(cmd .. " 2>&1")
  io.write("runc says: ", p:read("a"))
  assert(p:close(), "runc failed")
else
  print("(runc is not installed: not run)")
end
os.execute("rm -rf '" .. tmp .. "'")
