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

--- Run Lua source in a fresh lua5.4 with the in-tree paths; returns stdout
-- (with stderr), ok, exit code.
function M.lua(src, prefix)
  local cmd = string.format("%s%s -e %s 2>&1", prefix and (prefix .. " ") or "", M.lua_bin,
    shq(string.format("package.path=%s..package.path; package.cpath=%s..package.cpath\n%s",
      string.format("%q", root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;"),
      string.format("%q", (os.getenv("ISOL_CPATH") or (root .. "/build/?.so")) .. ";"), src)))
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
