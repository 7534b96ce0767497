-- examples/embed/host.c: a C program with its own lua_State that opens isol
-- with luaL_requiref and runs a recipe file.
local h = require "support.helpers"
local leak = require "support.leak"

local assert_clean = leak.assert_clean

describe("embedding (examples/embed/host)", function()
  local host = "build/examples/embed/host"

  setup(function()
    local out, ok = h.sh("make -s examples 2>&1")
    assert(ok, "make examples failed:\n" .. out)
  end)

  it("is built by `make examples`", function()
    assert.is_truthy(io.open(host, "r"))
  end)

  it("runs a recipe and reports the result", function()
    local snap = leak.snapshot()
    local out, ok, code = h.sh(host .. " examples/embed/recipe.lua 2>&1")
    assert.is_true(ok, tostring(code) .. ": " .. out)
    assert.matches("host: recipe examples/embed/recipe.lua ran 1 time(s) with 0 busy host thread(s); exit code 0",
      out, 1, true)
    assert.matches("host: its output: embedded uid=0 pid=2\n", out, 1, true)
    assert_clean(snap)
  end)

  it("spawns safely while other host threads allocate and take locks", function()
    local snap = leak.snapshot()
    -- a deadlock in a child between clone and exec would hang: timeout
    local out, ok, code = h.sh("timeout 120 " .. host .. " examples/embed/recipe.lua --threads 3 --spawns 100 2>&1")
    assert.is_true(ok, tostring(code) .. ": " .. out)
    assert.matches("ran 100 time(s) with 3 busy host thread(s); exit code 0", out, 1, true)
    local rounds = tonumber(out:match("busy threads did (%d+) rounds"))
    assert.is_true(rounds and rounds > 0, out)
    assert_clean(snap)
  end)

  it("reports a bad recipe as the host's error, exit 1", function()
    local f = os.tmpname()
    local fh = io.open(f, "w")
    fh:write('return { namespaces = { "netw" }, command = { "true" } }')
    fh:close()
    local out, ok, code = h.sh(host .. " " .. f .. " 2>&1")
    os.remove(f)
    assert.is_falsy(ok)
    assert.equal(1, code)
    assert.matches('host: recipe .* failed: namespaces%[1%]: unknown namespace "netw"', out)
  end)

  it("passes a command's failure through as its exit code", function()
    local f = os.tmpname()
    local fh = io.open(f, "w")
    fh:write('return { command = { "/bin/sh", "-c", "exit 7" } }')
    fh:close()
    local _, ok, code = h.sh(host .. " " .. f .. " 2>&1")
    os.remove(f)
    assert.is_falsy(ok)
    assert.equal(7, code)
  end)
end)
