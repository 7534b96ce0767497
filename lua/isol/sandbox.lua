--- Sandbox: a validated recipe plus what it owns (processes it started and,
-- through the concerns' steps, its mounts, images and cgroup). Each
-- `:spawn` creates fresh namespaces from the recipe.
--
-- What a sandbox does is one explicit pipeline of ordered phases. Concern
-- modules register named steps with `Sandbox.step(phase, concern, fn)`;
-- `isol.lua` wires every concern in one place, in a documented order, and
-- `Sandbox.steps()` (printed by `isol.recipe.explain`) lists them. Nothing
-- replaces a function of this module. The phases, in order:
--
--   validate(box)                 isol.sandbox(r), after the pure
--       recipe.validate: checks against this host (raise naming the field).
--   prepare(box)                  once, before the first spawn (cgroup...).
--   plan(box, plan, ctx)          every spawn: fill the core plan.
--   after_spawn(box, p, ctx)      every spawn that started: bookkeeping.
--   wait(box, p, status)          every status that p:wait/poll/close
--       returns: concerns add to it (the cgroup's oom = true).
--   kill(box, sig)                box:kill(sig): every step runs.
--   close(box)                    box:close(): every step runs, in order.
--
-- Steps return true, or nil, message, errno (a failure stops prepare, plan
-- and after_spawn; kill and close run every step and report the first
-- failure). `ctx` carries one spawn's options (ctx.argv, ctx.opts,
-- ctx.detach, ctx.name, ctx.source) and two lists a step may push to:
-- ctx.undo (run if the spawn fails after it) and ctx.finally (run after
-- the spawn either way).
--
-- box:spawn returns an `isol.SandboxProcess`: every isol.Process method
-- works on it (p:pid(), p:kill(), p:communicate()...), and its wait, poll
-- and close run the wait phase on the status they return; p:process() is
-- the isol.Process itself.
-- @classmod isol.Sandbox
local core = require "isol.core"
local recipe = require "isol.recipe"
local util = require "isol.util"
local rootless = require "isol.rootless"

local E = core.errno

local Sandbox = {}
Sandbox.__index = Sandbox

--- The phases, in the order a sandbox runs them.
Sandbox.PHASES = { "validate", "prepare", "plan", "after_spawn", "wait", "kill", "close" }

local steps, has_step = {}, {}
for _, ph in ipairs(Sandbox.PHASES) do steps[ph], has_step[ph] = {}, {} end

--- Register step fn of concern `concern` in `phase` (after the steps
-- registered before it). A concern has at most one step per phase.
function Sandbox.step(phase, concern, fn)
  local list = steps[phase]
  if not list then
    util.fail("Sandbox.step", "unknown phase %s (known: %s)", util.show(phase), table.concat(Sandbox.PHASES, ", "))
  end
  util.check_type("Sandbox.step: concern", concern, "string")
  util.check_type("Sandbox.step: fn", fn, "function")
  if has_step[phase][concern] then
    util.fail("Sandbox.step", "concern %q already has a %s step", concern, phase)
  end
  has_step[phase][concern] = true
  list[#list + 1] = { concern = concern, fn = fn }
end

--- Add method `name` (box:name(...)) for concern `concern`; an existing
-- method is never replaced.
function Sandbox.method(name, concern, fn)
  util.check_type("Sandbox.method: fn", fn, "function")
  if Sandbox[name] ~= nil then
    util.fail("Sandbox.method", "%s: box:%s already exists", tostring(concern), tostring(name))
  end
  Sandbox[name] = fn
end

--- Every registered step, phase by phase, in the order they run:
-- { {phase=, concern=}, ... }.
function Sandbox.steps()
  local out = {}
  for _, ph in ipairs(Sandbox.PHASES) do
    for _, s in ipairs(steps[ph]) do out[#out + 1] = { phase = ph, concern = s.concern } end
  end
  return out
end

-- Run the steps of a phase until one fails: true, or nil, msg, errno.
local function run_until_failure(phase, ...)
  for _, s in ipairs(steps[phase]) do
    local ok, msg, code = s.fn(...)
    if not ok then return nil, msg, code end
  end
  return true
end

-- Run every step of a phase; report the first failure after running all.
local function run_all(phase, ...)
  local fmsg, fcode
  for _, s in ipairs(steps[phase]) do
    local ok, msg, code = s.fn(...)
    if not ok and not fmsg then fmsg, fcode = string.format("%s: %s", s.concern, tostring(msg)), code end
  end
  if fmsg then return nil, fmsg, fcode end
  return true
end

-- ------------------------------------------------------------ processes

-- A process started by a sandbox: the C isol.Process plus its box. Every
-- Process method works on it; wait/poll/close also run the wait phase.
local BoxProcess = { __name = "isol.SandboxProcess" }
local forward = {}
local own = {}

local function method(self, k)
  local m = own[k]
  if m then return m end
  m = forward[k]
  if m then return m end
  local cm = self._p[k]
  if type(cm) ~= "function" then return cm end
  m = function(s, ...) return cm(s._p, ...) end
  forward[k] = m
  return m
end
BoxProcess.__index = method

local function with_status(self, st, ...)
  if type(st) == "table" then
    for _, s in ipairs(steps.wait) do s.fn(self.box, self, st) end
  end
  return st, ...
end
--- p:wait(): isol.Process's wait, then the wait phase on its status.
function own.wait(self, ...) return with_status(self, self._p:wait(...)) end
--- p:poll(): isol.Process's poll, then the wait phase on a status.
function own.poll(self, ...) return with_status(self, self._p:poll(...)) end
--- p:close(): isol.Process's close, then the wait phase on a status.
function own.close(self, ...) return with_status(self, self._p:close(...)) end
--- The C isol.Process under it (for code that needs the userdata).
function own.process(self) return self._p end
BoxProcess.__close = function(self) self._p:close() end
function BoxProcess.__tostring(self) return tostring(self._p) end

-- process -> its sandbox (an ephemeron: a process that is still referenced
-- keeps its sandbox, and so the sandbox's cgroup and mounts, alive).
local owner = setmetatable({}, { __mode = "k" })

--- The sandbox that started process p (nil for core.spawn processes).
function Sandbox.of(p) return owner[p] end

-- ------------------------------------------------------------ the sandbox

--- A sandbox for recipe r: recipe.validate (pure), then the validate phase.
function Sandbox.new(r)
  local box = setmetatable({
    recipe = recipe.validate(r),
    procs = setmetatable({}, { __mode = "k" }),
    prepared = false,
    closed = false,
  }, Sandbox)
  for _, s in ipairs(steps.validate) do s.fn(box) end
  return box
end

local SPAWN_OPTS = { env = true, cwd = true, stdin = true, stdout = true, stderr = true,
  keep_fds = true, file = true }
local CTX_OPTS = { detach = true, name = true, recipe_source = true, ns_inodes = true }

local function check_spawn_args(box, cmd)
  local ctx = { undo = {}, finally = {} }
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
      elseif not CTX_OPTS[k] then
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
    if opts.keep_fds ~= nil then opts.keep_fds = recipe.check_keep_fds(opts.keep_fds, "command.keep_fds") end
    if cmd.detach ~= nil then ctx.detach = util.check_type("command.detach", cmd.detach, "boolean") end
    if cmd.ns_inodes ~= nil then ctx.ns_inodes = util.check_type("command.ns_inodes", cmd.ns_inodes, "boolean") end
    if cmd.recipe_source ~= nil then
      ctx.source = util.check_type("command.recipe_source", cmd.recipe_source, "string")
    end
    ctx.name = cmd.name
    if not ctx.detach and (cmd.name ~= nil or cmd.recipe_source ~= nil) then
      util.fail(cmd.name ~= nil and "command.name" or "command.recipe_source", "applies to detach = true only")
    end
  end
  ctx.argv, ctx.opts = argv, opts
  return ctx
end

local function run_list(list, ...)
  for i = #list, 1, -1 do list[i](...) end
end

-- plan phase + core.spawn; nil, msg, errno on failure (undo already run)
local function start(box, ctx)
  local plan = recipe.to_plan(box.recipe, ctx.argv, ctx.opts)
  local ok, msg, code = run_until_failure("plan", box, plan, ctx)
  if not ok then return nil, msg, code end
  return core.spawn(plan)
end

--- Start a command in the sandbox.
-- @param cmd argv list `{ "/bin/sh", "-c", "..." }` with optional fields
--   env, cwd, stdin, stdout, stderr, keep_fds, and detach, name,
--   recipe_source (see isol.detached), ns_inodes (true: the spawn reads the
--   new namespaces' inodes before the command runs, p:ns_inodes() knows
--   them after it has exited); or a string; or nil for the recipe's
--   `command`.
-- @return Process (and, when detached, its name), or nil, message, errno
function Sandbox:spawn(cmd)
  if self.closed then return nil, "sandbox is closed", E.EBADF end
  local ctx = check_spawn_args(self, cmd)
  if not self.prepared then
    local ok, msg, code = run_until_failure("prepare", self)
    if not ok then return nil, rootless.annotate(msg, code), code end
    self.prepared = true
  end
  local pok, cp, msg, code = pcall(start, self, ctx)
  run_list(ctx.finally)
  if not pok then run_list(ctx.undo); error(cp, 0) end
  -- a permission error an ordinary user meets gets its way out appended
  if not cp then run_list(ctx.undo); return nil, rootless.annotate(msg, code), code end
  local p = setmetatable({ _p = cp, box = self }, BoxProcess)
  self.procs[p] = true
  owner[p] = self
  local ok
  ok, msg, code = run_until_failure("after_spawn", self, p, ctx)
  if not ok then
    self.procs[p], owner[p] = nil, nil
    cp:kill("SIGKILL")
    cp:close()
    run_list(ctx.undo)
    return nil, msg, code
  end
  if ctx.detach then return p, ctx.name end
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

--- Send a signal (default SIGKILL) to the sandbox: every step of the kill
-- phase runs (see isol.kill for what each signal reaches; it does not
-- depend on which concerns the recipe uses).
-- @return true, or nil, message, errno (the first step that failed)
function Sandbox:kill(sig)
  sig = sig or "SIGKILL"
  core.signum(sig) -- raises on a bad name
  return run_all("kill", self, sig)
end

--- Kill what still runs, then release everything the sandbox created
-- (every step of the close phase runs). Idempotent.
-- @return true, or nil, message, errno (the first step that failed)
function Sandbox:close()
  if self.closed then return true end
  self.closed = true
  return run_all("close", self)
end
Sandbox.__close = function(self) self:close() end
Sandbox.__gc = function(self) self:close() end

function Sandbox:__tostring()
  return string.format("isol.Sandbox (%s)", self.closed and "closed" or "open")
end

return Sandbox
