--- `isol sweep [options] SPEC.lua`: run a limit sweep (see isol.sweep).
local cli = require "isol.cli"

local M = {
  summary = "run a command under every combination of limits, show a table",
  usage = [==[
usage: isol sweep [options] SPEC.lua [ARGS...] [-- ARGS...]

SPEC.lua returns a sweep spec (or a function returning one, called with
ARGS): { recipe = {...}, command = {...}, vary = { ["limits.memory.max"] =
{ "16M", "64M" }, ... }, runs = 3 }. Every combination of the `vary` values
runs `runs` times; the table shows the medians per combination.

Progress goes to stderr: a bar on a terminal, one line per run otherwise.
Ctrl-C (SIGINT) or SIGTERM stops cleanly: the running sandbox is killed,
its cgroup removed, and the results so far are shown and written (exit 130).

options:
  --runs N          override the spec's runs
  --timeout SEC     kill a run after SEC seconds
  --csv FILE        also write one CSV line per run to FILE
  --json FILE       also write the results as JSON to FILE
  --output          show the command's stdout/stderr (default: discarded)
  -q, --quiet       no progress
  -h, --help        this text]==],
}

local function describe(vary, paths)
  local parts = {}
  local show = require("isol.sweep").show_value
  for _, p in ipairs(paths) do parts[#parts + 1] = p .. "=" .. show(vary[p]) end
  return table.concat(parts, " ")
end

function M.run(args)
  local opts = {}
  local file
  local rest = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--runs" or a == "--timeout" or a == "--csv" or a == "--json" then
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
    elseif a == "--output" then
      opts.output = true
    elseif a == "-q" or a == "--quiet" then
      opts.quiet = true
    elseif a == "--" then
      for j = i + 1, #args do rest[#rest + 1] = args[j] end
      break
    elseif a:sub(1, 1) == "-" then
      return cli.die("sweep: unknown option " .. a .. " (see `isol sweep --help`)", 2)
    elseif not file then
      file = a
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  if not file then return cli.die("sweep: no spec file (see `isol sweep --help`)", 2) end

  local isol = require "isol"
  local core = isol.core
  local chunk, lerr = loadfile(file)
  if not chunk then return cli.die(lerr, 1) end
  local spec = chunk(table.unpack(rest))
  if type(spec) == "function" then spec = spec(table.unpack(rest)) end
  if type(spec) ~= "table" then
    return cli.die(string.format("%s: expected the file to return a sweep spec table, got %s", file, type(spec)), 1)
  end
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  if opts.runs then s.runs = opts.runs end
  if opts.timeout then s.timeout = opts.timeout end
  if opts.output then s.stdout, s.stderr = "inherit", "inherit" end

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
  local res, msg = isol.sweep(s)
  if bar_shown then err:write("\r\27[K") err:flush() end
  if not res then return cli.die(msg, 1) end
  res:print(io.stdout)
  io.stdout:flush()
  local code = 0
  for _, out in ipairs { { "csv", opts.csv }, { "json", opts.json } } do
    if out[2] then
      local ok, werr = res[out[1]](res, out[2])
      if not ok then cli.die(werr, 1) code = 1 end
    end
  end
  if res.interrupted then
    err:write(string.format("isol: sweep interrupted by %s after %d of %d runs\n", res.interrupted, #res, res.total))
    return 130
  end
  return code
end

return M
