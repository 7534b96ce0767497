--- Networking of a sandbox: the `net` and `ports` recipe fields, and
-- `limits.net` (shaping), turned into the core's `plan.net`.
--
-- A new network namespace ("net" in `namespaces`) gets its loopback
-- interface up by default (`net = { loopback = false }` keeps it down), so
-- programs that talk to themselves over 127.0.0.1 work. Beyond that:
--
--   net = { veth = { host = "isol0", address = "10.88.0.2/24",
--                    host_address = "10.88.0.1/24", gateway = true } }
--     a veth pair (needs CAP_NET_ADMIN on the host, i.e. root): the host end
--     in the caller's namespace, `eth0` inside; removed with the sandbox (the
--     kernel deletes a pair with the namespace of its peer).
--   net = { outbound = "slirp4netns" | "pasta", host_loopback = false }
--     outbound TCP/UDP for ordinary users through a user-mode network stack,
--     started before the command runs, stopped with the sandbox (and killed
--     if the caller dies):
--     slirp4netns (Debian `slirp4netns`): the sandbox sees 10.0.2.100/24,
--     gateway 10.0.2.2;
--     pasta (Debian `passt`): the sandbox sees the address, gateway and
--     interface name of the caller's interface with the default route (pasta
--     copies them; without such an interface it refuses to start).
--     host_loopback = true lets the gateway reach the caller's 127.0.0.1
--     (off by default, as in podman: services bound to the host's loopback
--     stay out of reach).
--   ports = { "8080:80/tcp", "5353:53/udp" }
--     host port 8080 forwarded to port 80 inside: by the helper with
--     outbound (slirp4netns's API, pasta's -t/-u), or with a veth by a relay
--     process of the C core (csrc/relay.c: no nftables, no iptables) from the
--     caller's namespace to net.veth.address; it needs net.veth.address and
--     host_address (the caller's route to it).
--   limits = { net = { rate = "10mbit", delay = "20ms", loss = "1%" } }
--     shaping on both ends of the veth: rate alone uses a token bucket
--     (tbf); delay and loss need the kernel's netem qdisc.
--
-- Everything is done over rtnetlink by the C core (csrc/net.c): no `ip`, no
-- `tc`. @module isol.net
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}
local fail, show = util.fail, util.show

local function check_ifname(v, path)
  util.check_type(path, v, "string")
  if #v == 0 or #v > 15 or v:find("[%z/:%s]") or v == "." or v == ".." then
    fail(path, "expected an interface name (1-15 characters, no '/', ':' or spaces), got %s", show(v))
  end
  return v
end

