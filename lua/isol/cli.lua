--- The `isol` command line. Subcommands live in `isol.cli.<name>` modules,
-- each returning { summary = "...", usage = "...", run = function(args) -> exit code }.
-- @module isol.cli
local M = {}

M.commands = { "run", "check", "ps", "kill", "rm", "logs", "exec", "cgroup", "sweep", "image", "export" }

local function load_cmd(name)
  local ok, mod = pcall(require, "isol.cli." .. name)
  if ok then return mod end
  if type(mod) == "string" and mod:find("module 'isol.cli." .. name .. "' not found", 1, true) then
    return nil
  end
  error(mod, 0)
end

-- `isol --help`, "did you mean" and load_recipe: isol.cli_extra, loaded
-- on first use.
local function extra() return require "isol.cli_extra" end

--- The known name closest to `word` (at most 2 edits away), or nil.
function M.did_you_mean(word, names) return extra().did_you_mean(word, names) end

--- Print to stderr and return exit status 2 (usage) or 1.
function M.die(msg, code)
  io.stderr:write("isol: ", msg, "\n")
  return code or 1
end

--- Status table -> shell-style exit code (128+n for a signal).
function M.exit_code(st)
  if st.code then return st.code end
  return 128 + (st.signo or 1)
end

--- Run the command line `isol ARGS...`: returns the exit status.
function M.main(argv)
  local args = {}
  for i = 1, #argv do args[i] = argv[i] end
  local name = table.remove(args, 1)
  if name == "help" and args[1] then
    -- `isol help run` = `isol run --help`
    name, args = args[1], { "--help" }
  end
  if not name or name == "-h" or name == "--help" or name == "help" then
    extra().usage(name and io.stdout or io.stderr, M.commands, load_cmd)
    return name and 0 or 2
  end
  if name == "--version" then
    print(require("isol")._VERSION)
    return 0
  end
  local mod = load_cmd(name)
  if not mod then
    local near = M.did_you_mean(name, M.commands)
    return M.die(string.format("unknown command %q%s (see `isol --help`)", name,
      near and string.format('; did you mean "%s"?', near) or ""), 2)
  end
  if args[1] == "-h" or args[1] == "--help" then
    io.stdout:write(mod.usage, "\n")
    return 0
  end
  local ok, code = xpcall(mod.run, function(e)
    if type(e) == "string" and os.getenv("ISOL_DEBUG") then return debug.traceback(e, 2) end
    return e
  end, args)
  -- a command may name its own status for raised errors (run: 125)
  if not ok then return M.die(tostring(code), mod.error_code or 1) end
  return code or 0
end

--- Load a recipe file: it returns a recipe table, a function returning one
-- (called with the extra arguments), or nothing (a script that did its own
-- work). Returns recipe or nil.
function M.load_recipe(path, ...) return extra().load_recipe(path, ...) end

return M
