-- The seed's "User Isolation": in a user namespace without a map the caller
-- is "nobody" (65534); with map_root it is root inside but only the caller
-- outside. This script shows both.
local isol = require "isol"
local uid = isol.core.ids()

local st, out = isol.run({ namespaces = { "user" } }, { "id", "-u" }, { capture = true })
assert(st and st.code == 0, out)
print("no map:   uid inside " .. out:gsub("\n", "") .. " (nobody)")
assert(out == "65534\n")

st, out = isol.run({ namespaces = { "user" }, user = { map_root = true } },
  { "/bin/sh", "-c", "id -u; cat /proc/self/uid_map" }, { capture = true })
assert(st and st.code == 0, out)
local inside, map = out:match("^(%d+)\n(.*)$")
print(string.format("map_root: uid inside %s, uid_map %s (outside it is uid %d)", inside,
  (map:gsub("%s+", " ")), uid))
assert(inside == "0")
