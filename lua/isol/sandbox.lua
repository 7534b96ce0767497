--- Sandbox: a validated recipe plus what it owns (processes it started and,
-- with the filesystem and cgroup concerns, its mounts, images and cgroup).
-- Each `:spawn` creates fresh namespaces from the recipe.
-- @classmod isol.Sandbox
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"

local Sandbox = {}
Sandbox.__index = Sandbox

-- process -> its sandbox (an ephemeron: a process that is still referenced
-- keeps its sandbox, and so the sandbox's cgroup and mounts, alive).
local owner = setmetatable({}, { __mode = "k" })

--- The sandbox that started process p (nil for core.spawn processes).
function Sandbox.of(p) return owner[p] end

--- Hooks that concern modules add: each is fn(box, ...) in order.
-- `prepare(box)` once before the first spawn (create cgroup...),
-- `plan(box, plan)` for every spawn, `close(box)` when the box closes,
-- `kill(box, sig)` returning true if it took care of killing everything.
Sandbox.hooks = { prepare = {}, plan = {}, close = {}, kill = {} }

local function new(r)
  local box = setmetatable({
    recipe = recipe.validate(r),
    procs = setmetatable({}, { __mode = "k" }),
    prepared = false,
    closed = false,
  }, Sandbox)
  return box
end
Sandbox.new = new

local SPAWN_OPTS = { env = true, cwd = true, stdin = true, stdout = true, stderr = true,
  keep_fds = true, file = true }

local function check_spawn_args(box, cmd)
  local argv, opts
  if cmd == nil then
    argv = box.recipe.command
    if not argv then util.fail("command", "no command given and the recipe has no `command`") end
    opts = {}
  elseif type(cmd) == "string" then
    argv, opts = { cmd }, {}
  else
    util.check_type("command", cmd, "table")
    argv, opts = {}, {}
    for k, v in pairs(cmd) do
      if math.type(k) == "integer" then
        util.check_type(string.format("command[%d]", k), v, "string")
        argv[k] = v
      elseif SPAWN_OPTS[k] then
        opts[k] = v
      else
        util.fail("command." .. tostring(k), "unknown spawn option")
      end
    end
    if #argv == 0 then
      argv = box.recipe.command
      if not argv then util.fail("command", "expected a non-empty argv list") end
    end
    for _, s in ipairs { "stdin", "stdout", "stderr" } do
      if opts[s] ~= nil then opts[s] = recipe.check_io(opts[s], "command." .. s) end
    end
    if opts.env ~= nil then util.check_type("command.env", opts.env, "table") end
  end
  return argv, opts
end

--- Start a command in the sandbox.
-- @param cmd argv list `{ "/bin/sh", "-c", "..." }` with optional fields
--   env, cwd, stdin, stdout, stderr, keep_fds; or a string; or nil for the
--   recipe's `command`.
-- @return Process, or nil, message, errno
function Sandbox:spawn(cmd)
  if self.closed then return nil, "sandbox is closed", 9 end
  local argv, opts = check_spawn_args(self, cmd)
  if not self.prepared then
    for _, fn in ipairs(Sandbox.hooks.prepare) do
      local ok, msg, code = fn(self)
      if not ok then return nil, msg, code end
    end
    self.prepared = true
  end
  local plan = recipe.to_plan(self.recipe, argv, opts)
  for _, fn in ipairs(Sandbox.hooks.plan) do
    local ok, msg, code = fn(self, plan)
    if not ok then return nil, msg, code end
  end
  local p, msg, code = core.spawn(plan)
  if not p then return nil, msg, code end
  self.procs[p] = true
  owner[p] = self
  return p
end

--- Run a command to completion. Returns the status table ({code=} or
-- {signal=}), plus stdout and stderr strings when opts.capture is true.
function Sandbox:run(cmd, opts)
  opts = opts or {}
  if opts.capture then
    if type(cmd) ~= "table" then cmd = { cmd } end
    local c = {}
    for k, v in pairs(cmd) do c[k] = v end
    c.stdout = c.stdout or "pipe"
    c.stderr = c.stderr or "pipe"
    cmd = c
  end
  local p <close>, msg, code = self:spawn(cmd)
  if not p then return nil, msg, code end
  local out, err
  if opts.capture then out, err = p:communicate(opts.input) end
  local st, wmsg, wcode = p:wait()
  if not st then return nil, wmsg, wcode end
  return st, out, err
end

--- Send a signal (default SIGKILL) to every process of the sandbox.
-- Concern modules may take over (cgroup kill); otherwise every process this
-- box started is signalled (its pid namespace dies with its init).
function Sandbox:kill(sig)
  sig = sig or "SIGKILL"
  core.signum(sig) -- raises on a bad name
  for _, fn in ipairs(Sandbox.hooks.kill) do
    if fn(self, sig) then return true end
  end
  for p in pairs(self.procs) do p:kill(sig) end
  return true
end

--- Kill what still runs, then release everything the sandbox created.
function Sandbox:close()
  if self.closed then return end
  for p in pairs(self.procs) do p:close() end
  for i = #Sandbox.hooks.close, 1, -1 do Sandbox.hooks.close[i](self) end
  self.closed = true
end
Sandbox.__close = Sandbox.close
Sandbox.__gc = Sandbox.close

function Sandbox:__tostring()
  return string.format("isol.Sandbox (%s)", self.closed and "closed" or "open")
end

return Sandbox
