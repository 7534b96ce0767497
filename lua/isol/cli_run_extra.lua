--- The parts of `isol run` (isol.cli.run) that a plain run never uses,
-- loaded on first use: the --help text, the options and quick flags, -r
-- named recipes, --status-json/--status-fd, --dry-run, --detach, and what
-- isol says when the spawn failed or it ended the command itself. The
-- fields of this module are also reached as those of isol.cli.run
-- (`require("isol.cli.run").spawn_failure_code`).
-- @module isol.cli_run_extra
local cli = require "isol.cli"
local core = require "isol.core"
local recipe = require "isol.recipe"

local E = core.errno

local M = {}

--- `isol run --help`.
M.usage = [==[
usage: isol run [options] [RECIPE.lua [ARGS...]] [-- CMD [ARGS...]]

Runs CMD (or the recipe's `command`) in a sandbox built from a recipe:
RECIPE.lua (`-` reads it from stdin), recipes of isol.recipes (-r), quick
flags, or all of these; they are merged with isol.recipe.extend in this
order: the -r recipes, then RECIPE.lua, then the flags (each in the order
given). Options come before RECIPE.lua: the words after it are not options.

RECIPE.lua returns a recipe table, or a function returning one, or nothing
(then it is a script that did its own work). A function gets the words
between RECIPE.lua and `--`; the words after `--` are the command:
  isol run build.lua release -- make -j2
Without `--`, the words after a table recipe are the command
(`isol run r.lua ls -la`), those after a function recipe its arguments.

TERM, HUP, INT (Ctrl-C), QUIT, USR1, USR2 and WINCH sent to isol reach the
command.

Terminals: by default the command shares the caller's terminal for its
stdio but runs in a session of its own (new_session), so it can neither
take the terminal nor push input into it (TIOCSTI), and an interactive
shell has no job control. -t gives it a new terminal of its own that isol
relays: job control works and the caller's terminal stays out of reach.
`new_session = false` in the recipe shares the caller's session instead
(job control on the caller's terminal, and its risks).

Exit status: the command's own; 128+N when signal N killed it; 124 when the
recipe's timeout expired; 125 when isol could not set the sandbox up (a bad
recipe, a mount or cgroup that failed); 126 when the command was found but
cannot be executed; 127 when it was not found. An OOM kill is said on stderr.

options:
  -r, --recipe NAME[:K=V,...]  a recipe of isol.recipes, with parameters
                    (numbers where numeric): -r untrusted:memory=64M,pids=32
  -n, --dry-run     print the validated plan instead of running it
  -t, --tty         run the command on a new pseudo-terminal that isol relays
                    (job control in interactive shells; also `tty = true`
                    in the recipe)
  --status-json FILE|-   when the command ends, write one JSON object (pid,
                    namespaces, cgroups, status, exit_code, oom, timeout,
                    times, memory peak, description) to FILE or stdout; when
                    it could not start: {error=, exit_code=}
  --status-fd N     the same JSON object to file descriptor N
  -d, --detach      start it in the background and exit (see `isol ps`,
                    `isol logs`, `isol kill`); it survives this shell
  --name NAME       the detached sandbox's name (default: generated)
  --rm              with -d: remove its entry and logs once it has ended
  -h, --help        this text

quick flags (recipe fields):
  --ns LIST         namespaces = {LIST} (comma-separated: pid,mount,uts...)
  --hostname H      hostname = H (adds the uts namespace)
  --memory SIZE     limits.memory.max = SIZE (64M, 1G)
  --cpu PCT         limits.cpu.quota = "PCT%" (of one CPU)
  --pids N          limits.pids.max = N
  --ro-bind SRC DST, --bind SRC DST   a (read-only) bind mount (adds mount)
  --tmpfs DST[:SIZE]  a tmpfs at DST (adds mount)
  --env K=V         env.K = V
  --net             a new network namespace (loopback only)

examples:
  isol run -r untrusted -- python3 x.py
  isol run --hostname box --memory 64M --ns pid,mount -- sh
  isol run -r minimal --ro-bind ./src /src -t -- sh -i]==]

-- isol's own failures, as container CLIs have them: 125 isol could not set
-- the sandbox up, 126 the command was found but cannot be executed, 127 it
-- was not found; 124 the recipe's timeout expired.
local SETUP_FAILED, CANNOT_EXEC, NOT_FOUND, TIMED_OUT = 125, 126, 127, 124

--- Exit status for a failed spawn (message and errno from box:spawn):
-- the exec step's failures are 127 (not found) or 126, the rest 125.
function M.spawn_failure_code(msg, errno)
  if type(msg) == "string" and msg:match("^exec ") then
    if errno == E.ENOENT or errno == E.ENOTDIR then return NOT_FOUND end
    return CANNOT_EXEC
  end
  return SETUP_FAILED
end

-- "64M" as the recipe wrote it, else bytes in the largest whole unit.
local function show_size(v)
  if type(v) == "string" then return v end
  if math.type(v) ~= "integer" then return tostring(v) end
  for _, u in ipairs { { "G", 1 << 30 }, { "M", 1 << 20 }, { "K", 1 << 10 } } do
    if v >= u[2] and v % u[2] == 0 then return (v // u[2]) .. u[1] end
  end
  return tostring(v)
end

--- isol.cli.run.report for a command that timed out or met the OOM killer.
function M.report(st, r)
  local src = recipe.source(r)
  if st.timeout then
    local t = src.timeout
    io.stderr:write("isol: timed out", t and string.format(" (timeout %s)", tostring(t)) or "", "\n")
    return TIMED_OUT
  end
  if st.oom then
    local mem = type(src.limits) == "table" and type(src.limits.memory) == "table" and src.limits.memory.max
    io.stderr:write("isol: killed by the OOM killer",
      mem and string.format(" (memory.max %s)", show_size(mem)) or "", "\n")
  end
  return cli.exit_code(st)
end

--- The exit status of `isol run` for the command's status st, without a
-- word on stderr.
function M.exit_code_of(st)
  if st.timeout then return TIMED_OUT end
  return cli.exit_code(st)
end

-- ------------------------------------------------------------ --status-json

--- The spawn's argument for a status record: cmd (nil: the recipe's)
-- with ns_inodes = true (the spawn reads the namespaces before the
-- command runs).
function M.with_ns_inodes(cmd)
  local c = { ns_inodes = true }
  for i, a in ipairs(cmd or {}) do c[i] = a end
  return c
end

--- What the status record needs of the spawn, taken right after it:
-- {pid=, namespaces=, started=} (the namespaces as the spawn read them
-- before the command ran: a command that is already gone keeps them).
function M.status_info(box, p, started)
  return { pid = p:pid(), started = started,
    namespaces = require("isol.kill").ns_inodes(p:pid(), box.recipe.namespaces, p:ns_inodes()) }
end

--- The status record `--status-json` writes when the command ends: what an
-- orchestrator or CI system reads. `info` = {pid=, namespaces=, started=}
-- taken at the spawn; st the command's status.
function M.status_record(box, p, st, info)
  local rec = {
    pid = info.pid,
    namespaces = info.namespaces, -- procname -> inode, those not shared with isol
    cgroups = {},
    status = st.code ~= nil and { code = st.code } or { signal = st.signal, signo = st.signo },
    exit_code = M.exit_code_of(st),
    oom = st.oom == true,
    timeout = st.timeout == true,
    wall_s = core.now() - info.started,
    description = box.recipe.description,
  }
  local ru = p:rusage()
  if ru then
    rec.cpu = { user_s = ru.utime, system_s = ru.stime }
    rec.maxrss_kb = ru.maxrss_kb
  end
  if box.cgroup then
    for i, d in ipairs(box.cgroup:dirs() or {}) do rec.cgroups[i] = d end
    local stats = box:stats()
    if stats then
      rec.memory_peak = stats.memory and stats.memory.peak
      if stats.cpu and stats.cpu.usage_us then
        rec.cpu = rec.cpu or {}
        rec.cpu.cgroup_usage_s = stats.cpu.usage_us / 1e6
      end
      rec.pids_peak = stats.pids and stats.pids.peak
    end
  end
  return rec
end

--- Write the record as one line of JSON to the options' FILE, "-" (stdout)
-- or fd.
function M.write_status(o, rec)
  local cjson = require "cjson"
  if next(rec.namespaces) == nil then rec.namespaces = cjson.empty_array end
  if #rec.cgroups == 0 then rec.cgroups = cjson.empty_array end
  local text = cjson.encode(rec) .. "\n"
  if o.status_fd then
    local ok, msg = core.fd_write(o.status_fd, text)
    if not ok then io.stderr:write("isol: --status-fd ", o.status_fd, ": ", msg, "\n") end
  end
  if o.status_json == "-" then
    io.stdout:write(text)
    io.stdout:flush()
  elseif o.status_json then
    local f, msg = io.open(o.status_json, "w")
    if not f then io.stderr:write("isol: --status-json: ", msg, "\n"); return end
    f:write(text)
    f:close()
  end
end

--- A spawn that failed (message and errno from box:spawn): said on stderr
-- (and in the status record when one was asked for); returns the exit status.
function M.spawn_failed(o, box, msg, code)
  local status = M.spawn_failure_code(msg, code)
  if o.status_json or o.status_fd then
    M.write_status(o, { error = msg, exit_code = status, namespaces = {}, cgroups = {},
      description = box.recipe.description })
  end
  return cli.die(msg, status)
end

-- ------------------------------------------------------------ the command line

-- Options that take values (how many) and the recipe fragment each quick
-- flag stands for; fragments are applied with isol.recipe.extend.
local VALUES = { ["--name"] = 1, ["-r"] = 1, ["--recipe"] = 1, ["--ns"] = 1, ["--hostname"] = 1,
  ["--memory"] = 1, ["--cpu"] = 1, ["--pids"] = 1, ["--ro-bind"] = 2, ["--bind"] = 2, ["--tmpfs"] = 1,
  ["--env"] = 1, ["--status-json"] = 1, ["--status-fd"] = 1 }
local SWITCHES = { ["-n"] = "dry", ["--dry-run"] = "dry", ["-d"] = "detach", ["--detach"] = "detach",
  ["-t"] = "tty", ["--tty"] = "tty", ["--net"] = "net", ["--rm"] = "rm" }

local function split(s, sep)
  local out = {}
  for part in (s .. sep):gmatch("(.-)" .. sep) do out[#out + 1] = part end
  return out
end

-- "64" -> 64, "0.5" -> 0.5, "true"/"false" -> booleans, else the string
local function scalar(v)
  if v == "true" then return true elseif v == "false" then return false end
  local n = tonumber(v)
  if n and v:match("^[%d.+-]") then return math.tointeger(n) or n end
  return v
end

--- The recipes of isol.recipes, one per module file next to its init.lua.
-- (where the recipes are: the loaded module's file when its name is
-- absolute, else Lua's path, else the source tree of the native launcher)
function M.recipe_names()
  local dirs = {}
  local src = debug.getinfo(require("isol.recipes.minimal"), "S").source
  dirs[1] = src:match("^@(/.*)/[^/]*$")
  dirs[#dirs + 1] = (package.searchpath("isol.recipes.minimal", package.path) or ""):match("^(.*)/[^/]*$")
  local exe = core.readlink("/proc/self/exe")
  dirs[#dirs + 1] = exe and exe:match("^(.*)/bin/[^/]*$") and exe:match("^(.*)/bin/[^/]*$") .. "/../lua/isol/recipes"
  for _, dir in pairs(dirs) do
    local names = {}
    for _, f in ipairs(core.listdir(dir) or {}) do
      local n = f:match("^([%w_]+)%.lua$")
      if n and n ~= "init" then names[#names + 1] = n end
    end
    if #names > 0 then
      table.sort(names)
      return names
    end
  end
  return {}
end

--- `-r NAME[:k=v,...]`: recipe NAME of isol.recipes with those parameters.
function M.named_recipe(spec)
  local name, params = spec:match("^([^:]*):(.*)$")
  name = name or spec
  local p = {}
  if params and params ~= "" then
    for _, kv in ipairs(split(params, ",")) do
      local k, v = kv:match("^([%w_]+)=(.*)$")
      if not k then error(string.format("-r %s: expected NAME:key=value,..., got %q", spec, kv), 0) end
      p[k] = scalar(v)
    end
  end
  local isol = require "isol"
  local r = name:match("^[%w_]+$") and name ~= "init" and isol.recipes[name]
  if not r then
    local known = M.recipe_names()
    local near = cli.did_you_mean(name, known)
    error(string.format("-r: no recipe %q in isol.recipes%s (known: %s)", name,
      near and string.format('; did you mean "%s"?', near) or "", table.concat(known, ", ")), 0)
  end
  if type(r) == "function" then return r(p) end
  if next(p) then error(string.format("-r %s: recipe %q takes no parameters", spec, name), 0) end
  return r
end

-- The recipe fragment of one quick flag (values checked by the recipe's
-- own validation once everything is merged).
local function fragment(opt, v1, v2)
  if opt == "--ns" then return { namespaces = split(v1, ",") }
  elseif opt == "--hostname" then return { namespaces = { "uts" }, hostname = v1 }
  elseif opt == "--memory" then return { limits = { memory = { max = scalar(v1) } } }
  elseif opt == "--cpu" then
    return { limits = { cpu = { quota = v1:match("%%$") and v1 or (v1 .. "%") } } }
  elseif opt == "--pids" then return { limits = { pids = { max = scalar(v1) } } }
  elseif opt == "--ro-bind" or opt == "--bind" then
    return { namespaces = { "mount" }, mounts = { { type = "bind", source = v1, target = v2,
      readonly = opt == "--ro-bind" or nil } } }
  elseif opt == "--tmpfs" then
    local dst, size = v1:match("^(.-):(%d+%a*)$")
    return { namespaces = { "mount" }, mounts = { { type = "tmpfs", target = dst or v1, size = size } } }
  elseif opt == "--env" then
    local k, v = v1:match("^([^=]+)=(.*)$")
    if not k then error(string.format("--env: expected NAME=VALUE, got %q", v1), 0) end
    return { env = { [k] = v } }
  elseif opt == "--net" then return { namespaces = { "net" } }
  elseif opt == "--tty" then return { tty = true }
  end
end

--- One option of isol.cli.run.parse: args[i] starts with "-" (and is not
-- "-"). Records it in o and returns the index of its last word and, for
-- `--`, true (the words after it are the command, parsing ends); or nil,
-- message (a usage error).
function M.option(o, args, i)
  local a = args[i]
  local opt, inline = a:match("^(%-%-[%w-]+)=(.*)$")
  opt = opt or a
  if a == "--" then
    o.cmd = table.move(args, i + 1, #args, 1, {})
    return i, true
  elseif SWITCHES[opt] and not inline then
    local what = SWITCHES[opt]
    if what == "net" then o.flags[#o.flags + 1] = fragment("--net")
    elseif what == "tty" then o.flags[#o.flags + 1] = fragment("--tty")
    else o[what] = true end
  elseif VALUES[opt] then
    local vals = {}
    if inline then vals[1] = inline end
    while #vals < VALUES[opt] do
      i = i + 1
      if args[i] == nil then return nil, string.format("%s needs %d value(s)", opt, VALUES[opt]) end
      vals[#vals + 1] = args[i]
    end
    if opt == "--name" then o.name = vals[1]
    elseif opt == "-r" or opt == "--recipe" then o.named[#o.named + 1] = vals[1]
    elseif opt == "--status-json" then o.status_json = vals[1]
    elseif opt == "--status-fd" then
      o.status_fd = math.tointeger(tonumber(vals[1]))
      if not o.status_fd or o.status_fd < 0 then return nil, "--status-fd: expected an fd number, got " .. vals[1] end
    else o.flags[#o.flags + 1] = fragment(opt, vals[1], vals[2]) end
  else
    local known = {}
    for k in pairs(VALUES) do known[#known + 1] = k end
    for k in pairs(SWITCHES) do known[#known + 1] = k end
    table.sort(known)
    local near = cli.did_you_mean(opt, known)
    return nil, "unknown option " .. a .. (near and string.format(' (did you mean "%s"?)', near) or "")
  end
  return i
end

--- The usage errors isol.cli.run finds in parsed options (no recipe, --name
-- or --rm without -d): exit status 2 after saying which.
function M.bad_usage(o)
  if not o.file and #o.named == 0 and #o.flags == 0 then
    return cli.die("run: no recipe: give a recipe file, -r NAME or a flag (see `isol run --help`)", 2)
  end
  if o.name and not o.detach then return cli.die("run: --name goes with -d", 2) end
  if o.rm and not o.detach then return cli.die("run: --rm goes with -d", 2) end
end

--- A recipe file that returned a table was given words before `--`.
function M.table_takes_no_args(o)
  error(string.format("%s returns a table: it takes no arguments (before --: %s)", o.file,
    table.concat(o.recipe_args, " ")), 0)
end

-- ------------------------------------------------------------ -n, -d

--- `isol run -n` (print the plan) or `-d` (start detached, print its name
-- and pid) for the sandbox `box` and command `cmd`: the exit status.
function M.dry_or_detach(o, box, cmd)
  local isol = require "isol"
  if o.dry then
    io.stdout:write(isol.recipe.explain(box.recipe, cmd))
    return 0
  end
  local c = { detach = true, name = o.name, recipe_source = o.file ~= "-" and o.file or nil }
  for k, v in ipairs(cmd or {}) do c[k] = v end
  local p, got, code = box:spawn(c)
  if not p then return cli.die(got, M.spawn_failure_code(got, code)) end
  -- --rm: the entry and its logs go once it ends (now, or when an isol
  -- command next finds it ended)
  if o.rm then
    local ok, msg = isol.detached.auto_remove(got)
    if not ok then return cli.die("run: --rm: " .. tostring(msg), 125) end
  end
  print(string.format("%s %d", got, p:pid()))
  return 0
end

return M
