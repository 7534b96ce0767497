--- The parts of the `isol` command line (isol.cli) that a plain
-- `isol run` never uses, loaded on first use: `isol --help`, "did you
-- mean", loading a recipe file for the other commands.
-- @module isol.cli_extra
local M = {}

--- `isol --help` to `out`; `load_cmd(name)` is a command's module or nil.
function M.usage(out, commands, load_cmd)
  out:write("usage: isol COMMAND [ARGS]\n\ncommands:\n")
  for _, name in ipairs(commands) do
    local mod = load_cmd(name)
    if mod then out:write(string.format("  %-8s %s\n", name, mod.summary)) end
  end
  out:write("\n`isol COMMAND --help` (or `isol help COMMAND`) describes each command;\n"
    .. "`isol --version` prints the version.\n")
end

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The known name closest to `word` (at most 2 edits away), or nil.
function M.did_you_mean(word, names)
  local best, bd = nil, 3
  for _, n in ipairs(names) do
    local d = distance(word, n)
    if d < bd then best, bd = n, d end
  end
  return best
end

--- isol.cli.load_recipe: a recipe file's table, or nil (a script).
function M.load_recipe(path, ...)
  local chunk, err = loadfile(path)
  if not chunk then error(err, 0) end
  local r = chunk(...)
  if type(r) == "function" then r = r(...) end
  if r ~= nil and type(r) ~= "table" then
    error(string.format("%s: expected the file to return a recipe table or a function, got %s",
      path, type(r)), 0)
  end
  return r
end

return M
