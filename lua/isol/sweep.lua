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
--    `info = { index=, total=, vary=, run= }`.
--
-- Every combination is validated before anything runs: a bad spec raises an
-- error naming the field (`sweep.vary["limits.memory.max"][2]: ...`).
--
-- Each row: `vary` (path -> value), `run`, `status` (the wait table),
-- `code` or `signal`, `oom`, `timeout`, `interrupted`, `error` (spawn
-- failure), `wall` (seconds), and from `box:stats()` when the cgroup
-- concern provides it: `cpu_usec`, `throttled_usec`, `mem_peak` (bytes),
-- `oom_kills`, `pids_peak`, plus the raw `stats`.
-- @module isol.sweep
local core = require "isol.core"
local util = require "isol.util"

local M = {}

local Results = {}
Results.__index = Results

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

local function show_value(v)
  if type(v) == "table" then
    local parts = {}
    for _, x in ipairs(v) do parts[#parts + 1] = show_value(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end
M.show_value = show_value

-- ------------------------------------------------------------ spec

local SPEC_KEYS = { recipe = true, command = true, vary = true, runs = true, timeout = true,
  stdout = true, stderr = true, catch_signals = true, on_start = true, on_run = true }

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
    combos[#combos + 1] = { values = values, recipe = valid }
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
  return {
    paths = paths, combos = combos, runs = runs, timeout = timeout, command = command,
    stdout = spec.stdout or "null", stderr = spec.stderr or "null",
    catch_signals = spec.catch_signals ~= false,
    on_start = spec.on_start, on_run = spec.on_run,
  }
end

-- ------------------------------------------------------------ stats

local function get(t, path)
  for key in path:gmatch("[^.]+") do
    if type(t) ~= "table" then return nil end
    t = t[key]
  end
  return type(t) == "number" and t or nil
end

local function first(s, names)
  for _, n in ipairs(names) do
    local v = get(s, n)
    if v then return v end
  end
  return nil
end

--- The sweep's columns from a `box:stats()` table (names of v1 and v2
-- spellings accepted; a missing value stays nil).
function M.stats_columns(s)
  if type(s) ~= "table" then return {} end
  local usec = first(s, { "cpu.usage_usec", "cpu.usage_us", "cpuacct.usage_usec" })
  if not usec then
    local ns = first(s, { "cpu.usage_ns", "cpuacct.usage", "cpu.usage" })
    if ns then usec = ns // 1000 end
  end
  local thr = first(s, { "cpu.throttled_usec", "cpu.throttled_us", "cpu.throttled_time_usec" })
  if not thr then
    local ns = first(s, { "cpu.throttled_time", "cpu.throttled_ns", "cpu.throttled_time_ns" })
    if ns then thr = ns // 1000 end
  end
  return {
    cpu_usec = usec,
    throttled_usec = thr,
    nr_throttled = first(s, { "cpu.nr_throttled", "cpu.throttled_count", "cpu.throttled" }),
    mem_peak = first(s, { "memory.peak", "memory.max_usage", "memory.max_usage_in_bytes" }),
    oom_kills = first(s, { "memory.oom_kills", "memory.oom_kill", "memory.events.oom_kill", "memory.oom" }),
    pids_peak = first(s, { "pids.peak", "pids.max_usage" }),
  }
end

-- ------------------------------------------------------------ running

local function sandbox_stats(box)
  if type(box.stats) ~= "function" then return nil end
  local ok, s = pcall(box.stats, box)
  if ok and type(s) == "table" then return s end
  return nil
end

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
  local s = sandbox_stats(box)
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
  local res = setmetatable({ paths = plan.paths, runs = plan.runs, interrupted = nil }, Results)
  local total = #plan.combos * plan.runs
  res.total = total
  local catcher
  if plan.catch_signals then
    local c, msg, code = core.sigcatch { "SIGINT", "SIGTERM" }
    if not c then return nil, msg, code end
    catcher = c
  end
  local ok, err = pcall(function()
    local index = 0
    for _, combo in ipairs(plan.combos) do
      for run = 1, plan.runs do
        index = index + 1
        local pending = catcher and catcher:read()
        if pending then res.interrupted = pending; return end
        local info = { index = index, total = total, vary = combo.values, run = run }
        if plan.on_start then plan.on_start(info) end
        local row, stop = run_one(isol, plan, combo, catcher)
        row.run = run
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

-- ------------------------------------------------------------ results

local function median(list)
  local t = {}
  for _, v in ipairs(list) do if v ~= nil then t[#t + 1] = v end end
  if #t == 0 then return nil end
  table.sort(t)
  local n = #t
  if n % 2 == 1 then return t[(n + 1) // 2] end
  return (t[n // 2] + t[n // 2 + 1]) / 2
end
M.median = median

local function human_bytes(b)
  if b == nil then return "-" end
  local units = { "B", "K", "M", "G", "T" }
  local i = 1
  while b >= 1024 and i < #units do b = b / 1024; i = i + 1 end
  if i == 1 then return string.format("%d%s", b, units[i]) end
  return string.format("%.1f%s", b, units[i])
end

--- Outcome word of a row: "ok", "exit N", "SIGKILL", "oom", "timeout", "interrupted", "error".
function M.outcome(row)
  if row.error then return "error" end
  if row.interrupted then return "interrupted" end
  if row.timeout then return "timeout" end
  if row.oom then return "oom" end
  if row.code == 0 then return "ok" end
  if row.code then return "exit " .. row.code end
  if row.signal then return tostring(row.signal) end
  return "?"
end

--- One entry per combination, in run order: { vary=, rows=, ok=, n=,
-- outcomes=, wall=, cpu_usec=, throttled_usec=, mem_peak=, oom_kills=,
-- pids_peak= } (medians; oom_kills summed; pids_peak the maximum).
function Results:summary()
  local groups, order = {}, {}
  for _, row in ipairs(self) do
    local key = {}
    for _, p in ipairs(self.paths) do key[#key + 1] = show_value(row.vary[p]) end
    key = table.concat(key, "\0")
    local g = groups[key]
    if not g then
      g = { vary = row.vary, rows = {} }
      groups[key] = g
      order[#order + 1] = g
    end
    g.rows[#g.rows + 1] = row
  end
  for _, g in ipairs(order) do
    local col = function(name)
      local t = {}
      for _, r in ipairs(g.rows) do t[#t + 1] = r[name] end
      return t
    end
    g.n = #g.rows
    g.ok = 0
    local counts, names = {}, {}
    for _, r in ipairs(g.rows) do
      local o = M.outcome(r)
      if o == "ok" then g.ok = g.ok + 1 end
      if not counts[o] then names[#names + 1] = o end
      counts[o] = (counts[o] or 0) + 1
    end
    local parts = {}
    for _, o in ipairs(names) do
      parts[#parts + 1] = counts[o] == g.n and o or string.format("%s x%d", o, counts[o])
    end
    g.outcomes = table.concat(parts, ", ")
    g.wall = median(col("wall"))
    g.cpu_usec = median(col("cpu_usec"))
    g.throttled_usec = median(col("throttled_usec"))
    g.mem_peak = median(col("mem_peak"))
    local sum, any = 0, false
    for _, v in ipairs(col("oom_kills")) do sum = sum + v; any = true end
    g.oom_kills = any and sum or nil
    local mx
    for _, v in ipairs(col("pids_peak")) do if not mx or v > mx then mx = v end end
    g.pids_peak = mx
  end
  return order
end

--- The aligned text table (one line per combination, medians of its runs).
function Results:format()
  local head = {}
  for _, p in ipairs(self.paths) do head[#head + 1] = p end
  local fixed = { "runs", "outcome", "wall(med)", "cpu(med)", "throttled(med)", "mem peak(med)", "oom kills",
    "pids peak" }
  for _, h in ipairs(fixed) do head[#head + 1] = h end
  local lines = { head }
  local function ms(usec) return usec and string.format("%.1fms", usec / 1000) or "-" end
  for _, g in ipairs(self:summary()) do
    local l = {}
    for _, p in ipairs(self.paths) do l[#l + 1] = show_value(g.vary[p]) end
    l[#l + 1] = string.format("%d/%d ok", g.ok, g.n)
    l[#l + 1] = g.outcomes
    l[#l + 1] = g.wall and string.format("%.3fs", g.wall) or "-"
    l[#l + 1] = ms(g.cpu_usec)
    l[#l + 1] = ms(g.throttled_usec)
    l[#l + 1] = human_bytes(g.mem_peak)
    l[#l + 1] = g.oom_kills and tostring(math.tointeger(g.oom_kills) or g.oom_kills) or "-"
    l[#l + 1] = g.pids_peak and tostring(math.tointeger(g.pids_peak) or g.pids_peak) or "-"
    lines[#lines + 1] = l
  end
  local width = {}
  for _, l in ipairs(lines) do
    for i, c in ipairs(l) do width[i] = math.max(width[i] or 0, #c) end
  end
  local out = {}
  for n, l in ipairs(lines) do
    local cells = {}
    for i, c in ipairs(l) do cells[i] = c .. string.rep(" ", width[i] - #c) end
    out[#out + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
    if n == 1 then
      local rule = {}
      for i = 1, #l do rule[i] = string.rep("-", width[i]) end
      out[#out + 1] = table.concat(rule, "  ")
    end
  end
  if self.interrupted then
    out[#out + 1] = string.format("(interrupted by %s after %d of %d runs)", self.interrupted, #self,
      self.total or #self)
  end
  return table.concat(out, "\n") .. "\n"
end

--- Write the table of `format` to `out` (a file, default io.stdout).
function Results:print(out)
  out = out or io.stdout
  out:write(self:format())
  return self
end

local CSV_COLS = { "run", "outcome", "code", "signal", "oom", "timeout", "interrupted", "wall_s", "cpu_usec",
  "throttled_usec", "nr_throttled", "mem_peak", "oom_kills", "pids_peak", "error" }

local function csv_cell(v)
  if v == nil then return "" end
  if type(v) == "boolean" then return v and "true" or "false" end
  if type(v) == "table" then v = show_value(v) end
  v = tostring(v)
  if v:find('[,"\n\r]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

local function write_file(path, text)
  local f, msg, code = io.open(path, "w")
  if not f then return nil, msg, code end
  local ok, wmsg, wcode = f:write(text)
  f:close()
  if not ok then return nil, wmsg, wcode end
  return true
end

--- CSV, one line per run (header: the varied paths, then run, outcome,
-- code, signal, oom, timeout, interrupted, wall_s, cpu_usec,
-- throttled_usec, nr_throttled, mem_peak, oom_kills, pids_peak, error).
-- With a path, writes the file (true, or nil, msg, errno); without, returns the text.
function Results:csv(path)
  local lines = {}
  local head = {}
  for _, p in ipairs(self.paths) do head[#head + 1] = csv_cell(p) end
  for _, c in ipairs(CSV_COLS) do head[#head + 1] = c end
  lines[1] = table.concat(head, ",")
  for _, row in ipairs(self) do
    local l = {}
    for _, p in ipairs(self.paths) do l[#l + 1] = csv_cell(row.vary[p]) end
    for _, c in ipairs(CSV_COLS) do
      local v
      if c == "outcome" then v = M.outcome(row)
      elseif c == "wall_s" then v = string.format("%.6f", row.wall or 0)
      else v = row[c] end
      l[#l + 1] = csv_cell(v)
    end
    lines[#lines + 1] = table.concat(l, ",")
  end
  local text = table.concat(lines, "\n") .. "\n"
  if path == nil then return text end
  return write_file(path, text)
end

local function json(v, seen)
  local t = type(v)
  if v == nil then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.17g", v)
  end
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      local map = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
      return map[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  end
  if t ~= "table" then return json(tostring(v)) end
  seen = seen or {}
  if seen[v] then return "null" end
  seen[v] = true
  local out = {}
  if util.is_list(v) and next(v) ~= nil then
    for _, x in ipairs(v) do out[#out + 1] = json(x, seen) end
    seen[v] = nil
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do if type(k) == "string" or math.type(k) == "integer" then keys[#keys + 1] = tostring(k) end end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local x = v[k]
    if x == nil then x = v[tonumber(k)] end
    if type(x) ~= "function" then out[#out + 1] = json(k) .. ":" .. json(x, seen) end
  end
  seen[v] = nil
  return "{" .. table.concat(out, ",") .. "}"
end
M.json_encode = json

--- JSON: { paths = [...], runs =, interrupted =, rows = [...], summary = [...] }.
-- With a path, writes the file (true, or nil, msg, errno); without, returns the text.
function Results:json(path)
  local rows = {}
  for i, row in ipairs(self) do
    local r = {}
    for k, v in pairs(row) do r[k] = v end
    r.outcome = M.outcome(row)
    rows[i] = r
  end
  local summary = {}
  for i, g in ipairs(self:summary()) do
    summary[i] = { vary = g.vary, n = g.n, ok = g.ok, outcomes = g.outcomes, wall = g.wall, cpu_usec = g.cpu_usec,
      throttled_usec = g.throttled_usec, mem_peak = g.mem_peak, oom_kills = g.oom_kills, pids_peak = g.pids_peak }
  end
  local text = json({ paths = self.paths, runs = self.runs, interrupted = self.interrupted or false,
    rows = rows, summary = summary }) .. "\n"
  if path == nil then return text end
  return write_file(path, text)
end

function Results:__tostring()
  return string.format("isol.SweepResults (%d rows%s)", #self, self.interrupted and ", interrupted" or "")
end

M.Results = Results

-- Install into the isol module: isol.sweep(spec).
return setmetatable(M, {
  __call = function(_, isol)
    isol.sweep = M.sweep
  end,
})
