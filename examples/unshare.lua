-- The seed's "Isolation (namespaces)": what `unshare -m -u -i -n -p -U -C -T`
-- does, from Lua. For each kind of namespace, a command runs in a sandbox that
-- creates only that one, and compares its /proc/self/ns/<kind> with ours:
-- a different inode means a new namespace.
--
--   bin/isol run examples/unshare.lua
local isol = require "isol"

local kinds = { { "mount", "mnt" }, { "uts", "uts" }, { "ipc", "ipc" }, { "net", "net" },
  { "pid", "pid_for_children" }, { "user", "user" }, { "cgroup", "cgroup" }, { "time", "time_for_children" } }
local function ns_of(path)
  local p = io.popen("readlink " .. path)
  local s = p:read("l")
  p:close()
  return s
end

print(string.format("%-7s %-22s %-22s %s", "kind", "outside", "inside", "new?"))
local failures = 0
for _, k in ipairs(kinds) do
  local name, file = k[1], k[2]
  local outside = ns_of("/proc/self/ns/" .. file)
  if outside then
    -- pid and time apply to children: the command is one, so it shows the new one
    local inside_file = (file:gsub("_for_children$", ""))
    local st, out = isol.run({ namespaces = { name } }, { "readlink", "/proc/self/ns/" .. inside_file },
      { capture = true })
    local inside = st and st.code == 0 and out:gsub("\n$", "") or ("failed: " .. tostring(out))
    local outside_now = ns_of("/proc/self/ns/" .. inside_file)
    local new = inside ~= outside_now and inside:match("^%a+:%[")
    if not new then failures = failures + 1 end
    print(string.format("%-7s %-22s %-22s %s", name, outside_now, inside, new and "yes" or "NO"))
  end
end
if failures > 0 then os.exit(1) end
