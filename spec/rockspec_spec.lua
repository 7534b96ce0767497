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
