-- The sandbox boundary's defences (issue 10): capabilities, keyring, the
-- hardened /proc and /sys, locked read-only mounts, identity, terminal,
-- bind sources. Each attack really tries; where a defence could fail the
-- target is harmless (a temporary file, the current value of a sysctl).
local h = require "support.helpers"
local leak = require "support.leak"
local isol = require "isol"

local CAP_NET_RAW, CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_CHOWN = 13, 21, 18, 0 -- linux/capability.h

local function caps_of(out)
  local t = {}
  for k, v in out:gmatch("Cap(%a+):%s*(%x+)") do t[k] = tonumber(v, 16) end
  return t
end
local function has(mask, cap) return (mask >> cap) & 1 == 1 end

local function run(recipe, script, opts)
  local box <close> = isol.sandbox(recipe)
  local cmd = { "/bin/sh", "-c", script, env = { LD_PRELOAD = false } }
  if opts and opts.stdin then cmd.stdin = opts.stdin end
  return box:run(cmd, { capture = true })
end

local function tmpdir()
  -- world-searchable: untrusted's sandbox root is an unprivileged host id
  local d = h.sh("mktemp -d /tmp/isol-sec-spec.XXXXXX"):gsub("%s+$", "")
  h.sh("chmod 755 " .. d)
  return d
end

describe("security: caps field", function()
  it("accepts names with or without CAP_, any case; unknown names name the field and value", function()
    local a = isol.recipe.validate { caps = { keep = { "CAP_NET_RAW" } } }
    local b = isol.recipe.validate { caps = { keep = { "net_raw" } } }
    assert.are.equal(isol.security.mask(a), isol.security.mask(b))
    assert.are.equal(1 << CAP_NET_RAW, isol.security.mask(a))
    assert.has_error(function() isol.recipe.validate { caps = { keep = { "NET_RAWR" } } } end,
      'caps.keep[1]: unknown capability "NET_RAWR"')
    assert.has_error(function() isol.recipe.validate { caps = { drop = { "chown", 7 } } } end,
      "caps.drop[2]: expected string, got number 7")
    assert.has_error(function() isol.recipe.validate { caps = "some" } end)
    assert.has_error(function() isol.recipe.validate { caps = { keep = {}, drop = {} } } end,
      "caps: expected exactly one of keep or drop")
    assert.has_error(function() isol.recipe.validate { caps = { keep = { "net\0raw" } } } end)
  end)

  it("defaults to the container-runtime set, never SYS_ADMIN; drop removes from it", function()
    local d = isol.security.mask(isol.recipe.validate {})
    assert.is_true(has(d, CAP_NET_RAW) and has(d, CAP_CHOWN) and has(d, CAP_SYS_CHROOT))
    assert.is_false(has(d, CAP_SYS_ADMIN))
    local n = 0
    for i = 0, 63 do if has(d, i) then n = n + 1 end end
    assert.are.equal(14, n)
    local dr = isol.security.mask(isol.recipe.validate { caps = { drop = { "net_raw" } } })
    assert.are.equal(d & ~(1 << CAP_NET_RAW), dr)
  end)

  it("chroot mode drops SYS_CHROOT unless keep names it", function()
    local root = { mode = "chroot", dir = "/" }
    assert.is_false(has(isol.security.mask(isol.recipe.validate { namespaces = { "mount" }, root = root }),
      CAP_SYS_CHROOT))
    assert.is_false(has(isol.security.mask(isol.recipe.validate { namespaces = { "mount" }, root = root,
      caps = "all" }), CAP_SYS_CHROOT))
    assert.is_true(has(isol.security.mask(isol.recipe.validate { namespaces = { "mount" }, root = root,
      caps = { keep = { "sys_chroot" } } }), CAP_SYS_CHROOT))
  end)

  it("explain prints the final sets", function()
    local text = isol.recipe.explain({ caps = { keep = { "kill", "net_raw" } } }, { "true" })
    assert.matches("capabilities: bounding = permitted = effective: CAP_KILL, CAP_NET_RAW", text, 1, true)
    assert.matches("capabilities: none", isol.recipe.explain(isol.recipes.untrusted(), { "true" }), 1, true)
  end)
end)

