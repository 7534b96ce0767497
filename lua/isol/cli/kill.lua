--- `isol kill NAME [SIG]`
local cli = require "isol.cli"

local M = {
  summary = "signal a detached sandbox (default: kill all its processes)",
  usage = [==[
usage: isol kill NAME [SIGNAL]

With SIGKILL (the default) every process of sandbox NAME dies (its pid
namespace's init is killed, or its process tree and namespaces are scanned
until empty, and whatever is in its cgroups, `isol exec` commands
included); isol waits until none is left and removes its cgroups (every
hierarchy) and runtime state. Its logs stay readable (`isol logs NAME`,
`isol ps -a` shows it "killed") until `isol rm NAME`.
Other signals (TERM, HUP, ...) go to its init, which forwards them to the
command; the sandbox ends when the command does.
An entry that has already ended is left as it is (exit status 1).]==],
}

function M.run(args)
  local name, sig = args[1], args[2]
  if not name or args[3] then return cli.die("kill: expected NAME [SIGNAL] (see `isol kill --help`)", 2) end
  local isol = require "isol"
  if sig then
    sig = math.tointeger(tonumber(sig)) or sig
    local ok, err = pcall(require("isol.kill").check_sig, sig, "kill")
    if not ok then return cli.die(tostring(err), 2) end
  end
  local ok, err = pcall(isol.detached.dir, name)
  if not ok then return cli.die("kill: " .. tostring(err), 2) end
  local st, msg = isol.detached.kill(name, sig)
  if not st then return cli.die("kill: " .. msg, 1) end
  return 0
end

return M
