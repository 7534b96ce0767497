-- Every example runs with `bin/isol run examples/NAME.lua` and exits 0.
local h = require "support.helpers"
local leak = require "support.leak"

describe("examples #root", function()
  local files = {}
  for f in h.sh("ls -1 examples/*.lua"):gmatch("[^\n]+") do files[#files + 1] = f end

  it("exist", function()
    assert.is_true(#files > 0)
  end)

  for _, f in ipairs(files) do
    it("runs " .. f, function()
      local snap = leak.snapshot()
      local out, ok, code = h.sh("bin/isol run " .. f .. " </dev/null 2>&1")
      assert(ok, string.format("%s exited %s:\n%s", f, tostring(code), out))
      leak.assert_clean(snap)
    end)
  end
end)
