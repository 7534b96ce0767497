--- `isol ps`: the detached sandboxes (started with `isol run -d`).
local cli = require "isol.cli"

local M = {
  summary = "list detached sandboxes",
  usage = [==[
usage: isol ps [-a] [-q] [--json]

Lists the sandboxes started with `isol run -d` (or box:spawn{detach=true}):
NAME, STATE (running, exited N, killed SIG, or stale: gone without a
recorded status), PID (isol's init), AGE, MEMORY and CPU (used so far, from
its cgroups; "-" without one), DESCRIPTION (the recipe's, else the
command). Ended entries keep their logs (`isol logs`) until `isol rm NAME`.

options:
  -a, --all    also list ended entries (default: running and stale)
  -q, --quiet  names only
  --json       one JSON array of objects (name, state, pid, age, memory,
               cpu_us, description, command, status, recipe, cgroups)
  -h, --help   this text

State directory: $ISOL_STATE_DIR, else /run/isol (root) or
$XDG_RUNTIME_DIR/isol.]==],
}

local function fmt_age(s)
  if not s then return "-" end
  if s < 60 then return s .. "s" end
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  if s < 86400 then return string.format("%dh%02dm", s // 3600, (s % 3600) // 60) end
  return string.format("%dd%02dh", s // 86400, (s % 86400) // 3600)
end

local function fmt_bytes(n)
  if not n then return "-" end
  local units = { "B", "K", "M", "G", "T" }
  local i, v = 1, n
  while v >= 1024 and i < #units do v, i = v / 1024, i + 1 end
  return i == 1 and string.format("%dB", n) or string.format("%.1f%s", v, units[i])
end

local function fmt_cpu(us)
  if not us then return "-" end
  return string.format("%.2fs", us / 1e6)
end

function M.run(args)
  local all, quiet, json = false, false, false
  for _, a in ipairs(args) do
    if a == "-a" or a == "--all" then all = true
    elseif a == "-q" or a == "--quiet" then quiet = true
    elseif a == "--json" then json = true
    else return cli.die("ps: unknown argument " .. a .. " (see `isol ps --help`)", 2) end
  end
  local isol = require "isol"
  local root, rmsg = isol.detached.root()
  if not root then return cli.die("ps: " .. rmsg, 1) end
  local usage_of = require("isol.cgroup_sandbox").usage_of
  local rows = {}
  for _, st in ipairs(isol.detached.list()) do
    if st.state ~= "exited" or all or json then
      local state = st.state
      if state == "exited" then
        state = st.status.code and ("exited " .. st.status.code) or ("killed " .. st.status.signal)
      end
      local u = st.state == "running" and usage_of(st.cgroups) or {}
      rows[#rows + 1] = { name = st.name, state = state, pid = st.pid, age = st.age, memory = u.memory,
        cpu_us = u.cpu_us, description = st.description ~= "" and st.description or nil,
        command = st.command, recipe = st.recipe ~= "" and st.recipe or nil, status = st.status,
        cgroups = #st.cgroups > 0 and st.cgroups or nil }
    end
  end
  if json then
    local cjson = require "cjson"
    io.stdout:write(#rows == 0 and "[]" or cjson.encode(rows), "\n")
    return 0
  end
  if quiet then
    for _, r in ipairs(rows) do print(r.name) end
    return 0
  end
  local head = { "NAME", "STATE", "PID", "AGE", "MEMORY", "CPU", "DESCRIPTION" }
  local cells = {}
  for i, r in ipairs(rows) do
    cells[i] = { r.name, r.state, tostring(r.pid or "-"), fmt_age(r.age), fmt_bytes(r.memory), fmt_cpu(r.cpu_us),
      r.description or r.command or "" }
  end
  local w = {}
  for i, hname in ipairs(head) do w[i] = #hname end
  for _, r in ipairs(cells) do for i = 1, 6 do w[i] = math.max(w[i], #r[i]) end end
  local f = string.format("%%-%ds  %%-%ds  %%%ds  %%%ds  %%%ds  %%%ds  %%s", table.unpack(w, 1, 6))
  print(string.format(f, table.unpack(head)))
  for _, r in ipairs(cells) do print(string.format(f, table.unpack(r))) end
  return 0
end

return M
