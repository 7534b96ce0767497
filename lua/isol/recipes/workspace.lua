--- `workspace{dir=, target=, readonly=}`: a host directory the command may
-- write (a build tree, a job's output directory), bound at `target`
-- (default "/work", also the working directory) with `nofollow`: no
-- symlink anywhere in `dir` is followed, so a link that an earlier run
-- planted inside a workspace cannot redirect this bind to a private host
-- directory. nosuid and nodev as well.
--
-- With `untrusted` (or `user.map_root = "unprivileged"`) run by root, the
-- command's root is an unprivileged host id: the workspace must be
-- writable by that id (`isol.security.root_map()` gives the maps).
-- A writable workspace joins the Landlock write list (`landlock.write`), so
-- that it stays writable next to `untrusted`'s Landlock rules; on its own,
-- that list makes the workspace the only place (with the other entries of
-- the list) the command can write to.
--
--     isol.recipe.extend(isol.recipes.untrusted(), isol.recipes.workspace { dir = "/srv/job/42" })
-- @module isol.recipes.workspace
local util = require "isol.util"

--- Build the recipe.
-- @tparam table p {dir=, target=, readonly=}
-- @treturn table a plain recipe table
return function(p)
  util.check_type("workspace", p, "table")
  util.check_keys("workspace", p, { dir = true, target = true, readonly = true })
  for _, k in ipairs { "dir", "target" } do
    local v = p[k]
    if v ~= nil and (type(v) ~= "string" or v:sub(1, 1) ~= "/" or v:find("\0", 1, true)) then
      util.fail("workspace." .. k, "expected an absolute path, got %s", util.show(v))
    end
  end
  if p.dir == nil then util.fail("workspace.dir", "required") end
  if p.readonly ~= nil then util.check_type("workspace.readonly", p.readonly, "boolean") end
  local target = p.target or "/work"
  return {
    namespaces = { "mount" },
    mounts = { { type = "bind", source = p.dir, target = target, nofollow = true, nosuid = true,
      nodev = true, readonly = p.readonly or nil } },
    cwd = target,
    landlock = not p.readonly and { write = { target } } or nil,
  }
end
