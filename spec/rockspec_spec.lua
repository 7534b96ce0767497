-- `luarocks make rockspec/isol-scm-1.rockspec` installs a working module
-- into a tree, from which `require "isol"` works without the source tree.
local h = require "support.helpers"

describe("rockspec", function()
  it("installs into a temporary tree and the module works from there", function()
    local tree = h.sh("mktemp -d /tmp/isol-rocktree.XXXXXX"):gsub("%s+$", "")
    -- --deps-mode=none: lua-cjson, the one dependency, is Debian's lua-cjson
    -- here (.ci/deps), which luarocks does not see; this spec runs offline
    local out, ok = h.sh(string.format(
      "luarocks --lua-version 5.4 --tree %s make --deps-mode=none rockspec/isol-scm-1.rockspec 2>&1", tree))
    assert(ok, out)
    local check = string.format([[cd / && LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' \
      LUA_CPATH='%s/lib/lua/5.4/?.so' lua5.4 -e '
      local isol = require "isol"
      assert(package.searchpath("isol.core", package.cpath):find("%s", 1, true))
      local st, out = isol.run({ namespaces = { "user", "uts" }, user = { map_root = true }, hostname = "rock" },
        { "hostname" }, { capture = true })
      io.write(isol._VERSION, " ", out)' 2>&1]], tree, tree, tree, tree)
    local res, ok2 = h.sh(check)
    h.sh("rm -rf " .. tree)
    assert(ok2, res)
    assert.matches("^isol %d+%.%d+%.%d+ rock\n$", res)
  end)
end)

-- From a fresh user account (issue 13): `luarocks --local make` and
-- `make install PREFIX=$HOME/.local` without root, then the installed `isol`
-- runs from another directory with no environment set up (the launcher
-- knows where it was installed).
describe("installation as an ordinary user #root", function()
  local user = "isolri" .. require("isol.core").getpid() % 100000
  local src, home

  local function as_user(cmd)
    return h.sh(string.format("runuser -u %s -- env -i HOME=%s PATH=/usr/bin:/bin sh -c %s 2>&1", user, home,
      h.shq(cmd)))
  end

  setup(function()
    local out, ok = h.sh("useradd -m -s /bin/sh " .. user .. " 2>&1")
    assert(ok, out)
    home = "/home/" .. user
    src = h.sh("mktemp -d /tmp/isol-usersrc.XXXXXX"):gsub("%s+$", "")
    out, ok = h.sh(string.format("cp -R csrc lua bin examples rockspec .ci Makefile %s/ && chown -R %s %s && "
      .. "chmod 755 %s", src, user, src, src))
    assert(ok, out)
  end)

  teardown(function()
    h.sh("userdel -r " .. user .. " 2>/dev/null; rm -rf " .. src)
  end)

  -- the hostname example, copied where the user can read it
  local function check_installed(bin)
    local out, ok = as_user(string.format("cd / && %s run %s/examples/hostname.lua", bin, src))
    assert(ok, out)
    assert.equal("hostname: my-new-hostname, domain: example.internal\n", out)
  end

  it("luarocks --lua-version 5.4 --local make, then the installed isol run works from /", function()
    local out, ok = as_user(string.format("cd %s && luarocks --lua-version 5.4 --local make --deps-mode=none "
      .. "rockspec/isol-scm-1.rockspec", src))
    assert(ok, out)
    check_installed(home .. "/.luarocks/bin/isol")
  end)

  it("make install PREFIX=$HOME/.local, then the installed isol run works from /", function()
    local out, ok = as_user(string.format("cd %s && make -s clean >/dev/null 2>&1; make -s install ISOL_NO_DEPS=1 "
      .. "PREFIX=$HOME/.local", src))
    assert(ok, out)
    check_installed(home .. "/.local/bin/isol")
    -- the modules of `isol run` come from the installed bundle (stripped
    -- bytecode: no source name), a module edited after the install from
    -- its source
    local probe = src .. "/probe.lua"
    local f = assert(io.open(probe, "w"))
    f:write('io.write(debug.getinfo(require("isol.recipe").validate, "S").source, "\\n")')
    f:close()
    out, ok = as_user(string.format("cd / && %s/.local/bin/isol run %s", home, probe))
    assert(ok, out)
    assert.are.equal("=?\n", out)
    out, ok = as_user(string.format("sleep 0.01; echo '-- edited' >> %s/.local/share/lua/5.4/isol/recipe.lua && "
      .. "cd / && %s/.local/bin/isol run %s", home, home, probe))
    assert(ok, out)
    assert.are.equal("@" .. home .. "/.local/share/lua/5.4/isol/recipe.lua\n", out)
    -- it prefers its own modules to others on LUA_PATH
    out, ok = as_user(string.format("cd / && LUA_PATH='/nonexistent/?.lua' %s/.local/bin/isol --version", home))
    assert(ok, out)
    assert.matches("^isol %d+%.%d+%.%d+\n$", out)
  end)
end)
