--- The `tty` recipe field: the command runs on a new pseudo-terminal that
-- isol creates (not on the caller's terminal), as its controlling terminal,
-- in a session of its own: an interactive shell gets job control, and
-- nothing the sandbox does to its terminal (TIOCSTI, taking the foreground)
-- reaches the caller's. The process that spawn returns carries the pty as
-- `p.pty` (an isol.Pty: p.pty:master() is the fd to read the command's
-- output from and write its input to); `isol run -t` relays it to the
-- caller's terminal (isol.tty.relay).
-- @module isol.tty
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}

recipe.define("tty", {
  doc = "run the command on a new pseudo-terminal (its controlling terminal; `isol run -t` relays it)",
  check = function(v, path) return util.check_type(path, v, "boolean") end,
})

-- The window size the new terminal starts with: the caller's, else 24x80.
local function caller_winsize()
  for _, fd in ipairs { 0, 1, 2 } do
    if core.isatty(fd) then
      local rows, cols = core.tty_winsize(fd)
      if rows and rows > 0 then return { rows = rows, cols = cols } end
    end
  end
  return { rows = 24, cols = 80 }
end

--- plan step: open the pty; its slave becomes every stdio slot the spawn
-- did not set otherwise, and the controlling terminal (plan.ctty).
function M.plan_step(box, plan, ctx)
  if not box.recipe.tty then return true end
  if ctx.detach then return nil, "tty: a detached sandbox has no terminal to relay", core.errno.EINVAL end
  local pty, msg, code = core.pty_open(caller_winsize())
  if not pty then return nil, "tty: " .. msg, code end
  local slave = pty:slave()
  for _, s in ipairs { "stdin", "stdout", "stderr" } do
    if plan[s] == nil or plan[s] == "inherit" then plan[s] = slave end
  end
  plan.ctty = true
  ctx.pty = pty
  -- our copy of the slave goes once the child has its own: the master then
  -- reads end-of-file when the sandbox is gone
  ctx.finally[#ctx.finally + 1] = function() pty:close_slave() end
  ctx.undo[#ctx.undo + 1] = function() pty:close() end
  return true
end

--- after_spawn step: the process carries its terminal (p.pty).
function M.after_spawn_step(_, p, ctx)
  if ctx.pty then rawset(p, "pty", ctx.pty) end
  return true
end

--- Relay between the caller's terminal (fds 0 and 1; raw mode while it
-- runs, restored on return, also on error) and p.pty until p ends; the
-- window size follows the caller's. Caught signals (catcher, optional)
-- are forwarded to p, but SIGWINCH, which resizes the pty instead (the
-- kernel then signals the command's foreground process group), and
-- SIGPIPE: when our output goes away the pty is hung up.
-- @return the status p:wait() returns
function M.relay(p, catcher)
  local pty = p.pty
  local master, pfd = pty:master(), p:pidfd()
  local cfd = catcher and catcher:fd()
  local tty_in = core.isatty(0)
  local mode <close> = tty_in and core.tty_raw(0) or nil
  local function resize()
    local rows, cols = core.tty_winsize(tty_in and 0 or 1)
    if rows then pty:set_winsize(rows, cols) end
  end
  local in_open, out_open = true, true
  -- input read but not yet taken by the pty (its queue is full while the
  -- command does not read): kept here, never blocking the relay, so that
  -- its output is still drained and signals still handled meanwhile
  local pending, last_nl = "", true
  while pfd do
    local fds = { pfd }
    if cfd then fds[#fds + 1] = cfd end
    if out_open then fds[#fds + 1] = master end
    if in_open and pending == "" then fds[#fds + 1] = 0 end
    local ready, msg, code = core.poll(fds, pending ~= "" and 0.02 or -1)
    if not ready then return nil, msg, code end
    if out_open and ready[master] then
      local n = core.fd_pump(master, 1)
      if n == 0 then out_open, in_open, pending = false, false, "" -- the sandbox closed it
      elseif n == nil then
        -- our output is gone (EPIPE): hang the terminal up, as a closed
        -- terminal window would (the command's session gets SIGHUP)
        pty:close()
        out_open, in_open, pending = false, false, ""
      end
    end
    if in_open and pending == "" and ready[0] then
      local got = core.fd_read(0)
      if got == "" or got == nil then
        in_open = false
        -- a pipe ran dry: end of file for a reader in canonical mode (a
        -- first ^D after an unfinished line only hands that line over)
        if not tty_in then pending = last_nl and "\4" or "\4\4" end
      elseif got then
        pending, last_nl = got, got:sub(-1) == "\n"
      end
    end
    if out_open and pending ~= "" then
      local n = pty:write_some(pending)
      if n then pending = pending:sub(n + 1) else pending = "" end
    end
    if cfd and ready[cfd] then
      for sig in catcher.read, catcher do
        if sig == "SIGWINCH" then
          if out_open then resize() end
        elseif sig ~= "SIGPIPE" then p:kill(sig) end
      end
    end
    if ready[pfd] then
      -- what the sandbox wrote before it ended
      while out_open do
        local n = core.fd_pump(master, 1)
        if not n or n == 0 then break end
      end
      break
    end
  end
  if mode then mode:restore() end
  pty:close()
  return p:wait()
end

return M
