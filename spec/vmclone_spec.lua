-- The spawn child shares the host's memory (CLONE_VM on a stack of its own,
-- csrc/vmclone.c): what it must not change in the host. (That its cost does
-- not grow with the host's size is measured by bench/hostsize, not here.)
local isol = require "isol"
local leak = require "support.leak"

describe("a spawn child sharing the host's memory #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  it("leaves the host's own error messages whole after a child step failed", function()
    -- the child defers strerror to the parent (error.h) on the thread it
    -- shares; the parent must put the setting back
    for _ = 1, 20 do
      local p, msg, code = isol.sandbox({ cwd = "/nonexistent-dir" }):spawn { "/bin/true" }
      assert.is_nil(p)
      assert.are.equal("chdir /nonexistent-dir: No such file or directory", msg)
      assert.are.equal(2, code)
      local img, imsg = isol.image.open("/nonexistent-dir/x.img")
      assert.is_nil(img)
      assert.matches(": No such file or directory$", imsg)
    end
  end)

  it("runs failing and succeeding children in turn, each on a fresh stack", function()
    local box <close> = isol.sandbox { namespaces = { "user", "mount", "pid", "net" }, user = { map_root = true } }
    for i = 1, 30 do
      if i % 3 == 0 then
        local p, msg = box:spawn { "/nonexistent/cmd" }
        assert.is_nil(p)
        assert.matches("exec /nonexistent/cmd: not found", msg, 1, true)
      else
        local p = assert(box:spawn { "/bin/sh", "-c", "exit " .. i % 7, stdout = "null" })
        assert.are.equal(i % 7, p:wait().code)
        p:close()
      end
    end
  end)

  it("keeps the host's signal mask and handlers as they were", function()
    -- the spawning thread blocks every signal from release to exec and
    -- restores its mask; a sandbox sees default dispositions
    local box <close> = isol.sandbox {}
    local st, out = box:run({ "/bin/sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status" }, { capture = true })
    assert.are.equal(0, st.code)
    assert.matches("SigBlk:%s+0+\n", out)
    local f = assert(io.open("/proc/self/status"))
    local status = f:read("a")
    f:close()
    assert.matches("SigBlk:%s+0+\n", status)
  end)
end)
