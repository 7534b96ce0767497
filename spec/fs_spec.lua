-- Filesystem isolation: mounts, propagation, a new root, escapes.
-- Every sandbox runs in its own mount namespace; anything changing the
-- calling process's namespaces runs in a separate lua5.4 (h.lua).
local h = require "support.helpers"
local leak = require "support.leak"
local isol = require "isol"

local function tmpdir()
  local d = h.sh("mktemp -d /tmp/isol-fs-spec.XXXXXX"):gsub("%s+$", "")
  return d
end

local function run(recipe, script, opts)
  local box <close> = isol.sandbox(recipe)
  -- no LD_PRELOAD inside (make asan-test preloads the sanitizer runtime,
  -- which cannot work in a root without /proc)
  local cmd = { "/bin/sh", "-c", script, env = { LD_PRELOAD = false } }
  return box:run(cmd, { capture = true, input = opts and opts.input })
end

local function host_mountinfo()
  return h.read("/proc/self/mountinfo")
end

describe("fs #root", function()
  local snap, dir
  before_each(function()
    dir = tmpdir()
    snap = leak.snapshot { dirs = { dir } }
  end)
  after_each(function()
    os.execute("rm -rf " .. h.shq(dir))
    leak.assert_clean(snap)
  end)

  describe("validation", function()
    local function err_of(r)
      local ok, e = pcall(isol.sandbox, r)
      assert.is_false(ok)
      return e
    end
    it("names the field and value", function()
      assert.matches('mounts%[1%]%.type: unknown mount type "tmpfz"',
        err_of { namespaces = { "mount" }, mounts = { { type = "tmpfz", target = "/x" } } })
      assert.matches('mounts%[2%]%.target: required',
        err_of { namespaces = { "mount" }, mounts = { { type = "proc" }, { type = "tmpfs" } } })
      assert.matches('mounts%[1%]%.size: expected size like "32M" or "50%%", got "lots"',
        err_of { namespaces = { "mount" }, mounts = { { type = "tmpfs", target = "/x", size = "lots" } } })
      assert.matches('mounts%[1%]%.target: expected an absolute target, got "rel"',
        err_of { namespaces = { "mount" }, mounts = { { type = "tmpfs", target = "rel" } } })
      assert.matches('"%.%." is not allowed',
        err_of { namespaces = { "mount" }, mounts = { { type = "tmpfs", target = "/a/../b" } } })
      assert.matches("mounts%[1%]%.bogus: unknown field",
        err_of { namespaces = { "mount" }, mounts = { { type = "proc", bogus = 1 } } })
      assert.matches('mounts: needs the "mount" namespace',
        err_of { mounts = { { type = "proc" } } })
      assert.matches('root%.mode: expected "pivot" or "chroot", got "jail"',
        err_of { namespaces = { "mount" }, root = { mode = "jail" } })
      assert.matches('propagation: expected "private", "slave", "shared" or "unchanged", got "public"',
        err_of { namespaces = { "mount" }, propagation = "public" })
      assert.matches("a new root needs",
        err_of { namespaces = { "mount" }, root = {}, propagation = "shared" })
      assert.matches('a new root needs "private" or "slave" propagation, got "unchanged"',
        err_of { namespaces = { "mount" }, root = {}, propagation = "unchanged" })
    end)

    it("a missing bind source is a clear error and leaves nothing", function()
      local st, msg, code = isol.run({ namespaces = { "mount" },
        mounts = { { type = "bind", source = dir .. "/nope", target = dir .. "/t" } } }, { "/bin/true" })
      assert.is_nil(st)
      assert.matches("bind " .. dir:gsub("%p", "%%%0") .. "/nope on .*: source does not exist", msg)
      assert.equals(2, code) -- ENOENT
    end)

    it("a sandbox compiles its filesystem plan once; the compiled plan is checked and private", function()
      local core = require "isol.core"
      local box <close> = isol.sandbox { namespaces = { "mount" },
        mounts = { { type = "tmpfs", target = dir, size = "1M" } } }
      assert.are.equal(0, assert(box:run { "/bin/sh", "-c", "grep -q ' " .. dir .. " ' /proc/self/mountinfo" }).code)
      local compiled = box.fs_plan
      assert.matches("^isol.FsPlan %(1 steps%)$", tostring(compiled))
      assert.are.equal(0, assert(box:run { "/bin/true" }).code)
      assert.are.equal(compiled, box.fs_plan) -- the same plan, not made again
      -- checked when compiled, naming the field
      local ok, e = pcall(core.fs_plan, { ops = { { type = "tmpfs" } } })
      assert.is_false(ok)
      assert.matches("plan.fs.ops%[1%].target: required", e)
      ok, e = pcall(core.fs_plan, { ops = { { type = "tmpfs", target = "/m\0x" } } })
      assert.is_false(ok)
      assert.matches("plan.fs.ops%[1%].target: contains a NUL byte", e)
      -- a snapshot: changing the table afterwards changes nothing
      local t = { propagation = "private", ops = { { type = "tmpfs", target = dir } } }
      local p = core.fs_plan(t)
      t.ops[1].target = "/etc"
      local st = assert(core.spawn { argv = { "/bin/sh", "-c", "grep -q ' " .. dir .. " ' /proc/self/mountinfo" },
        namespaces = { "mount" }, init = false, fs = p }):wait()
      assert.are.equal(0, st.code)
      -- another userdata is no plan
      ok, e = pcall(core.spawn, { argv = { "/bin/true" }, namespaces = { "mount" }, fs = io.stdout })
      assert.is_false(ok)
      assert.matches("plan.fs: expected a table or an isol.FsPlan, got another userdata", e)
    end)
  end)

  describe("tmpfs", function()
    it("enforces size (ENOSPC past it)", function()
      local st, out = run({ namespaces = { "mount" },
        mounts = { { type = "tmpfs", target = dir .. "/scratch", size = "1M" } } },
        "dd if=/dev/zero of=" .. dir .. "/scratch/f bs=64k count=32 2>&1; echo rc=$?; " ..
        "stat -c %s " .. dir .. "/scratch/f")
      assert.equals(0, st.code)
      assert.matches("No space left on device", out)
      assert.matches("rc=1", out)
      local size = tonumber(out:match("(%d+)%s*$"))
      assert.is_true(size <= 1024 * 1024, "wrote " .. tostring(size))
    end)

    it("applies mode, uid and gid", function()
      local st, out = run({ namespaces = { "mount" },
        mounts = { { type = "tmpfs", target = dir .. "/m", mode = "0710", uid = 123, gid = 456 } } },
        "stat -c '%a %u %g' " .. dir .. "/m")
      assert.equals(0, st.code)
      assert.equals("710 123 456\n", out)
    end)

    it("accepts a percentage size and nosuid/nodev/noexec", function()
      local st, out, err = run({ namespaces = { "mount" },
        mounts = { { type = "tmpfs", target = dir .. "/p", size = "10%", noexec = true, nosuid = true,
          nodev = true } } },
        "grep ' " .. dir .. "/p ' /proc/self/mountinfo; cp /bin/true " .. dir .. "/p/t && " ..
        dir .. "/p/t || echo noexec-refused")
      assert.equals(0, st.code, err)
      assert.matches("nosuid,nodev,noexec", out)
      assert.matches("noexec%-refused", out)
    end)

    it("never shows in the host's mount table", function()
      local box <close> = isol.sandbox { namespaces = { "mount" },
        mounts = { { type = "tmpfs", target = dir .. "/hidden", size = "1M" } } }
      local p <close> = assert(box:spawn { "/bin/sh", "-c",
        "grep -c " .. dir .. "/hidden /proc/self/mountinfo; read x; true", stdin = "pipe", stdout = "pipe" })
      assert.equals("1\n", p:read(2))
      assert.is_nil(host_mountinfo():find(dir .. "/hidden", 1, true))
      p:close_stdin()
      assert.equals(0, p:wait().code)
    end)
  end)

  describe("bind", function()
    it("read-only refuses writes (EROFS), read-write allows them", function()
      os.execute("mkdir -p " .. dir .. "/src && echo data > " .. dir .. "/src/f")
      local st, out, err = run({ namespaces = { "mount" }, mounts = {
        { type = "bind", source = dir .. "/src", target = dir .. "/ro", readonly = true },
        { type = "bind", source = dir .. "/src", target = dir .. "/rw" } } },
        "cat " .. dir .. "/ro/f; touch " .. dir .. "/ro/g || echo refused; " ..
        "echo y > " .. dir .. "/rw/g && echo written")
      assert.equals(0, st.code)
      assert.matches("^data\n", out)
      assert.matches("Read%-only file system", err)
      assert.matches("refused", out)
      assert.matches("written", out)
      assert.equals("y\n", h.read(dir .. "/src/g"))
    end)

    it("remount makes an existing mount read-only", function()
      local st, out, err = run({ namespaces = { "mount" }, mounts = {
        { type = "tmpfs", target = dir .. "/t" },
        { type = "remount", target = dir .. "/t", readonly = true } } },
        "touch " .. dir .. "/t/x")
      assert.equals(1, st.code)
      assert.matches("Read%-only file system", out .. err)
    end)
  end)

  describe("propagation", function()
    -- In a private namespace of a helper process: a shared mount point X;
    -- the sandbox starts, the helper mounts X/fromhost, the sandbox mounts
    -- X/fromsandbox; who sees what depends on the mode.
    local function probe(mode)
      local src = [[
        local isol = require "isol"
        local X = ]] .. string.format("%q", dir .. "/shared") .. [[
        assert(isol.unshare { "mount" })
        assert(isol.mount.tmpfs(X, { size = "1m" }))
        assert(isol.mount.propagation(X, "shared"))
        local box <close> = isol.sandbox { namespaces = { "mount" }, caps = "all", propagation = ]] ..
        string.format("%q", mode) .. [[ }
        local p <close> = assert(box:spawn { "/bin/sh", "-c", [=[
          read go
          grep -q " ]=] .. X .. [=[/fromhost " /proc/self/mountinfo && echo sandbox-sees-host
          mkdir -p ]=] .. X .. [=[/fromsandbox && mount -t tmpfs s ]=] .. X .. [=[/fromsandbox
          echo mounted
          read done
        ]=], stdin = "pipe", stdout = "pipe" })
        assert(isol.mount.tmpfs(X .. "/fromhost", { size = "1m" }))
        p:write("go\n")
        local out = ""
        repeat local s = p:read(100); out = out .. s until s == "" or out:find("mounted")
        local f = io.open("/proc/self/mountinfo"); local mi = f:read("a"); f:close()
        if mi:find(" " .. X .. "/fromsandbox ", 1, true) then out = out .. "host-sees-sandbox\n" end
        p:write("x\n")
        assert(p:wait().code == 0)
        io.write(out)
      ]]
      local out, ok = h.lua(src)
      assert(ok, out)
      return out:find("sandbox-sees-host", 1, true) ~= nil, out:find("host-sees-sandbox", 1, true) ~= nil
    end

    it("private (default): nothing crosses either way", function()
      local a, b = probe("private")
      assert.is_false(a); assert.is_false(b)
    end)
    it("slave: host mounts reach the sandbox, not the reverse", function()
      local a, b = probe("slave")
      assert.is_true(a); assert.is_false(b)
    end)
    it("shared: both ways", function()
      local a, b = probe("shared")
      assert.is_true(a); assert.is_true(b)
    end)
    it("unchanged: as the host set it up (shared here)", function()
      local a, b = probe("unchanged")
      assert.is_true(a); assert.is_true(b)
    end)
  end)

  describe("new root", function()
    it("pivot_root into host_readonly: tools work, /usr is read-only, /tmp writable, no host mounts", function()
      local st, out, err = run({ namespaces = { "mount", "pid" }, root = isol.recipes.host_readonly() },
        "ls / | tr '\\n' ' '; echo; touch /usr/x 2>&1 || true; mkdir /newdir 2>/dev/null || echo root-ro; " ..
        "echo hi > /tmp/ok && cat /tmp/ok; " ..
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo mounts=$(wc -l < /proc/self/mountinfo); " ..
        "head -1 /etc/passwd; echo ok > /dev/null && echo devnull")
      assert.equals(0, st.code, err)
      assert.matches("usr", out)
      assert.matches("Read%-only file system", out)
      assert.matches("root%-ro", out)
      assert.matches("\nhi\n", out)
      assert.matches("^root:", out:match("\n(root:[^\n]*)") or "")
      assert.matches("devnull", out)
      local n = tonumber(out:match("mounts=(%d+)"))
      assert.is_true(n < 40, "mounts inside: " .. tostring(n))
      assert.is_nil(out:find(" /work", 1, true))
    end)

    it("without open_tree_attr (kernels before 6.15) binds and /proc covers are as read-only", function()
      local bin = dir .. "/enosys"
      local cc, ok = h.sh(string.format("cc -O1 -o %s %s/spec/support/enosys.c 2>&1", h.shq(bin), h.shq(h.root)))
      assert(ok, "cannot build spec/support/enosys.c: " .. cc)
      os.execute("chmod 0755 " .. h.shq(dir) .. " " .. h.shq(bin))
      -- 467: open_tree_attr on every architecture
      local out = h.lua([[
        local isol = require "isol"
        local box <close> = isol.sandbox { namespaces = { "mount", "pid" }, root = isol.recipes.host_readonly() }
        local st, o, e = box:run({ "/bin/sh", "-c", "touch /usr/x 2>/dev/null && echo usr-writable; " ..
          "awk '$5 == \"/usr\" || $5 == \"/etc/hosts\" || $5 == \"/proc/sys\" || $5 == \"/proc/keys\" " ..
          "|| $5 == \"/dev/null\" { print $5, $6 }' /proc/self/mountinfo; echo keys=$(wc -c < /proc/keys)",
          env = { LD_PRELOAD = false } }, { capture = true })
        print(st and st.code, o, e)
      ]], bin .. " 467")
      assert.matches("^0\t", out)
      assert.is_nil(out:find("writable", 1, true), out)
      assert.matches("/usr ro,nodev,", out)
      assert.matches("/etc/hosts ro,nosuid,nodev,", out)
      assert.matches("/proc/sys ro,nosuid,nodev,noexec,", out)
      assert.matches("/proc/keys ro,nosuid,nodev,noexec,", out)
      assert.matches("/dev/null rw,nosuid,noexec,", out)
      assert.matches("keys=0", out)
    end)

    it("says when the command is not found inside the new root", function()
      local st, msg, code = isol.run({ namespaces = { "mount" }, root = {} }, { "/bin/ls" })
      assert.is_nil(st)
      assert.equals("exec /bin/ls: not found inside the new root", msg)
      assert.equals(2, code)
    end)

    it("a prepared directory as root (the seed's chroot, with pivot_root)", function()
      os.execute("mkdir -p " .. dir .. "/r/data && echo inside > " .. dir .. "/r/data/f")
      local st, out, err = run({ namespaces = { "mount" }, root = { dir = dir .. "/r", mounts = {
        { type = "bind", source = "/usr", target = "/usr", readonly = true },
        { type = "symlink", target = "/bin", source = "usr/bin" },
        { type = "symlink", target = "/lib", source = "usr/lib" },
        { type = "symlink", target = "/lib64", source = "usr/lib64" } } } },
        "cat /data/f; ls /")
      assert.equals(0, st.code, err)
      assert.matches("^inside\n", out)
      assert.matches("data", out)
    end)

    it("targets that exist (also under a read-only bind), groups in one directory, mounts over a parent", function()
      os.execute("mkdir -p " .. dir .. "/r/etc " .. dir .. "/src && echo host > " .. dir .. "/src/f && " ..
        "echo old > " .. dir .. "/r/etc/existing && mkdir -p " .. dir .. "/ro/sub && " ..
        "echo ro > " .. dir .. "/ro/sub/file")
      local st, out, err = run({ namespaces = { "mount" }, root = { dir = dir .. "/r", mounts = {
        { type = "bind", source = "/usr", target = "/usr", readonly = true },
        { type = "symlink", target = "/bin", source = "usr/bin" },
        { type = "symlink", target = "/lib", source = "usr/lib" },
        { type = "symlink", target = "/lib64", source = "usr/lib64" },
        { type = "bind", source = dir .. "/src/f", target = "/etc/existing" },   -- exists in the root
        { type = "bind", source = dir .. "/src/f", target = "/etc/new" },        -- created, same directory
        { type = "dir", target = "/etc/d1/d2", mode = "0700" },
        { type = "bind", source = dir .. "/ro", target = "/ro", readonly = true },
        { type = "bind", source = dir .. "/src/f", target = "/ro/sub/file" },   -- exists, on a read-only mount
        { type = "tmpfs", target = "/etc/d1" },                                 -- covers what was made below
        { type = "dir", target = "/etc/d1/after" },
        { type = "bind", source = dir .. "/src/f", target = "/etc/d1/after/f" },
        { type = "bind", source = dir .. "/src/f", target = "/g/f1" },
        { type = "tmpfs", target = "/g" },                                      -- over the last directory used
        { type = "bind", source = dir .. "/src/f", target = "/g/f2" },
        { type = "bind", source = dir .. "/src/f", target = "/h/f1" },
        { type = "tmpfs", target = "/h/" },                                     -- the same, spelled otherwise
        { type = "bind", source = dir .. "/src/f", target = "/h/f2" },
      } } }, "cat /etc/existing /etc/new /ro/sub/file /etc/d1/after/f; ls -A /etc/d1 /g /h | tr '\\n' ' '")
      assert.equals(0, st.code, err)
      assert.equals("host\nhost\nhost\nhost\n/etc/d1: after  /g: f2  /h: f2 ", out)
      assert.equals("old\n", h.read(dir .. "/r/etc/existing"))
      assert.equals("ro\n", h.read(dir .. "/ro/sub/file"))
    end)

    it("a bind source renamed over between its clone and the attach is bound as it is then", function()
      local shim = dir .. "/race_shim.so"
      local cc, ok = h.sh(string.format("cc -shared -fPIC -O1 -o %s %s/spec/support/race_shim.c 2>&1", h.shq(shim),
        h.shq(h.root)))
      assert(ok, "cannot build spec/support/race_shim.c: " .. cc)
      os.execute("chmod 0755 " .. h.shq(dir) .. " " .. h.shq(shim))
      -- not below /tmp: the new root is staged there, and the rename runs in the sandbox's namespace
      local src = h.sh("mktemp -d /var/tmp/isol-fs-spec.XXXXXX"):gsub("%s+$", "")
      os.execute("echo old > " .. src .. "/f && echo new > " .. src .. "/f.new")
      local preload = (os.getenv("LD_PRELOAD") and os.getenv("LD_PRELOAD") .. " " or "") .. shim
      local out = h.lua(string.format([[
        local isol = require "isol"
        local r = isol.recipes.host_readonly { mounts = { { type = "bind", source = %q, target = "/raced" } } }
        local st, o, e = isol.run({ namespaces = { "mount", "pid" }, root = r },
          { "/bin/cat", "/raced", env = { LD_PRELOAD = false } }, { capture = true })
        print(st and st.code, o, e)
      ]], src .. "/f"), string.format("env ISOL_RACE_NAME=raced ISOL_RACE_FROM=%s ISOL_RACE_TO=%s LD_PRELOAD=%s",
        h.shq(src .. "/f.new"), h.shq(src .. "/f"), h.shq(preload)))
      local left = h.sh("ls " .. h.shq(src))
      os.execute("rm -rf " .. h.shq(src))
      assert.equals("f\n", left) -- the rename did happen (during the spawn)
      assert.matches("^0\tnew\n", out)
    end)

    it("refuses a mount target through a symlink planted in the root", function()
      os.execute("mkdir -p " .. dir .. "/r " .. dir .. "/victim && ln -s " .. dir .. "/victim " .. dir ..
        "/r/evil && ln -s ../../../../../../.. " .. dir .. "/r/up")
      for _, t in ipairs { "/evil", "/evil/x", "/up" .. dir .. "/victim" } do
        local st, msg, code = isol.run({ namespaces = { "mount" }, root = { dir = dir .. "/r" },
          mounts = { { type = "tmpfs", target = t } } }, { "/bin/true" })
        assert.is_nil(st)
        assert.matches("is a symlink %(refused", msg)
        assert.equals(40, code) -- ELOOP
      end
      assert.equals("", h.sh("ls -A " .. dir .. "/victim"))
    end)

    local attack = [[
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
/* The classic chroot escapes: chroot into a subdir while holding an fd of
 * the current root, fchdir back out and walk "..", then chroot("."). */
int main(void) {
	struct stat st;
	int fd = open("/", O_RDONLY | O_DIRECTORY);
	mkdir("/tmp/jail", 0755);
	if (chroot("/tmp/jail") < 0) { perror("chroot"); return 2; }
	if (fchdir(fd) < 0) { perror("fchdir"); return 2; }
	for (int i = 0; i < 256; i++) chdir("..");
	chroot(".");
	stat("/", &st);
	printf("root=%lu:%lu\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
	return 0;
}]]

    local function build_attack()
      local f = assert(io.open(dir .. "/attack.c", "w"))
      f:write(attack)
      f:close()
      local out, ok = h.sh("mkdir -p " .. dir .. "/bin && gcc -O0 -o " .. dir .. "/bin/attack " ..
        dir .. "/attack.c 2>&1")
      assert(ok, out)
    end

    local function host_root_id()
      return (h.sh("stat -c '%d:%i' /"):gsub("%s+$", ""))
    end

    it("double-chroot / fchdir escapes from a pivot_root sandbox cannot reach the host's /", function()
      build_attack()
      local st, out, err = run({ namespaces = { "mount", "pid" },
        root = isol.recipes.host_readonly { mounts = {
          { type = "bind", source = dir .. "/bin", target = "/opt/bin", readonly = true } } } },
        "/opt/bin/attack; ls /")
      assert.equals(0, st.code, err)
      local dev, ino = out:match("root=(%d+):(%d+)")
      assert.is_truthy(dev, out)
      local hdev, hino = h.sh("stat -c '%d %i' /"):match("(%d+) (%d+)")
      assert.is_false(dev == hdev and ino == hino, "escaped to the host root: " .. out)
      assert.matches("usr", out)
    end)

    it("chroot mode drops CAP_SYS_CHROOT: the same attack fails there", function()
      build_attack()
      local st, out = run({ namespaces = { "mount" },
        root = isol.recipes.host_readonly { mode = "chroot", proc = false, dev = false, mounts = {
          { type = "bind", source = dir .. "/bin", target = "/opt/bin", readonly = true } } } },
        "/opt/bin/attack")
      assert.equals(2, st.code, out)
      assert.is_nil(out:match("root="), out)
    end)

    it("chroot mode is weaker: with CAP_SYS_CHROOT kept by name the attack reaches the old root", function()
      build_attack()
      local st, out, err = run({ namespaces = { "mount" }, caps = { keep = { "SYS_CHROOT" } },
        root = isol.recipes.host_readonly { mode = "chroot", proc = false, dev = false, mounts = {
          { type = "bind", source = dir .. "/bin", target = "/opt/bin", readonly = true } } } },
        "/opt/bin/attack")
      assert.equals(0, st.code, err)
      local root = out:match("root=(%d+:%d+)")
      local hdev, hino = h.sh("stat -c '%d %i' /"):match("(%d+) (%d+)")
      assert.equals(hdev .. ":" .. hino, root, "expected the chroot escape to work in chroot mode")
      assert.equals(host_root_id(), root)
    end)
  end)

  describe("special filesystems", function()
    it("proc shows the new pid namespace, dev is minimal with a private devpts", function()
      local st, out, err = run({ namespaces = { "mount", "pid" }, mounts = {
        { type = "proc" }, { type = "dev", target = dir .. "/dev" } } },
        "ls /proc | grep -c '^[0-9]'; ls " .. dir .. "/dev | tr '\\n' ' '; echo; " ..
        "echo x > " .. dir .. "/dev/null && echo null-ok; grep -c devpts /proc/self/mountinfo")
      assert.equals(0, st.code, err)
      local n = tonumber(out:match("^(%d+)"))
      assert.is_true(n <= 4, "processes visible: " .. tostring(n))
      for _, d in ipairs { "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd" } do
        assert.matches("%f[%w]" .. d .. "%f[%W]", out)
      end
      assert.matches("null%-ok", out)
    end)

    it("overlay writes go to upper, lower stays untouched", function()
      os.execute("mkdir -p " .. dir .. "/lower " .. dir .. "/upper " .. dir .. "/work && echo base > " ..
        dir .. "/lower/f")
      local st, out, err = run({ namespaces = { "mount" }, mounts = { { type = "overlay",
        target = dir .. "/merged", lower = dir .. "/lower", upper = dir .. "/upper", work = dir .. "/work" } } },
        "cat " .. dir .. "/merged/f; echo new > " .. dir .. "/merged/f; echo added > " .. dir .. "/merged/g")
      assert.equals(0, st.code, err)
      assert.equals("base\n", out)
      assert.equals("base\n", h.read(dir .. "/lower/f"))
      assert.equals("new\n", h.read(dir .. "/upper/f"))
      assert.equals("added\n", h.read(dir .. "/upper/g"))
    end)

    it("mqueue in an ipc namespace", function()
      local st, out, err = run({ namespaces = { "mount", "ipc" }, mounts = {
        { type = "mqueue", target = dir .. "/mq" } } }, "grep -c ' " .. dir .. "/mq .* mqueue ' /proc/self/mountinfo")
      assert.equals(0, st.code, err)
      assert.equals("1\n", out)
    end)

    it("works in a user namespace (root mapped)", function()
      local st, out, err = run({ namespaces = { "user", "mount", "pid" }, user = { map_root = true },
        root = isol.recipes.host_readonly() },
        "id -u; ls /proc | grep -c '^[0-9]'; touch /tmp/a && echo tmp-ok")
      assert.equals(0, st.code, err)
      assert.matches("^0\n", out)
      assert.matches("tmp%-ok", out)
    end)
  end)

  describe("isol.mount on the calling process", function()
    it("refuses to mount in the namespace the process started in unless host = true", function()
      assert.has_error(function() isol.mount.tmpfs(dir .. "/never", { size = "1m" }) end,
        'mount.tmpfs: this process is still in the mount namespace it started in (call isol.unshare{"mount"} '
        .. "first, or pass host = true to mount there on purpose)")
      assert.is_nil(h.read(dir .. "/never"))
    end)

    it("bind, remount, dev, proc and umount after unshare", function()
      os.execute("mkdir -p " .. dir .. "/src && echo v > " .. dir .. "/src/f")
      local out, ok = h.lua(string.format([[
        local isol = require "isol"
        local dir = %q
        assert(isol.unshare { "mount" })
        assert(isol.mount.bind(dir .. "/src", dir .. "/b", { readonly = true }))
        print(io.open(dir .. "/b/f"):read("l"), io.open(dir .. "/b/g", "w") == nil)
        assert(isol.mount.remount(dir .. "/b", { readonly = false }))
        print(io.open(dir .. "/b/g", "w") ~= nil)
        assert(isol.mount.dev(dir .. "/dev"))
        print(io.open(dir .. "/dev/null", "w"):write("x") ~= nil)
        assert(isol.mount.proc(dir .. "/proc"))
        print(io.open(dir .. "/proc/self/stat") ~= nil)
        assert(isol.mount.umount(dir .. "/dev", { lazy = true }))
        local nope, msg, code = isol.mount.umount(dir .. "/src")
        print(nope, msg, code)
      ]], dir))
      assert(ok, out)
      assert.matches("^v\ttrue\ntrue\ntrue\ntrue\nnil\tumount .*/src: Invalid argument\t22\n$", out)
      assert.equals("", h.read(dir .. "/src/g")) -- written through the rw remount
      assert.is_nil(host_mountinfo():find(dir, 1, true))
    end)

    it("the seed's Mount Isolation: tmpfs after unshare, invisible to the host", function()
      local target = dir .. "/mount_tmp"
      local out, ok = h.lua([[
        local isol = require "isol"
        assert(isol.unshare { "mount" })
        assert(isol.mount.tmpfs(]] .. string.format("%q", target) .. [[, { size = "1m" }))
        local f = assert(io.open(]] .. string.format("%q", target .. "/t.txt") .. [[, "w"))
        f:write("hi"); f:close()
        for _, m in ipairs(isol.mount.list()) do
          if m.target == ]] .. string.format("%q", target) .. [[ then print("mounted " .. m.fstype) end
        end
        local ok, msg = isol.mount.tmpfs(]] .. string.format("%q", target .. "/x") .. [[, { size = "1x" })
      ]])
      assert.matches('mount.tmpfs.size: expected size like', out)
      assert.matches("mounted tmpfs", out)
      assert.is_falsy(ok)
      assert.is_nil(host_mountinfo():find(target, 1, true))
      assert.is_nil(h.read(target .. "/t.txt"))
    end)

    it("isol.unshare sets the propagation of a new mount namespace (default private)", function()
      local out = h.lua([[
        local isol = require "isol"
        local function root_shared()
          local shared, slave -- of the last mount on / (the one on top)
          for l in io.lines("/proc/self/mountinfo") do
            local rest = l:match("^%S+ %S+ %S+ %S+ / %S+(.-) %- ")
            if rest then shared, slave = rest:match("shared:%d+") ~= nil, rest:match("master:%d+") ~= nil end
          end
          return shared, slave
        end
        print(pcall(isol.unshare, { "mount", propagation = "sideways" }))
        assert(isol.unshare { "mount", propagation = "shared" })
        print("shared", root_shared())
        assert(isol.unshare { "mount" })
        print("default", root_shared())
      ]])
      assert.matches('propagation: expected', out, 1, true)
      assert.matches("shared\ttrue\tfalse\n", out, 1, true)
      assert.matches("default\tfalse\tfalse\n", out, 1, true)
    end)
  end)
end)
