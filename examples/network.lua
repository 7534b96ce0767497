-- Networking modes of a sandbox (run as root: `bin/isol run examples/network.lua`).
-- Each mode prints what the sandbox sees. Traffic stays on this machine:
-- the veth joins the sandbox to the caller's namespace only.
local isol = require "isol"

-- The example first moves itself into a fresh network namespace, so that the
-- "host" ends below touch nothing of this machine's network (remove these two
-- lines to give sandboxes a veth to the real host).
assert(isol.unshare { "net" })
assert(isol.core.net_link_up("lo"))

local function show(title, r, cmd)
  local box <close> = isol.sandbox(r)
  local st, out, err = box:run({ "/bin/sh", "-c", cmd }, { capture = true })
  print("== " .. title)
  io.write(st and out or ("failed: " .. tostring(out)), err or "", "\n")
end

-- 1. a new network namespace: loopback up, nothing else
show("loopback only", { namespaces = { "net" } }, "ip -br addr")

-- 2. loopback kept down
show("loopback down", { namespaces = { "net" }, net = { loopback = false } }, "ip -br link")

-- 3. a veth pair: eth0 inside, a host end in the caller's namespace, shaped to 10 Mbit/s
show("veth", {
  namespaces = { "net" },
  net = { veth = { address = "10.88.0.2/24", host_address = "10.88.0.1/24", gateway = true } },
  limits = { net = { rate = "10mbit" } },
}, "ip -br addr; ip route; tc qdisc show dev eth0")

-- 4. outbound through slirp4netns (what an ordinary user would use), with a
--    port forward from the host's 18080 to 80 inside
if os.execute("command -v slirp4netns >/dev/null") then
  show("slirp4netns", {
    namespaces = { "user", "net" }, user = { map_root = true },
    net = { outbound = "slirp4netns" }, ports = { "18080:80/tcp" },
  }, "ip -br addr; ip route")
end
