--- Charts of sweep results, drawn by gnuplot (Debian `gnuplot-nox`) into
-- one SVG file.
--
--     local res = isol.sweep { ... }
--     assert(res:plot("out.svg"))                       -- every measured quantity
--     assert(res:plot("mem.svg", { quantity = "mem_peak" }))
--
-- One file, one panel per quantity (a gnuplot multiplot): `wall` (wall
-- time, s), `cpu_usec` (CPU time, ms), `throttled_usec` (throttled time,
-- ms), `mem_peak` (memory peak, MiB) and `oom_kills`; a quantity no run
-- measured (a sandbox without a cgroup has only `wall`) is left out.
-- `opts.quantity` (a name or a list of them) draws only those, in that
-- order (then asking for an unmeasured one is an error).
--
-- The shape depends on the axes drawn (`opts.axes`, default: the sweep's
-- varied paths):
--
--  * one axis: a line through the median of each combination's runs, with
--    an error bar from the fastest to the slowest run (min..max); a
--    combination with a run that did not succeed (OOM, timeout, exit code,
--    signal, isol error) gets a red cross and its outcome written next to it;
--  * one axis of a sweep with more axes: one line per combination of the
--    other axes (same marks);
--  * two axes: a heatmap (first axis across, second up), each cell coloured
--    by the median and labelled with it, or with the outcome when a run
--    failed, and crossed when it failed;
--  * three or more axes without `opts.axes`: an error naming them.
--
-- Axis values that are numbers, sizes ("16M") or percentages ("50%") are
-- placed as numbers (a log scale when they span 16x or more) and labelled
-- as written; other values are evenly spaced categories.
--
-- What a spec (or a reader of the SVG) can rely on: every series is an SVG
-- group whose `<title>` names it: "median (min-max)" holds one filled
-- circle (`#gpPt6`) per combination that measured the quantity, "failed"
-- one cross (`#gpPt1`) per combination with a failed run, "outcome" its
-- text; in a heatmap "cells" holds one rectangle per measured combination
-- and "values" one `<text>` per combination. The legend is drawn outside
-- those groups.
--
-- gnuplot runs by argv (never a shell) on a generated script and data file
-- (temporary, removed afterwards); axis names and values reach it only as
-- single-quoted gnuplot strings. `ISOL_GNUPLOT` names another gnuplot
-- binary. Without gnuplot: `nil, "gnuplot not found: install Debian's
-- gnuplot-nox"`.
--
-- `M.probes(path, probes, opts)` draws the probes of a search (the
-- `--find-min` bisection): the limit tried at each step and its outcome.
-- @module isol.sweep_plot
local util = require "isol.util"
local results = require "isol.sweep_results"

local M = {}

--- The quantities, in panel order: row/summary key, title, unit, scale
-- (the row value is divided by it).
M.QUANTITIES = {
  { key = "wall", title = "wall time", unit = "s", scale = 1 },
  { key = "cpu_usec", title = "CPU time", unit = "ms", scale = 1000 },
  { key = "throttled_usec", title = "throttled time", unit = "ms", scale = 1000 },
  { key = "mem_peak", title = "memory peak", unit = "MiB", scale = 1024 * 1024 },
  { key = "oom_kills", title = "OOM kills", unit = "", scale = 1 },
}
local BY_KEY = {}
for _, q in ipairs(M.QUANTITIES) do BY_KEY[q.key] = q end

