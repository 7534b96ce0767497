--- The `net` and `ports` recipe fields, the parsers of `limits.net`
-- (shaping) and the explain lines of the network: the part of isol.net
-- that a sandbox without networking never runs. Loaded the first time a
-- recipe uses `net` or `ports` (isol.net declares them with recipe.lazy, so
-- they keep their place in the validation order), when `limits.net` is
-- checked, or for explain; its functions are also reached as
-- `isol.net.parse_rate` and so on. The fields are described in isol.net.
-- @module isol.net_fields
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

return M
