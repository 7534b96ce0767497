-- Networking: loopback up in a new net namespace, a veth to the caller's
-- namespace, shaping, the user-mode helpers (slirp4netns, pasta), port
-- forwards (the helpers' own, and the relay into a veth).
--
-- Testing rule: traffic only flows inside network namespaces this spec makes.
-- Every scenario runs as a separate lua5.4 under `unshare --net` (its own,
-- fresh namespace, loopback brought up there), which plays "the host": the
-- veth's host end, the listeners, the relay and the helpers all live in it.
-- The user-mode helpers run as a user this spec creates, in a fresh user and
-- network namespace of that user's (`unshare -rn`). Listeners and clients
-- have short timeouts (spec/support/nettool.py); nothing reaches an address
-- outside.
-- (The scenarios embed shell and Python one-liners: long lines.)
-- luacheck: no max line length
local h = require "support.helpers"
local isol = require "isol"

local function have(cmd) return (h.sh("command -v " .. cmd .. " >/dev/null && echo y")) == "y\n" end
local PY = "/usr/bin/python3"

-- spec/support/nettool.py in a world-readable directory of this run (the
-- created user runs it too); removed when the runner exits
local tooldir = setmetatable({ dir = (h.sh("mktemp -d /tmp/isol-net-spec.XXXXXX"):gsub("%s+$", "")) },
  { __gc = function(t) os.execute("rm -rf " .. h.shq(t.dir)) end })
h.sh(string.format("cp %s/spec/support/nettool.py %s/ && chmod -R a+rX %s", h.shq(h.root), tooldir.dir, tooldir.dir))

-- Run Lua source as "the host" in a fresh network namespace (root), or
-- under `prefix` (the created user's fresh user+network namespace).
-- (procs: live processes whose command line matches a Lua pattern, read
-- from /proc: procps hangs under the ASan preload of `make asan-test`;
-- relays: live isol-relay processes in this network namespace; nfds: open
-- fds of this process; sh: a command's output)
local PROCS = [[
local function procs(pattern, ppid)
  local n = 0
  for _, e in ipairs(isol.core.listdir("/proc") or {}) do
    local f = e:match("^%d+$") and io.open("/proc/" .. e .. "/cmdline")
    local raw = f and f:read("a") -- (nil: it exited meanwhile)
    local cmd = raw and raw:gsub("%z", " ")
    if f then f:close() end
    local s = cmd and io.open("/proc/" .. e .. "/stat")
    local st = s and s:read("l")
    if s then s:close() end
    local state, pp = st and st:match("%) (%a) (%d+)")
    if cmd and cmd:match(pattern) and state ~= "Z" and (not ppid or tonumber(pp) == ppid) then n = n + 1 end
  end
  return n
end
local function relays()
  local n, mine = 0, isol.core.ns_inode(0, "net")
  for _, e in ipairs(isol.core.listdir("/proc") or {}) do
    local f = e:match("^%d+$") and io.open("/proc/" .. e .. "/stat")
    local st = f and f:read("l")
    if f then f:close() end
    if st and st:match("%(isol%-relay%) [^Z]") and isol.core.ns_inode(tonumber(e), "net") == mine then n = n + 1 end
  end
  return n
end
local function nfds() return #isol.core.listdir("/proc/self/fd") end
local function sh(cmd) local f = io.popen(cmd .. " 2>&1") local o = f:read("a") f:close() return (o:gsub("\n$", "")) end
]]

local function in_fresh_net(src, prefix)
  -- (tooldir is referenced here, so that it lives as long as the specs)
  local nt = PY .. " " .. tooldir.dir .. "/nettool.py"
  return h.lua("os.execute('ip link set lo up')\nlocal isol = require 'isol'\n" .. PROCS ..
    string.format("local NT = %q\n", nt) .. src, prefix or "unshare -n timeout 60")
end

-- The outer side pasta copies from: an interface with an address and the
-- default route (a fresh namespace has only lo; a veth pair, both ends
-- here, is the template), and 10.78.0.9 on lo, an address of the outer side
-- the sandbox reaches through the helper (the template's own address is
-- the sandbox's too, under pasta).
local TEMPLATE = "os.execute('ip link add tmpl0 type veth peer name tmpl1 && ip addr add 10.77.0.1/24 dev tmpl0 && " ..
  "ip link set tmpl0 up && ip link set tmpl1 up && ip route add default via 10.77.0.254 dev tmpl0 && " ..
  "ip addr add 10.78.0.9/32 dev lo')\n"

-- A script that makes a sandbox from `recipe` (Lua source), spawns a
-- sleeper in it, prints "<its own pid> <the sleeper's pid>" and waits: the
-- supervisor a spec SIGKILLs. It finds isol through LUA_PATH and LUA_CPATH
-- (VICTIM below sets them from the scenario's own). Returns the script's
-- path and its directory (world-readable).
local function victim(recipe)
  local dir = h.sh("mktemp -d /tmp/isol-net-spec.XXXXXX"):gsub("%s+$", "")
  local script = dir .. "/victim.lua"
  local f = assert(io.open(script, "w"))
  f:write("local isol = require 'isol'\nlocal box = isol.sandbox ", recipe, "\n", [==[
    local p = assert(box:spawn { '/bin/sleep', '30' })
    io.stdout:write(isol.core.getpid(), ' ', p:pid(), '\n'); io.stdout:flush()
    isol.core.poll({}, 30) -- (in-process: no child holds the scenario's output open)
  ]==])
  f:close()
  h.sh("chmod -R a+rX " .. dir)
  return script, dir
end
-- (scenario source: start the victim at `script`, read its two pids)
local VICTIM = [==[
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local f = io.popen("LUA_PATH=" .. q(package.path) .. " LUA_CPATH=" .. q(package.cpath) .. " %s %s")
local line = f:read("l")
local lua_pid, box_pid = line:match("(%%d+) (%%d+)")
]==]

describe("net: recipe fields", function()
  it("bad fields name the field and the value", function()
    local function err(r)
      local ok, e = pcall(isol.sandbox, r)
      assert.is_false(ok)
      return e
    end
    local veth = { address = "10.92.0.2/24", host_address = "10.92.0.1/24" }
    local cases = {
      { { net = {} }, 'net: needs the "net" namespace' },
      { { namespaces = { "net" }, net = { veth = { host = "a/b" } } }, "net.veth.host: expected an interface name" },
      { { namespaces = { "net" }, net = { veth = { address = "10.0.0.300/24" } } }, "net.veth.address" },
      { { namespaces = { "net" }, net = { veth = { address = "10.0.0.3/24\0" } } }, "net.veth.address" },
      { { namespaces = { "net" }, net = { outbound = "pasta!" } },
        'net.outbound: expected "slirp4netns" or "pasta", got "pasta!"' },
      { { namespaces = { "net" }, net = { host_loopback = true } }, "net.host_loopback: applies to net.outbound" },
      { { namespaces = { "net" }, net = { outbound = "pasta", host_loopback = "yes" } },
        'net.host_loopback: expected boolean, got string "yes"' },
      { { namespaces = { "net" }, ports = { "80" } }, 'ports[1]: expected "HOST:INSIDE[/tcp|udp]" with ports in 1..65535, got "80"' },
      { { namespaces = { "net" }, ports = { "0:80" } }, 'ports[1]: expected "HOST:INSIDE[/tcp|udp]" with ports in 1..65535, got "0:80"' },
      { { namespaces = { "net" }, ports = { "8080:70000" } }, 'got "8080:70000"' },
      { { namespaces = { "net" }, ports = { "8080:80/sctp" } }, 'got "8080:80/sctp"' },
      { { namespaces = { "net" }, ports = { "8080:80", "8080:81/tcp" } },
        "ports[2]: host port 8080/tcp is already forwarded by ports[1]" },
      { { namespaces = { "net" }, ports = { "8080:80" } },
        'ports: needs net.outbound ("slirp4netns" or "pasta") or net.veth (root: a relay to its address)' },
      { { namespaces = { "net" }, net = { veth = { host_address = "10.92.0.1/24" } }, ports = { "8080:80" } },
        "ports: a forward into the veth needs net.veth.address" },
      { { namespaces = { "net" }, net = { veth = { address = "10.92.0.2/24" } }, ports = { "8080:80" } },
        "ports: a forward into the veth needs net.veth.host_address" },
      { { namespaces = { "net" }, net = { veth = veth, outbound = "pasta" } }, "net: choose one of veth and outbound" },
      { { namespaces = { "net" }, limits = { net = { rate = "fast" } } }, 'limits.net.rate: expected a rate like "10mbit"' },
      { { namespaces = { "net" }, limits = { net = { rate = "1mbit" } } }, "limits.net: shaping applies to a veth" },
      { { namespaces = { "net" }, limits = { net = { loss = "200%" } } }, "limits.net.loss" },
    }
    for _, c in ipairs(cases) do
      local e = err(c[1])
      assert.truthy(e:find(c[2], 1, true), e)
    end
    -- the core's own checks of plan.net (what reaches it bypassing the recipe layer)
    local function core_err(net)
      local ok, e = pcall(isol.core.spawn, { argv = { "/bin/true" }, namespaces = { "net" }, net = net })
      assert.is_false(ok)
      return e
    end
    assert.truthy(core_err { outbound = "pasta!" }:find('plan.net.outbound: expected "slirp4netns" or "pasta", got "pasta!"', 1, true))
    assert.truthy(core_err { ports = { { host = 0, inside = 80 } } }:find("plan.net.ports[1].host: expected a port in 1..65535", 1, true))
    assert.truthy(core_err { ports = { { host = 80, inside = 65536 } } }:find("plan.net.ports[1].inside: expected a port in 1..65535", 1, true))
    assert.truthy(core_err { ports = { { host = "80", inside = 80 } } }:find("plan.net.ports[1].host: expected a port", 1, true))
    assert.truthy(core_err { ports = { { host = 80, inside = 80, proto = "sctp" } } }:find('plan.net.ports[1].proto: expected "tcp" or "udp", got "sctp"', 1, true))
    assert.truthy(core_err { ports = { { host = 80, inside = 80, proto = "udp\0" } } }:find("plan.net.ports[].proto", 1, true))
    assert.truthy(core_err { ports = { 80 } }:find("plan.net.ports[1]: expected a table", 1, true))
  end)
end)

describe("net #root", function()
  it("a new net namespace has its loopback up: TCP over 127.0.0.1 inside works", function()
    local out = h.lua([[
      local isol = require "isol"
      local st, o = isol.run({ namespaces = { "net", "pid", "mount" } },
        { "/bin/sh", "-c", "ip -o link show lo | grep -o 'LOOPBACK,UP'; ]] .. PY .. [[ -c \"import socket,threading\n" ..
          "s=socket.socket();s.bind(('127.0.0.1',7));s.listen()\n" ..
          "threading.Thread(target=lambda:(lambda c:c[0].sendall(b'echo over lo'))(s.accept())).start()\n" ..
          "c=socket.create_connection(('127.0.0.1',7),timeout=3);print(c.recv(64).decode())\"" }, { capture = true })
      print(st.code, o)
    ]])
    assert.truthy(out:find("0\tLOOPBACK,UP", 1, true), out)
    assert.truthy(out:find("echo over lo", 1, true), out)
  end)

  it("net.loopback = false keeps it down", function()
    local st, out = isol.run({ namespaces = { "net" }, net = { loopback = false } },
      { "/bin/sh", "-c", "ip -o link show lo" }, { capture = true })
    assert.same(0, st.code)
    assert.truthy(out:find("<LOOPBACK>", 1, true), out)
  end)

  it("veth: the sandbox reaches a server on the host end, and the host a server inside", function()
    local out = in_fresh_net([==[
      os.execute(NT .. " serve 0.0.0.0 8081 'hello host' &")
      local box <close> = isol.sandbox { namespaces = { "net", "pid", "mount" },
        net = { veth = { host = "isolspec0", address = "10.88.0.2/24", host_address = "10.88.0.1/24", gateway = true } } }
      local st, o = box:run({ "/bin/sh", "-c", "ip route | grep -c 'default via 10.88.0.1'; " .. NT .. " get 10.88.0.1 8081" },
        { capture = true })
      print("OUT", st.code, o)
      -- and the other way: a server inside, the host connects to 10.88.0.2
      local p = assert(box:spawn { "/bin/sh", "-c", NT .. " serve 0.0.0.0 8082 'hello sandbox'" })
      print("IN", sh(NT .. " get 10.88.0.2 8082"))
      print("WAIT", p:wait().code)
      box:close()
      print("AFTER", sh("ip -o link show isolspec0"))
    ]==])
    assert.truthy(out:find("OUT\t0\t1\nhello host", 1, true), out)
    assert.truthy(out:find("IN\thello sandbox", 1, true), out)
    assert.truthy(out:find("WAIT\t0", 1, true), out)
    assert.truthy(out:find("does not exist", 1, true), out) -- host end removed on close
  end)

  it("limits.net.rate measurably slows a transfer over the veth (ratio, not time)", function()
    local function timed(shaping)
      local out = in_fresh_net(string.format([==[
        local core = isol.core
        local box <close> = isol.sandbox { namespaces = { "net" },
          net = { veth = { host = "isolspec1", address = "10.89.0.2/24", host_address = "10.89.0.1/24" } },
          limits = %s }
        local p = assert(box:spawn { %q, "-c",
          "import socket;s=socket.socket();s.bind(('0.0.0.0',9000));s.listen();c,_=s.accept();c.sendall(bytes(262144));c.close()" })
        os.execute("for i in $(seq 50); do nc=0; %s -c \"import socket;socket.create_connection(('10.89.0.2',9001),timeout=0.1)\" 2>/dev/null; sleep 0.1; [ -n \"$(ip netns 2>/dev/null)\" ] ; done >/dev/null 2>&1; sleep 0.5")
        local t0 = core.now()
        local f = io.popen(%q)
        local n = f:read("a"); f:close()
        print("BYTES", (n:gsub("%%s", "")), "SECS", core.now() - t0)
        p:wait()
      ]==], shaping and "{ net = { rate = '1mbit' } }" or "nil", PY, PY,
        "timeout 20 " .. PY .. " -c \"import socket\nc=socket.create_connection(('10.89.0.2',9000),timeout=10)\nn=0\n" ..
        "while True:\n  b=c.recv(65536)\n  if not b: break\n  n+=len(b)\nprint(n)\""))
      local bytes, secs = out:match("BYTES\t(%d+)\tSECS\t([%d%.e%-]+)")
      assert.equal("262144", bytes, out)
      return tonumber(secs)
    end
    local fast, slow = timed(false), timed(true)
    -- 256 KiB at 1 Mbit/s is ~2 s (with a 64 KiB burst, ~1.5 s); unshaped it
    -- takes milliseconds. Ask for a ratio that no noise explains.
    assert.is_true(slow > fast * 5, string.format("unshaped %.3fs, shaped %.3fs", fast, slow))
  end)

  it("delay and loss need netem: a kernel without it gets a clear error", function()
    local has_netem = h.sh("zcat /proc/config.gz 2>/dev/null | grep -c '^CONFIG_NET_SCH_NETEM='"):match("^1")
    local out = in_fresh_net([[
      local box <close> = isol.sandbox { namespaces = { "net" },
        net = { veth = { host = "isolspec2", address = "10.90.0.2/24", host_address = "10.90.0.1/24" } },
        limits = { net = { delay = "20ms" } } }
      print(box:run { "/bin/true" })
    ]])
    if has_netem then
      assert.truthy(out:find("table:", 1, true), out)
    else
      print("  (this kernel has no CONFIG_NET_SCH_NETEM: checking the error instead)")
      assert.truthy(out:find("no netem qdisc", 1, true), out)
    end
  end)

  it("the veth and its qdisc go when the supervising script is SIGKILLed", function()
    local script, dir = victim("{ namespaces = { 'net', 'pid' }, net = { veth = { host = 'isolspec9', "
      .. "address = '10.91.0.2/24', host_address = '10.91.0.1/24' } }, limits = { net = { rate = '1mbit' } } }")
    local out = in_fresh_net(string.format(VICTIM .. [==[
      local g = io.popen("ip -o link show isolspec9 2>&1; tc qdisc show dev isolspec9 2>&1"); print("BEFORE", g:read("a")); g:close()
      os.execute("kill -9 " .. lua_pid)
      local gone
      for _ = 1, 50 do
        local q = io.popen("ip -o link show isolspec9 2>&1"); local t = q:read("a"); q:close()
        if t:find("does not exist", 1, true) then gone = true break end
        os.execute("sleep 0.1")
      end
      print("GONE", tostring(gone))
      f:close()
    ]==], h.lua_bin, script))
    os.remove(script)
    os.remove(dir)
    assert.truthy(out:find("BEFORE\t%d+: isolspec9") and out:find("tbf", 1, true), out)
    assert.truthy(out:find("GONE\ttrue", 1, true), out)
  end)
end)

describe("net: ports into a veth, through the relay #root", function()
  it("carries TCP both ways (a 3 MB echo, half-close) and UDP to the sandbox's address; nothing is left after close", function()
    local out = in_fresh_net([==[
      -- (isol keeps its init's memfd once per process: made before counting)
      local w = isol.core.spawn { argv = { "/bin/true" }, supervise = true }; w:wait(); w:close()
      local fds0 = nfds()
      local box = isol.sandbox { namespaces = { "net", "pid", "mount" },
        net = { veth = { host = "isolspec3", address = "10.92.0.2/24", host_address = "10.92.0.1/24" } },
        ports = { "18086:8086/tcp", "18087:8087/udp" } }
      print("EXPLAIN", (isol.recipe.explain(box.recipe, { "x" }):match("port: host 18086[^\n]*")))
      -- (one spawn: each has a network namespace, a veth and a relay of its own)
      local p = assert(box:spawn { "/bin/sh", "-c", NT .. " echo 0.0.0.0 8086 2 & " .. NT .. " udp-echo 0.0.0.0 8087 2; wait $!" })
      print("TCP", sh(NT .. " send 127.0.0.1 18086 3000000"))
      print("TCP2", sh(NT .. " send 10.92.0.1 18086 10"))
      print("UDP", sh(NT .. " udp-ask 127.0.0.1 127.0.0.1 18087 ping"))
      print("UDP2", sh(NT .. " udp-ask 10.92.0.1 10.92.0.1 18087 pong"))
      -- (counted once it has carried traffic: the forked relay names itself
      -- isol-relay as its first step, which may come after spawn returns)
      print("RELAYS", relays())
      print("WAIT", p:wait().code)
      box:close()
      print("AFTER", relays(), nfds() - fds0, sh("ss -Hltnu | wc -l"), sh("ip -o link show isolspec3"))
    ]==])
    assert.truthy(out:find("EXPLAIN\tport: host 18086 -> inside 8086/tcp (a relay to 10.92.0.2)", 1, true), out)
    assert.truthy(out:find("RELAYS\t1", 1, true), out)
    local got, sent = out:match("TCP\techo (%d+ %x+)\nsent (%d+ %x+)")
    assert.equal("3000000", (got or ""):match("^%d+"), out)
    assert.equal(sent, got, out)
    assert.truthy(out:find("TCP2\techo 10 %x+\nsent 10 "), out)
    assert.truthy(out:find("UDP\tudp:ping", 1, true), out)
    assert.truthy(out:find("UDP2\tudp:pong", 1, true), out)
    assert.truthy(out:find("WAIT\t0", 1, true), out)
    -- no relay, no fd, no listening socket, no interface
    assert.truthy(out:find("AFTER\t0\t0\t0\t[^\n]*does not exist"), out)
  end)

  it("the relay goes when the supervising script is SIGKILLed", function()
    local script, dir = victim("{ namespaces = { 'net', 'pid' }, net = { veth = { host = 'isolspec5', "
      .. "address = '10.93.0.2/24', host_address = '10.93.0.1/24' } }, ports = { '18089:8089/tcp' } }")
    local out = in_fresh_net(string.format(VICTIM .. [==[
      -- (the forked relay names itself isol-relay as its first step: wait for it)
      for _ = 1, 100 do
        if relays() > 0 then break end
        os.execute("sleep 0.02")
      end
      print("BEFORE", relays(), sh("ss -Hltn 'sport = :18089' | wc -l"))
      os.execute("kill -9 " .. lua_pid)
      local left
      for _ = 1, 50 do
        left = relays()
        if left == 0 then break end
        os.execute("sleep 0.1")
      end
      print("LEFT", left, sh("ss -Hltn 'sport = :18089' | wc -l"))
      f:close()
    ]==], h.lua_bin, script))
    os.remove(script)
    os.remove(dir)
    assert.truthy(out:find("BEFORE\t1\t1", 1, true), out)
    assert.truthy(out:find("LEFT\t0\t0", 1, true), out)
  end)

  it("a host port already taken is an error naming the port, and leaves nothing", function()
    local out = in_fresh_net([==[
      local w = isol.core.spawn { argv = { "/bin/true" }, supervise = true }; w:wait(); w:close()
      os.execute(NT .. " serve 0.0.0.0 18088 taken &")
      print("TAKEN", sh(NT .. " get 127.0.0.1 18088"))
      os.execute(NT .. " serve 0.0.0.0 18088 taken &")
      sh("for i in $(seq 30); do ss -Hltn 'sport = :18088' | grep -q . && break; sleep 0.1; done")
      local fds0 = nfds()
      local st, msg, code = isol.run({ namespaces = { "net" },
        net = { veth = { host = "isolspec4", address = "10.94.0.2/24", host_address = "10.94.0.1/24" } },
        ports = { "18090:8090/udp", "18088:80/tcp" } }, { "/bin/true" })
      print("RUN", st, msg, code == isol.core.errno.EADDRINUSE)
      print("AFTER", relays(), nfds() - fds0, sh("ip -o link show isolspec4"), sh("ss -Hlun 'sport = :18090' | wc -l"))
      sh(NT .. " get 127.0.0.1 18088")
    ]==])
    assert.truthy(out:find("TAKEN\ttaken", 1, true), out)
    assert.truthy(out:find("RUN\tnil\tports[2] 18088:80/tcp: bind 0.0.0.0:18088: Address already in use\ttrue", 1, true), out)
    assert.truthy(out:find("AFTER\t0\t0\t[^\n]*does not exist[^\n]*\t0"), out)
  end)
end)

describe("net: pasta for a root caller, no user namespace #root", function()
  it("reaches the outer side and forwards a port; nothing is left after close", function()
    if not have("pasta") then pending("pasta is not installed (Debian passt)") return end
    local out = in_fresh_net(TEMPLATE .. [==[
      os.execute(NT .. " serve 10.78.0.9 8093 'hello pasta' &")
      local box = isol.sandbox { namespaces = { "net", "pid", "mount" },
        net = { outbound = "pasta" }, ports = { "18094:8094/tcp" } }
      local st, o, e = box:run({ "/bin/sh", "-c", "ip -o -4 addr show tmpl0 | grep -o '10.77.0.1/24'; " .. NT .. " get 10.78.0.9 8093" },
        { capture = true })
      print("OUT", st and st.code, o, e)
      local p = assert(box:spawn { "/bin/sh", "-c", NT .. " serve 0.0.0.0 8094 'hello forwarded'" })
      print("FWD", sh(NT .. " get 127.0.0.1 18094"))
      print("WAIT", p:wait().code)
      box:close()
      print("HELPERS", procs("^pasta ", isol.core.getpid()))
    ]==])
    assert.truthy(out:find("OUT\t0\t10.77.0.1/24\nhello pasta", 1, true), out)
    assert.truthy(out:find("FWD\thello forwarded", 1, true), out)
    assert.truthy(out:find("HELPERS\t0", 1, true), out)
  end)
end)

-- The user-mode helpers as an ordinary user: a user this block creates
-- (removed in teardown) runs each scenario in a fresh user and network
-- namespace of its own, the outer side. The helpers open /dev/net/tun as
-- that user: where this host's is not readable and writable by others (no
-- udev: mode 0600), the scenario gets a 0666 node of its own, on a tmpfs
-- over /dev/net in a private mount namespace (nothing of the host's
-- changes), as Debian's udev would make it.
describe("net: user-mode helpers as an ordinary user #root", function()
  local user = "isolnet" .. isol.core.getpid() % 100000
  local prefix

  setup(function()
    local out, ok = h.sh("useradd -m -s /bin/sh " .. user .. " 2>&1")
    assert(ok, out)
    local _, tun_ok = h.sh("runuser -u " .. user .. " -- test -r /dev/net/tun -a -w /dev/net/tun")
    if not tun_ok then
      print("  (/dev/net/tun here is not usable by an ordinary user: each scenario gets a 0666 node of its own)")
    end
    local env = ""
    -- `make asan-test`: the user's Lua loads the ASan build of the core
    for _, k in ipairs { "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" } do
      if os.getenv(k) then env = env .. " " .. k .. "=" .. h.shq(os.getenv(k)) end
    end
    prefix = string.format("unshare -m sh -c %s sh runuser -u %s -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/%s%s unshare -rn timeout 60",
      h.shq((tun_ok and "" or "mount -t tmpfs -o mode=755,size=16k isol-spec-tun /dev/net && mknod -m 666 /dev/net/tun c 10 200 && ")
        .. 'exec "$@"'), user, user, env)
  end)

  teardown(function()
    h.sh("userdel -r " .. user .. " 2>/dev/null")
  end)

  -- what each helper shows the sandbox: the gateway that stands for the host
  local GATEWAY = { slirp4netns = "10.0.2.2", pasta = "10.77.0.254" }

  for _, helper in ipairs { "slirp4netns", "pasta" } do
    it(helper .. ": reaches the outer side, not its loopback unless asked; TCP and UDP forwards; nothing left after close", function()
      if not have(helper) then pending(helper .. " is not installed") return end
      local out, ok = in_fresh_net(TEMPLATE .. string.format("local HELPER, GW = %q, %q\n", helper, GATEWAY[helper]) .. [==[
        -- (closed here: a handle left to the collector would close its fd
        -- between the two counts below)
        local uf = io.open("/proc/self/uid_map")
        print("UID", uf:read("l"):match("%d+%s+(%d+)"))
        uf:close()
        local w = isol.core.spawn { argv = { "/bin/true" }, supervise = true }; w:wait(); w:close()
        local fds0 = nfds()
        os.execute(NT .. " serve 10.78.0.9 8093 'hello outer' &")
        os.execute(NT .. " serve 127.0.0.1 8096 'hello loopback' 2 &")
        local box = isol.sandbox { namespaces = { "user", "net", "pid", "mount" }, user = { map_root = true },
          net = { outbound = HELPER }, ports = { "18094:8094/tcp", "18095:8095/udp", "18097:8097/tcp" } }
        print("EXPLAIN", (isol.recipe.explain(box.recipe, { "x" }):match("host loopback: [^\n]*")))
        local st, o, e = box:run({ "/bin/sh", "-c", NT .. " get 10.78.0.9 8093; " .. NT .. " refused " .. GW .. " 8096 1.5" },
          { capture = true })
        print("OUT", st and st.code, o, e)
        -- (one spawn: each has a network namespace and a helper of its own)
        local p = assert(box:spawn { "/bin/sh", "-c", NT .. " serve 0.0.0.0 8094 'hello forwarded' & " .. NT .. " echo 0.0.0.0 8097 & "
          .. NT .. " udp-echo 0.0.0.0 8095; wait" })
        -- from the outer loopback (pasta: its splice path), and from another
        -- address (pasta: its tap path; the client speaks first, see README)
        print("FWD", sh(NT .. " get 127.0.0.1 18094"))
        print("ECHO", sh(NT .. " send 10.78.0.9 18097 200000"))
        print("UDP", sh(NT .. " udp-ask 10.78.0.9 10.78.0.9 18095 ping"))
        print("WAIT", p:wait().code)
        box:close()
        -- host_loopback: the gateway reaches the caller's 127.0.0.1
        local box2 = isol.sandbox { namespaces = { "user", "net" }, user = { map_root = true },
          net = { outbound = HELPER, host_loopback = true } }
        st, o = box2:run({ "/bin/sh", "-c", NT .. " get " .. GW .. " 8096" }, { capture = true })
        print("LOOPBACK", st and st.code, o)
        box2:close()
        print("AFTER", procs("^" .. HELPER .. " ", isol.core.getpid()), nfds() - fds0,
          sh("find /tmp -maxdepth 1 -uid 0 -name 'isol-pasta-*' -o -maxdepth 1 -uid 0 -name 'isol-slirp-*' | wc -l"))
        sh(NT .. " get 127.0.0.1 8096")
      ]==], prefix)
      assert(ok, out)
      -- the outer side is the created user's, not root's
      assert.is_nil(out:match("UID\t0\n"), out)
      assert.truthy(out:find("EXPLAIN\thost loopback: not reachable (host_loopback = true opens it)", 1, true), out)
      assert.truthy(out:find("OUT\t0\thello outer\nrefused\n", 1, true), out)
      assert.truthy(out:find("FWD\thello forwarded", 1, true), out)
      local got, sent = out:match("ECHO\techo (%d+ %x+)\nsent (%d+ %x+)")
      assert.truthy(got and got == sent and got:match("^200000 "), out)
      assert.truthy(out:find("UDP\tudp:ping", 1, true), out)
      assert.truthy(out:find("WAIT\t0", 1, true), out)
      assert.truthy(out:find("LOOPBACK\t0\thello loopback", 1, true), out)
      assert.truthy(out:find("AFTER\t0\t0\t0", 1, true), out)
    end)

    it(helper .. ": goes with the sandbox when the supervising script is SIGKILLed", function()
      if not have(helper) then pending(helper .. " is not installed") return end
      local script, dir = victim("{ namespaces = { 'user', 'net' }, user = { map_root = true }, "
        .. "net = { outbound = '" .. helper .. "' } }")
      local out = in_fresh_net(TEMPLATE .. string.format(VICTIM .. [==[
        print("BEFORE", procs("^%s .*" .. box_pid))
        os.execute("kill -9 " .. lua_pid)
        local left, alive
        for _ = 1, 50 do
          -- (a zombie waiting for its new parent to reap it counts as gone)
          local st = io.open("/proc/" .. box_pid .. "/stat")
          local line = st and st:read("l")
          alive = line and not line:match("%%) Z ") and 1 or 0
          if st then st:close() end
          left = procs("^%s .*" .. box_pid)
          if left == 0 and alive == 0 then break end
          os.execute("sleep 0.1")
        end
        print("LEFT", left, alive)
        f:close()
      ]==], h.lua_bin, script, helper, helper), prefix)
      os.remove(script)
      os.remove(dir)
      assert.truthy(out:find("BEFORE\t1", 1, true), out)
      assert.truthy(out:find("LEFT\t0\t0", 1, true), out)
    end)
  end

  it("pasta without an interface to copy (only lo outside) fails with pasta's reason, and leaves nothing", function()
    if not have("pasta") then pending("pasta is not installed (Debian passt)") return end
    local out, ok = in_fresh_net([==[
      local w = isol.core.spawn { argv = { "/bin/true" }, supervise = true }; w:wait(); w:close()
      local fds0 = nfds()
      local st, msg = isol.run({ namespaces = { "user", "net" }, user = { map_root = true },
        net = { outbound = "pasta" } }, { "/bin/true" })
      print("RUN", st, msg)
      print("AFTER", procs("^pasta ", isol.core.getpid()), nfds() - fds0,
        sh("find /tmp -maxdepth 1 -uid 0 -name 'isol-pasta-*' | wc -l"))
    ]==], prefix)
    assert(ok, out)
    assert.truthy(out:find("RUN\tnil\tpasta did not configure the sandbox's network %(pid %d+%): External interface not usable\n"), out)
    assert.truthy(out:find("AFTER\t0\t0\t0", 1, true), out)
  end)
end)
