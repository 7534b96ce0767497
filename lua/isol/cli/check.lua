--- `isol check`: what this kernel and machine support.
local M = {
  summary = "show what this kernel supports (namespaces, userns, cgroups, loop devices)",
  usage = [[
usage: isol check

For each namespace kind, tries to create it (as the calling user) and says
whether it works; says whether unprivileged users may create user
namespaces, which cgroup version and controllers are mounted, and whether
loop devices can be set up. Exits 1 if a namespace kind cannot be created.]],
}

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function row(name, ok, detail)
  print(string.format("  %-26s %-4s %s", name, ok and "yes" or "no", detail or ""))
end

function M.run()
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
  end
  print("filesystem images:")
  local lc = io.open("/dev/loop-control")
  if lc then lc:close() end
  row("loop devices", lc ~= nil, lc and "/dev/loop-control" or "no /dev/loop-control (modprobe loop)")
  for _, fs in ipairs { "ext4", "ext2", "xfs", "btrfs" } do
    local found = false -- a PATH search, not a shell
    for dir in (os.getenv("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"):gmatch("[^:]+") do
      local f = io.open(dir .. "/mkfs." .. fs)
      if f then f:close(); found = true; break end
    end
    row("mkfs." .. fs, found, "")
  end
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
