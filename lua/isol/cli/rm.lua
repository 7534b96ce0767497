--- `isol rm [-f] NAME...`
local cli = require "isol.cli"

local M = {
  summary = "remove ended detached sandboxes (their logs and state)",
  usage = [==[
usage: isol rm [-f] NAME...

Removes the entry of each ended sandbox NAME (started with `isol run -d`):
its logs, its recorded state and anything left of its cgroups. A running
sandbox is refused unless -f is given, which kills it first (as `isol kill`).
`isol run -d --rm` removes the entry by itself once the sandbox ends.

options:
  -f, --force  kill a running sandbox first
  -h, --help   this text]==],
}

function M.run(args)
  local force, names = false, {}
  for _, a in ipairs(args) do
    if a == "-f" or a == "--force" then force = true
    elseif a:sub(1, 1) == "-" then return cli.die("rm: unknown option " .. a .. " (see `isol rm --help`)", 2)
    else names[#names + 1] = a end
  end
  if #names == 0 then return cli.die("rm: expected NAME... (see `isol rm --help`)", 2) end
  local isol = require "isol"
  for _, name in ipairs(names) do
    local ok, err = pcall(isol.detached.dir, name)
    if not ok then return cli.die("rm: " .. tostring(err), 2) end
  end
  local rc = 0
  for _, name in ipairs(names) do
    local st, msg = isol.detached.get(name)
    if st and st.state == "running" and force then st, msg = isol.detached.kill(name) end
    local ok
    if st then ok, msg = isol.detached.remove(name) end
    if not ok then
      io.stderr:write("isol: rm: ", msg, "\n")
      rc = 1
    end
  end
  return rc
end

return M
