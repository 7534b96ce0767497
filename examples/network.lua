-- Networking modes of a sandbox (run as root: `bin/isol run examples/network.lua`).
-- Each mode prints what the sandbox sees, and the port forwards answer a
-- request. Traffic stays on this machine: the example works in a network
-- namespace of its own, which plays the host.
local isol = require "isol"

-- The example first moves itself into a fresh network namespace, so that the
-- "host" ends below touch nothing of this machine's network (remove these two
-- lines to give sandboxes a veth to the real host).
assert(isol.unshare { "net" })
assert(isol.core.net_link_up("lo"))

local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null") end

local function show(title, r, cmd)
  local box <close> = isol.sandbox(r)
  local st, out, err = box:run({ "/bin/sh", "-c", cmd }, { capture = true })
  print("== " .. title)
  io.write(st and out or ("failed: " .. tostring(out)), err or "", "\n")
end

-- A port forward at work: a server inside answers one request on port 80;
-- this side (the host) asks at 127.0.0.1:18080, retrying while it starts.
local SERVE = "python3 -c \"import socket;s=socket.socket();s.bind(('0.0.0.0',80));s.listen();"
  .. "c,_=s.accept();c.sendall(b'hello from port 80 inside')\""
local ASK = "bash -c 'for i in $(seq 50); do exec 3<>/dev/tcp/127.0.0.1/18080 && r=$(cat <&3) && "
  .. "[ -n \"$r\" ] && { echo \"host:18080 -> $r\"; exit; }; sleep 0.1; done 2>/dev/null; echo no answer'"
local function forward(title, r)
  print("== " .. title)
  if not have("python3") then print("(python3 is not installed: no server to forward to)") return end
  local box <close> = isol.sandbox(r)
  local p <close>, err = box:spawn { "/bin/sh", "-c", SERVE }
  if not p then print("failed: " .. tostring(err)) return end
  local f = io.popen(ASK)
  io.write(f:read("a"))
  f:close()
  p:wait()
end

-- 1. a new network namespace: loopback up, nothing else
show("loopback only", { namespaces = { "net" } }, "ip -br addr")

-- 2. loopback kept down
show("loopback down", { namespaces = { "net" }, net = { loopback = false } }, "ip -br link")

-- 3. a veth pair: eth0 inside, a host end in the caller's namespace, shaped to 10 Mbit/s
local veth = { address = "10.88.0.2/24", host_address = "10.88.0.1/24", gateway = true }
show("veth", { namespaces = { "net" }, net = { veth = veth }, limits = { net = { rate = "10mbit" } } },
  "ip -br addr; ip route; tc qdisc show dev eth0")

-- 4. a port forward into the veth: a relay process of isol's core listens
--    on the host's 18080 and carries each connection to 10.88.0.2:80
forward("veth + ports (relay)", { namespaces = { "net", "pid" }, net = { veth = veth }, ports = { "18080:80/tcp" } })

-- 5. outbound through slirp4netns (what an ordinary user would use): the
--    sandbox sees 10.0.2.100, gateway 10.0.2.2; its port forward
if have("slirp4netns") then
  local r = { namespaces = { "user", "net", "pid" }, user = { map_root = true },
    net = { outbound = "slirp4netns" }, ports = { "18080:80/tcp" } }
  show("slirp4netns", r, "ip -br addr; ip route")
  forward("slirp4netns + ports", r)
end

-- 6. outbound through pasta (Debian passt): the sandbox gets the address,
--    gateway and name of the host's interface with the default route. This
--    example's namespace has none, so it makes one (on a real host, your
--    eth0 is it).
if have("pasta") then
  os.execute("ip link add isolex0 type veth peer name isolex1 && ip addr add 192.0.2.10/24 dev isolex0 && "
    .. "ip link set isolex0 up && ip link set isolex1 up && ip route add default via 192.0.2.1 dev isolex0")
  local r = { namespaces = { "user", "net", "pid" }, user = { map_root = true },
    net = { outbound = "pasta" }, ports = { "18080:80/tcp" } }
  show("pasta", r, "ip -br addr; ip route")
  forward("pasta + ports", r)
end
