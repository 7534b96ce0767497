--- The results of a limit sweep (isol.sweep): a list of rows, one per run,
-- with the ways to read them: `summary` (one entry per combination),
-- `format`/`print` (the aligned table, with the first error of each
-- combination and an "errors:" footer), `csv` (one line per run) and `json`
-- (through lua-cjson).
--
-- A row: `vary` (path -> value), `run`, `status` (the wait table), `code` or
-- `signal`, `oom`, `timeout`, `interrupted`, `error` (isol could not run the
-- command: the message), `wall` (seconds), and from `box:stats()` when the
-- sandbox has a cgroup: `cpu_usec`, `throttled_usec`, `nr_throttled`,
-- `mem_peak` (bytes), `oom_kills`, `pids_peak`, plus the raw `stats`.
-- @module isol.sweep_results
local cjson = require("cjson").new()

cjson.encode_invalid_numbers("null") -- a NaN or inf statistic is no value

local M = {}

local Results = {}
Results.__index = Results
M.Results = Results

--- A new results list for the varied `paths`, `runs` runs per combination
-- and `total` runs in all.
function M.new(paths, runs, total)
  return setmetatable({ paths = paths, runs = runs, total = total, interrupted = nil }, Results)
end

--- A value as the table and CSV show it ({a,b} for lists).
local function show_value(v)
  if type(v) == "table" then
    local parts = {}
    for _, x in ipairs(v) do parts[#parts + 1] = show_value(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end
M.show_value = show_value

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
M.human_bytes = human_bytes

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
-- outcomes=, error= (the first error message of its runs), wall=, cpu_usec=,
-- throttled_usec=, mem_peak=, oom_kills=, pids_peak= } (medians; oom_kills
-- summed; pids_peak the maximum).
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
      if r.error and not g.error then g.error = r.error end
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

