--- Recipes as OCI bundles: `isol.oci.export(recipe, dir, opts)` writes an OCI
-- runtime-spec 1.x bundle (`config.json` and a `rootfs` directory) that runc
-- or crun run unchanged, and through them containerd, Kubernetes, Nomad or
-- Podman.
--
-- What maps: namespaces, uid/gid maps, hostname, the environment, cwd, every
-- mount (a `host_readonly` root becomes read-only bind mounts of the host's
-- directories over an empty rootfs, not copies; `root.dir` is used in place),
-- propagation (the rootfs propagation), capabilities (the five sets),
-- no_new_privs, seccomp (OCI's JSON of the same rules), rlimits, the
-- `limits` vocabulary (to `linux.resources`: cpu shares/quota/cpuset, memory
-- with swap and swappiness, pids, blockIO, devices with the runtime's
-- default list made explicit in linux.devices so that a deny really
-- denies), and /proc's masked and read-only paths (core.proc_hardening:
-- isol's own C lists).
--
-- What has no OCI equivalent is an error naming the field (images, with what
-- to do instead: mount it read-only and use the directory; chroot mode, time
-- namespaces and offsets, raw cgroup files, overlay mounts whose directories
-- are host paths a runtime resolves differently, Landlock, timeout) unless
-- `opts.lossy`, which lists each dropped item in the returned warnings.
-- isol's own process model (its init as PID 1, die-with-parent, a new
-- session) is the runtime's business under OCI: always listed, never an
-- error. @module isol.oci
local cjson = require "cjson"
local core = require "isol.core"
local recipe = require "isol.recipe"
local security = require "isol.security"
local util = require "isol.util"

local M = {}
local OCI_VERSION = "1.0.2"

local function array(t) return t or {} end