describe("security #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  describe("capabilities after exec (/proc/self/status of a process two execs deep)", function()
    local status = "grep Cap /proc/self/status"
    local default = isol.security.mask(isol.recipe.validate {})

    for _, case in ipairs {
      { "host root, no user namespace", { namespaces = { "mount", "pid" } } },
      { "user namespace, root mapped", { namespaces = { "user", "mount", "pid" }, user = { map_root = true } } },
    } do
      it("default set: " .. case[1], function()
        local st, out, err = run(case[2], status)
        assert.are.same({ code = 0 }, st, err)
        local c = caps_of(out)
        assert.are.equal(default, c.Bnd, out)
        assert.are.equal(default, c.Prm, out)
        assert.are.equal(default, c.Eff, out)
        assert.are.equal(0, c.Inh, out)
        assert.are.equal(0, c.Amb, out)
      end)
      it("none, keep and all: " .. case[1], function()
        local function get(caps)
          local r = {}
          for k, v in pairs(case[2]) do r[k] = v end
          r.caps = caps
          local st, out, err = run(r, status)
          assert.are.same({ code = 0 }, st, err)
          return caps_of(out)
        end
        local none = get("none")
        assert.are.same({ Bnd = 0, Prm = 0, Eff = 0, Inh = 0, Amb = 0 }, none)
        local keep = get({ keep = { "CAP_NET_RAW" } })
        assert.are.equal(1 << CAP_NET_RAW, keep.Bnd)
        assert.are.equal(1 << CAP_NET_RAW, keep.Eff)
        assert.is_true(has(get("all").Bnd, CAP_SYS_ADMIN))
      end)
    end

    it("an unknown name fails before anything is created", function()
      assert.has_error(function() isol.sandbox { namespaces = { "mount" }, caps = { keep = { "cap_fly" } } } end,
        'caps.keep[1]: unknown capability "cap_fly"')
    end)
  end)

  describe("read-only mounts stay read-only (item 1)", function()
    local dir
    before_each(function()
      dir = tmpdir()
      h.sh("mkdir -p " .. dir .. "/ro && echo original > " .. dir .. "/ro/file")
    end)
    after_each(function() h.sh("rm -rf " .. dir) end)

    local function attacks(mount_over)
      return [[
for how in "mount -o remount,rw /data" "mount -o remount,rw,bind /data" "mount -o remount,rw /usr" \
           "mount -o remount,rw,bind /usr" "umount /data" "umount -l /usr" ]] ..
        (mount_over and '"mount -t tmpfs t /data"' or "") .. [[; do
  $how 2>/dev/null && echo "ALLOWED: $how"
done
echo pwned > /data/file 2>/dev/null && echo "WROTE /data/file"
touch /usr/isol-sec-test 2>/dev/null && echo "WROTE /usr"
echo done
]]
    end
    local attack = attacks(true)
    local function assert_held(st, out, err)
      assert.are.same({ code = 0 }, st, err)
      assert.matches("done", out)
      assert.is_nil(out:match("ALLOWED"), out)
      assert.is_nil(out:match("WROTE"), out)
      assert.are.equal("original\n", h.read(dir .. "/ro/file"))
    end
    local function recipe(extra)
      local r = { namespaces = { "user", "mount", "pid" }, user = { map_root = true },
        root = isol.recipes.host_readonly { mounts = {
          { type = "bind", source = dir .. "/ro", target = "/data", readonly = true } } } }
      for k, v in pairs(extra or {}) do r[k] = v end
      return r
    end

    for _, case in ipairs {
      { "default caps, user namespace", function() return recipe() end },
      { "default caps, host root without a user namespace", function()
        local r = recipe(); r.namespaces = { "mount", "pid" }; r.user = nil; return r end },
      { "untrusted", function()
        return isol.recipe.extend(isol.recipes.untrusted(), { mounts = {
          { type = "bind", source = dir .. "/ro", target = "/data", readonly = true } } }) end },
    } do
      it("remount, mount, umount fail: " .. case[1], function()
        local st, out, err = run(case[2](), attack)
        assert_held(st, out, err)
      end)
    end

    it("after unshare -Urm inside, the inherited mounts are locked", function()
      -- the default set keeps SETFCAP, so the sandbox may map root in a
      -- nested user namespace and hold every capability there
      -- (mounting over /data is allowed there: it covers, in the nested
      -- namespace only, and cannot change the inherited mount)
      local rootful = recipe(); rootful.namespaces = { "mount", "pid" }; rootful.user = nil
      for _, r in ipairs { recipe(), rootful } do
        local st, out, err = run(r, "unshare -Urm /bin/sh -c '" .. attacks(false) .. "' && echo nested")
        assert.matches("nested", out)
        assert_held(st, out, err)
      end
    end)

    it("with caps = \"all\" the same attack does remount (the spec can fail)", function()
      local st, out = run(recipe { caps = "all" }, "mount -o remount,rw,bind /data && echo ALLOWED")
      assert.are.same({ code = 0 }, st)
      assert.matches("ALLOWED", out)
    end)
  end)

  describe("/proc and /sys (item 3)", function()
    local host_core = (h.read("/proc/sys/kernel/core_pattern") or ""):gsub("\n$", "")
    -- writes the value the host has: harmless even if the defence failed
    local attack = string.format([[
printf '%%s\n' %s > /proc/sys/kernel/core_pattern 2>/dev/null && echo "WROTE core_pattern"
true > /proc/sys/vm/drop_caches 2>/dev/null && echo "OPENED drop_caches"
true > /proc/sysrq-trigger 2>/dev/null && echo "OPENED sysrq-trigger"
echo "keys=$(wc -c < /proc/keys) timer_list=$(wc -c < /proc/timer_list)"
echo "acpi=$(ls /proc/acpi 2>/dev/null | wc -l)"
unshare -Urmpf --mount-proc true 2>/dev/null && echo "NESTED PROC"
echo done
]], h.shq(host_core))

    for _, case in ipairs {
      { "untrusted", isol.recipes.untrusted() },
      { "host root with a fresh /proc", { namespaces = { "mount", "pid" }, root = isol.recipes.host_readonly() } },
      { "default caps in a user namespace", { namespaces = { "user", "mount", "pid" }, user = { map_root = true },
        root = isol.recipes.host_readonly() } },
    } do
      it("sysctls read-only, kernel files masked, no nested proc: " .. case[1], function()
        local st, out, err = run(case[2], attack)
        assert.are.same({ code = 0 }, st, err)
        assert.matches("done", out)
        assert.is_nil(out:match("WROTE"), out)
        assert.is_nil(out:match("OPENED"), out)
        assert.matches("keys=0 timer_list=0", out, 1, true)
        assert.matches("acpi=0", out, 1, true)
        assert.is_nil(out:match("NESTED PROC"), out)
      end)
    end

    it("unmasked = true opts out (and then a nested proc mount works)", function()
      local st, out, err = run({ namespaces = { "user", "mount", "pid" }, user = { map_root = true },
        root = isol.recipes.host_readonly { proc = false, mounts = { { type = "proc", unmasked = true } } } },
        "grep -c ' /proc/' /proc/self/mountinfo; unshare -Urmpf --mount-proc true && echo NESTED PROC")
      assert.are.same({ code = 0 }, st, err)
      assert.matches("^0\n", out)
      assert.matches("NESTED PROC", out)
    end)

    it("sysfs is read-only with /sys/firmware masked", function()
      local st, out, err = run({ namespaces = { "user", "mount", "pid", "net" }, user = { map_root = true },
        caps = "all", root = isol.recipes.host_readonly { mounts = { { type = "sysfs" } } } },
        "touch /sys/x 2>/dev/null && echo WROTE; mount -o remount,rw /sys 2>/dev/null; "
        .. "touch /sys/kernel/x 2>/dev/null && echo WROTE2; echo firmware=$(ls /sys/firmware | wc -l); "
        .. "grep ' /sys ' /proc/self/mountinfo")
      assert.are.same({ code = 0 }, st, err)
      assert.is_nil(out:match("WROTE"), out)
      assert.matches("firmware=0", out, 1, true)
      assert.matches(" /sys ro,", out, 1, true)
      assert.has_error(function() isol.sandbox { mounts = { { type = "sysfs", readonly = false } },
        namespaces = { "mount" } } end, "mounts[1].readonly: sysfs is always read-only")
    end)
  end)

  describe("probes", function()
    local dir, probe
    setup(function()
      dir = tmpdir()
      local out, ok = h.sh(string.format("mkdir -p %s/bin && cc -O1 -o %s/bin/probe spec/security/probe.c 2>&1",
        dir, dir))
      assert(ok, out)
      probe = dir .. "/bin/probe"
    end)
    teardown(function() h.sh("rm -rf " .. dir) end)

    -- recipe source text (run in a separate lua5.4) with the probe bound in
    local function with_probe(recipe_src)
      return string.format("isol.recipe.extend(%s, { mounts = { { type = 'bind', source = %q, "
        .. "target = '/opt/probe', readonly = true } } })", recipe_src, dir .. "/bin")
    end
    local HR = "root = isol.recipes.host_readonly()"

    it("keyring: a key of the caller's session keyring is not readable inside (item 10)", function()
      local src = string.format([[
local isol = require "isol"
local id = io.popen(%q):read("l")
assert(tonumber(id), "add_key: " .. tostring(id))
local recipes = { inherit = %s, new = %s, untrusted = %s }
for _, name in ipairs { "inherit", "new", "untrusted" } do
  local st, out, err = isol.run(recipes[name], { "/opt/probe/probe", "readkey", id }, { capture = true })
  io.write(name, ": ", out or "", err or "")
end
os.execute(%q .. " revoke " .. id)
]], probe .. " addkey isol-spec-key",
        with_probe("{ namespaces = { 'mount', 'pid' }, session_keyring = 'inherit', " .. HR .. " }"),
        with_probe("{ namespaces = { 'mount', 'pid' }, " .. HR .. " }"),
        with_probe("isol.recipes.untrusted()"), probe)
      local out, ok = h.lua(src, probe .. " session")
      assert(ok, out)
      -- the control shows the key is there and readable with the caller's keyring
      assert.matches("inherit: read isol%-secret", out)
      assert.matches("new: read failed", out)
      assert.matches("untrusted: read failed", out)
    end)

    it("terminal: TIOCSTI into the caller's terminal fails for every recipe (item 8)", function()
      -- a pty the test makes (script(1)), never the real terminal: the
      -- sandbox's stdin is that pty, its controlling terminal in the control case
      local cases = {
        { "default", "{ namespaces = { 'mount', 'pid' }, " .. HR .. " }" },
        { "user namespace", "{ namespaces = { 'user', 'mount', 'pid' }, user = { map_root = true }, " .. HR .. " }" },
        { "untrusted", "isol.recipes.untrusted()" },
        { "control: same session, all caps", "{ namespaces = { 'mount', 'pid' }, new_session = false, " ..
          "seccomp = { profile = 'none', tiocsti = true }, "
          .. "caps = 'all', " .. HR .. " }" },
      }
      local parts = { "local isol = require 'isol'" }
      for _, c in ipairs(cases) do
        parts[#parts + 1] = string.format([[
do
  local st, out, err = isol.run(%s, { "/opt/probe/probe", "tiocsti", stdin = "inherit" }, { capture = true })
  io.write(%q, ": ", out or "", err or "", "\n")
end]], with_probe(c[2]), c[1])
      end
      local f = assert(io.open(dir .. "/tty.lua", "w"))
      f:write("package.path = " .. string.format("%q", h.root .. "/lua/?.lua;" .. h.root .. "/lua/?/init.lua;")
        .. " .. package.path; package.cpath = " .. string.format("%q", h.root .. "/build/?.so;")
        .. " .. package.cpath\n" .. table.concat(parts, "\n"))
      f:close()
      local out, ok = h.sh(string.format("script -qec %s /dev/null </dev/null 2>&1",
        h.shq(h.lua_bin .. " " .. dir .. "/tty.lua")))
      assert(ok, out)
      assert.matches("default: tiocsti failed", out)
      assert.matches("user namespace: tiocsti failed", out)
      assert.matches("untrusted: tiocsti failed", out)
      assert.matches("control: same session, all caps: tiocsti injected", out)
    end)
  end)

  describe("identity (item 6)", function()
    it("untrusted maps sandbox root to an unprivileged host id; the README's use still works", function()
      local box <close> = isol.sandbox(isol.recipes.untrusted())
      local p <close> = assert(box:spawn { "/bin/sh", "-c",
        "read x; cat /proc/self/uid_map; id -u; ls /usr/bin >/dev/null && echo usr-readable; "
        .. "echo hi > /tmp/x && cat /tmp/x", stdin = "pipe", stdout = "pipe" })
      -- from the host: the sandbox's processes are not uid 0
      local status = h.read("/proc/" .. p:pid() .. "/status")
      local huid = tonumber(status:match("Uid:%s+(%d+)"))
      assert.are_not.equal(0, huid)
      local sub = isol.security.subid_range("/etc/subuid", "root", 0)
      assert.are.equal(sub or isol.security.NOBODY, huid)
      local out = p:communicate("\n")
      local st = p:wait()
      assert.are.same({ code = 0 }, st)
      assert.matches("^%s*0%s+" .. huid .. "%s+%d+", out)
      assert.matches("\n0\nusr%-readable\nhi\n", out)
    end)

    it("sandbox root cannot signal a host process of root", function()
      local victim = assert(isol.spawn { argv = { "/bin/sleep", "30" }, new_session = true })
      -- without a pid namespace it could see the victim: it must still fail
      local r = isol.recipes.untrusted()
      r.namespaces = { "user", "mount", "uts", "ipc", "net", "cgroup" }
      r.init = false
      r.die_with_parent = false -- (init = false without a pid namespace: kill.lua)
      r.root = isol.recipes.host_readonly { proc = false } -- a proc mount needs its pid namespace
      local ok, st, out = pcall(run, r, "kill -9 " .. victim:pid() .. " 2>&1; echo rc=$?")
      victim:kill("SIGKILL")
      local vst = victim:wait()
      assert.is_true(ok, st)
      assert.are.same({ signal = "SIGKILL", signo = 9 }, { signal = vst.signal, signo = vst.signo })
      assert.matches("rc=1", out or "")
    end)

    it("explain warns when sandbox root is host root, not for untrusted", function()
      local warn = "WARNING: sandbox root is host root"
      assert.matches(warn, isol.recipe.explain({ namespaces = { "user" }, user = { map_root = true } },
        { "true" }), 1, true)
      assert.is_nil(isol.recipe.explain(isol.recipes.untrusted(), { "true" }):find(warn, 1, true))
    end)
  end)

  describe("bind sources (item 11)", function()
    local dir
    before_each(function()
      dir = tmpdir()
      h.sh(string.format("mkdir -p %s/private %s/work && echo secret > %s/private/s && "
        .. "ln -s %s/private %s/work/planted", dir, dir, dir, dir, dir))
    end)
    after_each(function() h.sh("rm -rf " .. dir) end)

    local function bind(src, nofollow)
      return { namespaces = { "mount", "pid" }, root = isol.recipes.host_readonly { mounts = {
        { type = "bind", source = src, target = "/work", nofollow = nofollow } } } }
    end

    it("nofollow refuses a planted symlink anywhere in the source path", function()
      local st, msg = run(bind(dir .. "/work/planted", true), "cat /work/s")
      assert.is_nil(st)
      assert.matches("symlink", msg)
      st, msg = run(bind(dir .. "/work/planted/.", true), "cat /work/s")
      assert.is_nil(st)
      assert.matches("symlink", msg)
      -- the real directory still binds
      local out
      st, out = run(bind(dir .. "/private", true), "cat /work/s")
      assert.are.same({ code = 0 }, st)
      assert.are.equal("secret\n", out)
    end)

    it("the workspace recipe binds with nofollow (untrusted, root mapped to an unprivileged id)", function()
      local uid_map = isol.security.root_map()
      h.sh(string.format("chown -R %d %s/work %s/private", uid_map[1][2], dir, dir))
      local r = isol.recipe.extend(isol.recipes.untrusted(), isol.recipes.workspace { dir = dir .. "/work/planted" })
      local st, msg = run(r, "cat s")
      assert.is_nil(st)
      assert.matches("symlink", msg)
      r = isol.recipe.extend(isol.recipes.untrusted(), isol.recipes.workspace { dir = dir .. "/work" })
      local out
      st, out = run(r, "echo built > out")
      assert.are.same({ code = 0 }, st, out)
      assert.are.equal("built\n", h.read(dir .. "/work/out"))
      assert.has_error(function() isol.recipes.workspace { dir = "rel" } end,
        'workspace.dir: expected an absolute path, got "rel"')
    end)

    it("without nofollow the planted link is followed (the spec can fail)", function()
      local st, out = run(bind(dir .. "/work/planted", nil), "cat /work/s")
      assert.are.same({ code = 0 }, st)
      assert.are.equal("secret\n", out)
    end)
  end)
end)
