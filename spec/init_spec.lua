-- isol's init is its own program, exec'd from a sealed memfd (issue 10.4),
-- and the spawn hygiene around it (review B1-B4, B18, B19). Every attack
-- below does the real thing from inside the sandbox.
local isol = require "isol"
local core = isol.core
local h = require "support.helpers"
local leak = require "support.leak"

-- A pid namespace with its own /proc, so that /proc/1 is isol's init. The
-- command has the default capabilities (no SYS_ADMIN, no SYS_PTRACE), as a
-- sandboxed command would; the fake-status attack below gets them all.
local PIDNS = { namespaces = { "pid", "mount" }, mounts = { { type = "proc", target = "/proc" } } }
local MOUNT_PROC = ""
-- The strongest attacker: every capability (as real root here, that includes
-- CAP_SYS_PTRACE, which reaches a non-dumpable process; with the default set
-- even /proc/1/exe and /proc/1/maps are refused).
local PIDNS_ALL = isol.recipe.extend(PIDNS, { caps = "all" })

local function run(recipe, script, opts)
  opts = opts or {}
  opts.capture = true
  local st, out, err = isol.run(recipe, { "/bin/sh", "-c", script }, opts)
  assert(st, out)
  return out, st, err
end

describe("isol's init #root", function()
  local snap
  before_each(function() snap = leak.snapshot() end)
  after_each(function() leak.assert_clean(snap) end)

  it("is exec'd from a memfd that cannot be written, with an empty environment", function()
    local out = run(PIDNS_ALL, MOUNT_PROC .. [[
echo "exe=$(readlink /proc/1/exe)"
if (echo pwned > /proc/1/exe) 2>/dev/null; then echo exe=written; else echo exe=refused; fi
echo "environ=$(tr '\0' '\n' < /proc/1/environ | wc -c)"
]], { env = { ISOL_SPEC_SECRET = "do-not-leak" } })
    assert.matches("exe=/memfd:isol%-init", out)
    assert.matches("exe=refused", out)
    assert.matches("environ=0\n", out)
  end)

  it("holds none of the host's memory: a secret of the host Lua state is not readable inside", function()
    -- held only in this process's heap; a forked init would carry it
    local secret = "isol-secret-" .. core.getpid() .. "-" .. math.random(1e9)
    local keep = { secret:rep(4) }
    -- the sandbox learns it from a file (not argv or env, which the init
    -- does hold: they are the command's)
    local file = os.tmpname()
    local f = assert(io.open(file, "w"))
    f:write(secret)
    f:close()
    local out = run(PIDNS_ALL, MOUNT_PROC .. string.format([[
S=$(cat %s)
test -n "$S" || exit 98
# /proc/1/mem of a readable region, by a root without CAP_SYS_PTRACE (the
# default caps of container runtimes) is refused. (Here the init also holds
# more caps than the reader, which alone refuses it; once the caps step
# gives both the same set, non-dumpability is what refuses it. With
# CAP_SYS_PTRACE the memory is readable: the scan below shows it holds
# nothing of the host.)
set -- $(grep -m1 ' r' /proc/1/maps)
lo=$((0x${1%%-*}))
if setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace \
   dd if=/proc/1/mem bs=4096 skip=$((lo / 4096)) count=1 of=/dev/null 2>/dev/null; then
  echo mem=readable
else
  echo mem=refused
fi
# every region of the init that can be read: cmdline, environ, maps, and
# the memory regions themselves through dd with their offsets
found=0
for f in /proc/1/cmdline /proc/1/environ /proc/1/status; do
  grep -q "$S" "$f" 2>/dev/null && found=1
done
while read -r range perms rest; do
  case "$perms" in r*) ;; *) continue ;; esac
  lo=$((0x${range%%-*})); hi=$((0x${range#*-}))
  dd if=/proc/1/mem bs=4096 skip=$((lo / 4096)) count=$(((hi - lo) / 4096)) 2>/dev/null | grep -aq "$S" && found=1
done < /proc/1/maps 2>/dev/null
echo found=$found
]], h.shq(file)))
    os.remove(file)
    assert.are.equal(secret:rep(4), keep[1])
    assert.matches("mem=refused", out)
    assert.matches("found=0", out)
  end)

  it("gives the command no fd of its own", function()
    local out = run(PIDNS, "ls /proc/self/fd | wc -l")
    -- 0 1 2 and the fd ls itself opens on the directory
    assert.are.equal("4\n", out)
  end)

  it("reports a SIGKILLed sandbox as killed, whatever the sandbox writes into fds it finds", function()
    -- every capability: as real root with CAP_SYS_PTRACE the command does
    -- reach the init's status pipe through /proc/1/fd
    local box = isol.sandbox(PIDNS_ALL)
    local p = assert(box:spawn { "/bin/sh", "-c", MOUNT_PROC .. [[
# a fake status record {code 0, isol's magic} into every fd of the init and
# every fd of our own
exec 2>/dev/null
for f in /proc/1/fd/[3-9]* /proc/1/fd/[1-9][0-9]* /proc/self/fd/[3-9]*; do
  printf '\000\000\000\000\000\000\001\025' > "$f"
done
echo ready; exec sleep 100]], stdout = "pipe" })
    assert.are.equal("ready\n", p:read(6))
    assert(p:kill("SIGKILL"))
    local st = assert(p:wait())
    assert.are.equal("SIGKILL", st.signal)
    assert.is_nil(st.code)
    box:close()
  end)

  it("does not run a host signal handler in the child", function()
    -- A C host with a SIGUSR1 handler that says so when it runs in another
    -- process than the host; a spammer sends SIGUSR1 to the host's process
    -- group (the children stay in it: new_session = false) while it spawns.
    local dir = h.sh("mktemp -d /tmp/isol-init-spec.XXXXXX"):gsub("%s+$", "")
    local f = assert(io.open(dir .. "/host.c", "w"))
    f:write([[
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static pid_t host;
static void on_usr1(int s)
{
	(void)s;
	if (getpid() != host)
		write(2, "HANDLER-IN-CHILD\n", 17);
}
int main(int argc, char **argv)
{
	lua_State *L = luaL_newstate();
	struct sigaction sa = { .sa_handler = on_usr1 };
	(void)argc;
	host = getpid();
	sigaction(SIGUSR1, &sa, NULL);
	luaL_openlibs(L);
	if (luaL_dostring(L, argv[1])) {
		fprintf(stderr, "%s\n", lua_tostring(L, -1));
		return 1;
	}
	return 0;
}
]])
    f:close()
    local _, ok = h.sh(string.format("cc -O1 $(pkg-config --cflags lua5.4) -o %s/host %s/host.c -llua5.4 2>&1",
      dir, dir))
    assert.truthy(ok, "building the C host failed")
    local lua = string.format([[
package.path = %q .. package.path; package.cpath = %q .. package.cpath
local core = require "isol.core"
local pg = core.proc_stat(core.getpid()).pgrp
local spam = assert(core.spawn { argv = { "/bin/sh", "-c",
  "trap '' USR1; while kill -USR1 -" .. pg .. " 2>/dev/null; do :; done" }, new_session = false,
  die_with_parent = true })
for i = 1, 150 do
  local p = core.spawn { argv = { "/bin/true" }, namespaces = { "pid", "mount", "uts" },
    hostname = "h", new_session = false }
  if p then p:wait() end
end
spam:kill("SIGKILL"); spam:wait()
print("done")
]], h.root .. "/lua/?.lua;", (os.getenv("ISOL_CPATH") or (h.root .. "/build/?.so")) .. ";")
    local out = h.sh(string.format("setsid -w %s/host %s 2>&1", dir, h.shq(lua)))
    h.sh("rm -rf " .. h.shq(dir))
    assert.matches("done", out)
    assert.not_matches("HANDLER%-IN%-CHILD", out)
  end)

  it("ends a setsid escapee at once without a pid namespace and without /proc in the new root (B1)", function()
    local r = { namespaces = { "mount" }, root = isol.recipes.host_readonly { proc = false } }
    local t0 = core.now()
    local out, st = run(r, "test -e /proc/self || echo no-proc; setsid sleep 4 & exit 0")
    local dt = core.now() - t0
    assert.matches("no%-proc", out)
    assert.are.equal(0, st.code)
    assert.is_true(dt < 2, string.format("took %.2f s: the escapee was waited for", dt))
  end)

  it("ends the whole sandbox at timeout_ms and says so", function()
    local t0 = core.now()
    local p = assert(core.spawn { argv = { "/bin/sh", "-c", "sleep 100 & sleep 100" },
      namespaces = { "pid" }, timeout_ms = 300 })
    local st = assert(p:wait())
    local dt = core.now() - t0
    assert.is_true(st.timeout)
    assert.are.equal("SIGKILL", st.signal)
    assert.is_true(dt < 2, string.format("took %.2f s", dt))
    -- without a pid namespace: the subreaper kills every descendant
    t0 = core.now()
    p = assert(core.spawn { argv = { "/bin/sh", "-c", "setsid sleep 100 & sleep 100" }, timeout_ms = 300 })
    st = assert(p:wait())
    assert.is_true(st.timeout)
    assert.is_true(core.now() - t0 < 2)
    -- a command that ends in time has no timeout flag
    p = assert(core.spawn { argv = { "/bin/true" }, timeout_ms = 5000 })
    st = assert(p:wait())
    assert.are.equal(0, st.code)
    assert.is_nil(st.timeout)
  end)

  it("rejects a timeout without isol's init", function()
    local p, msg = core.spawn { argv = { "/bin/true" }, timeout_ms = 100, init = false }
    assert.is_nil(p)
    assert.matches("timeout_ms needs isol's init", msg)
  end)

  it("keeps init = false working (the command is PID 1)", function()
    local out = run({ namespaces = { "pid" }, init = false }, "echo $$")
    assert.are.equal("1\n", out)
  end)

  it("formats the command's exec failure in the parent", function()
    for _, ns in ipairs { { "pid" }, {} } do
      local p, msg, code = core.spawn { argv = { "/etc/passwd" }, namespaces = ns }
      assert.is_nil(p)
      assert.are.equal("exec /etc/passwd: Permission denied", msg)
      assert.are.equal(13, code)
    end
  end)
end)

describe("PATH search #root", function()
  local dir
  before_each(function()
    dir = h.sh("mktemp -d /tmp/isol-path-spec.XXXXXX"):gsub("%s+$", "")
    local f = assert(io.open(dir .. "/isol-here", "w"))
    f:write("#!/bin/sh\necho found-in-cwd\n")
    f:close()
    h.sh("chmod +x " .. h.shq(dir .. "/isol-here"))
  end)
  after_each(function() h.sh("rm -rf " .. h.shq(dir)) end)

  for _, path in ipairs { "/nonexistent:", ":/nonexistent", "/nonexistent::/bin" } do
    for _, ns in ipairs { { "pid" }, {} } do
      it(string.format("an empty element of PATH=%q is the cwd (%s)", path, #ns > 0 and "init" or "no init"),
        function()
          local p = assert(core.spawn { argv = { "isol-here" }, env = { "PATH=" .. path }, cwd = dir,
            namespaces = ns, stdout = "pipe" })
          local out = p:read() or ""
          assert.are.equal(0, p:wait().code)
          assert.matches("found%-in%-cwd", out)
        end)
    end
  end

  it("says not found in PATH", function()
    local p, msg = core.spawn { argv = { "isol-no-such-cmd" }, env = { "PATH=/nonexistent:" }, cwd = "/" }
    assert.is_nil(p)
    assert.matches("exec isol%-no%-such%-cmd: not found in PATH", msg)
  end)
end)

describe("empty image checkpoint #root", function()
  it("round-trips a 0-byte image through gzip and zstd", function()
    local dir = h.sh("mktemp -d /tmp/isol-ckpt0-spec.XXXXXX"):gsub("%s+$", "")
    local img0 = dir .. "/empty.img"
    assert(io.open(img0, "w")):close()
    local img = assert(isol.image.open(img0, { fs = "ext4" }))
    for _, fmt in ipairs { "gzip", "zstd" } do
      local ck = dir .. "/e." .. fmt
      assert(img:checkpoint(ck, { format = fmt, trim = false }))
      local size = assert(io.open(ck)):seek("end")
      assert.is_true(size > 0, fmt .. " checkpoint is empty")
      assert(isol.image.restore(ck, dir .. "/r." .. fmt))
      assert.are.equal(0, assert(io.open(dir .. "/r." .. fmt)):seek("end"))
      local tool = fmt == "gzip" and "gzip -dc" or "zstd -qdc"
      assert.are.equal("0", (h.sh(string.format("%s < %s | wc -c", tool, h.shq(ck))):gsub("%s", "")))
    end
    img:close()
    h.sh("rm -rf " .. h.shq(dir))
  end)
end)