--- The distinct error messages of the runs, in the order they first
-- happened: { { message=, runs= }, ... }.
function Results:errors()
  local list, index = {}, {}
  for _, row in ipairs(self) do
    local m = row.error
    if m then
      local e = index[m]
      if not e then
        e = { message = m, runs = 0 }
        index[m] = e
        list[#list + 1] = e
      end
      e.runs = e.runs + 1
    end
  end
  return list
end

--- True when the sweep ran and every run was an error (isol could not run
-- the command at all): what `isol sweep` exits 1 for.
function Results:all_failed()
  if #self == 0 then return false end
  for _, row in ipairs(self) do
    if not row.error then return false end
  end
  return true
end

--- The aligned text table: one line per combination (medians of its runs);
-- when some runs failed, an "error" column naming the first error of each
-- combination by its number in the "errors:" footer, which lists each
-- distinct message once.
-- opts.bars = a quantity key (see M.BAR_QUANTITIES): a last column with a
-- bar of unicode blocks per combination, scaled to the largest median.
function Results:format(opts)
  local errors = self:errors()
  local number = {}
  for i, e in ipairs(errors) do number[e.message] = i end
  local head = {}
  for _, p in ipairs(self.paths) do head[#head + 1] = p end
  local fixed = { "runs", "outcome", "wall(med)", "cpu(med)", "throttled(med)", "mem peak(med)", "oom kills",
    "pids peak" }
  for _, h in ipairs(fixed) do head[#head + 1] = h end
  if #errors > 0 then head[#head + 1] = "error" end
  local bar_q = opts and opts.bars
  if bar_q ~= nil and not M.BAR_QUANTITIES[bar_q] then
    error(string.format("format opts.bars: unknown quantity %q (known: %s)", tostring(bar_q), M.bar_quantities()), 2)
  end
  local bars = bar_q and M.bars(self:summary(), bar_q)
  if bars then head[#head + 1] = "bar: " .. M.BAR_QUANTITIES[bar_q] end
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
    if #errors > 0 then l[#l + 1] = g.error and ("[" .. number[g.error] .. "]") or "-" end
    if bars then l[#l + 1] = bars[#lines] end
    lines[#lines + 1] = l
  end
  local width = {}
  for _, l in ipairs(lines) do
    for i, c in ipairs(l) do width[i] = math.max(width[i] or 0, utf8.len(c) or #c) end
  end
  local out = {}
  for n, l in ipairs(lines) do
    local cells = {}
    for i, c in ipairs(l) do cells[i] = c .. string.rep(" ", width[i] - (utf8.len(c) or #c)) end
    out[#out + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
    if n == 1 then
      local rule = {}
      for i = 1, #l do rule[i] = string.rep("-", width[i]) end
      out[#out + 1] = table.concat(rule, "  ")
    end
  end
  if #errors > 0 then
    out[#out + 1] = "errors:"
    for i, e in ipairs(errors) do
      out[#out + 1] = string.format("  [%d] %s (%d run%s)", i, e.message, e.runs, e.runs == 1 and "" or "s")
    end
  end
  if self.interrupted then
    out[#out + 1] = string.format("(interrupted by %s after %d of %d runs)", self.interrupted, #self,
      self.total or #self)
  end
  return table.concat(out, "\n") .. "\n"
end

--- Write the table of `format` to `out` (a file, default io.stdout);
-- `opts` as for `format` (bars).
function Results:print(out, opts)
  out = out or io.stdout
  out:write(self:format(opts))
  return self
end

--- The quantities a table bar can show, with their column headings.
M.BAR_QUANTITIES = { wall = "wall", cpu_usec = "cpu", throttled_usec = "throttled", mem_peak = "mem peak",
  oom_kills = "oom kills" }

--- The quantity names `format`'s bars accept, sorted, as one string.
function M.bar_quantities()
  local k = {}
  for n in pairs(M.BAR_QUANTITIES) do k[#k + 1] = n end
  table.sort(k)
  return table.concat(k, ", ")
end

local EIGHTHS = { "\u{258F}", "\u{258E}", "\u{258D}", "\u{258C}", "\u{258B}", "\u{258A}", "\u{2589}", "\u{2588}" }
M.BAR_WIDTH = 12

--- One bar per summary entry for `quantity` (its median; oom_kills: the
-- sum), `M.BAR_WIDTH` cells of unicode blocks in eighths, scaled to the
-- largest; "" where the quantity was not measured. The list of strings.
function M.bars(groups, quantity)
  local max = 0
  for _, g in ipairs(groups) do
    local v = g[quantity]
    if type(v) == "number" and v > max then max = v end
  end
  local out = {}
  for i, g in ipairs(groups) do
    local v = g[quantity]
    if type(v) ~= "number" then out[i] = ""
    elseif max <= 0 or v <= 0 then out[i] = "\u{2502}" -- zero: a thin tick, not nothing
    else
      local eighths = math.max(1, math.floor(v / max * M.BAR_WIDTH * 8 + 0.5))
      out[i] = string.rep(EIGHTHS[8], eighths // 8) .. (eighths % 8 > 0 and EIGHTHS[eighths % 8] or "")
    end
  end
  return out
end

--- Draw the results with gnuplot into the SVG file `path` (see
-- isol.sweep_plot: opts.quantity, opts.axes). True, or nil, message.
function Results:plot(path, opts)
  return require("isol.sweep_plot").plot(self, path, opts)
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

--- Write `text` to the file `path`: true, or nil, message, errno.
local function write_file(path, text)
  local f, msg, code = io.open(path, "w")
  if not f then return nil, msg, code end
  local ok, wmsg, wcode = f:write(text)
  f:close()
  if not ok then return nil, wmsg, wcode end
  return true
end
M.write_file = write_file

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

-- A JSON array even when empty: lua-cjson 2.1.0 (Debian) writes an empty
-- table as {} and has no array marker, so an empty list is encoded as this
-- string, then replaced.
local EMPTY = "@@isol.sweep_results:empty-array@@"
local function array(t)
  if next(t) == nil then return EMPTY end
  return t
end

-- A row's fields as JSON values: the wait status and stats are plain
-- tables of numbers, strings and booleans; vary values may be lists.
local function json_row(row)
  local r = {}
  for k, v in pairs(row) do r[k] = v end
  r.outcome = M.outcome(row)
  return r
end

--- JSON: { paths = [...], runs =, interrupted =, rows = [...], summary = [...],
-- errors = [{message=, runs=}, ...], spec_hash =, combinations = (of the
-- whole spec), total = (runs planned), shard = {k=, n=} (a sharded run) }
-- (isol.sweep_shard merges such files).
-- With a path, writes the file (true, or nil, msg, errno); without, returns the text.
function Results:json(path)
  local rows = {}
  for i, row in ipairs(self) do rows[i] = json_row(row) end
  local summary = {}
  for i, g in ipairs(self:summary()) do
    summary[i] = { vary = g.vary, n = g.n, ok = g.ok, outcomes = g.outcomes, error = g.error, wall = g.wall,
      cpu_usec = g.cpu_usec, throttled_usec = g.throttled_usec, mem_peak = g.mem_peak, oom_kills = g.oom_kills,
      pids_peak = g.pids_peak }
  end
  local text = cjson.encode({ paths = array { table.unpack(self.paths) }, runs = self.runs,
    interrupted = self.interrupted or false, rows = array(rows), summary = array(summary),
    errors = array(self:errors()), spec_hash = self.spec_hash, shard = self.shard, combinations = self.combinations,
    total = self.total }):gsub('"' .. EMPTY:gsub("%p", "%%%0") .. '"', "[]") .. "\n"
  if path == nil then return text end
  return write_file(path, text)
end

function Results:__tostring()
  return string.format("isol.SweepResults (%d rows%s)", #self, self.interrupted and ", interrupted" or "")
end

return M
