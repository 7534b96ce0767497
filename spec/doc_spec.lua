-- The API reference: `make doc` (LDoc, config.ld) builds build/doc; every
-- public function of the Lua layer carries a `---` doc comment, and LDoc
-- reports nothing undocumented.
local h = require "support.helpers"

-- Public functions without a `---` comment block right above them:
-- `function M.name(`, `function Class:name(` at the start of a line (not
-- `local function`, not `_private` or metamethods).
local function undocumented(path)
  local lines = {}
  for l in io.lines(path) do lines[#lines + 1] = l end
  local bad = {}
  for i, l in ipairs(lines) do
    local name = l:match("^function ([%w_.:]+)%s*%(")
    if name and not name:match("[.:]_") then
      local j, top = i - 1, nil
      while j >= 1 and lines[j]:match("^%s*%-%-") do top = j; j = j - 1 end
      if not top or not lines[top]:match("^%s*%-%-%-") then
        bad[#bad + 1] = string.format("%s:%d: %s", path, i, name)
      end
    end
  end
  return bad
end

-- the files config.ld documents (the CLI modules are documented by --help)
local function lua_files()
  local out = { "lua/isol.lua" }
  for f in h.sh("find lua/isol -name '*.lua' -not -path 'lua/isol/cli/*' | sort"):gmatch("[^\n]+") do
    out[#out + 1] = f
  end
  return out
end

describe("API reference", function()
  it("every public function has a doc comment", function()
    local bad = {}
    for _, f in ipairs(lua_files()) do
      for _, b in ipairs(undocumented(f)) do bad[#bad + 1] = b end
    end
    assert(#bad == 0, "public functions without a `---` doc comment:\n  " .. table.concat(bad, "\n  "))
  end)

  it("the checker finds an undocumented function", function()
    local f = os.tmpname()
    local fh = io.open(f, "w")
    fh:write("local M = {}\n--- documented\nfunction M.a() end\n-- plain comment\nfunction M.b() end\n",
      "function M.c() end\nlocal function d() end\nfunction M._e() end\nreturn M\n")
    fh:close()
    local bad = undocumented(f)
    os.remove(f)
    assert.equal(2, #bad)
    assert.matches(":5: M.b$", bad[1])
    assert.matches(":6: M.c$", bad[2])
  end)

  it("make doc builds build/doc with LDoc and no warning", function()
    if h.sh("command -v ldoc") == "" then
      pending("ldoc is not installed (Debian lua-ldoc; `make deps` installs it)")
      return
    end
    local out, ok = h.sh("rm -rf build/doc && make -s doc 2>&1")
    assert.is_true(ok, out)
    local warnings = {}
    for line in out:gmatch("[^\n]+") do
      if not (line:match("^reading configuration from") or line:match("^output written to")) then
        warnings[#warnings + 1] = line
      end
    end
    assert(#warnings == 0, "ldoc says:\n  " .. table.concat(warnings, "\n  "))
    assert.is_truthy(h.read("build/doc/index.html"))
    local compose = h.read("build/doc/modules/isol.compose.html")
    for _, fn in ipairs { "extend", "merge", "replace", "explain" } do
      assert.matches('name = "' .. fn .. '"', compose, 1, true)
    end
    local sweep = h.read("build/doc/modules/isol.sweep.html")
    assert.matches('name = "sweep"', sweep, 1, true)
    assert.is_truthy(h.read("build/doc/modules/isol.html"))
    assert.is_truthy(h.read("build/doc/modules/isol.recipe.html"))
    assert.is_truthy(h.read("build/doc/modules/isol.recipes.untrusted.html"))
  end)
end)
