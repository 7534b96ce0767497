-- The leak checker itself (spec/support/leak.lua): it must see what isol
-- leaks (close-on-exec fds, processes of any name, this run's cgroups) and
-- nothing of what other runs on the host do.
local isol = require "isol"
local core = isol.core
local h = require "support.helpers"
local leak = require "support.leak"

local function has(list, pattern)
  for _, x in ipairs(list) do if x:match(pattern) then return true end end
  return false
end

describe("leak checker", function()
  it("reports a leaked pidfd (close-on-exec) and stays quiet once it is closed", function()
    local snap = leak.snapshot()
    local p = assert(isol.spawn { argv = { "/bin/true" } })
    local pidfd = p:pidfd()
    assert.is_true(has(leak.diff(snap, 0), "^fd " .. pidfd .. " %-> anon_inode:%[?pidfd"),
      table.concat(leak.diff(snap, 0), "; "))
    p:wait()
    p:close()
    leak.assert_clean(snap)
  end)

  it("reports a leaked close-on-exec status fd", function()
    local path = os.tmpname()
    local snap = leak.snapshot()
    local fd = assert(core.open_status_file(path))
    local diff = leak.diff(snap, 0)
    core.close_fd(fd)
    os.remove(path)
    assert.is_true(has(diff, "^fd " .. fd .. " %-> " .. path:gsub("%p", "%%%0") .. "$"), table.concat(diff, "; "))
    leak.assert_clean(snap)
  end)

  it("reports a leaked process named sh", function()
    local snap = leak.snapshot()
    local f = io.popen("exec sh -c 'read x'", "w")
    local diff = leak.diff(snap, 0)
    f:write("\n")
    f:close()
    assert.is_true(has(diff, "^process %d+ %(sh,"), table.concat(diff, "; "))
    leak.assert_clean(snap)
  end)

  it("counts cgroups named after this runner or its children, not other processes' #root", function()
    local parent = h.read("/proc/self/cgroup"):match("%d+:pids:([^\n]*)")
    if not parent then pending("no cgroup v1 pids hierarchy on this host") return end
    local base = "/sys/fs/cgroup/pids" .. parent:gsub("/$", "")
    local snap = leak.snapshot()
    -- pid 1 is nobody's child here: a group named after it belongs to another run
    local mine = string.format("%s/isol-%d-999999", base, leak.pid)
    local other = string.format("%s/isol-1-999999", base)
    assert(core.mkdir(mine))
    assert(core.mkdir(other))
    local diff = leak.diff(snap, 0)
    os.remove(mine)
    os.remove(other)
    assert.is_true(has(diff, "^cgroup " .. mine:gsub("%p", "%%%0") .. "$"), table.concat(diff, "; "))
    assert.is_false(has(diff, "isol%-1%-999999"), table.concat(diff, "; "))
    leak.assert_clean(snap)
  end)

  it("counts a cgroup named after a child interpreter that has exited #root", function()
    local parent = h.read("/proc/self/cgroup"):match("%d+:pids:([^\n]*)")
    if not parent then pending("no cgroup v1 pids hierarchy on this host") return end
    local base = "/sys/fs/cgroup/pids" .. parent:gsub("/$", "")
    local snap = leak.snapshot()
    local out, ok = h.lua(string.format([[
      local core = require "isol.core"
      local dir = %q .. "/isol-" .. core.getpid() .. "-999999"
      assert(core.mkdir(dir))
      print(dir)]], base))
    assert(ok, out)
    local dir = out:match("(%S+)\n$")
    local diff = leak.diff(snap, 0)
    os.remove(dir)
    assert.is_true(has(diff, "^cgroup " .. dir:gsub("%p", "%%%0") .. "$"), table.concat(diff, "; "))
    leak.assert_clean(snap)
  end)

  it("ignores only the kinds it is told to", function()
    local snap = leak.snapshot()
    local f = io.popen("exec sh -c 'read x'", "w")
    local ok_ignored = pcall(leak.assert_clean, snap, { ignore = { "process", "fd" }, grace = 0 })
    local ok_checked, err = pcall(leak.assert_clean, snap, { ignore = { "loop", "mount" }, grace = 0 })
    f:write("\n")
    f:close()
    assert.is_true(ok_ignored)
    assert.is_false(ok_checked)
    assert.matches("process %d+ %(sh", err)
    assert.has_error(function() leak.assert_clean(snap, { ignore = "loops" }) end)
  end)
end)
