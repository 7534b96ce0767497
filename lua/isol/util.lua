--- Small helpers shared by the Lua layer: argument checks that name the
-- field path, size/percent parsing, list helpers.
-- @module isol.util
local M = {}

--- Raise a validation error naming the field path (caller's caller level).
-- @tparam string path e.g. "mounts[2].size"
-- @tparam string msg what is wrong
function M.fail(path, msg, ...)
  error((path and path ~= "" and (path .. ": ") or "") .. string.format(msg, ...), 0)
end

--- Quote a value for an error message.
function M.show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

--- Check the type of a value, raising with the field path: `...` are the
-- type names allowed ("integer" for a number with an integer value).
function M.check_type(path, v, t1, t2, ...)
  local t = type(v)
  -- (the common calls name one or two types: no select() loop for them)
  if t == t1 or t == t2 then return v end
  local int = t == "number" and math.type(v) == "integer"
  if int and (t1 == "integer" or t2 == "integer") then return v end
  for i = 1, select("#", ...) do
    local ti = select(i, ...)
    if ti == t or (int and ti == "integer") then return v end
  end
  M.fail(path, "expected %s, got %s %s", table.concat({ t1, t2, ... }, " or "), t, t ~= "table" and M.show(v) or "")
end

--- Check that every key of table t is one of `allowed` (a set).
function M.check_keys(path, t, allowed)
  for k in pairs(t) do
    if not allowed[k] then
      local names = {}
      for a in pairs(allowed) do names[#names + 1] = a end
      table.sort(names)
      M.fail(path ~= "" and (path .. "." .. tostring(k)) or tostring(k),
        "unknown field (known: %s)", table.concat(names, ", "))
    end
  end
end

--- Is t a list (keys 1..n only)?
function M.is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

--- Parse a size: integer bytes, or "64k", "1M", "2G", "1.5G", "512KiB".
-- Returns bytes (integer). Raises naming `path` on bad input.
-- A "%" size is returned as nil, percent (callers that accept it decide).
-- (isol.util_size, loaded on first use)
function M.parse_size(path, v, allow_percent)
  return require("isol.util_size").parse_size(path, v, allow_percent)
end

--- Shallow copy of a list.
function M.copy_list(t)
  local r = {}
  for i = 1, #t do r[i] = t[i] end
  return r
end

--- Deep copy of plain data.
function M.deepcopy(v)
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = M.deepcopy(x) end
  return setmetatable(r, getmetatable(v))
end

--- The contents of a small file (`what` as for file:read, default "a"), or
-- nil when it cannot be opened (kernel files: /proc, /sys).
function M.read_file(path, what)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read(what or "a")
  f:close()
  return s
end

return M