local function known_quantities()
  local k = {}
  for _, q in ipairs(M.QUANTITIES) do k[#k + 1] = q.key end
  return table.concat(k, ", ")
end

-- ------------------------------------------------------------ gnuplot text

--- A string as a gnuplot single-quoted string: no escapes are processed
-- inside, a quote is doubled; control characters (which would end the
-- command) become spaces.
function M.quote(s)
  s = tostring(s):gsub("[%z\1-\31\127]", " ")
  return "'" .. s:gsub("'", "''") .. "'"
end
local q = M.quote

local function num(x)
  if x == nil or x ~= x then return "NaN" end
  if math.type(x) == "integer" then return tostring(x) end
  return string.format("%.17g", x)
end

-- A short label for the data file (a double-quoted column): only
-- characters that need no quoting in gnuplot's data syntax.
local function data_label(s)
  return '"' .. tostring(s):gsub('[^%w%.%-%+%%/:=, ()]', "?") .. '"'
end

local function fmt_value(v)
  if v == nil then return "-" end
  if v == 0 then return "0" end
  local a = math.abs(v)
  if a >= 100 then return string.format("%.0f", v) end
  if a >= 10 then return string.format("%.1f", v) end
  return string.format("%.3g", v)
end

-- ------------------------------------------------------------ axes

--- The number an axis value is placed at, or nil (a category): numbers,
-- sizes ("16M" -> bytes) and percentages ("50%" -> 50).
function M.axis_number(v)
  if type(v) == "number" then return v end
  if type(v) ~= "string" then return nil end
  local pct = v:match("^%s*(%d+%.?%d*)%%%s*$")
  if pct then return tonumber(pct) end
  local ok, bytes = pcall(util.parse_size, "", v)
  if ok and bytes then return bytes end
  return nil
end

-- The distinct values of one path in first-seen order, with their place:
-- { values = {v...}, labels = {...}, pos = {label -> x}, log = bool }.
local function axis_of(groups, path)
  local ax = { path = path, values = {}, labels = {}, pos = {} }
  for _, g in ipairs(groups) do
    local l = results.show_value(g.vary[path])
    if ax.pos[l] == nil then
      ax.values[#ax.values + 1] = g.vary[path]
      ax.labels[#ax.labels + 1] = l
      ax.pos[l] = false
    end
  end
  local nums, all = {}, true
  for i, v in ipairs(ax.values) do
    nums[i] = M.axis_number(v)
    if not nums[i] then all = false end
  end
  if all then
    local lo, hi = math.huge, -math.huge
    for _, x in ipairs(nums) do lo = math.min(lo, x); hi = math.max(hi, x) end
    ax.numeric = true
    ax.log = lo > 0 and hi / lo >= 16
    ax.lo, ax.hi = lo, hi
    for i, l in ipairs(ax.labels) do ax.pos[l] = nums[i] end
  else
    for i, l in ipairs(ax.labels) do ax.pos[l] = i end
    ax.lo, ax.hi = 1, #ax.labels
  end
  return ax
end

-- `set xtics (...)` keeping the values as written.
local function tics(which, ax, positional)
  local t = {}
  for i, l in ipairs(ax.labels) do
    -- a tic label is a format: a literal % is %%
    t[#t + 1] = string.format("%s %s", q((l:gsub("%%", "%%%%"))), num(positional and i or ax.pos[l]))
  end
  return string.format("set %stics (%s) noenhanced", which, table.concat(t, ", "))
end

local function range(which, ax)
  if ax.log then
    return string.format("set logscale %s 2\nset %srange [%s:%s]", which, which, num(ax.lo / 1.25), num(ax.hi * 1.25))
  end
  local pad = ax.hi > ax.lo and (ax.hi - ax.lo) * 0.06 or 0.5
  return string.format("unset logscale %s\nset %srange [%s:%s]", which, which, num(ax.lo - pad), num(ax.hi + pad))
end

-- ------------------------------------------------------------ data

-- Per combination: median, min and max of the quantity over its runs
-- (scaled), nil when no run measured it.
local function spread(g, quantity)
  local vals = {}
  for _, r in ipairs(g.rows) do
    local v = r[quantity.key]
    if type(v) == "number" then vals[#vals + 1] = v / quantity.scale end
  end
  if #vals == 0 then return nil end
  table.sort(vals)
  return results.median(vals), vals[1], vals[#vals]
end

local function measured(groups, quantity)
  for _, g in ipairs(groups) do
    if spread(g, quantity) then return true end
  end
  return false
end

local function failed(g) return g.ok < g.n end

-- ------------------------------------------------------------ running gnuplot

local write = results.write_file

local function read(path) return util.read_file(path) or "" end

--- The gnuplot binary: $ISOL_GNUPLOT, else "gnuplot" from PATH.
function M.gnuplot()
  local e = os.getenv("ISOL_GNUPLOT")
  if e and e ~= "" then return e end
  return "gnuplot"
end

local NOT_FOUND = "gnuplot not found: install Debian's gnuplot-nox"

--- Whether the gnuplot binary can be found (before a long sweep): its
-- path, or nil, "gnuplot not found: install Debian's gnuplot-nox (...)".
function M.find_gnuplot()
  local gp = M.gnuplot()
  local function executable(path) -- exists and reads; spawning it tells the rest
    local f = io.open(path, "r")
    if not f then return false end
    f:close()
    return true
  end
  if gp:find("/", 1, true) then
    if executable(gp) then return gp end
    return nil, string.format("%s (ISOL_GNUPLOT=%s)", NOT_FOUND, gp)
  end
  for dir in (os.getenv("PATH") or "/usr/local/bin:/usr/bin:/bin"):gmatch("[^:]+") do
    if executable(dir .. "/" .. gp) then return dir .. "/" .. gp end
  end
  return nil, string.format("%s (no %s in PATH)", NOT_FOUND, gp)
end

-- Run gnuplot on `script`, whose data blocks are `data` (name -> text):
-- written to temporary files, removed afterwards; the script names them as
-- "\1name\1", which no text of the sweep can contain (quote() turns
-- control characters into spaces). True, or nil, message.
local function run_gnuplot(script, data)
  local isol = require "isol"
  local tmp = {}
  local function cleanup()
    for _, f in ipairs(tmp) do os.remove(f) end
  end
  local names = {}
  for name, text in pairs(data) do
    local f = os.tmpname()
    tmp[#tmp + 1] = f
    names[name] = f
    local ok, msg = write(f, text)
    if not ok then cleanup() return nil, "sweep plot: " .. msg end
  end
  script = script:gsub("\1(%w+)\1", function(n) return names[n] and q(names[n]) end)
  local sf, ef = os.tmpname(), os.tmpname()
  tmp[#tmp + 1] = sf
  tmp[#tmp + 1] = ef
  local ok, msg = write(sf, script)
  if not ok then cleanup() return nil, "sweep plot: " .. msg end
  local gp = M.gnuplot()
  local p, serr, code = isol.spawn { argv = { gp, sf }, stdin = "null", stdout = "null",
    stderr = { path = ef, mode = "w" } }
  if not p then
    cleanup()
    if code == 2 or code == 13 then -- ENOENT, EACCES
      return nil, string.format("%s (%s)", NOT_FOUND, serr), code
    end
    return nil, "sweep plot: " .. serr, code
  end
  local st, werr = p:wait()
  p:close()
  local out = read(ef)
  cleanup()
  if not st then return nil, "sweep plot: gnuplot: " .. tostring(werr) end
  if st.code ~= 0 then
    return nil, string.format("sweep plot: gnuplot failed (%s): %s", st.code and ("exit " .. st.code)
      or tostring(st.signal), (out:gsub("%s+$", "")))
  end
  return true
end

-- ------------------------------------------------------------ panels

local LEGEND_LINE = [[
set label 100 'median, bar: min..max of the runs' at graph 0.02, graph 0.95 \
  point pt 7 lc rgb '#1f77b4' offset 1,0 front noenhanced
set label 101 'a run failed' at graph 0.02, graph 0.88 point pt 2 ps 1.5 lc rgb '#d62728' offset 1,0 front noenhanced]]
local LEGEND_HEAT = [[
set label 101 'a run failed (cell: its outcome)' at graph 0.0, graph 1.04 \
  point pt 2 ps 1.5 lc rgb '#000000' offset 1,0 front noenhanced]]

local COLORS = { "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#17becf" }

-- A line chart of one quantity over axis `ax`, one line per value of the
-- other axes (series). Returns the script part and adds data blocks.
local function line_panel(groups, ax, others, quantity, data, n)
  local ylabel = quantity.title .. (quantity.unit ~= "" and (" (" .. quantity.unit .. ")") or "")
  local s = {
    "unset label", "unset tmargin", LEGEND_LINE,
    string.format("set title %s noenhanced", q(quantity.title)),
    string.format("set xlabel %s noenhanced", q(ax.path)),
    string.format("set ylabel %s noenhanced", q(ylabel)),
    range("x", ax), tics("x", ax),
    "set yrange [0:*]", "set offsets 0, 0, graph 0.3, 0", "set ytics autofreq", "unset colorbox",
  }
  -- series: the combinations of the other axes, in first-seen order
  local series, order = {}, {}
  for _, g in ipairs(groups) do
    local key = {}
    for _, p in ipairs(others) do key[#key + 1] = p .. "=" .. results.show_value(g.vary[p]) end
    key = table.concat(key, " ")
    if not series[key] then
      series[key] = {}
      order[#order + 1] = key
    end
    table.insert(series[key], g)
  end
  local plots = {}
  local fail_lines, outcome_lines = {}, {}
  for si, key in ipairs(order) do
    local lines = {}
    for _, g in ipairs(series[key]) do
      local x = ax.pos[results.show_value(g.vary[ax.path])]
      local med, lo, hi = spread(g, quantity)
      if med then lines[#lines + 1] = string.format("%s %s %s %s", num(x), num(med), num(lo), num(hi)) end
      if failed(g) then
        fail_lines[#fail_lines + 1] = string.format("%s %s", num(x), num(med or 0))
        outcome_lines[#outcome_lines + 1] = string.format("%s %s %s", num(x), num(med or 0), data_label(g.outcomes))
      end
    end
    local name = string.format("p%dl%d", n, si)
    data[name] = table.concat(lines, "\n") .. "\n"
    local title = key == "" and "median (min-max)" or ("median (min-max) " .. key)
    if #lines > 0 then
      plots[#plots + 1] = string.format("\1%s\1 using 1:2:3:4 with yerrorlines pt 7 ps 0.8 lw 1.5 lc rgb '%s' "
        .. "title %s noenhanced",
        name, COLORS[(si - 1) % #COLORS + 1], q(title))
    end
    if key ~= "" then
      s[#s + 1] = string.format("set label %d %s at graph 0.02, graph %s textcolor rgb '%s' front noenhanced", si + 1,
        q(key),
        num(0.81 - 0.07 * (si - 1)), COLORS[(si - 1) % #COLORS + 1])
    end
  end
  if #fail_lines > 0 then
    local fname, oname = string.format("p%df", n), string.format("p%do", n)
    data[fname] = table.concat(fail_lines, "\n") .. "\n"
    data[oname] = table.concat(outcome_lines, "\n") .. "\n"
    plots[#plots + 1] = string.format("\1%s\1 using 1:2 with points pt 2 ps 2 lw 2 lc rgb '#d62728' "
      .. "title 'failed'", fname)
    plots[#plots + 1] = string.format("\1%s\1 using 1:2:3 with labels noenhanced offset 0,1.2 "
      .. "textcolor rgb '#d62728' "
      .. "title 'outcome'", oname)
  end
  if #order > 1 then -- room above the data for the series' names
    s[#s + 1] = string.format("set offsets 0, 0, graph %s, 0", num(0.3 + 0.1 * #order))
  end
  if #plots == 0 then plots[1] = "NaN notitle" end
  s[#s + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  return table.concat(s, "\n")
end

-- A heatmap of one quantity over axes ax (x) and ay (y).
local function heat_panel(groups, ax, ay, quantity, data, n)
  local s = {
    "unset label", "unset logscale", "set offsets 0, 0, 0, 0", "set tmargin 4", LEGEND_HEAT,
    string.format("set title %s offset 0,1 noenhanced", q(quantity.title
      .. (quantity.unit ~= "" and (" (" .. quantity.unit .. ")") or ""))),
    string.format("set xlabel %s noenhanced", q(ax.path)),
    string.format("set ylabel %s noenhanced", q(ay.path)),
    string.format("set xrange [0.5:%s]", num(#ax.labels + 0.5)), tics("x", ax, true),
    string.format("set yrange [0.5:%s]", num(#ay.labels + 0.5)), tics("y", ay, true),
    "set palette defined (0 '#fff5eb', 1 '#fdae6b', 2 '#e6550d', 3 '#7f2704')",
    "set cbrange [0:*]", "set colorbox",
  }
  local ix, iy = {}, {}
  for i, l in ipairs(ax.labels) do ix[l] = i end
  for i, l in ipairs(ay.labels) do iy[l] = i end
  local cells, labels, fails = {}, {}, {}
  for _, g in ipairs(groups) do
    local x = ix[results.show_value(g.vary[ax.path])]
    local y = iy[results.show_value(g.vary[ay.path])]
    local med = spread(g, quantity)
    if med then cells[#cells + 1] = string.format("%d %d %s", x, y, num(med)) end
    labels[#labels + 1] = string.format("%d %d %s", x, y, data_label(failed(g) and g.outcomes or fmt_value(med)))
    if failed(g) then fails[#fails + 1] = string.format("%d %d", x, y) end
  end
  local plots = {}
  local c, l, f = string.format("p%dc", n), string.format("p%dv", n), string.format("p%df", n)
  data[c] = table.concat(cells, "\n") .. "\n"
  data[l] = table.concat(labels, "\n") .. "\n"
  if #cells > 0 then
    plots[#plots + 1] = string.format("\1%s\1 using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder "
      .. "fc palette title 'cells'", c)
  end
  plots[#plots + 1] = string.format("\1%s\1 using 1:2:3 with labels noenhanced offset 0,-1 title 'values'", l)
  if #fails > 0 then
    data[f] = table.concat(fails, "\n") .. "\n"
    plots[#plots + 1] = string.format("\1%s\1 using 1:2 with points pt 2 ps 3 lw 2 lc rgb '#000000' title 'failed'", f)
  end
  s[#s + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  return table.concat(s, "\n")
end

local function header(path, panels, width, height, title)
  local cols = panels > 1 and 2 or 1
  local rows = (panels + cols - 1) // cols
  local multi = ""
  if panels > 1 then
    multi = string.format("set multiplot layout %d,%d%s", rows, cols,
      title and (" title " .. q(title) .. " noenhanced") or "")
    if title then height = height + 30 // rows end
  end
  return table.concat({
    string.format("set terminal svg size %d,%d dynamic enhanced font 'sans,10' background '#ffffff'",
      width * cols, height * rows),
    string.format("set output %s", q(path)),
    "set datafile missing 'NaN'",
    "set key off",
    "set grid ytics lc rgb '#dddddd'",
    "set border 3", "set tics nomirror",
    multi,
  }, "\n")
end

local function check_opts(opts, where)
  opts = opts or {}
  util.check_type(where, opts, "table")
  util.check_keys(where, opts, { quantity = true, axes = true, title = true, axis = true })
  return opts
end

local function check_path(path)
  util.check_type("plot path", path, "string")
  if path == "" or path:find("[%z\1-\31\127]") then
    util.fail("plot path", "expected a file name (no control characters), got %s", util.show(path))
  end
end

--- Draw sweep results `res` (an isol.sweep_results list, also a merged
-- one) into the SVG file `path`. `opts.quantity`: one of wall, cpu_usec,
-- throttled_usec, mem_peak, oom_kills, or a list of them (default: every
-- measured one);
-- `opts.axes`: one or two varied paths to draw against (default: the
-- sweep's, which must then be one or two); `opts.title`: a title over
-- the chart. True, or nil, message.
-- Raises on bad options (naming them).
function M.plot(res, path, opts)
  opts = check_opts(opts, "plot opts")
  check_path(path)
  if type(res) == "table" and getmetatable(res) ~= results.Results and res[1] and res[1].value ~= nil then
    return M.probes(path, res, opts)
  end
  if type(res) ~= "table" or not res.paths then
    util.fail("plot", "expected sweep results (isol.sweep's), got %s", util.show(res))
  end
  local groups = results.Results.summary(res)
  if #groups == 0 then return nil, "sweep plot: no runs to draw" end

  local quantities = {}
  if opts.quantity ~= nil then
    local list = opts.quantity
    if type(list) ~= "table" then list = { list } end
    for i, name in ipairs(list) do
      local qd = BY_KEY[name]
      if not qd then
        util.fail(type(opts.quantity) == "table" and string.format("plot opts.quantity[%d]", i) or "plot opts.quantity",
          "unknown quantity %s (known: %s)", util.show(name), known_quantities())
      end
      if not measured(groups, qd) then
        return nil, string.format("sweep plot: no run measured %s (a sandbox without a cgroup measures only wall)",
          name)
      end
      quantities[i] = qd
    end
    if #quantities == 0 then util.fail("plot opts.quantity", "expected a quantity or a non-empty list of them") end
  else
    for _, qd in ipairs(M.QUANTITIES) do
      if measured(groups, qd) then quantities[#quantities + 1] = qd end
    end
  end

  local axes = opts.axes
  if axes == nil then
    if #res.paths > 2 then
      return nil, string.format("sweep plot: %d axes varied (%s): choose one or two to draw with --plot-axes A[,B] "
        .. "(Lua: opts.axes = { A, B }); with one, the others become separate lines", #res.paths,
        table.concat(res.paths, ", "))
    end
    axes = res.paths
  else
    if type(axes) == "string" then axes = { axes } end
    util.check_type("plot opts.axes", axes, "table")
    if #axes < 1 or #axes > 2 then util.fail("plot opts.axes", "expected one or two varied paths, got %d", #axes) end
    local varied = {}
    for _, p in ipairs(res.paths) do varied[p] = true end
    for i, p in ipairs(axes) do
      if not varied[p] then
        util.fail(string.format("plot opts.axes[%d]", i), "%s is not a varied path (varied: %s)", util.show(p),
          table.concat(res.paths, ", "))
      end
    end
    if #axes == 2 and #res.paths > 2 then
      return nil, string.format("sweep plot: a heatmap of %s x %s cannot show the other axes too; choose one axis "
        .. "(the others become separate lines)", axes[1], axes[2])
    end
    if #axes == 2 and axes[1] == axes[2] then util.fail("plot opts.axes", "the same path twice: %s", axes[1]) end
  end

  local data, parts = {}, {}
  if #axes == 0 then
    -- nothing varied: one point per quantity, against the run itself
    axes = {}
  end
  local width, height = 480, 320
  if #axes == 2 then
    local ax, ay = axis_of(groups, axes[1]), axis_of(groups, axes[2])
    width = math.max(480, 90 * #ax.labels + 160)
    height = math.max(320, 40 * #ay.labels + 140)
    for n, qd in ipairs(quantities) do parts[#parts + 1] = heat_panel(groups, ax, ay, qd, data, n) end
  else
    local ax
    if #axes == 1 then
      ax = axis_of(groups, axes[1])
    else
      ax = { path = "(no varied path)", labels = { "recipe" }, pos = { [""] = 1, recipe = 1 }, lo = 1, hi = 1 }
      for _, g in ipairs(groups) do g.vary = { ["(no varied path)"] = "recipe" } end
    end
    local others = {}
    for _, p in ipairs(res.paths) do if p ~= ax.path then others[#others + 1] = p end end
    for n, qd in ipairs(quantities) do parts[#parts + 1] = line_panel(groups, ax, others, qd, data, n) end
  end
  if opts.title ~= nil then util.check_type("plot opts.title", opts.title, "string") end
  if opts.title and #parts == 1 then -- the one panel's title says it
    local repl = "\nset title " .. q(opts.title):gsub("%%", "%%%%") .. " noenhanced"
    parts[1] = parts[1]:gsub("\nset title [^\n]*", repl, 1)
  end
  local script = header(path, #parts, width, height, opts.title) .. "\n" .. table.concat(parts, "\n") .. "\n"
    .. (#parts > 1 and "unset multiplot\n" or "")
  return run_gnuplot(script, data)
end

--- Draw the probes of a search (e.g. `--find-min`) into the SVG `path`:
-- `probes` is a list of { value = the limit tried ("24M", 50, ...), ok =
-- true|false, outcome = "oom" (optional, written next to failures), wall =
-- seconds (optional) } in the order tried. Step number across, the limit
-- up (sizes as numbers, labelled as written); a filled circle per
-- succeeding probe (group "ok"), a cross per failing one (group "failed").
-- opts.axis names the limit (the y label), opts.title the chart.
function M.probes(path, probes, opts)
  opts = check_opts(opts, "plot opts")
  check_path(path)
  util.check_type("probes", probes, "table")
  if #probes == 0 then return nil, "sweep plot: no probes to draw" end
  local groups = {}
  for i, p in ipairs(probes) do
    util.check_type(string.format("probes[%d]", i), p, "table")
    if p.value == nil then util.fail(string.format("probes[%d].value", i), "required (the limit tried)") end
    groups[i] = { vary = { v = p.value } }
  end
  local ay = axis_of(groups, "v")
  local okl, badl, outl, line = {}, {}, {}, {}
  for i, p in ipairs(probes) do
    local y = ay.numeric and ay.pos[results.show_value(p.value)] or ay.pos[results.show_value(p.value)]
    line[#line + 1] = string.format("%d %s", i, num(y))
    if p.ok then okl[#okl + 1] = string.format("%d %s", i, num(y))
    else
      badl[#badl + 1] = string.format("%d %s", i, num(y))
      outl[#outl + 1] = string.format("%d %s %s", i, num(y), data_label(p.outcome or "failed"))
    end
  end
  local data = { line = table.concat(line, "\n") .. "\n", ok = table.concat(okl, "\n") .. "\n",
    bad = table.concat(badl, "\n") .. "\n", out = table.concat(outl, "\n") .. "\n" }
  local s = {
    header(path, 1, math.max(480, 40 * #probes + 160), 360),
    string.format("set title %s noenhanced", q(opts.title or "search probes")),
    "set xlabel 'probe' noenhanced",
    string.format("set ylabel %s noenhanced", q(opts.axis or "limit")),
    string.format("set xrange [0.5:%s]", num(#probes + 0.5)), "set xtics 1",
    range("y", ay), tics("y", ay),
    "set label 1 'succeeded' at graph 0.02, graph 0.95 point pt 7 lc rgb '#2ca02c' offset 1,0 front noenhanced",
    "set label 2 'failed' at graph 0.02, graph 0.88 point pt 2 ps 1.5 lc rgb '#d62728' offset 1,0 front noenhanced",
  }
  local plots = { "\1line\1 using 1:2 with lines lc rgb '#999999' title 'path'" }
  if #okl > 0 then plots[#plots + 1] = "\1ok\1 using 1:2 with points pt 7 ps 1.2 lc rgb '#2ca02c' title 'ok'" end
  if #badl > 0 then
    plots[#plots + 1] = "\1bad\1 using 1:2 with points pt 2 ps 2 lw 2 lc rgb '#d62728' title 'failed'"
    plots[#plots + 1] = "\1out\1 using 1:2:3 with labels noenhanced offset 0,1.2 textcolor rgb '#d62728' "
      .. "title 'outcome'"
  end
  s[#s + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  return run_gnuplot(table.concat(s, "\n") .. "\n", data)
end

return M
