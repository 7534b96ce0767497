--- `isol check`: what this kernel and machine support.
local M = {
  summary = "show what this kernel supports (namespaces, userns, cgroups, loop devices)",
  usage = [[
usage: isol check

For each namespace kind, tries to create it (as the calling user) and says
whether it works; says whether unprivileged users may create user
namespaces, which cgroup version and controllers are mounted, in which
cgroups you may create groups (limits without root need a delegated one),
and whether loop devices can be set up. Exits 1 if a namespace kind cannot be created.]],
}

local read = require("isol.util").read_file

local function row(name, ok, detail)
  print(string.format("  %-26s %-4s %s", name, ok and "yes" or "no", detail or ""))
end

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- The caller's own cgroup directory in each hierarchy, and whether the
-- caller may create groups there: "cgroups writable by you" (per v1
-- hierarchy; the own subtree on v2). Limits without root need one.
function M.writable_rows(v1, v2, uid)
  local own = {}
  for line in (read("/proc/self/cgroup") or ""):gmatch("[^\n]+") do
    local ctl, path = line:match("^%d+:([^:]*):(.*)$")
    if ctl then own[ctl] = path end
  end
  local mounts = {}
  for line in (read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp, fstype, opts = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) %S+ (%S+)")
    if fstype == "cgroup" then
      for o in opts:gmatch("[^,]+") do mounts[o] = mp end
    end
  end
  print("cgroups writable by you (limits without root need them):")
  local function probe(label, dir)
    local ok = os.execute("test -w " .. shq(dir) .. " -a -w " .. shq(dir .. "/cgroup.procs"))
    local detail = dir
    if not ok and uid ~= 0 then
      detail = dir .. ": not yours (limits need root or a delegated cgroup: README \"Without root\")"
    end
    row(label, ok, detail)
  end
  local seen = {}
  for _, c in ipairs(v1) do
    local mp = mounts[c]
    local key = mp
    if mp and not seen[key] then
      seen[key] = true
      local ctls = {}
      for ctl, path in pairs(own) do
        for part in ctl:gmatch("[^,]+") do if part == c then ctls[#ctls + 1] = path end end
      end
      local path = ctls[1] or "/"
      probe("v1 " .. mp:match("[^/]*$"), mp .. (path == "/" and "" or path))
    end
  end
  if v2 and own[""] then
    probe(#v1 > 0 and "v2 (unified, no limits)" or "v2 subtree", v2 .. (own[""] == "/" and "" or own[""]))
  end
end

function M.run(args)
  if args and args[1] then
    return require("isol.cli").die("check: takes no arguments, got " .. args[1] .. " (see `isol check --help`)", 2)
  end
  local isol = require "isol"
  local core = isol.core
  local uid = core.ids()
  local failed = 0
  print("namespaces (creating each as uid " .. uid .. "):")
  for _, k in ipairs(core.ns_kinds()) do
    local r = { namespaces = { k.name } }
    if uid ~= 0 and k.name ~= "user" then r.namespaces[2] = "user"; r.user = { map_root = true } end
    local st, msg = isol.run(r, { "/bin/true" })
    if not (st and st.code == 0) then failed = failed + 1 end
    row(k.name, st and st.code == 0, st and "" or msg)
  end
  print("user namespaces for unprivileged users:")
  local max = read("/proc/sys/user/max_user_namespaces")
  local clone = read("/proc/sys/kernel/unprivileged_userns_clone")
  local apparmor = read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
  local allowed = tonumber(max or "0") > 0 and (not clone or clone:match("1")) and (not apparmor or apparmor:match("0"))
  row("unprivileged userns", allowed, string.format("max_user_namespaces=%s%s%s", (max or "?"):gsub("\n", ""),
    clone and (" unprivileged_userns_clone=" .. clone:gsub("\n", "")) or "",
    apparmor and (" apparmor_restrict=" .. apparmor:gsub("\n", "")) or ""))
  print("cgroups:")
  -- The core's layout (csrc/cgroup.c) is the one detector of the version.
  local lay, msg = core.cgroup_layout()
  if not lay then
    row("version", false, "cannot read the cgroup layout: " .. tostring(msg))
  else
    local names = { v1 = "v1", v2 = "v2", hybrid = "hybrid (v1 controllers + v2)", none = "none" }
    local v1, v2 = {}, nil
    for _, h in ipairs(lay.hierarchies) do
      if h.version == 1 then
        for _, c in ipairs(h.controllers) do v1[#v1 + 1] = c end
      else
        v2 = h
      end
    end
    table.sort(v1)
    row("version", lay.mode ~= "none", names[lay.mode] or lay.mode)
    row("v1 controllers", #v1 > 0, table.concat(v1, " "))
    row("v2 hierarchy", v2 ~= nil, v2 and (v2.mount .. " controllers: "
      .. (#v2.controllers > 0 and table.concat(v2.controllers, " ") or "(none)")) or "")
    M.writable_rows(v1, v2 and v2.mount, uid)
  end
  print("filesystem images:")
  local lc = io.open("/dev/loop-control")
  if lc then lc:close() end
  local exists = lc or os.execute("test -e /dev/loop-control")
  row("loop devices", lc ~= nil, lc and "/dev/loop-control"
    or exists and "/dev/loop-control not accessible to you (root only): images mount as root"
    or "no /dev/loop-control (modprobe loop)")
  for _, fs in ipairs { "ext4", "ext2", "xfs", "btrfs" } do
    local found = false -- a PATH search, not a shell
    for dir in (os.getenv("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"):gmatch("[^:]+") do
      local f = io.open(dir .. "/mkfs." .. fs)
      if f then f:close(); found = true; break end
    end
    row("mkfs." .. fs, found, "")
  end
  -- networking: what net = {...} can use here
  print("network:")
  local function on_path(name)
    for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
      if isol.core.lstat(dir .. "/" .. name) then return dir .. "/" .. name end
    end
  end
  local privileged = isol.core.ns_privileged()
  row("veth (net.veth)", privileged, privileged and "you may create veth pairs here (CAP_NET_ADMIN)"
    or "needs root (CAP_NET_ADMIN in the host's network namespace): use net.outbound")
  -- the user-mode helpers open /dev/net/tun inside the sandbox's user
  -- namespace, where only its mode bits count for an ordinary user (opening
  -- it creates nothing until a TUNSETIFF)
  local tun = io.open("/dev/net/tun", "r+")
  if tun then tun:close() end
  row("/dev/net/tun", tun ~= nil, tun and "readable and writable by you (the helpers' tap device)"
    or isol.core.lstat("/dev/net/tun") and "not readable and writable by you: net.outbound fails (the helpers "
      .. "open it as you; Debian's udev makes it 0666)"
    or "missing (modprobe tun)")
  local tun_note = tun and "" or " (but see /dev/net/tun)"
  local slirp = on_path("slirp4netns")
  row("slirp4netns (net.outbound)", slirp ~= nil and tun ~= nil,
    slirp and slirp .. tun_note or "not installed (Debian slirp4netns)")
  -- pasta copies the address and routes of the interface with the default route
  local default = false
  for line in (read("/proc/net/route") or ""):gmatch("[^\n]+") do
    if line:match("^%S+%s+00000000%s") then default = true end
  end
  for line in (read("/proc/net/ipv6_route") or ""):gmatch("[^\n]+") do
    if line:match("^0+ 00 ") and not line:match(" lo$") then default = true end
  end
  local pasta = on_path("pasta")
  row("pasta (net.outbound)", pasta ~= nil and tun ~= nil and default,
    not pasta and "not installed (Debian passt)"
    or not default and pasta .. ": no interface with a default route here (pasta copies its address and route)"
    or pasta .. tun_note)
  -- policy: syscall filters, Landlock, resource limits
  print("policy:")
  local scv, scok = core.seccomp_version()
  row("seccomp filters", scok, "libseccomp " .. scv .. (scok and "" or " (kernel lacks SECCOMP_SET_MODE_FILTER)"))
  local abi, llmsg = core.landlock_abi()
  row("landlock", abi ~= nil, abi and string.format("ABI %d%s", abi, abi < 4 and " (no TCP rules: ABI 4)" or "")
    or llmsg)
  local lim = read("/proc/self/limits")
  row("rlimits (prlimit)", lim ~= nil, lim and "nofile nproc core cpu as fsize stack memlock msgqueue nice rtprio"
    or "no /proc/self/limits")
  return failed == 0 and 0 or 1
end

return M
