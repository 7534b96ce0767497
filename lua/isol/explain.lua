--- `isol.recipe.explain`: the final plan of a recipe in words, without
-- running anything; the cgroup files come from `isol.cgroup.plan`, the
-- only mapping of `limits` (the very files a sandbox writes).
-- @module isol.explain
local core = require "isol.core"
local recipe = require "isol.recipe"
local Sandbox = require "isol.sandbox"
local cgroup = require "isol.cgroup"
local util = require "isol.util"

local M = {}

--- The host's cgroup mode, as the C core reads it: "v2" (unified only),
-- "v1", "hybrid" (v1 controllers, limits use v1), "none" or "unknown".
function M.cgroup_version()
  local lay = core.cgroup_layout()
  return lay and lay.mode or "unknown"
end

local function flatten(prefix, v, out)
  out = out or {}
  if type(v) ~= "table" then
    out[#out + 1] = { prefix, v }
    return out
  end
  if util.is_list(v) and next(v) ~= nil and type(v[1]) ~= "table" then
    local parts = {}
    for _, x in ipairs(v) do parts[#parts + 1] = tostring(x) end
    out[#out + 1] = { prefix, "{" .. table.concat(parts, ", ") .. "}" }
    return out
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local p = math.type(k) == "integer" and string.format("%s[%d]", prefix, k) or (prefix .. "." .. tostring(k))
    flatten(p, v[k], out)
  end
  return out
end

local function inline(t)
  if type(t) ~= "table" then return tostring(t) end
  local parts = {}
  for _, kv in ipairs(flatten("", t)) do
    parts[#parts + 1] = kv[1]:gsub("^%.", "") .. "=" .. tostring(kv[2])
  end
  return table.concat(parts, " ")
end

local function mount_line(m)
  if type(m) ~= "table" then return tostring(m) end
  local rest = {}
  for k, v in pairs(m) do
    if k ~= "type" and k ~= "source" and k ~= "target" then rest[k] = v end
  end
  local opts = inline(rest)
  if m.type == "symlink" then
    return string.format("%-7s %s -> %s", "symlink", tostring(m.target or "?"), tostring(m.source or "?"))
  end
  return string.format("%-7s %s%s%s", tostring(m.type or "?"),
    m.source and (tostring(m.source) .. " -> ") or "", tostring(m.target or "?"),
    opts ~= "" and ("  (" .. opts .. ")") or "")
end

-- The cgroup files and values of `limits` on cgroup `version` ("v1"|"v2"),
-- by isol.cgroup.plan: lines "file = value   # field".
local function cgroup_lines(limits, version, cgopts)
  local o = {}
  for k, x in pairs(cgopts or {}) do o[k] = x end
  -- plan(limits, cgopts, path, version): the 4-argument form of the cgroup
  -- branch; the older 3-argument form reads the version from cgopts.
  o.version = version == "v2" and 2 or 1
  local ok, res = pcall(cgroup.plan, limits, o, "limits", version)
  if not ok then return { "# cannot map on this host: " .. tostring(res) } end
  local lines = {}
  for _, w in ipairs(res.writes or res) do
    local field = w.field or w[3]
    lines[#lines + 1] = string.format("%s = %s%s", tostring(w.file or w[1]), tostring(w.value or w[2]),
      field and ("   # " .. tostring(field)) or "")
  end
  if type(res.devices) == "table" then
    local d = res.devices
    local function rules(list)
      local parts = {}
      for _, e in ipairs(list or {}) do
        parts[#parts + 1] = type(e) == "table" and table.concat(e, " ", 1, 2) or tostring(e)
      end
      return table.concat(parts, ", ")
    end
    lines[#lines + 1] = string.format("devices (%s): default %s", version == "v2" and "eBPF program"
      or "devices.allow/deny", tostring(d.default or (d.allow and "deny" or "allow")))
    if d.allow and #d.allow > 0 then lines[#lines + 1] = "  allow: " .. rules(d.allow) end
    if d.deny and #d.deny > 0 then lines[#lines + 1] = "  deny: " .. rules(d.deny) end
  end
  if res.io then lines[#lines + 1] = "io: " .. inline(res.io) end
  return lines
end

--- Quote a word for a POSIX shell (bash `$'...'` form when it holds
-- control characters), so explain's command line can be pasted.
function M.shell_quote(a)
  if a ~= "" and not a:find("[^%w%%+,./:=@_-]") then return a end
  if a:find("[%c]") then
    return "$'" .. a:gsub("[\\'%c]", function(c)
      if c == "\n" then return "\\n" elseif c == "\t" then return "\\t" end
      if c == "\\" or c == "'" then return "\\" .. c end
      return string.format("\\x%02x", c:byte())
    end) .. "'"
  end
  return "'" .. a:gsub("'", "'\\''") .. "'"
end

local function yesno(b) return b and "yes" or "no" end

local FLAG_DEFAULTS = { new_session = true, die_with_parent = true, no_new_privs = true, init = true }

--- Let a concern describe its own fields in explain (see isol.recipe.describe).
M.describe = recipe.describe

--- Describe the final plan of a recipe without running anything:
-- namespaces, user maps, hostname, process settings, each mount, the root,
-- and each cgroup file and value for the running kernel's cgroup version.
-- @param r a recipe (validated or not; it is validated here)
-- @param argv optional command (else the recipe's `command`)
-- @param opts optional {cgroup_version = "v1"|"v2"} to explain for another version
-- @treturn string the text (several lines, ending with a newline)
function M.explain(r, argv, opts)
  opts = opts or {}
  local v = recipe.is_valid(r) and r or recipe.validate(r)
  local out = {}
  local function say(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  if v.description then say("recipe: %s", v.description) end
  local cmd = argv or v.command
  if type(cmd) == "table" and #cmd > 0 then
    local parts = {}
    for _, a in ipairs(cmd) do parts[#parts + 1] = M.shell_quote(a) end
    say("command: %s", table.concat(parts, " "))
  else
    say("command: (none given)")
  end
  -- the plan the core would receive (pure: fields only fill a table)
  local ok, plan = pcall(recipe.to_plan, v, type(cmd) == "table" and cmd or {})
  if not ok then plan = {} end

  local created, seen = {}, {}
  for _, n in ipairs(v.namespaces or {}) do created[#created + 1] = n; seen[n] = true end
  local shared = {}
  for _, n in ipairs { "mount", "uts", "ipc", "net", "pid", "user", "cgroup", "time" } do
    if not seen[n] then shared[#shared + 1] = n end
  end
  say("namespaces: %s", #created > 0 and table.concat(created, ", ") or "(none: runs in the caller's)")
  if #shared > 0 and #created > 0 then say("  shared with the caller: %s", table.concat(shared, ", ")) end

  if seen.user then
    local function maps(m)
      if not m then return "none (ids show as nobody/65534)" end
      local parts = {}
      for _, e in ipairs(m) do
        parts[#parts + 1] = string.format("%d -> %d (%d)", e[1], e[2], e[3])
      end
      return table.concat(parts, ", ")
    end
    say("user: uid map %s", maps(plan.uid_map))
    say("      gid map %s; setgroups %s", maps(plan.gid_map),
      plan.gid_map and (plan.setgroups_deny and "deny" or "allow") or "n/a")
  end
  if v.hostname then say("hostname: %s", v.hostname) end
  if v.domainname then say("domainname: %s", v.domainname) end
  if v.time then say("time offsets: monotonic %+ds, boottime %+ds", v.time.monotonic, v.time.boottime) end

  local flags = {}
  for _, f in ipairs { "new_session", "die_with_parent", "no_new_privs", "init" } do
    local val = v[f]
    if val == nil then val = FLAG_DEFAULTS[f] end
    flags[#flags + 1] = string.format("%s=%s", f, yesno(val))
  end
  say("process: %s", table.concat(flags, " "))
  if v.clear_env or v.env then
    local keys = {}
    for k in pairs(v.env or {}) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
      parts[#parts + 1] = v.env[k] == false and ("-" .. k) or (k .. "=" .. v.env[k])
    end
    say("environment: %s%s", v.clear_env and "cleared" or "inherited",
      #parts > 0 and ("; " .. table.concat(parts, " ")) or "")
  end
  if v.cwd then say("cwd: %s", v.cwd) end
  for _, s in ipairs { "stdin", "stdout", "stderr" } do
    if v[s] ~= nil then say("%s: %s", s, type(v[s]) == "table" and inline(v[s]) or tostring(v[s])) end
  end
  if v.keep_fds then
    local parts = {}
    for _, fd in ipairs(v.keep_fds) do parts[#parts + 1] = tostring(fd) end
    say("keep fds: %s", table.concat(parts, ", "))
  end

  local handled = { description = 1, command = 1, namespaces = 1, user = 1, hostname = 1, domainname = 1,
    time = 1, new_session = 1, die_with_parent = 1, no_new_privs = 1, init = 1, clear_env = 1, env = 1,
    cwd = 1, stdin = 1, stdout = 1, stderr = 1, keep_fds = 1, mounts = 1, root = 1, limits = 1 }

  if v.root ~= nil then
    if type(v.root) == "table" then
      local t = {}
      for k, x in pairs(v.root) do if k ~= "mounts" and k ~= "description" then t[k] = x end end
      say("root: %s%s", inline(t), v.root.description and ("   # " .. v.root.description) or "")
      for i, m in ipairs(v.root.mounts or {}) do say("  %2d. %s", i, mount_line(m)) end
    else
      say("root: %s", tostring(v.root))
    end
  end
  if v.mounts ~= nil then
    say("mounts:")
    for i, m in ipairs(v.mounts) do say("  %2d. %s", i, mount_line(m)) end
  end
  if v.limits ~= nil then
    local kernel = M.cgroup_version()
    local version = opts.cgroup_version or (kernel == "v2" and "v2" or "v1")
    say("cgroup %s (kernel: %s; files by isol.cgroup.plan):", version, kernel)
    local lines = cgroup_lines(v.limits, version, v.cgroup)
    for _, l in ipairs(lines) do say("  %s", l) end
  end
  -- what concern modules describe themselves
  for _, d in ipairs(recipe.describers()) do
    for _, f in ipairs(d.fields) do handled[f] = 1 end
    for _, l in ipairs(d.fn(v, plan)) do say("%s", l) end
  end
  -- every other field (from concern modules) as given
  local rest = {}
  for k in pairs(v) do if not handled[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do
    for _, kv in ipairs(flatten(k, v[k])) do say("%s: %s", kv[1], tostring(kv[2])) end
  end
  -- what a sandbox made from it does, step by step (see isol.Sandbox)
  say("sandbox steps:")
  local by_phase, phases = {}, {}
  for _, st in ipairs(Sandbox.steps()) do
    if not by_phase[st.phase] then by_phase[st.phase] = {}; phases[#phases + 1] = st.phase end
    local list = by_phase[st.phase]
    list[#list + 1] = st.concern
  end
  for _, ph in ipairs(phases) do say("  %s: %s", ph, table.concat(by_phase[ph], ", ")) end
  return table.concat(out, "\n") .. "\n"
end

return M
