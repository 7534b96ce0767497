-- Filesystem images: create, loop, mount, checkpoint/restore, faults.
-- Real loop devices; every mount happens in a sandbox's (or a helper
-- process's) private mount namespace; loop devices must all be gone after.
local h = require "support.helpers"
local leak = require "support.leak"
local isol = require "isol"

local PREFIX = "/tmp/isol-img-spec."

local function sh_ok(cmd)
  local out, ok = h.sh(cmd .. " 2>&1")
  assert(ok, cmd .. ": " .. out)
  return out
end

-- Run a shell script in a sandbox with the image mounted on /data.
local function in_image(img, script, ro)
  local box <close> = isol.sandbox { namespaces = { "mount", "pid" },
    root = isol.recipes.host_readonly { mounts = {
      { type = "image", image = img, target = "/data", readonly = ro } } } }
  return box:run({ "/bin/sh", "-c", script, env = { LD_PRELOAD = false } }, { capture = true })
end

local function allocated(path)
  return tonumber((h.sh("stat -c %b " .. path):gsub("%s", ""))) * 512
end

describe("image #root", function()
  local snap, dir
  before_each(function()
    dir = h.sh("mktemp -d " .. PREFIX .. "XXXXXX"):gsub("%s+$", "")
    snap = leak.snapshot { loop_prefix = dir }
  end)
  after_each(function()
    collectgarbage()
    leak.assert_clean(snap)
    os.execute("rm -rf " .. h.shq(dir))
  end)

  it("creates a sparse image, mounts it in a sandbox, detaches on close", function()
    local img <close> = assert(isol.image.create(dir .. "/a.img", { size = "32M" }))
    assert.equals("ext4", img:fstype())
    assert.is_true(allocated(dir .. "/a.img") < 8 * 1024 * 1024) -- sparse
    local st, out, err = in_image(img, "echo hello > /data/f && cat /data/f && stat -c %u:%g /data")
    assert.equals(0, st.code, err)
    assert.equals("hello\n0:0\n", out)
    assert.matches("^/dev/loop%d+$", img:attached())
    img:close()
    img:close() -- idempotent
    assert.is_nil(img:attached())
    assert.has_error(function() img:device() end, "image " .. dir .. "/a.img is closed")
  end)

  it("garbage collection of an attached Image detaches its loop device", function()
    local function attach()
      local img = assert(isol.image.create(dir .. "/g.img", { size = "8M" }))
      assert.matches("^/dev/loop%d+$", assert(img:device()))
      assert.is_not_nil(next(leak.loops(dir)))
    end
    attach()
    collectgarbage()
    collectgarbage()
    for _ = 1, 40 do
      if not next(leak.loops(dir)) then break end
      os.execute("sleep 0.05")
    end
    assert.is_nil(next(leak.loops(dir)))
  end)

  it("read-only mount refuses writes; owner sets the root's owner", function()
    local img <close> = assert(isol.image.create(dir .. "/o.img", { size = "16M", owner = { uid = 1000, gid = 1001 } }))
    local st, out, err = in_image(img, "stat -c %u:%g /data; touch /data/x", true)
    assert.equals(1, st.code)
    assert.equals("1000:1001\n", out)
    assert.matches("Read%-only file system", err)
  end)

  it("the seed's Mount Image: mount rw/sync with chown, from a private namespace", function()
    local out, ok = h.lua(string.format([[
      local isol = require "isol"
      assert(isol.unshare { "mount" })
      local img <close> = assert(isol.image.create(%q, { size = "16M" }))
      assert(img:mount(%q, { mode = "rw", sync = true, owner = { uid = 1000, gid = 1000 } }))
      local f = assert(io.open(%q, "w")); f:write("x"); f:close()
      for _, m in ipairs(isol.mount.list()) do
        if m.target == %q then print(m.fstype, m.super_options) end
      end
      assert(img:umount())
    ]], dir .. "/s.img", dir .. "/mount_tmp", dir .. "/mount_tmp/t.txt", dir .. "/mount_tmp"))
    assert(ok, out)
    assert.matches("ext4\trw,sync", out, 1, true)
    -- the chown went to the image's root directory (not the host's mount point)
    assert.equals("0:0\n", h.sh("stat -c %u:%g " .. dir .. "/mount_tmp"))
    local img <close> = assert(isol.image.open(dir .. "/s.img"))
    local st, o2 = in_image(img, "stat -c %u:%g /data; cat /data/t.txt")
    assert.equals(0, st.code)
    assert.equals("1000:1000\nx", o2)
    assert.is_nil(h.read("/proc/self/mountinfo"):find(dir, 1, true))
  end)

  for _, format in ipairs { "gzip", "zstd" } do
    it("round trip through a " .. format .. " checkpoint: identical files, sparse restore", function()
      local img <close> = assert(isol.image.create(dir .. "/src.img", { size = "64M" }))
      local st, out, err = in_image(img, [[
        set -e
        head -c 3000000 /dev/urandom > /data/random
        seq 1 300000 > /data/text
        mkdir /data/d && cp -a /usr/bin/env /data/d/
        # garbage that is deleted: trim must drop it
        head -c 20000000 /dev/urandom > /data/garbage && sync && rm /data/garbage
        cd /data && sha256sum random text d/env]])
      assert.equals(0, st.code, err)
      local sums = out
      local calls, last = 0, nil
      local dest = dir .. "/ckpt." .. (format == "gzip" and "gz" or "zst")
      local cs = assert(img:checkpoint(dest, { format = format,
        progress = function(done, total) calls = calls + 1; last = { done, total } end }))
      assert.is_true(calls >= 1)
      assert.same({ 64 * 1024 * 1024, 64 * 1024 * 1024 }, last)
      assert.is_true(cs.trim)
      -- the deleted 20 MB were trimmed away: far less read than written
      assert.is_true(cs.data < 12 * 1024 * 1024, "read " .. cs.data)
      assert.is_true(cs.out < 8 * 1024 * 1024, "checkpoint " .. cs.out)
      -- the standard tool decodes it to the image
      local tool = format == "gzip" and "gunzip -c " or "zstd -q -d -c "
      sh_ok(tool .. dest .. " > " .. dir .. "/tool.img")
      local rs = assert(isol.image.restore(dest, dir .. "/copy.img"))
      assert.equals(64 * 1024 * 1024, rs.size)
      sh_ok("cmp " .. dir .. "/tool.img " .. dir .. "/copy.img")
      -- sparse: allocated close to the data, not to the size
      local alloc = allocated(dir .. "/copy.img")
      assert.is_true(alloc <= cs.data + 1024 * 1024, string.format("allocated %d for %d of data", alloc, cs.data))
      img:close()
      local copy <close> = assert(isol.image.open(dir .. "/copy.img"))
      local st2, out2, err2 = in_image(copy, "cd /data && sha256sum random text d/env && ls")
      assert.equals(0, st2.code, err2)
      assert.equals(sums, out2:sub(1, #sums))
      assert.is_nil(out2:find("garbage", 1, true))
    end)
  end

  it("an image as the sandbox root", function()
    local img <close> = assert(isol.image.create(dir .. "/root.img", { size = "16M" }))
    local box <close> = isol.sandbox { namespaces = { "mount" }, root = { image = img, mounts = {
      { type = "bind", source = "/usr", target = "/usr", readonly = true },
      { type = "symlink", target = "/bin", source = "usr/bin" },
      { type = "symlink", target = "/lib", source = "usr/lib" },
      { type = "symlink", target = "/lib64", source = "usr/lib64" } } } }
    local st, out, err = box:run({ "/bin/sh", "-c", "echo rooted > /hello; ls /",
      env = { LD_PRELOAD = false } }, { capture = true })
    assert.equals(0, st.code, err)
    assert.matches("lost%+found", out)
    box:close()
    local st2, out2 = in_image(img, "cat /data/hello")
    assert(st2, out2)
    assert.equals(0, st2.code)
    assert.equals("rooted\n", out2)
  end)

  it("command line: isol image create / checkpoint / restore / info", function()
    local out = sh_ok("bin/isol image create " .. dir .. "/c.img --size 16M --owner 7:8")
    assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/c%.img: new ext4 image, 16%.00 MiB %(sparse: [%d.]+ MiB " ..
      "allocated%), root owned by 7:8\n$", out)
    out = sh_ok("bin/isol image checkpoint " .. dir .. "/c.img " .. dir .. "/c.zst")
    assert.matches("16.00 MiB image", out)
    sh_ok("zstd -q -t " .. dir .. "/c.zst")
    out = sh_ok("bin/isol image restore " .. dir .. "/c.zst " .. dir .. "/d.img")
    assert.matches("allocated", out)
    assert.matches("ext4, 16.00 MiB apparent", sh_ok("bin/isol image info " .. dir .. "/d.img"))
    local img <close> = assert(isol.image.open(dir .. "/d.img"))
    local st, o = in_image(img, "stat -c %u:%g /data")
    assert.equals(0, st.code)
    assert.equals("7:8\n", o)
    local msg, ok = h.sh("bin/isol image checkpoint " .. dir .. "/missing " .. dir .. "/x.gz 2>&1")
    assert.is_falsy(ok)
    assert.matches("open image .*/missing: No such file or directory", msg)
    -- existing destinations are kept without --force, as create keeps one
    local before = h.read(dir .. "/c.zst")
    msg, ok = h.sh("bin/isol image checkpoint " .. dir .. "/d.img " .. dir .. "/c.zst 2>&1")
    assert.is_falsy(ok)
    assert.matches("c%.zst: File exists %(%-%-force overwrites it%)", msg)
    assert.are.equal(before, h.read(dir .. "/c.zst"))
    msg, ok = h.sh("bin/isol image restore " .. dir .. "/c.zst " .. dir .. "/d.img 2>&1")
    assert.is_falsy(ok)
    assert.matches("d%.img: File exists %(%-%-force overwrites it%)", msg)
    -- the core keeps it too, when the finished file is linked into place
    local none, cmsg, ccode = isol.core.image_restore(dir .. "/c.zst", dir .. "/d.img")
    assert.is_nil(none)
    assert.matches("create .*/d%.img: File exists", cmsg)
    assert.are.equal(17, ccode)
    sh_ok("bin/isol image checkpoint --force " .. dir .. "/d.img " .. dir .. "/c.zst")
    sh_ok("bin/isol image restore " .. dir .. "/c.zst " .. dir .. "/d.img --force")
    -- a dangling symlink counts as existing (the write would follow it)
    sh_ok("ln -s " .. dir .. "/nowhere " .. dir .. "/link.gz")
    local st2, m2, code = img:checkpoint(dir .. "/link.gz")
    assert.is_nil(st2)
    assert.matches("link%.gz: File exists %(force = true overwrites it%)", m2)
    assert.are.equal(17, code)
    assert.is_nil(h.read(dir .. "/nowhere"))
  end)

  it("checkpoint of an image a running sandbox writes to is consistent (frozen while read)", function()
    local img <close> = assert(isol.image.create(dir .. "/live.img", { size = "32M" }))
    local box <close> = isol.sandbox { namespaces = { "mount", "pid" },
      root = isol.recipes.host_readonly { mounts = { { type = "image", image = img, target = "/data" } } } }
    -- the data stays in the sandbox's page cache: nothing syncs it
    local p <close> = assert(box:spawn { "/bin/sh", "-c", "head -c 3000000 /dev/urandom > /data/f && " ..
      "md5sum /data/f > /data/sum && echo ok && exec sleep 300", env = { LD_PRELOAD = false }, stdout = "pipe" })
    assert.are.equal("ok\n", p:read(3), "the sandbox did not write")
    local other <close> = assert(isol.image.open(dir .. "/live.img"))
    local st = assert(other:checkpoint(dir .. "/live.zst"))
    assert.are.equal(1, st.frozen)
    -- the sandbox still runs, and still writes: the filesystem was thawed
    assert.is_false(p:poll())
    local copy <close> = assert(isol.image.restore(dir .. "/live.zst", dir .. "/copy.img", { open = true }))
    local cst, out, err = in_image(copy, "cd /data && md5sum -c sum")
    assert.are.equal(0, cst.code, (out or "") .. (err or ""))
    assert.matches("f: OK", out)
    -- when it cannot be frozen (here: someone else froze it), it is refused, naming the mount
    local mnt = "/proc/" .. p:pid() .. "/root/data"
    finally(function() os.execute("fsfreeze -u " .. mnt .. " 2>/dev/null") end)
    sh_ok("fsfreeze -f " .. mnt)
    local none, msg = other:checkpoint(dir .. "/frozen.zst", { trim = false })
    sh_ok("fsfreeze -u " .. mnt)
    assert.is_nil(none)
    assert.matches("^image in use: /dev/loop%d+ is mounted read%-write at /data %(seen by pid %d+%) and FIFREEZE " ..
      "failed %(Device or resource busy%), already frozen by someone else: stop what uses it %(isol kill%) or mount " ..
      "it read%-only, then checkpoint$", msg)
    assert.is_nil(h.read(dir .. "/frozen.zst"))
    box:kill()
  end)

  describe("faults", function()
    it("bad size string raises naming the field", function()
      assert.has_error(function() isol.image.create(dir .. "/x.img", { size = "lots" }) end,
        'image.create.size: expected size like "32M", got "lots"')
      assert.has_error(function() isol.image.create(dir .. "/x.img", {}) end,
        'image.create.size: required (e.g. "50M")')
      assert.is_nil(h.read(dir .. "/x.img"))
    end)

    it("missing mkfs: clear error, no file left", function()
      local img, msg, code = isol.image.create(dir .. "/x.img", { size = "8M", fs = "nosuchfs" })
      assert.is_nil(img)
      assert.matches("^mkfs%.nosuchfs: not installed", msg)
      assert.equals(2, code)
      assert.is_nil(h.read(dir .. "/x.img"))
    end)

    it("image too small for mkfs: mkfs's error, no file left", function()
      local img, msg = isol.image.create(dir .. "/x.img", { size = "8k" })
      assert.is_nil(img)
      assert.matches("mkfs%.ext4 .* failed", msg)
      assert.is_nil(h.read(dir .. "/x.img"))
    end)

    it("a full image says ENOSPC", function()
      local img <close> = assert(isol.image.create(dir .. "/small.img", { size = "4M" }))
      local st, _, err = in_image(img, "head -c 8000000 /dev/zero > /data/big")
      assert.equals(1, st.code)
      assert.matches("No space left on device", err)
    end)

    it("restore of a non-checkpoint and of a truncated one fails and leaves no file", function()
      local f = assert(io.open(dir .. "/junk", "w")); f:write("not compressed at all"); f:close()
      local st, msg, code = isol.image.restore(dir .. "/junk", dir .. "/out.img")
      assert.is_nil(st)
      assert.matches("not a gzip or zstd file", msg)
      assert.equals(22, code)
      local img <close> = assert(isol.image.create(dir .. "/t.img", { size = "8M" }))
      assert(img:checkpoint(dir .. "/t.gz"))
      sh_ok("head -c 2000 " .. dir .. "/t.gz > " .. dir .. "/cut.gz")
      st, msg = isol.image.restore(dir .. "/cut.gz", dir .. "/out.img")
      assert.is_nil(st)
      assert.matches("truncated", msg)
      assert.is_nil(h.read(dir .. "/out.img"))
      assert.equals("cut.gz junk t.gz t.img", (h.sh("ls " .. dir):gsub("%s+", " "):gsub(" $", "")))
    end)

    it("an error in the progress callback cancels and removes the partial output", function()
      local img <close> = assert(isol.image.create(dir .. "/p.img", { size = "8M" }))
      assert.has_error(function()
        img:checkpoint(dir .. "/p.gz", { progress = function() error("stop here") end })
      end)
      local st, msg, code = img:checkpoint(dir .. "/p.gz", { progress = function() return false end })
      assert.is_nil(st)
      assert.matches("cancelled", msg)
      assert.equals(125, code) -- ECANCELED
      assert.equals("p.img", (h.sh("ls " .. dir):gsub("%s+", "")))
    end)

    it("killing the Lua process during checkpoint leaves no output, mount or loop device", function()
      local img = assert(isol.image.create(dir .. "/k.img", { size = "16M" }))
      img:close()
      local p <close> = assert(isol.spawn { argv = { h.lua_bin, "-e", string.format([[
        package.path = %q .. package.path; package.cpath = %q .. package.cpath
        local isol = require "isol"
        local img = assert(isol.image.open(%q))
        assert(img:device())
        img:checkpoint(%q, { progress = function()
          io.stdout:write("started\n"); io.stdout:flush()
          local t = os.clock(); while os.clock() - t < 60 do end
        end })]], h.root .. "/lua/?.lua;" .. h.root .. "/lua/?/init.lua;", h.root .. "/build/?.so;",
        dir .. "/k.img", dir .. "/k.gz") }, stdout = "pipe" })
      assert.equals("started\n", p:read(8))
      -- mid-checkpoint: the image is attached, the output exists only unnamed
      assert.is_not_nil(next(leak.loops(dir)))
      assert(p:kill("SIGKILL"))
      assert.equals("SIGKILL", p:wait().signal)
      assert.equals("k.img", (h.sh("ls -A " .. dir):gsub("%s+", "")))
    end)
  end)
end)
