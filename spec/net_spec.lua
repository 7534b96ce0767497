-- Networking: loopback up in a new net namespace, a veth to the caller's
-- namespace, shaping, the user-mode helper (slirp4netns) and port forwards.
--
-- Testing rule: traffic only flows inside network namespaces this spec makes.
-- Every scenario runs as a separate lua5.4 under `unshare --net` (its own,
-- fresh namespace, loopback brought up there), which plays "the host": the
-- veth's host end, the listener and slirp4netns all live in it. Listeners and
-- clients have short timeouts; nothing reaches an address outside.
-- (The scenarios embed shell and Python one-liners: long lines.)
-- luacheck: no max line length
local h = require "support.helpers"
local isol = require "isol"

local function have(cmd) return (h.sh("command -v " .. cmd .. " >/dev/null && echo y")) == "y\n" end
local PY = "/usr/bin/python3"

-- Run Lua source as "the host" in a fresh network namespace (root) or in a
-- fresh user+network namespace (`unshare -rn`, for the unprivileged path).
-- (procs: live processes whose command line matches a Lua pattern, read
-- from /proc: procps hangs under the ASan preload of `make asan-test`)
local PROCS = [[
local function procs(pattern, ppid)
  local n = 0
  for _, e in ipairs(isol.core.listdir("/proc") or {}) do
    local f = e:match("^%d+$") and io.open("/proc/" .. e .. "/cmdline")
    local cmd = f and f:read("a"):gsub("%z", " ")
    if f then f:close() end
    local s = cmd and io.open("/proc/" .. e .. "/stat")
    local st = s and s:read("l")
    if s then s:close() end
    local state, pp = st and st:match("%) (%a) (%d+)")
    if cmd and cmd:match(pattern) and state ~= "Z" and (not ppid or tonumber(pp) == ppid) then n = n + 1 end
  end
  return n
end
]]

local function in_fresh_net(src, how)
  local prefix = (how == "user" and "unshare -rn" or "unshare -n") .. " timeout 60"
  return h.lua("os.execute('ip link set lo up')\nlocal isol = require 'isol'\n" .. PROCS .. src, prefix)
end

-- A one-shot TCP server on the "host" side, in the background: sends `msg`
-- to the first client and exits (at most `secs` seconds).
local function server_src(addr, port, msg, secs)
  return string.format([[
os.execute(%q)
]], string.format("timeout %d %s -c \"import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('%s',%d));s.listen();c,_=s.accept();c.sendall(b'%s');c.close()\" >/dev/null 2>&1 & " ..
    "for i in $(seq 50); do ss -Hltn 'sport = :%d' | grep -q . && break; sleep 0.1; done",
    secs or 10, PY, addr, port, msg, port))
end

-- A script that makes a sandbox from `recipe` (Lua source), spawns a
-- sleeper in it, prints "<its own pid> <the sleeper's pid>" and waits: the
-- supervisor a spec SIGKILLs. Returns the script's path and its directory.
local function victim(recipe)
  local dir = h.sh("mktemp -d /tmp/isol-net-spec.XXXXXX"):gsub("%s+$", "")
  local script = dir .. "/victim.lua"
  local f = assert(io.open(script, "w"))
  f:write("package.path=", string.format("%q", h.root .. "/lua/?.lua;" .. h.root .. "/lua/?/init.lua;"), "..package.path\n",
    "package.cpath=", string.format("%q", (os.getenv("ISOL_CPATH") or (h.root .. "/build/?.so")) .. ";"), "..package.cpath\n",
    "local isol = require 'isol'\nlocal box = isol.sandbox ", recipe, "\n", [==[
    local p = assert(box:spawn { '/bin/sleep', '30' })
    io.stdout:write(isol.core.getpid(), ' ', p:pid(), '\n'); io.stdout:flush()
    os.execute('sleep 30')
  ]==])
  f:close()
  return script, dir
