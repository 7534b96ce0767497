-- Background sandboxes (the seed's nohup problem): a detached sandbox is
-- double-forked into its own session, so it outlives this script, SIGHUP
-- and the terminal. It is recorded under /run/isol/<name>/ (or
-- $XDG_RUNTIME_DIR/isol, or $ISOL_STATE_DIR) for the CLI:
--
--   bin/isol run -d --name ticker examples/background.lua   (or this script)
--   bin/isol ps ; bin/isol logs ticker ; bin/isol exec ticker -- ps
--   bin/isol kill ticker
--
-- This script starts one, lists it, reads its log, and kills it again.
local isol = require "isol"

local name = "example-bg-" .. isol.core.getpid()
do
  local box <close> = isol.sandbox { namespaces = { "pid", "mount", "uts" }, hostname = "ticker" }
  local p = assert(box:spawn { "/bin/sh", "-c", "while :; do echo tick from $(hostname); sleep 0.2; done",
    detach = true, name = name })
  print(string.format("started %s: init pid %d (%s)", name, p:pid(), tostring(p)))
end -- the box and the handle are closed: the sandbox keeps running

os.execute("sleep 0.5")
for _, st in ipairs(isol.detached.list()) do
  if st.name == name then
    print(string.format("ps: %-24s pid %-7d %-8s %s", st.name, st.pid, st.state, st.command))
    local f = assert(io.open(st.stdout))
    io.write("log: ", f:read("l"), "\n")
    f:close()
  end
end

local p = assert(isol.attach(name)) -- a Process handle on the running sandbox
assert(isol.detached.kill(name)) -- every process of it dies; the entry goes
print("after kill:", p:wait().ended and "ended" or "?", isol.detached.get(name) or "entry removed")
p:close()
