--- Recipe composition and explanation: `isol.recipe.extend`, `merge`,
-- `replace` and `explain`.
--
-- Recipes are plain tables, so composing them is merging tables. The rules,
-- applied key by key from left to right (later arguments win):
--
--  * scalars (strings, numbers, booleans): the later value replaces;
--  * `namespaces`: union, in order of first appearance, no duplicates;
--  * argv-like and whole-object fields replace as a whole: `command`,
--    `root`, `user.uid_map`, `user.gid_map`, `stdin`, `stdout`, `stderr`;
--  * other lists (`mounts`, `keep_fds`, `limits.devices.allow`...): the later
--    list is appended; for lists of scalars an entry already present is not
--    repeated;
--  * maps (`limits`, `limits.memory`, `env`, `user`...): merged by key,
--    recursively, with these same rules;
--  * a table meets a non-table (or the reverse): the later value replaces;
--  * `isol.recipe.replace(v)` anywhere in a later argument: `v` replaces what
--    the earlier ones had at that place, whatever its type;
--    `isol.recipe.replace()` (no value) removes the field.
--
-- A function argument is called with no arguments and must return a table
-- (so `isol.recipes.no_network` and `isol.recipes.no_network()` both work).
-- Arguments are never modified. `merge` returns the plain merged table;
-- `extend` merges and then validates the result once (errors name the field
-- of the merged recipe). An already validated recipe can be extended again:
-- its source table is used, so checks that normalize values never see their
-- own output.
-- @module isol.compose
local util = require "isol.util"

local M = {}

local REPLACE = setmetatable({}, { __name = "isol.recipe.replace" })
local Replace = { __name = "isol.recipe.replace" }
Replace.__index = Replace
function Replace.__tostring(r) return "isol.recipe.replace(" .. tostring(r.value) .. ")" end

-- validated recipe -> the merged source it came from (weak keys)
local SOURCE = setmetatable({}, { __mode = "k" })

--- Mark a value so that it replaces the earlier one in `extend`/`merge`
-- instead of being merged into it. Without a value, removes the field.
-- @param v any value (nil: remove the field)
-- @return a marker table understood by `merge`
function M.replace(...)
  local v = ...
  return setmetatable({ [REPLACE] = true, value = v, remove = select("#", ...) == 0 or v == nil }, Replace)
end

--- Is `v` a marker made by `replace`?
function M.is_replace(v)
  return type(v) == "table" and getmetatable(v) == Replace
end

local WHOLE = { command = true, root = true, stdin = true, stdout = true, stderr = true,
  ["user.uid_map"] = true, ["user.gid_map"] = true }
local UNION = { namespaces = true }

-- Deep copy that resolves replace markers (a marker in a first argument
-- simply stands for its value).
local function plain(v)
  if M.is_replace(v) then
    if v.remove then return nil end
    return plain(v.value)
  end
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = plain(x) end
  return r
end

local function is_list(t)
  return type(t) == "table" and next(t) ~= nil and util.is_list(t)
end

