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
  local v1, v2 = {}, nil
  for line in (read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp, fstype, opts = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) %S+ (%S+)")
    if fstype == "cgroup2" then v2 = mp
    elseif fstype == "cgroup" then
      for o in opts:gmatch("[^,]+") do
        local generic = { relatime = 1, nosuid = 1, nodev = 1, noexec = 1, ro = 1, rw = 1 }
        if not generic[o] and not o:match("=") then
          v1[#v1 + 1] = o
        end
      end
    end
  end
  table.sort(v1)
  local v2ctl = v2 and (read(v2 .. "/cgroup.controllers") or ""):gsub("\n", "") or ""
  local version = (#v1 > 0 and v2) and "hybrid (v1 controllers + v2)" or (#v1 > 0 and "v1") or (v2 and "v2") or "none"
  row("version", version ~= "none", version)
  row("v1 controllers", #v1 > 0, table.concat(v1, " "))
  row("v2 hierarchy", v2 ~= nil, v2 and (v2 .. " controllers: " .. (v2ctl ~= "" and v2ctl or "(none)")) or "")
  print("filesystem images:")
  local lc = io.open("/dev/loop-control")
  if lc then lc:close() end
  row("loop devices", lc ~= nil, lc and "/dev/loop-control" or "no /dev/loop-control (modprobe loop)")
  for _, fs in ipairs { "ext4", "ext2", "xfs", "btrfs" } do
    local found = os.execute("command -v mkfs." .. fs .. " >/dev/null 2>&1")
    row("mkfs." .. fs, found, "")
  end
  return failed == 0 and 0 or 1
end

return M
