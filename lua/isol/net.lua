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
-- `tc`.
--
-- This module holds what every sandbox runs (the plan, the whole-recipe
-- check, the veth clean-up); the fields' checks, the shaping parsers and
-- the explain lines are in isol.net_fields, loaded the first time a recipe
-- uses `net`, `ports` or `limits.net` (a plain `isol run` never loads it).
-- `isol.net.parse_rate` and the others stay reachable here. @module isol.net
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}
local fail = util.fail

-- Declared here, defined by isol.net_fields: they keep their place in the
-- validation order (and in the list of known fields).
recipe.lazy("net", "isol.net_fields")
recipe.lazy("ports", "isol.net_fields")

-- isol.net_fields' functions, reached through this module as before.
local COLD = { parse_rate = true, parse_delay = true, parse_loss = true, check_shaping = true, explain_lines = true }
setmetatable(M, { __index = function(_, k) return COLD[k] and require("isol.net_fields")[k] or nil end })

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

-- (the lines come from isol.net_fields: loaded for explain only)
recipe.describe({ "net", "ports" }, function(...) return require("isol.net_fields").explain_lines(...) end)

return M