-- lua-cjson (Debian's 2.1) writes an empty table as {}; OCI wants a list or
-- nothing, and no field of the spec needs an empty list or object: drop them.
local function prune(t)
  for k, v in pairs(t) do
    if type(v) == "table" then
      prune(v)
      if next(v) == nil then t[k] = nil end
    end
  end
  return t
end

local NS = { mount = "mount", uts = "uts", ipc = "ipc", net = "network", pid = "pid", user = "user",
  cgroup = "cgroup" }

local function exists(path) return core.lstat(path) ~= nil end

-- ---------------------------------------------------------------- mounts

local function bind_options(m)
  local o = array { m.recursive == false and "bind" or "rbind" }
  o[#o + 1] = m.readonly and "ro" or "rw"
  if m.nosuid then o[#o + 1] = "nosuid" end
  if m.nodev then o[#o + 1] = "nodev" end
  if m.noexec then o[#o + 1] = "noexec" end
  return o
end

-- The backing file of an isol.Image, for messages ("FILE" if unknown).
local function image_file(img)
  local ok, path = pcall(function() return img:path() end)
  return ok and type(path) == "string" and path or "FILE"
end

local function mode_str(m) return m and string.format("mode=%o", m) or nil end

-- One isol mount entry -> OCI mounts appended to `out`; rootfs-only ops
-- (dir, symlink) are recorded in `files` and made in the rootfs instead.
local function map_mount(m, path, out, files, ctx)
  local t = m.type
  local function add(x) out[#out + 1] = x end
  if t == "bind" then
    if m.optional and not exists(m.source) then return end
    add { destination = m.target, type = "bind", source = m.source, options = bind_options(m) }
  elseif t == "tmpfs" then
    local o = array { "nosuid", "nodev" }
    if m.nosuid == false then o = array { "nodev" } end
    if m.size then o[#o + 1] = "size=" .. tostring(m.size) end
    if m.mode then o[#o + 1] = mode_str(m.mode) end
    if m.readonly then o[#o + 1] = "ro" end
    add { destination = m.target, type = "tmpfs", source = "tmpfs", options = o }
  elseif t == "proc" then
    add { destination = m.target, type = "proc", source = "proc", options = array { "nosuid", "noexec", "nodev" } }
    if m.unmasked then ctx.proc_unmasked = true end
  elseif t == "sysfs" then
    add { destination = m.target, type = "sysfs", source = "sysfs",
      options = array { "nosuid", "noexec", "nodev", "ro" } }
  elseif t == "dev" then
    -- the runtime fills a tmpfs /dev with its default devices (null, zero,
    -- full, random, urandom, tty) and /dev/ptmx; isol's dev adds pts and shm
    add { destination = m.target, type = "tmpfs", source = "tmpfs",
      options = array { "nosuid", "strictatime", "mode=755", "size=65536k" } }
    add { destination = m.target .. "/pts", type = "devpts", source = "devpts",
      options = array { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } }
    add { destination = m.target .. "/shm", type = "tmpfs", source = "shm",
      options = array { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } }
  elseif t == "mqueue" then
    add { destination = m.target, type = "mqueue", source = "mqueue", options = array { "nosuid", "noexec", "nodev" } }
  elseif t == "dir" then
    files[#files + 1] = { kind = "dir", target = m.target, mode = m.mode }
  elseif t == "symlink" then
    files[#files + 1] = { kind = "symlink", target = m.target, source = m.source }
  elseif t == "remount" then
    ctx.lossy(path, "a remount of an earlier mount has no OCI equivalent (set the attributes on the mount itself)")
  elseif t == "image" then
    ctx.lossy(path, string.format("an image mount has no OCI equivalent (a runtime cannot attach a loop device): "
      .. "mount the image read-only first (mount -o loop,ro %s DIR, or img:mount(DIR, {readonly = true, host = true})) "
      .. "and use { type = \"bind\", source = DIR, target = %q, readonly = true }", image_file(m.image), m.target))
  else -- overlay
    ctx.lossy(path, string.format("mount type %q has no portable OCI equivalent here", t))
  end
end

-- ---------------------------------------------------------------- limits

local function devices(dev, ctx)
  local list = array()
  local default_deny = dev.default == "deny" or (dev.allow and #dev.allow > 0)
  -- The runtime's own default rules come first in runc; spelling every rule
  -- out (deny all, then exactly what the recipe allows) means the bundle
  -- denies what the recipe denies whatever the runtime's defaults are.
  list[1] = { allow = not default_deny, access = "rwm" }
  local rules, msg = require("isol.cgroup").resolve_devices(dev)
  if not rules then ctx.fail("limits.devices", msg) end
  for _, rule in ipairs(rules or {}) do
    -- "allow c 1:3 rwm" / "deny c 195:* rwm"
    local verb, typ, maj, min, acc = rule:match("^(%a+) (%a) ([%d%*]+):([%d%*]+) (%a+)$")
    if verb then
      local e = { allow = verb == "allow", type = typ, access = acc }
      if maj ~= "*" then e.major = tonumber(maj) end
      if min ~= "*" then e.minor = tonumber(min) end
      list[#list + 1] = e
    end
  end
  return list
end

-- The devices an OCI runtime creates in every container's /dev and allows
-- by default (runc's AllowedDevices with a path, crun's default_devices).
-- runc appends allow rules for them AFTER the bundle's linux.resources.devices
-- (so a deny of /dev/full there would be undone) unless the bundle lists the
-- device itself in linux.devices: listing all of them makes the bundle's
-- rules the only ones that decide.
local RUNTIME_DEVICES = {
  { "/dev/null", 1, 3 }, { "/dev/zero", 1, 5 }, { "/dev/full", 1, 7 }, { "/dev/random", 1, 8 },
  { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
}

local function runtime_devices()
  local list = array()
  for i, d in ipairs(RUNTIME_DEVICES) do
    list[i] = { path = d[1], type = "c", major = d[2], minor = d[3], fileMode = 438, uid = 0, gid = 0 } -- 0666
  end
  return list
end

local function resources(l, ctx)
  local res = {}
  if l.cpu then
    local c = {}
    if l.cpu.shares then c.shares = l.cpu.shares
    elseif l.cpu.weight then c.shares = math.max(2, math.min(262144, l.cpu.weight * 1024 // 100)) end
    if l.cpu.quota_us and l.cpu.quota_us ~= "max" then c.quota = l.cpu.quota_us; c.period = l.cpu.period_us end
    res.cpu = c
  end
  if l.cpuset then
    res.cpu = res.cpu or {}
    res.cpu.cpus, res.cpu.mems = l.cpuset.cpus, l.cpuset.mems
  end
  if l.memory then
    local m = {}
    if l.memory.max and l.memory.max ~= "max" then
      m.limit = l.memory.max
      -- OCI's swap is memory+swap (the v1 memsw meaning)
      if l.memory.swap and l.memory.swap ~= "max" then m.swap = l.memory.max + l.memory.swap end
    end
    if l.memory.swappiness then m.swappiness = l.memory.swappiness end
    res.memory = m
  end
  if l.pids then res.pids = { limit = l.pids.max == "max" and -1 or l.pids.max } end
  if l.io then
    local b = {}
    if l.io.weight then b.weight = math.max(10, math.min(1000, l.io.weight // 10)) end
    if l.io.max then ctx.lossy("limits.io.max", "per-device throttles need device numbers of the target host") end
    res.blockIO = b
  end
  if l.devices then res.devices = devices(l.devices, ctx) end
  if l.raw and #l.raw > 0 then
    ctx.lossy("limits", 'raw "controller.file" values have no OCI equivalent (' .. l.raw[1][1] .. ")")
  end
  return res
end

-- ------------------------------------------------------------------ main

local function idmaps(r)
  local u = r.user or {}
  local uid, gid = core.ids()
  if u.map_root == "unprivileged" then
    local um, gm = security.root_map()
    local function conv(m)
      local out = array()
      for _, e in ipairs(m) do out[#out + 1] = { containerID = e[1], hostID = e[2], size = e[3] } end
      return out
    end
    return conv(um), conv(gm)
  end
  local function conv(map, inside, outside)
    if map then
      local out = array()
      for _, e in ipairs(map) do out[#out + 1] = { containerID = e[1], hostID = e[2], size = e[3] } end
      return out
    end
    if inside then return array { { containerID = inside, hostID = outside, size = 1 } } end
    return nil
  end
  local iu = u.map_root and 0 or u.uid
  local ig = u.map_root and 0 or (u.gid or u.uid)
  return conv(u.uid_map, iu, uid), conv(u.gid_map, ig, gid)
end

local function env_list(r)
  local list = recipe.make_env(r.clear_env, r.env, nil)
  if not r.clear_env then
    -- an OCI process does not inherit the caller's environment: keep only
    -- what the recipe names, plus PATH
    list = recipe.make_env(true, r.env, nil)
  end
  local has_path = false
  for _, e in ipairs(list) do if e:match("^PATH=") then has_path = true end end
  if not has_path then table.insert(list, 1, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") end
  return array(list)
end

--- Build the OCI config for a recipe (without writing anything).
-- @param r a recipe (validated here)
-- @param opts {argv=, lossy=, cgroups_path=, rootfs="rootfs"}
-- @return config table, list of warnings (strings); raises naming the field
-- for what cannot be expressed unless opts.lossy
function M.config(r, opts)
  opts = opts or {}
  local v = recipe.is_valid(r) and r or recipe.validate(r)
  local warnings, files = {}, {}
  local ctx = {}
  function ctx.lossy(path, why)
    if not opts.lossy then util.fail(path, "%s (isol export --lossy drops it with a warning)", why) end
    warnings[#warnings + 1] = path .. ": dropped: " .. why
  end
  function ctx.fail(path, why) util.fail(path, "%s", why) end
  local argv = opts.argv or v.command
  if not argv or #argv == 0 then util.fail("command", "no command given and the recipe has no `command`") end

  local caps = security.plan_caps(v)
  local capnames = caps and security.names(caps.bounding)
  if not capnames then -- "all"
    capnames = {}
    for n = 0, core.cap_last() do capnames[#capnames + 1] = core.cap_name(n):upper() end
  end
  local function capset(list) return array(util.copy_list(list)) end

  local cfg = {
    ociVersion = OCI_VERSION,
    process = {
      terminal = false,
      user = { uid = 0, gid = 0 },
      args = array { table.unpack(argv) },
      env = env_list(v),
      cwd = v.cwd or "/",
      capabilities = { bounding = capset(capnames), effective = capset(capnames),
        permitted = capset(capnames), inheritable = array(), ambient = array() },
      noNewPrivileges = v.no_new_privs ~= false,
    },
    root = { path = opts.rootfs or "rootfs", readonly = false },
    hostname = v.hostname,
    mounts = array(),
    linux = { namespaces = array() },
  }
  for _, n in ipairs(v.namespaces or {}) do
    if n == "time" then
      ctx.lossy("namespaces", 'a "time" namespace is not in OCI runtime-spec 1.0')
    else
      cfg.linux.namespaces[#cfg.linux.namespaces + 1] = { type = NS[n] }
    end
  end
  if v.time then ctx.lossy("time", "time offsets need a time namespace") end
  if recipe.has_ns(v, "user") then
    cfg.linux.uidMappings, cfg.linux.gidMappings = idmaps(v)
  end
  if v.domainname then ctx.lossy("domainname", "OCI 1.0 sets the hostname only") end

  -- root and mounts
  local root = v.root
  local mounts = {}
  if type(root) == "table" then
    if root.mode == "chroot" then
      ctx.lossy("root.mode", "OCI runtimes always pivot_root; chroot mode has no equivalent")
    end
    if root.image then
      ctx.lossy("root.image", string.format("an image root has no OCI equivalent (a runtime cannot attach a loop "
        .. "device): mount the image read-only first (mount -o loop,ro %s DIR, or img:mount(DIR, {readonly = true, "
        .. "host = true})) and use root = { dir = DIR, readonly = true }", image_file(root.image)))
    end
    -- a root directory is the bundle's root in place: nothing is copied
    if root.dir then cfg.root.path = root.dir end
    cfg.root.readonly = root.readonly and true or false
    for _, m in ipairs(root.mounts or {}) do mounts[#mounts + 1] = { m = m, path = "root.mounts" } end
  else
    -- no new root: the sandbox sees the host's tree. An OCI bundle always
    -- has a root (and a mount namespace; the runtime cannot pivot into the
    -- host's / itself): each top-level directory of the host is bound
    -- read-only into an empty rootfs (its top-level symlinks are copied), with
    -- a fresh /proc and /dev.
    warnings[#warnings + 1] = "root: none in the recipe; the bundle binds the host's top-level directories read-only"
    local names = core.listdir("/") or {}
    table.sort(names)
    for _, name in ipairs(names) do
      local path = "/" .. name
      local kind = core.lstat(path)
      if name == "proc" or name == "dev" or name == "sys" then -- luacheck: ignore 542
      elseif kind == "link" then
        files[#files + 1] = { kind = "symlink", target = path, source = core.readlink(path) }
      elseif kind == "dir" then
        mounts[#mounts + 1] = { m = { type = "bind", source = path, target = path, readonly = true }, path = "root" }
      end
    end
    mounts[#mounts + 1] = { m = { type = "proc", target = "/proc" }, path = "root" }
    mounts[#mounts + 1] = { m = { type = "dev", target = "/dev" }, path = "root" }
    if core.lstat("/sys") == "dir" then
      mounts[#mounts + 1] = { m = { type = "sysfs", target = "/sys" }, path = "root" }
    end
  end
  -- isol's propagation applies to the whole sandbox tree: OCI's rootfs
  -- propagation, recursive
  if v.propagation == "unchanged" then
    ctx.lossy("propagation", '"unchanged" has no OCI equivalent (the runtime picks its default, runc: rslave)')
  elseif v.propagation then
    cfg.linux.rootfsPropagation = "r" .. v.propagation
  end
  if v.session_keyring == "inherit" then
    ctx.lossy("session_keyring", '"inherit": OCI runtimes give each container a fresh session keyring '
      .. "(runc's --no-new-keyring is the runtime's option, not the bundle's)")
  end
  if not recipe.has_ns(v, "mount") then
    -- an OCI runtime without a mount namespace would set up the root in the
    -- caller's: never
    warnings[#warnings + 1] = 'namespaces: "mount" added (an OCI runtime needs one)'
    cfg.linux.namespaces[#cfg.linux.namespaces + 1] = { type = "mount" }
  end
  for i, m in ipairs(v.mounts or {}) do mounts[#mounts + 1] = { m = m, path = string.format("mounts[%d]", i) } end
  local has = {}
  for _, e in ipairs(mounts) do
    local before = #cfg.mounts
    map_mount(e.m, e.path, cfg.mounts, files, ctx)
    for k = before + 1, #cfg.mounts do has[cfg.mounts[k].destination] = true end
  end
  -- /proc hardening, as isol does for every fresh /proc it mounts
  if has["/proc"] and not ctx.proc_unmasked then
    -- the paths every fresh /proc isol mounts hides or makes read-only (one
    -- list, in C: csrc/mount.h ISOL_PROC_MASKED / ISOL_PROC_READONLY)
    local masked, ro = core.proc_hardening()
    cfg.linux.maskedPaths = array { table.unpack(masked) }
    cfg.linux.readonlyPaths = array { table.unpack(ro) }
  end

  -- limits
  if v.limits then
    cfg.linux.resources = resources(v.limits, ctx)
    if v.limits.devices then cfg.linux.devices = runtime_devices() end
    if v.limits.net and next(v.limits.net) then
      ctx.lossy("limits.net", "shaping is done by the network plugin under OCI")
    end
  end
  if v.net and (v.net.veth or v.net.outbound) then
    ctx.lossy("net", "veth, slirp4netns and pasta are the job of the runtime's network plugin (CNI) under OCI")
  end
  if v.ports and #v.ports > 0 then ctx.lossy("ports", "port forwards are the job of the network plugin under OCI") end
  cfg.linux.cgroupsPath = opts.cgroups_path
  if v.cgroup and v.cgroup.parent then
    ctx.lossy("cgroup.parent", "set the bundle's linux.cgroupsPath instead")
  end
  -- policy (isol.policy): the seccomp filter as OCI JSON (the same rules
  -- libseccomp compiles for isol: core.seccomp_rules), rlimits
  if v.seccomp then cfg.linux.seccomp = M.seccomp(v.seccomp) end
  local ok, plan = pcall(recipe.to_plan, v, argv)
  if ok and plan.rlimits then
    local list = array()
    local names = {}
    for name in pairs(plan.rlimits) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local l = plan.rlimits[name]
      -- unlimited (-1) as the largest integer JSON carries exactly
      local function val(x) return x < 0 and math.maxinteger or x end
      list[#list + 1] = { type = "RLIMIT_" .. name:upper(), soft = val(l[1]), hard = val(l[2]) }
    end
    cfg.process.rlimits = list
  end
  if v.landlock then ctx.lossy("landlock", "OCI runtime-spec has no Landlock rules") end
  if v.timeout then ctx.lossy("timeout", "a wall-clock timeout is the orchestrator's (e.g. activeDeadlineSeconds)") end

  -- isol's process model: the runtime's business under OCI
  if v.init ~= false then warnings[#warnings + 1] = "init: the OCI runtime runs the command as PID 1 (no isol init)" end
  if v.die_with_parent ~= false then
    warnings[#warnings + 1] = "die_with_parent: the container lives as long as the runtime keeps it "
      .. "(runc run: until the command exits)"
  end
  if v.stdin or v.stdout or v.stderr or v.keep_fds then
    warnings[#warnings + 1] = "stdin/stdout/stderr/keep_fds: given by the runtime's caller, not the bundle"
  end
  return cfg, warnings, files
end

local ARCHES = { x86_64 = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86" }, aarch64 = { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" } }

--- The OCI `linux.seccomp` object for seccomp options (a recipe's
-- normalized `seccomp` field): the very rules isol compiles, grouped.
function M.seccomp(opts)
  local r = assert(core.seccomp_rules(opts))
  local out = { defaultAction = r.default.action, defaultErrnoRet = r.default.errno, syscalls = array() }
  local machine = (io.open("/proc/sys/kernel/arch") or { read = function() return nil end,
    close = function() end })
  local arch = machine:read("l")
  machine:close()
  out.architectures = ARCHES[arch or "x86_64"] or ARCHES.x86_64
  local last
  for _, rule in ipairs(r.rules) do
    local e = { action = rule.action, errnoRet = rule.errno }
    if rule.args then
      e.names = array { rule.name }
      e.args = array()
      for i, a in ipairs(rule.args) do
        e.args[i] = { index = a.index, op = a.op, value = a.value, valueTwo = a.valueTwo }
      end
      out.syscalls[#out.syscalls + 1] = e
      last = nil
    elseif last and last.action == e.action and last.errnoRet == e.errnoRet then
      last.names[#last.names + 1] = rule.name
    else
      e.names = array { rule.name }
      out.syscalls[#out.syscalls + 1] = e
      last = e
    end
  end
  return out
end

local function mkdir_p(path)
  local cur = path:sub(1, 1) == "/" and "" or "."
  for part in path:gmatch("[^/]+") do
    cur = cur .. "/" .. part
    if core.lstat(cur) ~= "dir" then
      local ok, msg, code = core.mkdir(cur, 493) -- 0755
      if not ok and code ~= core.errno.EEXIST then return nil, msg, code end
    end
  end
  return true
end

--- Write a bundle: DIR/config.json and DIR/rootfs (the mount points, and the
-- symlinks and directories the recipe's root asks for, are made here). With
-- a user namespace, DIR and its parents must be searchable by the host id
-- the container's root maps to.
-- @param r recipe
-- @param dir bundle directory (created; must be empty or absent)
-- @param opts {argv=, lossy=, cgroups_path=, force=}
-- @return true, warnings; or nil, message, errno (raises for recipe mistakes)
function M.export(r, dir, opts)
  opts = opts or {}
  util.check_type("dir", dir, "string")
  local cfg, warnings, files = M.config(r, opts)
  local msg, code
  local names = core.listdir(dir)
  if names and #names > 0 and not opts.force then
    return nil, dir .. ": not empty (use force to overwrite)", core.errno.EEXIST
  end
  local ok
  ok, msg, code = mkdir_p(dir)
  if not ok then return nil, msg, code end
  -- A recipe's root.dir is the root in place (the mount points and the
  -- recipe's dir and symlink entries are made there, as isol run makes them
  -- at every start; what exists is left alone); otherwise DIR/rootfs.
  local rootfs, own = cfg.root.path, false
  if rootfs:sub(1, 1) ~= "/" then
    rootfs, own = dir .. "/" .. rootfs, true
    ok, msg, code = mkdir_p(rootfs)
    if not ok then return nil, msg, code end
  end
  -- Every mount point exists beforehand: the runtime would create them as
  -- the container's root, which a user namespace may map to an id that
  -- cannot write the rootfs.
  for _, m in ipairs(cfg.mounts or {}) do
    local target = rootfs .. m.destination
    if core.lstat(target) == nil then
      if m.type == "bind" and core.lstat(m.source) ~= "dir" then
        mkdir_p(target:match("^(.*)/[^/]*$"))
        local f = io.open(target, "w")
        if f then f:close() end
      else
        mkdir_p(target)
      end
    end
  end
  for _, f in ipairs(files) do
    local target = rootfs .. f.target
    if f.kind == "dir" then
      ok, msg, code = mkdir_p(target)
      if not ok then return nil, msg, code end
    else
      mkdir_p(target:match("^(.*)/[^/]*$"))
      -- a symlink of an earlier export into the same DIR (force)
      if own and core.lstat(target) == "link" then os.remove(target) end
      if core.lstat(target) == nil then
        ok, msg, code = core.symlink(f.source, target)
        if not ok then return nil, "rootfs symlink " .. f.target .. ": " .. msg, code end
      end
    end
  end
  local fh
  fh, msg, code = io.open(dir .. "/config.json", "w")
  if not fh then return nil, msg, code end
  fh:write(cjson.encode(prune(cfg)), "\n")
  fh:close()
  return true, warnings
end

return M
