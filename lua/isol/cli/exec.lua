--- `isol exec NAME -- CMD [ARGS]`
local cli = require "isol.cli"

local M = {
  summary = "run a command inside a running detached sandbox",
  usage = [==[
usage: isol exec NAME [--] CMD [ARGS...]

Runs CMD inside sandbox NAME, as `docker exec` does: in every namespace of
it (entered with setns through a pidfd, user namespace first; in its pid
namespace through a fork), in every cgroup of it (on cgroup v1 every
hierarchy: its memory, pids... limits hold for CMD too), with what its
command got: capabilities, identity, no_new_privs, rlimits and seccomp
filter, environment and working directory. Refused, with the reason, when
any of these cannot be joined. Exits with CMD's status.]==],
}

function M.run(args)
  local name = args[1]
  local i = 2
  if args[i] == "--" then i = i + 1 end
  local cmd = table.move(args, i, #args, 1, {})
  if not name or name:sub(1, 1) == "-" or #cmd == 0 then
    return cli.die("exec: expected NAME -- CMD [ARGS] (see `isol exec --help`)", 2)
  end
  local isol = require "isol"
  local ok, err = pcall(isol.detached.dir, name)
  if not ok then return cli.die("exec: " .. tostring(err), 2) end
  local p, msg = isol.exec(name, cmd)
  if not p then return cli.die("exec: " .. msg, 127) end
  local st, werr = p:wait()
  if not st then return cli.die(werr, 1) end
  return cli.exit_code(st)
end

return M
