--- `isol run [--dry-run] RECIPE.lua [-- CMD ARGS]`
local cli = require "isol.cli"
local core = require "isol.core"
local recipe = require "isol.recipe"

local E = core.errno

local forwarded, wait_forwarding

local M = {
  summary = "run a command in a sandbox made from a recipe file",
  usage = [==[
usage: isol run [options] RECIPE.lua [-- CMD [ARGS...]]

Runs CMD (or the recipe's `command`) in a sandbox built from RECIPE.lua.
TERM, HUP, INT (Ctrl-C), QUIT, USR1, USR2 and WINCH sent to isol reach the
command.

Exit status: the command's own; 128+N when signal N killed it; 124 when the
recipe's timeout expired; 125 when isol could not set the sandbox up (a bad
recipe, a mount or cgroup that failed); 126 when the command was found but
cannot be executed; 127 when it was not found. An OOM kill is said on stderr.

RECIPE.lua returns a recipe table, or a function returning one (called with
the arguments after --), or nothing: then it is a script that did its own work.

options:
  -n, --dry-run     print the validated plan instead of running it
  -t, --tty         run the command on a new pseudo-terminal that isol relays
                    (job control in interactive shells; also `tty = true`
                    in the recipe)
  -d, --detach      start it in the background and exit (see `isol ps`,
                    `isol logs`, `isol kill`); it survives this shell
  --name NAME       the detached sandbox's name (default: generated)
  -h, --help        this text]==],
}

-- The signals `isol run` passes on to the sandbox's first process (isol's
-- init forwards them to the command). A sandbox that shares our process
-- group (new_session = false, no -t) gets the terminal's INT, QUIT and
-- WINCH from the kernel itself: forwarding them too would deliver twice.
local ALL = { "SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH" }
local NOT_TTY = { "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2" }
forwarded = function(r)
  if r.new_session == false then return NOT_TTY end
  return ALL
end

-- Wait for p, forwarding every caught signal to it (p:kill, through its
-- pidfd): poll the pidfd and the catcher's signalfd together.
wait_forwarding = function(p, catcher)
  local pfd, cfd = p:pidfd(), catcher:fd()
  while pfd do
    local ready, msg, code = core.poll({ pfd, cfd })
    if not ready then return nil, msg, code end
    if ready[cfd] then
      for sig in catcher.read, catcher do p:kill(sig) end
    end
    if ready[pfd] then break end
  end
  return p:wait()
end

-- isol's own failures, as container CLIs have them: 125 isol could not set
-- the sandbox up, 126 the command was found but cannot be executed, 127 it
-- was not found; 124 the recipe's timeout expired.
local SETUP_FAILED, CANNOT_EXEC, NOT_FOUND, TIMED_OUT = 125, 126, 127, 124
M.error_code = SETUP_FAILED -- errors raised by run (a bad recipe): cli.main

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

--- The exit status of `isol run` for the command's status st (after saying
-- on stderr why isol itself ended it): the command's code, 128+N for signal
-- N, 124 after the recipe's timeout; an OOM kill names the memory limit.
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

function M.run(args)
  local dry, detach, name, tty = false, false, nil, false
  local file
  local cmd = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do cmd[#cmd + 1] = args[j] end
      break
    elseif a == "-n" or a == "--dry-run" then
      dry = true
    elseif a == "-t" or a == "--tty" then
      tty = true
    elseif a == "-d" or a == "--detach" then
      detach = true
    elseif a == "--name" then
      i = i + 1
      name = args[i]
      if not name then return cli.die("run: --name needs a value", 2) end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return cli.die("run: unknown option " .. a .. " (see `isol run --help`)", 2)
    elseif not file then
      file = a
    else
      cmd[#cmd + 1] = a
    end
    i = i + 1
  end
  if not file then return cli.die("run: no recipe file (see `isol run --help`)", 2) end
  if name and not detach then return cli.die("run: --name goes with -d", 2) end
  local isol = require "isol"
  local r = cli.load_recipe(file, table.unpack(cmd))
  if r == nil then return 0 end
  if tty then r = isol.recipe.extend(r, { tty = true }) end
  local box <close> = isol.sandbox(r)
  if #cmd == 0 then cmd = nil end
  if dry then
    io.stdout:write(isol.recipe.explain(box.recipe, cmd))
    return 0
  end
  if detach then
    local c = { detach = true, name = name, recipe_source = file }
    for k, v in ipairs(cmd or {}) do c[k] = v end
    local p, got = box:spawn(c)
    if not p then return cli.die(got, 127) end
    print(string.format("%s %d", got, p:pid()))
    return 0
  end
  -- Caught before the spawn: a signal that arrives meanwhile stays pending
  -- and is forwarded once the process exists (the child unblocks them).
  local catcher <close> = assert(core.sigcatch(forwarded(box.recipe)))
  local p, msg, code = box:spawn(cmd)
  if not p then return cli.die(msg, M.spawn_failure_code(msg, code)) end
  local st, werr
  if p.pty then st, werr = require("isol.tty").relay(p, catcher)
  else st, werr = wait_forwarding(p, catcher) end
  if not st then return cli.die(werr, SETUP_FAILED) end
  return M.report(st, box.recipe)
end

return M
