-- The seed's "Hostname Isolation": `unshare -u` then `hostname my-new-hostname`.
-- Inside, the hostname (and NIS domain name) is the sandbox's; outside it is
-- unchanged.
--
--   bin/isol run examples/hostname.lua
local isol = require "isol"

local before = isol.core.gethostname()
local st, out = isol.run({
  namespaces = { "uts" },
  hostname = "my-new-hostname",
  domainname = "example",
}, { "/bin/sh", "-c", "echo \"inside: $(hostname) (domain $(domainname))\"; hostname changed-again; hostname" },
  { capture = true })
assert(st and st.code == 0, "sandbox failed: " .. tostring(out))
io.write(out)
local after = isol.core.gethostname()
print("outside: " .. after)
assert(after == before, "the host's hostname changed!")
assert(out:find("inside: my-new-hostname", 1, true) and out:find("changed-again", 1, true))
