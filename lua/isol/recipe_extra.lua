--- The parts of isol.recipe that a plain recipe never uses, loaded on
-- first use: the `time` and `keep_fds` fields (declared with recipe.lazy,
-- so they keep their place in the validation order) and explicit id maps
-- (`user.uid_map`, `user.gid_map`).
-- @module isol.recipe_extra
local recipe = require "isol.recipe"
local util = require "isol.util"

local M = {}

--- Check `user.uid_map` or `user.gid_map`: a list of {inside, outside,
-- count} (or {inside=, outside=, count=}) ids; returns the normalized list.
function M.check_idmap(v, path)
  util.check_type(path, v, "table")
  local out = {}
  for i, range in ipairs(v) do
    local p = string.format("%s[%d]", path, i)
    util.check_type(p, range, "table")
    local a, b, c = range[1] or range.inside, range[2] or range.outside, range[3] or range.count or 1
    for j, x in ipairs { a, b, c } do
      if math.type(x) ~= "integer" or x < 0 or x > 0xffffffff then
        util.fail(p, "expected {inside, outside, count} ids, got %s at position %d", util.show(x), j)
      end
    end
    if c == 0 then util.fail(p, "count must be at least 1") end
    out[i] = { a, b, c }
  end
  if #out == 0 then util.fail(path, "expected at least one range") end
  return out
end

recipe.define("time", {
  doc = 'time namespace offsets in seconds: {monotonic=, boottime=} (needs "time")',
  check = function(v, path)
    util.check_type(path, v, "table")
    util.check_keys(path, v, { monotonic = true, boottime = true })
    for _, k in ipairs { "monotonic", "boottime" } do
      if v[k] ~= nil and math.type(v[k]) ~= "integer" then
        util.fail(path .. "." .. k, "expected whole seconds, got %s", util.show(v[k]))
      end
    end
    return { monotonic = v.monotonic or 0, boottime = v.boottime or 0 }
  end,
  plan = function(v, plan) plan.time = v end,
})

--- isol.recipe.check_keep_fds: a list of fds >= 3 (recipe field keep_fds,
-- spawn option keep_fds); returns a copy.
function M.check_keep_fds(v, path)
  util.check_type(path, v, "table")
  if not util.is_list(v) then util.fail(path, "expected a list of fds") end
  for i, fd in ipairs(v) do
    if math.type(fd) ~= "integer" or fd < 3 or fd > 0x7fffffff then
      util.fail(string.format("%s[%d]", path, i), "expected an fd >= 3, got %s", util.show(fd))
    end
  end
  return util.copy_list(v)
end

recipe.define("keep_fds", {
  doc = "extra file descriptors passed into the sandbox (all others are closed)",
  check = M.check_keep_fds,
  plan = function(v, plan) plan.keep_fds = v end,
})

return M