end

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
    local out = in_fresh_net(server_src("0.0.0.0", 8081, "hello host", 10) .. [==[
      local box <close> = isol.sandbox { namespaces = { "net", "pid", "mount" },
        net = { veth = { host = "isolspec0", address = "10.88.0.2/24", host_address = "10.88.0.1/24", gateway = true } } }
      local st, o = box:run({ "/bin/bash", "-c", "ip route | grep -c 'default via 10.88.0.1'; exec 3<>/dev/tcp/10.88.0.1/8081 && cat <&3" },
        { capture = true })
      print("OUT", st.code, o)
      -- and the other way: a server inside, the host connects to 10.88.0.2
      local p = assert(box:spawn { ]==] .. string.format("%q", PY) .. [==[, "-c",
        "import socket;s=socket.socket();s.bind(('0.0.0.0',8082));s.listen();c,_=s.accept();c.sendall(b'hello sandbox');c.close()" })
      os.execute("sleep 0.5")
      local f = io.popen([[timeout 5 ]==] .. PY .. [==[ -c "import socket;print(socket.create_connection(('10.88.0.2',8082),timeout=3).recv(64).decode())"]])
      print("IN", f:read("a"))
      f:close()
      print("WAIT", p:wait().code)
      box:close()
      local l = io.popen("ip -o link show isolspec0 2>&1"); print("AFTER", l:read("a")); l:close()
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

  it("outbound = slirp4netns reaches a listener on the outer side, and a port forward reaches a server inside", function()
    if not have("slirp4netns") then pending("slirp4netns is not installed (Debian slirp4netns)") return end
    local out = in_fresh_net(server_src("127.0.0.1", 8083, "hello slirp", 10) .. [==[
      local uid, gid = isol.core.ids()
      local box <close> = isol.sandbox { namespaces = { "user", "net", "pid", "mount" }, user = { map_root = true },
        net = { outbound = "slirp4netns" }, ports = { "18084:8084/tcp" } }
      local st, o = box:run({ "/bin/bash", "-c", "exec 3<>/dev/tcp/10.0.2.2/8083 && cat <&3" }, { capture = true })
      print("OUT", st and st.code, o)
      local p = assert(box:spawn { ]==] .. string.format("%q", PY) .. [==[, "-c",
        "import socket;s=socket.socket();s.bind(('0.0.0.0',8084));s.listen();c,_=s.accept();c.sendall(b'hello forwarded');c.close()" })
      os.execute("sleep 0.5")
      local f = io.popen([[timeout 5 ]==] .. PY .. [==[ -c "import socket;print(socket.create_connection(('127.0.0.1',18084),timeout=3).recv(64).decode())"]])
      print("FWD", f:read("a")); f:close()
      print("WAIT", p:wait().code)
      box:close()
      print("HELPERS", procs("^slirp4netns ", isol.core.getpid()))
    ]==], "user")
    assert.truthy(out:find("OUT\t0\thello slirp", 1, true), out)
    assert.truthy(out:find("FWD\thello forwarded", 1, true), out)
    assert.truthy(out:find("HELPERS\t0", 1, true), out)
  end)

  it("the helper goes when the supervising script is SIGKILLed", function()
    local script, dir = victim("{ namespaces = { 'user', 'net' }, user = { map_root = true }, "
      .. "net = { outbound = 'slirp4netns' } }")
    local out = in_fresh_net(string.format([==[
      local f = io.popen("%s %s")
      local line = f:read("l")
      local lua_pid, box_pid = line:match("(%%d+) (%%d+)")
      os.execute("kill -9 " .. lua_pid)
      os.execute("sleep 1.5")
      -- (a zombie waiting for its new parent to reap it counts as gone)
      local st = io.open("/proc/" .. box_pid .. "/stat")
      local alive = st and not st:read("l"):match("%%) Z ") and 1 or 0
      if st then st:close() end
      print("LEFT", procs("^slirp4netns .* " .. box_pid .. " tap0 $") .. " " .. alive .. " ")
      f:close()
    ]==], h.lua_bin, script), "user")
    os.remove(script)
    os.remove(dir)
    assert.truthy(out:find("LEFT\t0 0", 1, true), out)
  end)

  it("the veth and its qdisc go when the supervising script is SIGKILLed", function()
    local script, dir = victim("{ namespaces = { 'net', 'pid' }, net = { veth = { host = 'isolspec9', "
      .. "address = '10.91.0.2/24', host_address = '10.91.0.1/24' } }, limits = { net = { rate = '1mbit' } } }")
    local out = in_fresh_net(string.format([==[
      local f = io.popen("%s %s")
      local line = f:read("l")
      local lua_pid, box_pid = line:match("(%%d+) (%%d+)")
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

  it("bad fields name the field and the value", function()
    local function err(r)
      local ok, e = pcall(isol.sandbox, r)
      assert.is_false(ok)
      return e
    end
    assert.truthy(err { net = {} }:find('net: needs the "net" namespace', 1, true))
    assert.truthy(err { namespaces = { "net" }, net = { veth = { host = "a/b" } } }:find("net.veth.host: expected an interface name", 1, true))
    assert.truthy(err { namespaces = { "net" }, net = { veth = { address = "10.0.0.300/24" } } }:find("net.veth.address", 1, true))
    assert.truthy(err { namespaces = { "net" }, net = { veth = { address = "10.0.0.3/24\0" } } }:find("net.veth.address", 1, true))
    assert.truthy(err { namespaces = { "net" }, net = { outbound = "pasta!" } }:find('net.outbound: expected "slirp4netns", got "pasta!"', 1, true))
    assert.truthy(err { namespaces = { "net" }, ports = { "80" } }:find('ports[1]: expected "HOST:INSIDE', 1, true))
    assert.truthy(err { namespaces = { "net" }, ports = { "8080:80" } }:find("ports: needs net.outbound", 1, true))
    assert.truthy(err { namespaces = { "net" }, limits = { net = { rate = "fast" } } }:find('limits.net.rate: expected a rate like "10mbit"', 1, true))
    assert.truthy(err { namespaces = { "net" }, limits = { net = { rate = "1mbit" } } }:find("limits.net: shaping applies to a veth", 1, true))
    assert.truthy(err { namespaces = { "net" }, limits = { net = { loss = "200%" } } }:find("limits.net.loss", 1, true))
  end)
end)
