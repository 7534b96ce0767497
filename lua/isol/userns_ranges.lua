--- Subordinate id ranges (/etc/subuid, /etc/subgid) and the maps that go
-- through newuidmap/newgidmap: isol.userns's functions for `user.map_range`
-- and explicit maps beyond the caller's own ids, loaded on first use (a
-- plain recipe needs none of them). isol.userns forwards to them.
-- @module isol.userns_ranges
local core = require "isol.core"
local userns = require "isol.userns"

local M = {}

--- isol.userns.subid_ranges: every subordinate range of user `name` (or
-- of its numeric id) in `file`, a list of {start, count}.
function M.subid_ranges(file, name, id)
  local out = {}
  local f = io.open(file, "r")
  if not f then return out end
  for line in f:lines() do
    local who, start, count = line:match("^%s*([^:#%s]+):(%d+):(%d+)%s*$")
    if who and (who == name or who == tostring(id)) then
      start, count = math.tointeger(tonumber(start)), math.tointeger(tonumber(count))
      if start and count and count > 0 then out[#out + 1] = { start, count } end
    end
  end
  f:close()
  return out
end

--- isol.userns.user_name: the name of user id `uid` in /etc/passwd, or nil.
function M.user_name(uid)
  for line in io.lines("/etc/passwd") do
    local name, id = line:match("^([^:]*):[^:]*:(%d+):")
    if id and tonumber(id) == uid then return name end
  end
  return nil
end

--- isol.userns.caller_ranges: the caller's ranges and the name they were
-- looked up under.
function M.caller_ranges()
  local uid = core.ids()
  local name = M.user_name(uid) or tostring(uid)
  return {
    uid = userns.subid_ranges(userns.SUBID_FILES.uid, name, uid),
    gid = userns.subid_ranges(userns.SUBID_FILES.gid, name, uid),
  }, name
end

--- isol.userns.range_maps: the uid and gid maps of `user.map_range`.
function M.range_maps()
  local uid, gid = core.ids()
  local ranges = userns.caller_ranges()
  local own = { uid = uid, gid = gid }
  local maps = {}
  for _, k in ipairs { "uid", "gid" } do
    local m = { { 0, own[k], 1 } }
    local r = ranges[k][1]
    if r then m[2] = { 1, r[1], math.min(r[2], userns.RANGE_MAX) } end
    maps[k] = m
  end
  return maps.uid, maps.gid
end

--- isol.userns.outside_ranges: the first entry of `map` allowed neither as
-- the caller's own id nor by `ranges`, or nil.
function M.outside_ranges(map, own, ranges)
  for _, e in ipairs(map or {}) do
    local ok = e[2] == own and e[3] == 1
    for _, r in ipairs(ranges) do
      if e[2] >= r[1] and e[2] + e[3] <= r[1] + r[2] then ok = true end
    end
    if not ok then return e end
  end
  return nil
end

return M
