--- `isol ps`: the detached sandboxes (started with `isol run -d`).
local cli = require "isol.cli"

local M = {
  summary = "list detached sandboxes",
  usage = [==[
usage: isol ps [-a] [-q]

Lists the sandboxes started with `isol run -d` (or box:spawn{detach=true}):
NAME, PID (isol's init), STATE, UPTIME and COMMAND. Entries whose process
is gone without a recorded status (killed, pid reused) are shown as "stale"
once and removed; exited ones stay (for `isol logs`) until `isol kill NAME`.

options:
  -a, --all    also list exited entries (default: running and stale)
  -q, --quiet  names only
  -h, --help   this text

State directory: $ISOL_STATE_DIR, else /run/isol (root) or
$XDG_RUNTIME_DIR/isol.]==],
}

local function fmt_uptime(s)
  if not s then return "-" end
  if s < 60 then return s .. "s" end
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  if s < 86400 then return string.format("%dh%02dm", s // 3600, (s % 3600) // 60) end
  return string.format("%dd%02dh", s // 86400, (s % 86400) // 3600)
end

function M.run(args)
  local all, quiet = false, false
  for _, a in ipairs(args) do
    if a == "-a" or a == "--all" then all = true
    elseif a == "-q" or a == "--quiet" then quiet = true
    else return cli.die("ps: unknown argument " .. a .. " (see `isol ps --help`)", 2) end
  end
  local isol = require "isol"
  local rows = {}
  for _, st in ipairs(isol.detached.list()) do
    local state = st.state
    if state == "exited" then
      state = st.status.code and ("exited " .. st.status.code) or ("killed " .. st.status.signal)
    end
    if st.state ~= "exited" or all then
      rows[#rows + 1] = { st.name, tostring(st.pid or "-"), state, fmt_uptime(st.uptime), st.command or "" }
    end
    if st.state == "stale" then isol.detached.remove(st.name) end
  end
  if quiet then
    for _, r in ipairs(rows) do print(r[1]) end
    return 0
  end
  local head = { "NAME", "PID", "STATE", "UPTIME", "COMMAND" }
  local w = {}
  for i, hname in ipairs(head) do w[i] = #hname end
  for _, r in ipairs(rows) do for i = 1, 4 do w[i] = math.max(w[i], #r[i]) end end
  local f = string.format("%%-%ds  %%%ds  %%-%ds  %%%ds  %%s", w[1], w[2], w[3], w[4])
  print(string.format(f, table.unpack(head)))
  for _, r in ipairs(rows) do print(string.format(f, table.unpack(r))) end
  return 0
end

return M