local function merge_into(dst, src, prefix)
  -- sorted keys: deterministic order for appends of nested lists
  local keys = {}
  for k in pairs(src) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  for _, k in ipairs(keys) do
    local v = src[k]
    local path = prefix and (prefix .. "." .. tostring(k)) or tostring(k)
    local old = dst[k]
    if M.is_replace(v) then
      dst[k] = plain(v)
    elseif type(v) ~= "table" or type(old) ~= "table" or WHOLE[path] then
      dst[k] = plain(v)
    elseif UNION[path] or (is_list(old) and is_list(v)) then
      local out, seen = {}, {}
      for _, x in ipairs(old) do
        out[#out + 1] = x
        if type(x) ~= "table" then seen[x] = true end
      end
      for _, x in ipairs(v) do
        if type(x) == "table" or not seen[x] then -- a scalar already present is skipped
          out[#out + 1] = plain(x)
          if type(x) ~= "table" then seen[x] = true end
        end
      end
      dst[k] = out
    elseif next(old) == nil or next(v) == nil then
      -- an empty table merges as the other side (an empty list or map)
      if next(old) == nil then dst[k] = plain(v) end
    elseif is_list(old) ~= is_list(v) then
      dst[k] = plain(v) -- a list meets a map: the later value replaces
    else
      merge_into(old, v, path)
    end
  end
  return dst
end

local function source_of(r, i)
  if type(r) == "function" then r = r() end
  if type(r) ~= "table" then
    util.fail(string.format("extend: argument %d", i), "expected a recipe table or a function returning one, got %s",
      type(r))
  end
  return SOURCE[r] or r
end

--- Merge recipes by the rules in the module doc, without validating.
-- @param ... recipe tables (or functions returning them)
-- @treturn table a new plain table
function M.merge(...)
  local n = select("#", ...)
  if n == 0 then return {} end
  local out = plain(source_of((...), 1))
  for i = 2, n do
    merge_into(out, source_of((select(i, ...)), i), nil)
  end
  return out
end

--- Merge recipes (see the rules in the module doc) and validate the result
-- once. Raises an error naming the field of the merged recipe.
-- @param base recipe table (or function)
-- @param ... more recipes, applied in order
-- @treturn table the validated recipe
function M.extend(base, ...)
  local recipe = require "isol.recipe"
  local merged = M.merge(base, ...)
  local v = recipe.validate(merged)
  SOURCE[v] = merged
  return v
end

--- The source (unvalidated, merged) table behind a validated recipe, or
-- the table itself.
function M.source(r) return SOURCE[r] or r end

-- -------------------------------------------------------------- explain

--- The cgroup version of the running kernel: "v2" (unified only), "v1"
-- (legacy only) or "hybrid" (v1 controllers and a v2 tree without
-- controllers: limits use v1). Read from /proc/self/mounts.
function M.cgroup_version()
  local f = io.open("/proc/self/mounts", "r")
  if not f then return "unknown" end
  local v1, v2, v2_root = false, false, false
  for line in f:lines() do
    local mp, fstype = line:match("^%S+ (%S+) (%S+)")
    if fstype == "cgroup" then v1 = true
    elseif fstype == "cgroup2" then
      v2 = true
      if mp == "/sys/fs/cgroup" then v2_root = true end
    end
  end
  f:close()
  if v2_root and not v1 then return "v2" end
  if v1 and v2 then return "hybrid" end
  if v1 then return "v1" end
  if v2 then return "v2" end
  return "none"
end

-- isol's documented mapping of the `limits` vocabulary to cgroup files, used
-- by explain when the cgroup module offers no plan function of its own
-- (the README's v1/v2 table says the same).
local PERIOD = 100000

-- the defaults (weight 100, shares 1024) map onto each other; clamped
local function shares_to_weight(s) return math.max(1, math.min(10000, (s * 100) // 1024)) end
local function weight_to_shares(w) return math.max(2, math.min(262144, (w * 1024) // 100)) end

local function quota_us(cpu)
  if cpu.quota_us then return cpu.quota_us, cpu.period_us or PERIOD end
  local q = cpu.quota
  if q == nil then return nil end
  local period = cpu.period_us or PERIOD
  if type(q) == "string" then
    local pct = tonumber(q:match("^%s*(%d+%.?%d*)%s*%%%s*$"))
    if pct then return math.floor(pct * period / 100 + 0.5), period end
    if q == "max" then return -1, period end
  elseif type(q) == "number" then
    -- a fraction of one CPU (0.5) or a percentage given as a number (50)
    if q <= 16 then return math.floor(q * period + 0.5), period end
    return math.floor(q * period / 100 + 0.5), period
  end
  return nil
end

local function bytes(v)
  if v == nil then return nil end
  if v == "max" or v == -1 then return "max" end
  local ok, b = pcall(util.parse_size, "size", v)
  return ok and b or tostring(v)
end

local function rule_list(x)
  if type(x) ~= "table" then return { tostring(x) } end
  local r = {}
  for _, e in ipairs(x) do r[#r + 1] = tostring(e) end
  return r
end

--- The cgroup files and values a `limits` table means for a cgroup
-- version ("v1" or "v2"), by isol's documented mapping.
-- @treturn {{file=,value=,note=},...}
function M.limit_files(limits, version)
  local out = {}
  local v2 = version == "v2"
  local function put(file, value, note)
    if value ~= nil then out[#out + 1] = { file = file, value = tostring(value), note = note } end
  end
  local cpu = limits.cpu or {}
  if cpu.weight or cpu.shares then
    if v2 then put("cpu.weight", cpu.weight or shares_to_weight(cpu.shares))
    else put("cpu.shares", cpu.shares or weight_to_shares(cpu.weight)) end
  end
  local q, period = quota_us(cpu)
  if q then
    if v2 then put("cpu.max", (q < 0 and "max" or tostring(q)) .. " " .. period)
    else
      put("cpu.cfs_period_us", period)
      put("cpu.cfs_quota_us", q)
    end
  end
  local cs = limits.cpuset or {}
  put("cpuset.cpus", cs.cpus)
  put("cpuset.mems", cs.mems)
  local mem = limits.memory or {}
  local max = bytes(mem.max)
  if v2 then
    put("memory.max", max)
    if mem.swap ~= nil then put("memory.swap.max", bytes(mem.swap)) end
    if mem.swappiness ~= nil then put("memory.swappiness", mem.swappiness, "not available on v2") end
  else
    put("memory.limit_in_bytes", max)
    if mem.swap ~= nil then
      local s = bytes(mem.swap)
      if max ~= nil and max ~= "max" and s ~= "max" and math.type(s) == "integer" then
        put("memory.memsw.limit_in_bytes", max + s, "v1 limits memory+swap: max + swap")
      else
        put("memory.memsw.limit_in_bytes", s)
      end
    end
    put("memory.swappiness", mem.swappiness)
  end
  local pids = limits.pids or {}
  put("pids.max", pids.max)
  local io = limits.io or {}
  if io.weight then put(v2 and "io.weight" or "blkio.weight", io.weight) end
  local dev = limits.devices or {}
  if dev.allow or dev.deny then
    if v2 then
      put("(BPF_CGROUP_DEVICE program)", string.format("allow %s; deny %s",
        table.concat(rule_list(dev.allow or {}), ", "), table.concat(rule_list(dev.deny or {}), ", ")))
    else
      if dev.allow then put("devices.deny", "a", "allow-list: everything else denied") end
      for _, r in ipairs(rule_list(dev.allow or {})) do put("devices.allow", r) end
      for _, r in ipairs(rule_list(dev.deny or {})) do put("devices.deny", r) end
    end
  end
  return out
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

--- Functions that describe a field in `explain`, by field name:
-- fn(value, recipe, opts) -> list of lines. Concern modules may add theirs.
M.explainers = {}

-- The cgroup module's own mapping, when it offers one:
-- isol.cgroup.plan(limits, {version=1|2}) -> {writes = {{file, value, field}...}}
-- (the very files it will write), else isol.cgroup.explain/plan_files.
local function cgroup_lines(isol, limits, version, given, cgopts)
  local cg = isol and isol.cgroup
  local note
  if type(cg) == "table" and type(cg.plan) == "function" then
    local o = {}
    for k, x in pairs(cgopts or {}) do o[k] = x end
    o.version = version == "v2" and 2 or 1
    local ok, res = pcall(cg.plan, limits, o)
    if ok and type(res) == "table" and type(res.writes) == "table" then
      local lines = {}
      if res.controllers and #res.controllers > 0 then
        lines[#lines + 1] = "controllers: " .. table.concat(res.controllers, ", ")
      end
      for _, w in ipairs(res.writes) do
        local field = w[3] or w.field
        lines[#lines + 1] = string.format("%s = %s%s", tostring(w[1] or w.file), tostring(w[2] or w.value),
          field and ("   # " .. tostring(field)) or "")
      end
      if type(res.devices) == "table" then
        local d = res.devices
        local function rules(list)
          local parts = {}
          for _, e in ipairs(list or {}) do
            if type(e) == "table" then
              local words = {}
              for _, x in ipairs(e) do words[#words + 1] = tostring(x) end
              parts[#parts + 1] = table.concat(words, " ")
            else
              parts[#parts + 1] = tostring(e)
            end
          end
          return table.concat(parts, ", ")
        end
        lines[#lines + 1] = string.format("devices (%s): default %s", version == "v2" and "eBPF program"
          or "devices.allow/deny", tostring(d.default or (d.allow and "deny" or "allow")))
        if d.allow and #d.allow > 0 then lines[#lines + 1] = "  allow: " .. rules(d.allow) end
        if d.deny and #d.deny > 0 then lines[#lines + 1] = "  deny: " .. rules(d.deny) end
      end
      if res.io then lines[#lines + 1] = "io: " .. inline(res.io) end
      return lines, "the cgroup module"
    elseif not ok then
      note = "the cgroup module cannot map it on this host: " .. tostring(res)
    end
  end
  if type(cg) == "table" then
    for _, name in ipairs { "explain", "plan_files" } do
      local fn = cg[name]
      if type(fn) == "function" then
        local ok, res = pcall(fn, limits, version)
        if ok and type(res) == "string" then
          local lines = {}
          for l in res:gmatch("[^\n]+") do lines[#lines + 1] = l end
          return lines, "the cgroup module"
        elseif ok and type(res) == "table" then
          local lines = {}
          for _, e in ipairs(res) do
            if type(e) == "string" then lines[#lines + 1] = e
            elseif type(e) == "table" then
              lines[#lines + 1] = string.format("%s = %s", tostring(e.file or e[1]), tostring(e.value or e[2]))
            end
          end
          return lines, "the cgroup module"
        end
      end
    end
  end
  limits = given or limits -- the vocabulary as the user wrote it
  local lines = {}
  if note then lines[1] = "# " .. note end
  for _, e in ipairs(M.limit_files(limits, version)) do
    lines[#lines + 1] = string.format("%s = %s%s", e.file, e.value, e.note and ("   # " .. e.note) or "")
  end
  -- anything the documented mapping does not cover is shown as given
  local known = { cpu = { weight = 1, shares = 1, quota = 1, quota_us = 1, period_us = 1 },
    cpuset = { cpus = 1, mems = 1 }, memory = { max = 1, swap = 1, swappiness = 1 },
    pids = { max = 1 }, io = { weight = 1 }, devices = { allow = 1, deny = 1 } }
  for _, kv in ipairs(flatten("limits", limits)) do
    local c, f = kv[1]:match("^limits%.([%w_]+)%.([%w_]+)")
    if not (c and known[c] and known[c][f]) then
      lines[#lines + 1] = string.format("%s = %s   # as given", kv[1], tostring(kv[2]))
    end
  end
  return lines, "isol's documented mapping"
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

--- Describe the final plan of a recipe without running anything:
-- namespaces, user maps, hostname, process settings, each mount, the root,
-- and each cgroup file and value for the running kernel's cgroup version.
-- @param r a recipe (validated or not; it is validated here)
-- @param argv optional command (else the recipe's `command`)
-- @param opts optional {cgroup_version = "v1"|"v2"} to explain for another version
-- @treturn string the text (several lines, ending with a newline)
function M.explain(r, argv, opts)
  local recipe = require "isol.recipe"
  opts = opts or {}
  local isol = package.loaded.isol
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
    cwd = 1, stdin = 1, stdout = 1, stderr = 1, keep_fds = 1, mounts = 1, root = 1, limits = 1,
    caps = 1, session_keyring = 1 }

  if v.root ~= nil then
    if M.explainers.root then
      for _, l in ipairs(M.explainers.root(v.root, v, opts)) do say("%s", l) end
    elseif type(v.root) == "table" then
      local t = {}
      for k, x in pairs(v.root) do if k ~= "mounts" and k ~= "description" then t[k] = x end end
      say("root: %s%s", inline(t), v.root.description and ("   # " .. v.root.description) or "")
      for i, m in ipairs(v.root.mounts or {}) do say("  %2d. %s", i, mount_line(m)) end
    else
      say("root: %s", tostring(v.root))
    end
  end
  if v.mounts ~= nil then
    if M.explainers.mounts then
      for _, l in ipairs(M.explainers.mounts(v.mounts, v, opts)) do say("%s", l) end
    else
      say("mounts:")
      for i, m in ipairs(v.mounts) do say("  %2d. %s", i, mount_line(m)) end
    end
  end
  if v.limits ~= nil then
    local kernel = M.cgroup_version()
    local version = opts.cgroup_version or (kernel == "v2" and "v2" or "v1")
    local src = SOURCE[v] or r
    local given = type(src) == "table" and type(src.limits) == "table" and src.limits or nil
    local lines, by = cgroup_lines(isol, v.limits, version, given, v.cgroup)
    say("cgroup %s (kernel: %s; files by %s):", version, kernel, by)
    for _, l in ipairs(lines) do say("  %s", l) end
  end
  -- every other field (from concern modules) as given
  local rest = {}
  for k in pairs(v) do if not handled[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do
    if M.explainers[k] then
      for _, l in ipairs(M.explainers[k](v[k], v, opts)) do say("%s", l) end
    else
      for _, kv in ipairs(flatten(k, v[k])) do say("%s: %s", kv[1], tostring(kv[2])) end
    end
  end
  for _, l in ipairs(require("isol.security").explain_lines(v, plan)) do say("%s", l) end
  return table.concat(out, "\n") .. "\n"
end

-- Install into the isol module: isol.recipe.extend, merge, replace,
-- explain, source; isol.compose.
return setmetatable(M, {
  __call = function(_, isol)
    isol.compose = M
    local r = isol.recipe
    -- Remember the source of every validated recipe (checks normalize, and
    -- a normalized table need not validate again), so that `extend`,
    -- `explain` and sweeps can start from what the user wrote.
    if not r.validate_keeps_source then
      local validate = r.validate
      r.validate = function(t)
        local v = validate(t)
        if v ~= t and SOURCE[v] == nil and type(t) == "table" then SOURCE[v] = SOURCE[t] or util.deepcopy(t) end
        return v
      end
      r.validate_keeps_source = true
    end
    r.extend, r.merge, r.replace, r.explain, r.source = M.extend, M.merge, M.replace, M.explain, M.source
    r.cgroup_version = M.cgroup_version
  end,
})
