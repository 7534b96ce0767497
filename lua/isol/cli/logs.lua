--- `isol logs NAME`
local cli = require "isol.cli"

local M = {
  summary = "print the output of a detached sandbox",
  usage = [==[
usage: isol logs [--stderr | --all] [-f] NAME

Prints what sandbox NAME wrote to its stdout (its log file in the state
directory). --stderr: its stderr; --all: stdout then stderr.
-f: keep printing new output until the sandbox ends.]==],
}

local function dump(path, from)
  local f = io.open(path, "r")
  if not f then return from end
  f:seek("set", from)
  local s = f:read("a")
  local pos = f:seek()
  f:close()
  io.stdout:write(s)
  io.stdout:flush()
  return pos
end

function M.run(args)
  local streams, follow, name = { "stdout" }, false, nil
  for _, a in ipairs(args) do
    if a == "--stderr" then streams = { "stderr" }
    elseif a == "--all" then streams = { "stdout", "stderr" }
    elseif a == "-f" or a == "--follow" then follow = true
    elseif a:sub(1, 1) == "-" then return cli.die("logs: unknown option " .. a, 2)
    elseif not name then name = a
    else return cli.die("logs: one NAME only", 2) end
  end
  if not name then return cli.die("logs: expected NAME (see `isol logs --help`)", 2) end
  local isol = require "isol"
  local ok, err = pcall(isol.detached.dir, name)
  if not ok then return cli.die("logs: " .. tostring(err), 2) end
  local st, msg = isol.detached.get(name)
  if not st then return cli.die("logs: " .. msg, 1) end
  if follow then
    local path = st[streams[1]]
    local pos = 0
    repeat
      pos = dump(path, pos)
      local cur = isol.detached.get(name)
      local running = cur and cur.state == "running"
      if running then isol.core.poll({}, 0.2) end
    until not running
    dump(path, pos)
    return 0
  end
  for _, s in ipairs(streams) do
    if st[s] and st[s] ~= "" then dump(st[s], 0) end
  end
  return 0
end

return M
