-- Spec helpers: run Lua code in a separate lua5.4 process (for anything that
-- changes the namespaces of the calling process), run shell commands.
local M = {}

local root = os.getenv("PWD")
M.root = root
M.lua_bin = os.getenv("ISOL_LUA") or "lua5.4"

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.shq = shq

--- Run a shell command; returns stdout, ok, exit code.
function M.sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok, code
end

local cpath = os.getenv("ISOL_CPATH") or (root .. "/build/?.so")

-- A world-readable copy of the Lua modules and core.so, made once per run,
-- for code run as another user (setpriv --reuid=65534): the checkout itself
-- may sit in a directory only its owner can read (a clone in /root).
local shared_tree
local function readable_tree()
  if shared_tree then return shared_tree.dir end
  local dir = M.sh("mktemp -d /tmp/isol-spec-tree.XXXXXX"):gsub("%s+$", "")
  assert(dir ~= "", "mktemp failed")
  local so = cpath:gsub("%?", "isol/core")
  local _, ok = M.sh(string.format("cp -R %s %s/lua && mkdir -p %s/build/isol && cp %s %s/build/isol/core.so" ..
    " && chmod -R a+rX %s", shq(root .. "/lua"), shq(dir), shq(dir), shq(so), shq(dir), shq(dir)))
  assert(ok, "copying the modules to " .. dir .. " failed")
  -- removed when the runner exits (busted closes its state on exit)
  shared_tree = setmetatable({ dir = dir }, { __gc = function(t) os.execute("rm -rf " .. shq(t.dir)) end })
  return dir
end

--- Run Lua source in a fresh lua5.4 with the in-tree paths; returns stdout
-- (with stderr), ok, exit code. With `prefix` (a command that runs the
-- interpreter, usually as another user) the modules come from a
-- world-readable copy of the tree.
function M.lua(src, prefix)
  local base, so = root, cpath
  if prefix then
    base = readable_tree()
    so = base .. "/build/?.so"
  end
  -- the child's pid goes to the leak check's registry: the cgroups it
  -- creates are named after it, and it may be gone when they are checked
  local register = string.format("do local f = io.open(%q, 'a') if f then " ..
    "f:write(io.open('/proc/self/stat'):read('l'):match('^%%d+'), '\\n') f:close() end end",
    require("support.leak").registry)
  local cmd = string.format("%s%s -e %s 2>&1", prefix and (prefix .. " ") or "", M.lua_bin,
    shq(string.format("%s package.path=%s..package.path; package.cpath=%s..package.cpath\n%s", register,
      string.format("%q", base .. "/lua/?.lua;" .. base .. "/lua/?/init.lua;"),
      string.format("%q", so .. ";"), src)))
  if prefix then cmd = "cd / && " .. cmd end
  return M.sh(cmd)
end

function M.read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- True when running as root.
function M.is_root()
  return (M.sh("id -u"):gsub("%s", "")) == "0"
end

return M
