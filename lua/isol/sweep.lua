--- Limit sweeps: run one command under every combination of some recipe
-- values and collect what each run cost.
--
--     local res = isol.sweep {
--       recipe  = { namespaces = { "user" }, user = { map_root = true } },
--       command = { "/bin/sh", "-c", "head -c 20M /dev/zero | tail -c 1 >/dev/null" },
--       vary    = { ["limits.memory.max"] = { "16M", "64M" },
--                   ["limits.cpu.quota"]  = { "10%", "50%", "100%" } },
--       runs    = 3,
--     }
--     res:print()            -- one line per combination, medians
--     res:csv("out.csv")     -- one line per run
--
-- The spec's fields:
--
--  * `recipe` (required): a recipe table or a function returning one;
--  * `command`: argv list (default: the recipe's `command`);
--  * `vary`: `{ ["field.path"] = { value, ... }, ... }` (paths in sorted
--    order) or a list `{ { "field.path", { value, ... } }, ... }` (in that
--    order); paths are dotted, with `[n]` for list items
--    (`"mounts[1].size"`); every combination (cartesian product, first path
--    slowest) is run; without `vary`, the recipe alone;
--  * `runs` (default 1): runs per combination;
--  * `timeout` (seconds, optional): a run still going after it is killed
--    (`row.timeout = true`);
--  * `stdout`, `stderr` (default "null"; "inherit" shows the output);
--  * `catch_signals` (default true): SIGINT and SIGTERM stop the sweep
--    cleanly: the running sandbox is killed and closed (its cgroup removed),
--    the rows so far are returned with `interrupted` set. They are blocked
--    in the calling thread meanwhile and read from a signalfd (sandboxes
--    start with a clean mask; a program a callback starts with os.execute
--    would inherit the block);
--  * `on_start(info)`, `on_run(row, info)`: progress callbacks, with
--    `info = { index=, total=, vary=, run= }`;
--  * `shard = { K, N }`: run only the K-th (1-based) of N slices of the
--    combinations; `merge` joins the slices (isol.sweep_shard).
--
-- `res:plot("out.svg", opts)` draws the results with gnuplot
-- (isol.sweep_plot).
--
-- Every combination is validated before anything runs: a bad spec raises an
-- error naming the field (`sweep.vary["limits.memory.max"][2]: ...`).
--
-- The results (rows, the table, CSV, JSON) are isol.sweep_results.
-- @module isol.sweep
local core = require "isol.core"
local util = require "isol.util"
local results = require "isol.sweep_results"

local M = {}

-- ------------------------------------------------------------ paths

--- Parse "a.b[2].c" into { "a", "b", 2, "c" }; raises naming `where`.
function M.parse_path(path, where)
  if type(path) ~= "string" or path == "" then
    util.fail(where, "expected a field path like \"limits.memory.max\", got %s", util.show(path))
  end
  local parts = {}
  local rest = path
  while rest ~= "" do
    local name, after = rest:match("^([%a_][%w_]*)(.*)$")
    if not name then
      util.fail(where, "bad field path %s (expected names separated by dots, [n] for list items)", util.show(path))
    end
    parts[#parts + 1] = name
    rest = after
    while rest:sub(1, 1) == "[" do
      local n, after2 = rest:match("^%[(%d+)%](.*)$")
      if not n or tonumber(n) < 1 then util.fail(where, "bad list index in %s", util.show(path)) end
      parts[#parts + 1] = tonumber(n)
      rest = after2
    end
    if rest ~= "" then
      if rest:sub(1, 1) ~= "." or #rest == 1 then
        util.fail(where, "bad field path %s (expected names separated by dots, [n] for list items)",
          util.show(path))
      end
      rest = rest:sub(2)
    end
  end
  return parts
end

--- Set `value` at a parsed path inside table t (creating tables on the way).
function M.set_path(t, parts, value)
  for i = 1, #parts - 1 do
    local k = parts[i]
    if t[k] == nil then t[k] = {} end
    if type(t[k]) ~= "table" then
      return false, string.format("%s is a %s, not a table", tostring(k), type(t[k]))
    end
    t = t[k]
  end
  t[parts[#parts]] = util.deepcopy(value)
  return true
end

local show_value = results.show_value
M.show_value = show_value
M.outcome = results.outcome
M.median = results.median

-- ------------------------------------------------------------ spec

local SPEC_KEYS = { recipe = true, command = true, vary = true, runs = true, timeout = true,
  stdout = true, stderr = true, catch_signals = true, on_start = true, on_run = true }
SPEC_KEYS.shard = true -- { K, N }: run only the K-th of N slices (isol.sweep_shard)

--- Check a sweep spec and expand it. Returns the plan
-- { paths = {...}, combos = { {values=, recipe=validated}, ... }, runs=, ... };
-- raises an error naming the field.
function M.check(spec)
  local recipe = require "isol.recipe"
  local compose = require "isol.compose"
  util.check_type("sweep", spec, "table")
  util.check_keys("sweep", spec, SPEC_KEYS)
  local base = spec.recipe
  if base == nil then util.fail("sweep.recipe", "required (a recipe table or a function returning one)") end
  if type(base) == "function" then base = base() end
  util.check_type("sweep.recipe", base, "table")
  base = compose.source(base)

  local command
  if spec.command ~= nil then
    local c = spec.command
    if type(c) == "string" then c = { c } end
    util.check_type("sweep.command", c, "table")
    if #c == 0 or not util.is_list(c) then util.fail("sweep.command", "expected a non-empty argv list") end
    for i, a in ipairs(c) do util.check_type(string.format("sweep.command[%d]", i), a, "string") end
    command = util.copy_list(c)
  elseif base.command == nil then
    util.fail("sweep.command", "required (the recipe has no `command` either)")
  end

  local runs = spec.runs == nil and 1 or spec.runs
  if math.type(runs) ~= "integer" or runs < 1 then
    util.fail("sweep.runs", "expected an integer >= 1, got %s", util.show(runs))
  end
  local timeout = spec.timeout
  if timeout ~= nil and (type(timeout) ~= "number" or timeout <= 0) then
    util.fail("sweep.timeout", "expected seconds > 0, got %s", util.show(timeout))
  end
  for _, s in ipairs { "stdout", "stderr" } do
    if spec[s] ~= nil then recipe.check_io(spec[s], "sweep." .. s) end
  end
  if spec.catch_signals ~= nil then util.check_type("sweep.catch_signals", spec.catch_signals, "boolean") end
  for _, f in ipairs { "on_start", "on_run" } do
    if spec[f] ~= nil then util.check_type("sweep." .. f, spec[f], "function") end
  end

  -- the axes, in a defined order
  local axes = {}
  local vary = spec.vary
  if vary ~= nil then
    util.check_type("sweep.vary", vary, "table")
    if util.is_list(vary) and #vary > 0 then
      for i, e in ipairs(vary) do
        local w = string.format("sweep.vary[%d]", i)
        util.check_type(w, e, "table")
        if #e ~= 2 then util.fail(w, 'expected { "field.path", { values... } }') end
        axes[#axes + 1] = { path = e[1], values = e[2], where = w }
      end
    else
      local keys = {}
      for k in pairs(vary) do
        if type(k) ~= "string" then
          util.fail("sweep.vary", "expected field paths as keys, got %s %s", type(k), util.show(k))
        end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      for _, k in ipairs(keys) do
        axes[#axes + 1] = { path = k, values = vary[k], where = string.format("sweep.vary[%q]", k) }
      end
    end
  end
  local seen = {}
  for _, a in ipairs(axes) do
    a.parts = M.parse_path(a.path, a.where)
    if seen[a.path] then util.fail(a.where, "field path %s given twice", util.show(a.path)) end
    seen[a.path] = true
    if type(a.values) ~= "table" or not util.is_list(a.values) or #a.values == 0 then
      util.fail(a.where, "expected a non-empty list of values, got %s",
        type(a.values) == "table" and "an empty or non-list table" or util.show(a.values))
    end
  end

  -- cartesian product, first axis slowest; each combination validated now
  local combos = {}
  local idx = {}
  for i = 1, #axes do idx[i] = 1 end
  repeat
    local r = util.deepcopy(base)
    local values = {}
    for i, a in ipairs(axes) do
      local v = a.values[idx[i]]
      local w = string.format("%s[%d]", a.where, idx[i])
      local ok, msg = M.set_path(r, a.parts, v)
      if not ok then util.fail(w, "cannot set %s: %s", a.path, msg) end
      values[a.path] = v
    end
    local ok, valid = pcall(recipe.validate, r)
    if not ok then
      local where = {}
      for i, a in ipairs(axes) do
        where[#where + 1] = string.format("%s[%d] = %s", a.where, idx[i], show_value(a.values[idx[i]]))
      end
      error(string.format("%s%s", #where > 0 and ("with " .. table.concat(where, ", ") .. ": ") or "sweep.recipe: ",
        tostring(valid)), 0)
    end
    combos[#combos + 1] = { values = values, recipe = valid, index = #combos + 1 }
    -- next index
    local i = #axes
    while i >= 1 do
      idx[i] = idx[i] + 1
      if idx[i] <= #axes[i].values then break end
      idx[i] = 1
      i = i - 1
    end
  until i < 1

  local paths = {}
  for i, a in ipairs(axes) do paths[i] = a.path end
  -- sharding: which slice runs, and the hash every results file records
  local shard_mod = require "isol.sweep_shard"
  local shard
  if spec.shard ~= nil then
    local k, n = shard_mod.check(spec.shard, "sweep.shard")
    shard = { k = k, n = n }
  end
  local hash_axes = {}
  for i, a in ipairs(axes) do hash_axes[i] = { a.path, a.values } end
  local spec_hash = shard_mod.spec_hash(base, command, hash_axes, runs)
  return {
    shard = shard, spec_hash = spec_hash,
    paths = paths, combos = combos, runs = runs, timeout = timeout, command = command,
    stdout = spec.stdout or "null", stderr = spec.stderr or "null",
    catch_signals = spec.catch_signals ~= false,
    on_start = spec.on_start, on_run = spec.on_run,
  }
end

-- ------------------------------------------------------------ stats

--- The sweep's columns from a `box:stats()` table (isol.Cgroup:stats:
-- cpu.usage_us, cpu.throttled_us, cpu.nr_throttled, memory.peak,
-- memory.oom_kills, pids.peak; a value the kernel does not give stays nil).
function M.stats_columns(s)
  local cpu, mem, pids = s.cpu or {}, s.memory or {}, s.pids or {}
  return {
    cpu_usec = cpu.usage_us,
    throttled_usec = cpu.throttled_us,
    nr_throttled = cpu.nr_throttled,
    mem_peak = mem.peak,
    oom_kills = mem.oom_kills,
    pids_peak = pids.peak,
  }
end

-- ------------------------------------------------------------ running

-- One run; returns the row and whether a signal asked to stop.
local function run_one(isol, plan, combo, catcher)
  local row = { vary = combo.values, wall = 0 }
  local box <close> = isol.sandbox(combo.recipe)
  local argv = plan.command and util.copy_list(plan.command) or util.copy_list(combo.recipe.command)
  argv.stdin = "null"
  argv.stdout = plan.stdout
  argv.stderr = plan.stderr
  local t0 = core.now()
  local p <close>, msg = box:spawn(argv)
  if not p then
    row.error = msg
    row.wall = core.now() - t0
    return row, nil
  end
  local stop_sig
  local fds = { p:pidfd() }
  if catcher then fds[2] = catcher:fd() end
  while true do
    local left
    if plan.timeout then
      left = plan.timeout - (core.now() - t0)
      if left <= 0 then
        row.timeout = true
        box:kill("SIGKILL")
        break
      end
    end
    local ready = core.poll(fds, left or -1)
    if catcher and ready and ready[fds[2]] then
      stop_sig = catcher:read()
      if stop_sig then
        row.interrupted = true
        box:kill("SIGKILL")
        break
      end
    end
    if ready and ready[fds[1]] then break end
  end
  local st, werr = p:wait()
  row.wall = core.now() - t0
  if not st then
    row.error = werr
  else
    row.status = st
    row.code, row.signal = st.code, st.signal
    row.oom = st.oom and true or nil
  end
  local s = box:stats() -- nil when the sandbox has no cgroup
  if s then
    row.stats = s
    for k, v in pairs(M.stats_columns(s)) do row[k] = v end
    if row.oom_kills and row.oom_kills > 0 then row.oom = true end
  end
  return row, stop_sig
end

--- Run a sweep (see the module doc for the spec). Returns a results table
-- (a list of rows with methods `print`, `format`, `csv`, `json`,
-- `summary`), also when interrupted (then `results.interrupted` is the
-- signal name). Raises on a bad spec, before running anything.
function M.sweep(spec)
  local isol = require "isol"
  local plan = M.check(spec)
  local combos = require("isol.sweep_shard").select(plan.combos, plan.shard)
  local total = #combos * plan.runs
  local res = results.new(plan.paths, plan.runs, total)
  res.spec_hash, res.shard, res.combinations = plan.spec_hash, plan.shard, #plan.combos
  local catcher
  if plan.catch_signals then
    local c, msg, code = core.sigcatch { "SIGINT", "SIGTERM" }
    if not c then return nil, msg, code end
    catcher = c
  end
  local ok, err = pcall(function()
    local index = 0
    for _, combo in ipairs(combos) do
      for run = 1, plan.runs do
        index = index + 1
        local pending = catcher and catcher:read()
        if pending then res.interrupted = pending; return end
        local info = { index = index, total = total, vary = combo.values, run = run }
        if plan.on_start then plan.on_start(info) end
        local row, stop = run_one(isol, plan, combo, catcher)
        row.run = run
        row.combo = combo.index -- its place in the unsharded order (isol.sweep_shard.merge)
        if stop then
          res.interrupted = stop
          row.interrupted = true
        end
        res[#res + 1] = row
        if plan.on_run then plan.on_run(row, info) end
        if stop then return end
      end
    end
  end)
  if catcher then
    if not res.interrupted then
      local s = catcher:read()
      if s then res.interrupted = s end
    end
    catcher:close()
  end
  if not ok then error(err, 0) end
  return res
end

M.Results = results.Results

--- Merge the results of a sharded sweep (files written by `res:json` or
-- `isol sweep --shard K/N --json F`, or results tables) into those of one
-- unsharded run; nil, message when they do not fit (see isol.sweep_shard).
function M.merge(list)
  return require("isol.sweep_shard").merge(list)
end

-- ------------------------------------------------------------ find_min

local FIND_KEYS = { recipe = true, command = true, field = true, range = true, runs = true, timeout = true,
  precision = true, stdout = true, stderr = true, on_probe = true }

-- A range bound: a size ("4M", "1G": then the field takes bytes) or a plain
-- integer (pids.max, an rlimit). Returns the number and whether it is a size.
local function bound(v, where)
  if math.type(v) == "integer" then return v, false end
  if type(v) == "string" and v:match("^%s*%d+%s*$") then return math.tointeger(tonumber(v)), false end
  if type(v) == "string" then
    local ok, n = pcall(util.parse_size, where, v)
    if ok and n then return n, true end
  end
  util.fail(where, 'expected an integer or a size like "4M", got %s', util.show(v))
end

--- Bisect to the smallest value of one recipe field at which the command
-- succeeds (exit 0 in every one of `runs` runs), e.g. the memory a program
-- needs. Assumes success is monotonic in the value (more never hurts).
--
--     local v, probes = isol.sweep.find_min { recipe = {...}, command = {...},
--       field = "limits.memory.max", range = { "4M", "1G" }, runs = 3 }
--
-- The spec: `recipe`, `command`, `runs`, `timeout`, `stdout`, `stderr` as
-- for isol.sweep; `field` (a path); `range = { lo, hi }`, sizes ("4M") or
-- integers (pids.max, rlimits); `precision`: stop when the interval is at
-- most this wide (default 1 for integers; for sizes 1% of the value found,
-- at least 4K); `on_probe(probe)`: called after each probe.
-- @return the value (an integer: bytes for sizes), or nil and a message
--   when even `hi` fails or a probe could not run at all; then the list of
--   probes, in order: { value=, ok=, passed=, runs=, outcome=, error=, results= }
--   (results: the isol.sweep results of that probe). Raises on a bad spec.
function M.find_min(spec)
  util.check_type("find_min", spec, "table")
  util.check_keys("find_min", spec, FIND_KEYS)
  M.parse_path(spec.field, "find_min.field")
  util.check_type("find_min.range", spec.range, "table")
  if #spec.range ~= 2 then util.fail("find_min.range", "expected { lo, hi }") end
  local lo, lsize = bound(spec.range[1], "find_min.range[1]")
  local hi, hsize = bound(spec.range[2], "find_min.range[2]")
  local size = lsize or hsize
  if lo < 0 or hi <= lo then
    util.fail("find_min.range", "expected 0 <= lo < hi, got %s..%s", util.show(spec.range[1]), util.show(spec.range[2]))
  end
  local precision = spec.precision
  if precision ~= nil then
    precision = select(1, bound(precision, "find_min.precision"))
    if precision < 1 then util.fail("find_min.precision", "expected at least 1, got %s", util.show(spec.precision)) end
  end
  if spec.on_probe ~= nil then util.check_type("find_min.on_probe", spec.on_probe, "function") end
  local base = { recipe = spec.recipe, command = spec.command, runs = spec.runs, timeout = spec.timeout,
    stdout = spec.stdout, stderr = spec.stderr }
  -- the whole spec is checked (and both bounds validated) before any run
  for _, v in ipairs { lo, hi } do
    local s = {}
    for k, x in pairs(base) do s[k] = x end
    s.vary = { { spec.field, { v } } }
    M.check(s)
  end

  local probes = {}
  local function probe(v)
    local s = {}
    for k, x in pairs(base) do s[k] = x end
    s.vary = { { spec.field, { v } } }
    local res = M.sweep(s)
    local passed, first_err = 0, nil
    local outcome
    for _, row in ipairs(res) do
      if row.code == 0 and not row.error and not row.timeout then passed = passed + 1 end
      first_err = first_err or row.error
      if M.outcome(row) ~= "ok" then outcome = outcome or M.outcome(row) end
    end
    local p = { value = v, ok = passed == #res and #res > 0, passed = passed, runs = #res,
      outcome = outcome or "ok", error = first_err, results = res }
    probes[#probes + 1] = p
    if spec.on_probe then spec.on_probe(p) end
    return p, res.interrupted
  end
  -- A run that cannot start counts as a failure of its probe (too few
  -- pids to fork the command is one); at `hi` its error is the answer.
  local p, intr = probe(hi)
  if intr then return nil, "interrupted by " .. intr, probes end
  if not p.ok then
    return nil, string.format("the command fails even with %s=%s (%s)", spec.field,
      size and results.human_bytes(hi) or tostring(hi), p.error or p.outcome), probes
  end
  p, intr = probe(lo)
  if intr then return nil, "interrupted by " .. intr, probes end
  if p.ok then return lo, probes end
  -- invariant: lo fails, hi succeeds
  while true do
    local width = precision or (size and math.max(4096, hi // 100) or 1)
    if hi - lo <= width then break end
    local mid = lo + (hi - lo) // 2
    if size then mid = math.max(lo + 1, mid - mid % 4096) end -- whole pages
    if mid >= hi then break end
    p, intr = probe(mid)
    if intr then return nil, "interrupted by " .. intr, probes end
    if p.ok then hi = mid else lo = mid end
  end
  return hi, probes
end

-- Install into the isol module: isol.sweep(spec).
return setmetatable(M, {
  __call = function(_, isol)
    isol.sweep = M.sweep
  end,
})