local function check_addr(v, path)
  util.check_type(path, v, "string")
  local a, p = v:match("^([^/]+)/?(%d*)$")
  local ok = false
  if a and a:find(":", 1, true) then
    ok = a:match("^[%x:%.]+$") ~= nil
  elseif a then
    local o = { a:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
    ok = #o == 4
    for _, x in ipairs(o) do if tonumber(x) > 255 then ok = false end end
  end
  if ok and p ~= "" then
    local n = tonumber(p)
    ok = n and n <= (a:find(":", 1, true) and 128 or 32)
  end
  if not ok then fail(path, 'expected an address like "10.88.0.2/24", got %s', show(v)) end
  return v
end

local UNITS = { bit = 1 / 8, kbit = 1000 / 8, mbit = 1e6 / 8, gbit = 1e9 / 8,
  bps = 1, kbps = 1000, mbps = 1e6, gbps = 1e9 }

--- "10mbit" (bits per second, tc's units: bit, kbit, mbit, gbit; or bytes:
-- bps, kbps, mbps, gbps) -> bytes per second.
function M.parse_rate(v, path)
  local n, u
  if math.type(v) == "integer" then n, u = v, "bps"
  elseif type(v) == "string" then
    n, u = v:lower():match("^(%d+%.?%d*)%s*(%a+)$")
    n = tonumber(n)
  end
  local f = u and UNITS[u]
  if not n or not f or n * f < 1 or n * f > 2 ^ 53 then
    fail(path, 'expected a rate like "10mbit" (bit, kbit, mbit, gbit, or bps, kbps, mbps, gbps), got %s', show(v))
  end
  return math.floor(n * f)
end

--- "20ms" / "1s" / "500us" -> nanoseconds.
function M.parse_delay(v, path)
  local n, u
  if type(v) == "string" then
    n, u = v:match("^(%d+%.?%d*)%s*(%a+)$")
    n = tonumber(n)
  end
  local f = ({ us = 1e3, ms = 1e6, s = 1e9 })[u or ""]
  if not n or not f or n * f > 3600e9 then fail(path, 'expected a delay like "20ms" (us, ms, s), got %s', show(v)) end
  return math.floor(n * f)
end

--- "1%" or a number in 0..1 -> probability.
function M.parse_loss(v, path)
  local x
  if type(v) == "number" then x = v
  elseif type(v) == "string" and v:match("^%d+%.?%d*%%$") then x = tonumber(v:sub(1, -2)) / 100 end
  if not x or x ~= x or x < 0 or x > 1 then
    fail(path, 'expected a loss like "1%%" or a number in 0..1, got %s', show(v))
  end
  return x
end

--- Validate `limits.net` = { rate =, delay =, loss = } (called by the limits check).
function M.check_shaping(v, path)
  util.check_type(path, v, "table")
  util.check_keys(path, v, { rate = true, delay = true, loss = true })
  local out = {}
  if v.rate ~= nil then out.rate = M.parse_rate(v.rate, path .. ".rate") end
  if v.delay ~= nil then out.delay_ns = M.parse_delay(v.delay, path .. ".delay") end
  if v.loss ~= nil then out.loss = M.parse_loss(v.loss, path .. ".loss") end
  return out
end

local function parse_port(s, path)
  util.check_type(path, s, "string")
  local h, i, proto = s:match("^(%d+):(%d+)/?(%a*)$")
  h, i = tonumber(h), tonumber(i)
  proto = proto == "" and "tcp" or proto
  if not h or h < 1 or h > 65535 or i < 1 or i > 65535 or (proto ~= "tcp" and proto ~= "udp") then
    fail(path, 'expected "HOST:INSIDE[/tcp|udp]" with ports in 1..65535, got %s', show(s))
  end
  return { host = h, inside = i, proto = proto }
end

recipe.define("net", {
  doc = 'network of a new "net" namespace: {loopback=true, veth={host=, name=, address=, host_address=, '
    .. 'gateway=}, outbound="slirp4netns"|"pasta", host_loopback=false}',
  check = function(v, path, r)
    util.check_type(path, v, "table")
    util.check_keys(path, v, { loopback = true, veth = true, outbound = true, host_loopback = true })
    if not recipe.has_ns(r, "net") then
      fail(path, 'needs the "net" namespace (add "net" to namespaces)')
    end
    local out = {}
    if v.loopback ~= nil then out.loopback = util.check_type(path .. ".loopback", v.loopback, "boolean") end
    if v.veth ~= nil then
      local p, e = path .. ".veth", v.veth
      util.check_type(p, e, "table")
      util.check_keys(p, e, { host = true, name = true, address = true, host_address = true, gateway = true })
      out.veth = {
        host = e.host ~= nil and check_ifname(e.host, p .. ".host") or nil,
        name = e.name ~= nil and check_ifname(e.name, p .. ".name") or nil,
        address = e.address ~= nil and check_addr(e.address, p .. ".address") or nil,
        host_address = e.host_address ~= nil and check_addr(e.host_address, p .. ".host_address") or nil,
      }
      if e.gateway ~= nil then out.veth.gateway = util.check_type(p .. ".gateway", e.gateway, "boolean") end
      if out.veth.gateway and not out.veth.host_address then
        fail(p .. ".gateway", "needs host_address (the gateway inside is the host end)")
      end
    end
    if v.outbound ~= nil then
      if v.outbound ~= "slirp4netns" and v.outbound ~= "pasta" then
        fail(path .. ".outbound", 'expected "slirp4netns" or "pasta", got %s', show(v.outbound))
      end
      out.outbound = v.outbound
    end
    if v.host_loopback ~= nil then
      out.host_loopback = util.check_type(path .. ".host_loopback", v.host_loopback, "boolean")
      if not out.outbound then fail(path .. ".host_loopback", "applies to net.outbound (the helper's gateway)") end
    end
    return out
  end,
})

recipe.define("ports", {
  doc = 'host ports forwarded into the sandbox: {"8080:80/tcp", ...} (with net.outbound, or net.veth: a relay)',
  check = function(v, path)
    util.check_type(path, v, "table")
    if not util.is_list(v) then fail(path, 'expected a list like {"8080:80/tcp"}') end
    if #v > 64 then fail(path, "at most 64 forwards, got %d", #v) end
    local out, seen = {}, {}
    for i, s in ipairs(v) do
      local p = string.format("%s[%d]", path, i)
      out[i] = parse_port(s, p)
      local key = out[i].host .. "/" .. out[i].proto
      if seen[key] then fail(p, "host port %s is already forwarded by %s[%d]", key, path, seen[key]) end
      seen[key] = i
    end
    return out
  end,
})

local counter = 0

--- A host-side veth name unique to this process: "iv<pid>-<n>" (at most 15).
function M.host_name()
  counter = counter + 1
  return string.format("iv%d-%d", core.getpid and core.getpid() or 0, counter):sub(1, 15)
end

-- Whole-recipe check: the parts of networking that depend on each other.
recipe.post_check(function(r)
  local n, shaping = r.net, r.limits and r.limits.net
  if r.ports and #r.ports > 0 then
    if n and n.veth then
      for _, k in ipairs { "address", "host_address" } do
        if not n.veth[k] then
          fail("ports", "a forward into the veth needs net.veth.%s (the relay connects from the host end to "
            .. "the sandbox's address)", k)
        end
      end
    elseif not (n and n.outbound) then
      fail("ports", 'needs net.outbound ("slirp4netns" or "pasta") or net.veth (root: a relay to its address)')
    end
  end
  if shaping and next(shaping) and not (n and n.veth) then
    fail("limits.net", "shaping applies to a veth: needs net.veth")
  end
  if n and n.veth and n.outbound then fail("net", "choose one of veth and outbound") end
end)

--- The core's plan.net for a validated recipe (nil: no new net namespace).
function M.plan(r, plan)
  if not recipe.has_ns(r, "net") then return end
  local n, out = r.net or {}, {}
  out.loopback = n.loopback ~= false
  if n.veth then
    out.veth_host = n.veth.host or M.host_name()
    out.veth_peer = n.veth.name
    out.address, out.host_address, out.gateway = n.veth.address, n.veth.host_address, n.veth.gateway
    local s = r.limits and r.limits.net
    if s then out.rate, out.delay_ns, out.loss = s.rate, s.delay_ns, s.loss end
  end
  if n.outbound then out.outbound, out.host_loopback = n.outbound, n.host_loopback end
  if r.ports then
    out.ports = {}
    for i, p in ipairs(r.ports) do out.ports[i] = { proto = p.proto, host = p.host, inside = p.inside } end
  end
  plan.net = out
end

--- Lines for explain.
function M.explain_lines(r)
  if not recipe.has_ns(r, "net") then return {} end
  local n, l = r.net or {}, {}
  l[#l + 1] = "network: new namespace, loopback " .. (n.loopback == false and "down" or "up")
  if n.veth then
    l[#l + 1] = string.format("  veth: %s (host, %s) <-> %s (inside, %s)%s", n.veth.host or "iv<pid>-<n>",
      n.veth.host_address or "no address", n.veth.name or "eth0", n.veth.address or "no address",
      n.veth.gateway and ", default route via the host end" or "")
  end
  if n.outbound == "slirp4netns" then
    l[#l + 1] = "  outbound: slirp4netns (10.0.2.100/24, gateway 10.0.2.2)"
  elseif n.outbound == "pasta" then
    l[#l + 1] = "  outbound: pasta (the address, gateway and name of the host's interface with the default route)"
  end
  if n.outbound then
    l[#l + 1] = "  host loopback: " .. (n.host_loopback and "reachable through the gateway (host_loopback)"
      or "not reachable (host_loopback = true opens it)")
  end
  local via = n.outbound or (n.veth and string.format("a relay to %s", (n.veth.address or "?"):gsub("/%d+$", "")))
  for _, p in ipairs(r.ports or {}) do
    l[#l + 1] = string.format("  port: host %d -> inside %d/%s (%s)", p.host, p.inside, p.proto, via or "?")
  end
  local s = r.limits and r.limits.net
  if s and next(s) then
    l[#l + 1] = string.format("  shaping on both veth ends: rate %s B/s, delay %s ns, loss %s",
      tostring(s.rate or "-"), tostring(s.delay_ns or "-"), tostring(s.loss or "-"))
  end
  return l
end

--- plan step: the network part of every spawn's plan (the veth host ends
-- it makes are recorded to be removed on close: the kernel removes a pair
-- with its namespace, but a namespace can outlive the command a little, or
-- be held by a leftover process).
function M.plan_step(box, plan, ctx)
  M.plan(box.recipe, plan)
  local n = plan.net
  if n and n.outbound and ctx and ctx.detach then
    return nil, "net.outbound: not available for detached sandboxes yet (the helper lives with the caller)",
      core.errno.ENOTSUP
  end
  if n and n.ports and #n.ports > 0 and ctx and ctx.detach then
    return nil, "ports: not available for detached sandboxes yet (the relay lives with the caller)",
      core.errno.ENOTSUP
  end
  -- A fixed host name serves one process at a time: the link this box made
  -- for an earlier spawn goes before the next one is made (the kernel
  -- removes it with the old namespace, but not synchronously).
  if n and n.veth_host and box.veths and box.veths[n.veth_host] then core.net_link_del(n.veth_host) end
  if n and n.veth_host then
    box.veths = box.veths or {}
    box.veths[n.veth_host] = true
  end
  return true
end

--- close step: remove the veth host ends this box made.
function M.close_step(box)
  for name in pairs(box.veths or {}) do core.net_link_del(name) end
  box.veths = nil
  return true
end

recipe.describe({ "net", "ports" }, M.explain_lines)

return M
