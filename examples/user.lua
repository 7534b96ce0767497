-- The seed's "User Isolation": `unshare -U` then `whoami` says nobody. In a
-- new user namespace with no id map, every id shows as the overflow id
-- (65534, "nobody"); with `map_root`, uid 0 inside is the caller outside:
-- root in the sandbox, not on the host.
--
--   bin/isol run examples/user.lua
local isol = require "isol"

local show = { "/bin/sh", "-c", "echo \"uid=$(id -u) user=$(id -un 2>/dev/null) gid=$(id -g)\"" }
local _, outside = isol.run({}, show, { capture = true })
io.write("outside:            ", outside)

local st, nomap = isol.run({ namespaces = { "user" } }, show, { capture = true })
assert(st and st.code == 0, tostring(nomap))
io.write("user ns, no map:    ", nomap)
assert(nomap:find("uid=65534", 1, true), "expected the overflow uid without a map")

local st2, root = isol.run({ namespaces = { "user" }, user = { map_root = true } }, show, { capture = true })
assert(st2 and st2.code == 0, tostring(root))
io.write("user ns, map_root:  ", root)
assert(root:find("uid=0", 1, true))

