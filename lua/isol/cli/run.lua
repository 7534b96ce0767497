--- `isol run [--dry-run] RECIPE.lua [-- CMD ARGS]`
local cli = require "isol.cli"
local core = require "isol.core"

local forwarded, wait_forwarding

-- What a plain run does not use (--help, options, -r, --status-json, -n,
-- -d, failure reports) is in isol.cli_run_extra, loaded on first use; its
-- fields are reached as this module's (`usage` for cli.main, and
-- spawn_failure_code, status_record, named_recipe...).
local function extra() return require "isol.cli_run_extra" end

local M = setmetatable({
  summary = "run a command in a sandbox made from a recipe file",
}, { __index = function(_, k) return extra()[k] end })

-- The signals `isol run` passes on to the sandbox's first process (isol's
-- init forwards them to the command). A sandbox that shares our process
-- group (new_session = false, no -t) gets the terminal's INT, QUIT and
-- WINCH from the kernel itself: forwarding them too would deliver twice.
local ALL = { "SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH" }
local NOT_TTY = { "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2" }
-- With a terminal to relay, SIGPIPE is caught too (and not forwarded): a
-- reader of our output that went away must not end isol with the caller's
-- terminal left in raw mode (isol.tty.relay hangs the pty up instead).
local RELAY = { "SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGPIPE" }
forwarded = function(r)
  if r.tty then return RELAY end
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

-- 125: isol could not set the sandbox up (isol.cli_run_extra has the others)
local SETUP_FAILED = 125
M.error_code = SETUP_FAILED -- errors raised by run (a bad recipe): cli.main

--- The exit status of `isol run` for the command's status st (after saying
-- on stderr why isol itself ended it): the command's code, 128+N for signal
-- N, 124 after the recipe's timeout; an OOM kill names the memory limit.
function M.report(st, r)
  if st.timeout or st.oom then return extra().report(st, r) end
  return cli.exit_code(st)
end

--- Parse `isol run`'s arguments: a table {dry=, detach=, name=, named={},
-- flags={}, file=, recipe_args=, cmd=, words=, status_json=, status_fd=},
-- or nil, message (a usage error).
function M.parse(args)
  local o = { named = {}, flags = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    if a ~= "-" and a:sub(1, 1) == "-" then
      local last, stop = extra().option(o, args, i)
      if not last then return nil, stop end
      if stop then return o end
      i = last
    elseif a == "-" or a:match("%.lua$") or (#o.named == 0 and #o.flags == 0) then
      -- the recipe file; option parsing stops here
      o.file = a
      for j = i + 1, #args do
        if args[j] == "--" then
          o.recipe_args, o.cmd = table.move(args, i + 1, j - 1, 1, {}), table.move(args, j + 1, #args, 1, {})
          return o
        end
      end
      o.words = table.move(args, i + 1, #args, 1, {})
      return o
    else
      -- -r or flags gave the recipe: this is the command
      o.cmd = table.move(args, i, #args, 1, {})
      return o
    end
    i = i + 1
  end
  return o
end

-- Load the recipe file (or stdin for "-"): a table, a function called with
-- `args`, or nothing (a script that did its own work). Returns the recipe
-- (or nil) and whether the file made it from a function.
local function load_file(path, args)
  local chunk, err
  if path == "-" then chunk, err = load(io.stdin:read("a") or "", "=stdin", "t")
  else chunk, err = loadfile(path) end
  if not chunk then error(err, 0) end
  local r = chunk(table.unpack(args))
  local from_function = type(r) == "function"
  if from_function then r = r(table.unpack(args)) end
  if r ~= nil and type(r) ~= "table" then
    error(string.format("%s: expected the file to return a recipe table or a function, got %s",
      path == "-" and "stdin" or path, type(r)), 0)
  end
  return r, from_function
end

-- The recipe the command line describes: -r recipes, then the file, then the
-- quick flags, each in command-line order, merged with isol.recipe.extend.
-- Returns the recipe and the command (nil: the recipe's), or nothing when
-- the file was a script that did its own work.
local function build(o)
  local isol = require "isol"
  local parts = {}
  for _, spec in ipairs(o.named) do parts[#parts + 1] = M.named_recipe(spec) end
  local cmd = o.cmd
  if o.file then
    local r, from_function = load_file(o.file, o.recipe_args or o.words or {})
    if r == nil then return nil end
    if o.words and #o.words > 0 then
      -- without --: a function's arguments, else the command
      if not from_function then cmd = o.words end
    elseif o.recipe_args and #o.recipe_args > 0 and not from_function then
      extra().table_takes_no_args(o)
    end
    parts[#parts + 1] = r
  end
  for _, f in ipairs(o.flags) do parts[#parts + 1] = f end
  if #parts == 0 then parts[1] = {} end
  if cmd and #cmd == 0 then cmd = nil end
  -- one part needs no merge (nor the merge module)
  if #parts == 1 then return isol.recipe.validate(parts[1]), cmd end
  return isol.recipe.extend(table.unpack(parts)), cmd
end

function M.run(args)
  local o, perr = M.parse(args)
  if not o then return cli.die("run: " .. perr .. " (see `isol run --help`)", 2) end
  if (not o.file and #o.named == 0 and #o.flags == 0) or ((o.name or o.rm) and not o.detach) then
    return extra().bad_usage(o)
  end
  local isol = require "isol"
  local r, cmd = build(o)
  if r == nil then return 0 end
  local box <close> = isol.sandbox(r)
  if o.dry or o.detach then return extra().dry_or_detach(o, box, cmd) end
  -- Caught before the spawn: a signal that arrives meanwhile stays pending
  -- and is forwarded once the process exists (the child unblocks them).
  local catcher <close> = assert(core.sigcatch(forwarded(box.recipe)))
  local started = core.now()
  local status = o.status_json or o.status_fd
  local p, msg, code = box:spawn(status and extra().with_ns_inodes(cmd) or cmd)
  if not p then return extra().spawn_failed(o, box, msg, code) end
  local info = status and extra().status_info(box, p, started)
  local st, werr
  if p.pty then st, werr = require("isol.tty").relay(p, catcher)
  else st, werr = wait_forwarding(p, catcher) end
  if not st then return cli.die(werr, SETUP_FAILED) end
  if info then extra().write_status(o, extra().status_record(box, p, st, info)) end
  return M.report(st, box.recipe)
end

return M
