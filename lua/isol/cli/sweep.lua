--- `isol sweep [options] FILE.lua [-- CMD ARGS]`: run a limit sweep (see isol.sweep).
local cli = require "isol.cli"

local M = {
  summary = "run a command under every combination of limits, show a table",
  usage = [==[
usage: isol sweep [options] FILE.lua [-- CMD [ARGS...]]
       isol sweep --merge SHARD.json... [--csv F] [--json F] [--plot F.svg]
       isol sweep --find-min PATH --range LO..HI [options] [FILE.lua] -- CMD [ARGS...]

FILE.lua returns a sweep spec (or a function returning one, called with
the words after --): { recipe = {...}, command = {...}, vary = { ["limits.memory.max"] =
{ "16M", "64M" }, ... }, runs = 3 }. Every combination of the `vary` values
runs `runs` times; the table shows the medians per combination.

For quick experiments FILE.lua may also return a plain recipe (a table
without `recipe`, `vary` or `runs`): then --vary gives the axes and CMD (or
the recipe's `command`) the command, as with `isol run`:

  isol sweep my_recipe.lua --vary limits.memory.max=8M,16M,32M -- ./prog

Progress goes to stderr: a bar on a terminal, one line per run otherwise.
Ctrl-C (SIGINT) or SIGTERM stops cleanly: the running sandbox is killed,
its cgroup removed, and the results so far are shown and written (exit 130).
A run isol cannot start (a missing command, a cgroup it may not create)
shows in the table's error column, with each distinct message once under
"errors:"; when no run could start at all, the exit status is 1.

--find-min PATH bisects to the smallest value of PATH within LO..HI at which
the command succeeds (exit 0 in each of --runs runs), printing each probe:

  isol sweep --find-min limits.memory.max --range 4M..1G --runs 3 -- python3 x.py

Sizes (4M..1G: bytes) and plain integers (limits.pids.max, 1..256) both
work. FILE.lua is optional there (a recipe, or a spec giving recipe and
command; default: no namespaces, only the limit). It assumes more never
hurts; exit status 1 when even HI fails.

options:
  --find-min PATH   bisect PATH (see above); needs --range
  --range LO..HI    the interval --find-min searches
  --precision N     stop when the interval is at most N wide (sizes: "64K";
                    default: 1 for integers, 1% of the value for sizes)
  --vary PATH=V1,V2,...  add an axis (repeatable); values that read as
                    integers or true/false become those, others stay strings
  --runs N          override the spec's runs
  --timeout SEC     kill a run after SEC seconds
  --csv FILE        also write one CSV line per run to FILE
  --json FILE       also write the results as JSON to FILE
  --output          show the command's stdout/stderr (default: discarded)
  --plot FILE.svg   also draw the results with gnuplot (Debian gnuplot-nox):
                    one panel per measured quantity (wall, CPU, throttled
                    time, memory peak, OOM kills) in one SVG; one axis: lines
                    of medians with min..max bars, two: heatmaps; failed
                    combinations are crossed
  --plot-axes A[,B] the varied path(s) to draw against (needed with 3+ axes;
                    with one, each combination of the others is a line)
  --quantity Q      plot only Q and show it in the table's bars: wall,
                    cpu_usec, throttled_usec, mem_peak, oom_kills (bars
                    default: wall)
  --no-bars         no bar column (shown only when stdout is a terminal: a
                    bar of unicode blocks per row, scaled to the largest)
  --shard K/N       run only the K-th of N slices of the combinations (K from
                    1; combination i goes to slice ((i-1) mod N)+1); write
                    each slice's --json and merge them with --merge
  --merge F.json... merge shard results (all N, of one spec) into the table,
                    --csv, --json and --plot of one unsharded run; no FILE.lua
  -q, --quiet       no progress
  -h, --help        this text]==],
}

local function describe(vary, paths)
  local parts = {}
  local show = require("isol.sweep").show_value
  for _, p in ipairs(paths) do parts[#parts + 1] = p .. "=" .. show(vary[p]) end
  return table.concat(parts, " ")
end

-- "limits.memory.max=8M,16M" -> path, { "8M", "16M" }
local function parse_vary(v)
  local path, list = v:match("^([^=]+)=(.*)$")
  if not path or list == "" then return nil end
  local values = {}
  for item in (list .. ","):gmatch("([^,]*),") do
    if item == "true" then values[#values + 1] = true
    elseif item == "false" then values[#values + 1] = false
    else values[#values + 1] = math.tointeger(tonumber(item)) or item end
  end
  return path, values
end

-- The options of charts, bars and shards: how many arguments `args[i]`
-- used (0: not one of them), or nil, message.
local function extra_option(args, i, opts)
  local a, v = args[i], args[i + 1]
  if a == "--no-bars" then opts.no_bars = true return 1 end
  if a == "--merge" then opts.merge = opts.merge or {} return 1 end
  if a ~= "--plot" and a ~= "--plot-axes" and a ~= "--quantity" and a ~= "--shard" then return 0 end
  if not v then return nil, "sweep: " .. a .. " needs a value" end
  if a == "--plot" then
    opts.plot = v
  elseif a == "--plot-axes" then
    opts.plot_axes = {}
    for p in (v .. ","):gmatch("([^,]*),") do
      if p == "" then return nil, "sweep: --plot-axes: expected A or A,B (varied paths), got " .. v end
      opts.plot_axes[#opts.plot_axes + 1] = p
    end
    if #opts.plot_axes > 2 then return nil, "sweep: --plot-axes: at most two paths, got " .. v end
  elseif a == "--quantity" then
    if not require("isol.sweep_results").BAR_QUANTITIES[v] then
      return nil, string.format("sweep: --quantity: expected one of %s, got %s",
        require("isol.sweep_results").bar_quantities(), v)
    end
    opts.quantity = v
  else
    local k, n = require("isol.sweep_shard").parse(v)
    if not k then return nil, "sweep: " .. n end
    opts.shard = { k, n }
  end
  return 2
end

-- Show and write the results: the table (with bars on a terminal), --csv,
-- --json, --plot. The exit code for the outputs (0, or 1 when one failed).
local function output(res, opts)
  local bars
  if not opts.no_bars and require("isol.core").isatty(1) then bars = opts.quantity or "wall" end
  res:print(io.stdout, { bars = bars })
  io.stdout:flush()
  local code = 0
  for _, out in ipairs { { "csv", opts.csv }, { "json", opts.json } } do
    if out[2] then
      local ok, werr = res[out[1]](res, out[2])
      if not ok then cli.die(werr, 1) code = 1 end
    end
  end
  if opts.plot then
    local ok, perr = res:plot(opts.plot, { quantity = opts.quantity, axes = opts.plot_axes })
    if not ok then cli.die(perr, 1) code = 1 end
  end
  return code
end

-- Refuse --plot options that cannot work before the sweep runs (it may be long).
local function check_plot(opts, paths)
  if not opts.plot then return true end
  local plot = require "isol.sweep_plot"
  local found, msg = plot.find_gnuplot()
  if not found then return nil, msg end
  if opts.plot_axes then
    local varied = {}
    for _, p in ipairs(paths) do varied[p] = true end
    for _, p in ipairs(opts.plot_axes) do
      if not varied[p] then
        return nil, string.format("sweep: --plot-axes: %s is not a varied path (varied: %s)", p,
          #paths > 0 and table.concat(paths, ", ") or "none")
      end
    end
  elseif #paths > 2 then
    return nil, string.format("sweep: --plot: %d axes varied (%s): choose one or two with --plot-axes A[,B]", #paths,
      table.concat(paths, ", "))
  end
  return true
end

-- `isol sweep --merge F.json...`
local function merge(opts)
  if #opts.merge == 0 then return cli.die("sweep: --merge needs the shards' JSON files", 2) end
  if opts.shard or #opts.vary > 0 or opts.runs or opts.timeout then
    return cli.die("sweep: --merge takes only result files and --csv, --json, --plot, --plot-axes, --quantity", 2)
  end
  local res, msg = require("isol.sweep_shard").merge(opts.merge)
  if not res then return cli.die(msg, 1) end
  local ok, perr = check_plot(opts, res.paths)
  if not ok then return cli.die(perr, 1) end
  return output(res, opts)
end

-- `--find-min`: bisect, one line per probe on stdout, the answer last.
function M.find_min(s, opts)
  if s.vary then return cli.die("sweep: --find-min searches one field: drop --vary and the spec's vary", 2) end
  if not s.command and not (s.recipe and s.recipe.command) then
    return cli.die("sweep: --find-min: no command (give it after --)", 2)
  end
  local human = require("isol.sweep_results").human_bytes
  local size
  local function show(v) return size and string.format("%s (%d)", human(v), v) or tostring(v) end
  local n, seen = 0, {}
  if opts.plot then
    local found, msg = require("isol.sweep_plot").find_gnuplot()
    if not found then return cli.die(msg, 1) end
  end
  local ok, v, probes = pcall(require("isol.sweep").find_min, {
    recipe = s.recipe, command = s.command, runs = s.runs, timeout = s.timeout, stdout = s.stdout,
    stderr = s.stderr, field = opts.find_min, range = opts.range,
    precision = opts.precision and (math.tointeger(tonumber(opts.precision)) or opts.precision),
    on_probe = function(p)
      n = n + 1
      seen[n] = p
      if size == nil then size = type(opts.range[1]) == "string" or type(opts.range[2]) == "string" end
      print(string.format("probe %d: %s=%s: %s (%d/%d runs ok)%s", n, opts.find_min, show(p.value),
        p.ok and "ok" or "fails", p.passed, p.runs,
        (not p.ok) and (": " .. (p.error or p.outcome)) or ""))
      io.stdout:flush()
    end,
  })
  if not ok then return cli.die("sweep: " .. tostring(v), 2) end
  local code = 0
  if opts.plot and #seen > 0 then -- the probes, in the order tried
    local pok, perr = require("isol.sweep_plot").probes(opts.plot, seen,
      { axis = opts.find_min, title = "find-min " .. opts.find_min })
    if not pok then cli.die(perr, 1) code = 1 end
  end
  if not v then return cli.die("sweep: " .. tostring(probes), 1) end
  print(string.format("smallest %s at which the command succeeds: %s", opts.find_min, show(v)))
  return code
end

function M.run(args)
  local opts = { vary = {} }
  local file
  local rest = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local used, uerr = extra_option(args, i, opts)
    if a == "--find-min" or a == "--range" or a == "--precision" then
      local v = args[i + 1]
      if not v then return cli.die("sweep: " .. a .. " needs a value", 2) end
      if a == "--range" then
        local lo, hi = v:match("^([^.]+)%.%.([^.]+)$")
        if not lo then return cli.die("sweep: --range: expected LO..HI (e.g. 4M..1G or 1..256), got " .. v, 2) end
        opts.range = { math.tointeger(tonumber(lo)) or lo, math.tointeger(tonumber(hi)) or hi }
      else
        opts[a == "--find-min" and "find_min" or "precision"] = v
      end
      i = i + 1
    elseif a == "--runs" or a == "--timeout" or a == "--csv" or a == "--json" then
      local v = args[i + 1]
      if not v then return cli.die("sweep: " .. a .. " needs a value", 2) end
      if a == "--runs" then
        opts.runs = math.tointeger(tonumber(v))
        if not opts.runs or opts.runs < 1 then
          return cli.die("sweep: --runs: expected an integer >= 1, got " .. v, 2)
        end
      elseif a == "--timeout" then
        opts.timeout = tonumber(v)
        if not opts.timeout or opts.timeout <= 0 then
          return cli.die("sweep: --timeout: expected seconds > 0, got " .. v, 2)
        end
      else
        opts[a:sub(3)] = v
      end
      i = i + 1
    elseif a == "--vary" then
      local v = args[i + 1]
      local path, values = parse_vary(v or "")
      if not path then
        return cli.die("sweep: --vary: expected PATH=V1,V2,... (e.g. limits.memory.max=16M,64M), got "
          .. tostring(v), 2)
      end
      opts.vary[#opts.vary + 1] = { path, values }
      i = i + 1
    elseif used ~= 0 then -- --plot, --plot-axes, --quantity, --no-bars, --shard, --merge
      if not used then return cli.die(uerr, 2) end
      i = i + used - 1
    elseif a == "--output" then
      opts.output = true
    elseif a == "-q" or a == "--quiet" then
      opts.quiet = true
    elseif a == "--" then
      for j = i + 1, #args do rest[#rest + 1] = args[j] end
      break
    elseif opts.merge and a:sub(1, 1) ~= "-" then
      opts.merge[#opts.merge + 1] = a
    elseif a:sub(1, 1) == "-" then
      return cli.die("sweep: unknown option " .. a .. " (see `isol sweep --help`)", 2)
    elseif not file then
      file = a
    else
      return cli.die("sweep: unexpected argument " .. a .. " (a command goes after --)", 2)
    end
    i = i + 1
  end
  if opts.merge then
    if file then table.insert(opts.merge, 1, file) end
    return merge(opts)
  end
  if (opts.find_min ~= nil) ~= (opts.range ~= nil) then
    return cli.die("sweep: --find-min and --range go together (see `isol sweep --help`)", 2)
  end
  if opts.precision and not opts.find_min then return cli.die("sweep: --precision needs --find-min", 2) end
  if not file and not opts.find_min then return cli.die("sweep: no spec file (see `isol sweep --help`)", 2) end

  local isol = require "isol"
  local core = isol.core
  local spec = {}
  if file then
    local chunk, lerr = loadfile(file)
    if not chunk then return cli.die(lerr, 1) end
    spec = chunk(table.unpack(rest))
    if type(spec) == "function" then spec = spec(table.unpack(rest)) end
  end
  if type(spec) ~= "table" then
    return cli.die(string.format("%s: expected the file to return a sweep spec or a recipe table, got %s", file,
      type(spec)), 1)
  end
  local s = {}
  if spec.recipe == nil and spec.vary == nil and spec.runs == nil then
    -- a plain recipe: the axes come from --vary, CMD (as for `isol run`) is the command
    s.recipe = spec
    if #rest > 0 then s.command = rest end
  else
    for k, v in pairs(spec) do s[k] = v end -- CMD ARGS were the spec function's parameters
  end
  if #opts.vary > 0 then
    -- the spec's axes first (in their order), then --vary ones
    local axes = {}
    local given = s.vary or {}
    if next(given) ~= nil and #given == 0 then
      local keys = {}
      for k in pairs(given) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(keys) do axes[#axes + 1] = { k, given[k] } end
    else
      for _, e in ipairs(given) do axes[#axes + 1] = e end
    end
    for _, e in ipairs(opts.vary) do axes[#axes + 1] = e end
    s.vary = axes
  end
  if opts.runs then s.runs = opts.runs end
  if opts.timeout then s.timeout = opts.timeout end
  if opts.output then s.stdout, s.stderr = "inherit", "inherit" end
  if opts.shard then s.shard = opts.shard end
  if opts.find_min then return M.find_min(s, opts) end

  local tty = core.isatty(2)
  local err = io.stderr
  local user_start, user_run = s.on_start, s.on_run
  local width = 30
  local bar_shown = false
  local paths
  if not opts.quiet then
    s.on_start = function(info)
      if user_start then user_start(info) end
      if tty then
        local filled = math.floor(width * (info.index - 1) / info.total)
        err:write(string.format("\r\27[K[%s%s] %d/%d %s run %d", string.rep("#", filled),
          string.rep(".", width - filled), info.index, info.total, describe(info.vary, paths), info.run))
        err:flush()
        bar_shown = true
      end
    end
    s.on_run = function(row, info)
      if user_run then user_run(row, info) end
      if not tty then
        err:write(string.format("run %d/%d: %s run %d: %s in %.3fs\n", info.index, info.total,
          describe(info.vary, paths), info.run, require("isol.sweep").outcome(row), row.wall or 0))
        err:flush()
      end
    end
  end
  -- the paths for progress lines, in the order the sweep uses
  paths = require("isol.sweep").check(s).paths
  local pok, perr = check_plot(opts, paths)
  if not pok then return cli.die(perr, 1) end
  local res, msg = isol.sweep(s)
  if bar_shown then err:write("\r\27[K") err:flush() end
  if not res then return cli.die(msg, 1) end
  local code = output(res, opts)
  if res.interrupted then
    err:write(string.format("isol: sweep interrupted by %s after %d of %d runs\n", res.interrupted, #res, res.total))
    return 130
  end
  if res:all_failed() then
    err:write(string.format("isol: sweep: none of the %d runs could start (errors listed above)\n", #res))
    return 1
  end
  return code
end

return M
