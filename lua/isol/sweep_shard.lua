--- Sharded sweeps: run a slice of a sweep's combinations on each of N
-- machines (a Kubernetes Indexed Job, a Slurm job array; see
-- examples/cluster/), then merge the slices' JSON files into the results
-- of one unsharded run.
--
--     isol.sweep { ..., shard = { 2, 3 } }     -- the 2nd of 3 slices
--     isol sweep SPEC.lua --shard 2/3 --json part2.json
--     isol sweep --merge part1.json part2.json part3.json --csv all.csv
--
-- Shards are numbered from 1 (`K/N` with 1 <= K <= N; a 0-based index
-- such as Kubernetes' JOB_COMPLETION_INDEX needs +1). Combination i of the
-- sweep's stable order (the cartesian product, first axis slowest) belongs
-- to shard ((i - 1) % N) + 1: round robin, so every shard gets a similar
-- mix of small and large limits, and each combination is in exactly one
-- shard; a combination's runs stay together.
--
-- Every results file (`res:json`) records `spec_hash`, a hash of the
-- spec's recipe, command, vary (axes in order, with their values) and runs
-- over a canonical serialisation (sorted keys, typed values): FNV-1a 64,
-- meant to catch mistakes (a shard of another spec), not an adversary.
-- `merge` refuses files of different specs, of different shard counts, a
-- shard given twice and a missing shard, naming them.
-- @module isol.sweep_shard
local util = require "isol.util"
local results = require "isol.sweep_results"

local M = {}

-- ------------------------------------------------------------ K/N

--- Check a shard given as { k, n } (or { k = , n = }); raises naming
-- `where`. Returns k, n.
function M.check(v, where)
  where = where or "sweep.shard"
  util.check_type(where, v, "table")
  local k, n = v.k or v[1], v.n or v[2]
  if math.type(n) ~= "integer" or n < 1 then
    util.fail(where, "expected { K, N } with an integer N >= 1 (shards are numbered 1..N), got N = %s", util.show(n))
  end
  if math.type(k) ~= "integer" or k < 1 or k > n then
    util.fail(where, "expected { K, N } with an integer K in 1..%d (shards are numbered from 1), got K = %s", n,
      util.show(k))
  end
  return k, n
end

--- Parse "K/N" (the CLI's `--shard`); returns k, n or nil, message.
function M.parse(s)
  local k, n = tostring(s):match("^(%d+)/(%d+)$")
  k, n = math.tointeger(tonumber(k)), math.tointeger(tonumber(n))
  if not k or not n then return nil, string.format("--shard: expected K/N like 2/3, got %s", s) end
  if n < 1 then return nil, string.format("--shard: N must be >= 1, got %s", s) end
  if k < 1 or k > n then
    return nil, string.format("--shard: K must be in 1..%d (shards are numbered from 1; a 0-based index needs +1), "
      .. "got %s", n, s)
  end
  return k, n
end

--- Whether combination `index` (1-based, in the sweep's order) is in shard k of n.
function M.mine(index, k, n)
  return (index - 1) % n == k - 1
end

--- The combinations of shard { k, n } (all of them when `shard` is nil),
-- in order.
function M.select(combos, shard)
  if not shard then return combos end
  local out = {}
  for i, c in ipairs(combos) do
    if M.mine(i, shard.k, shard.n) then out[#out + 1] = c end
  end
  return out
end

-- ------------------------------------------------------------ hash

--- A canonical text for plain data: tables with sorted keys (typed),
-- integers and floats told apart, strings quoted.
function M.canonical(v, seen)
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t == "number" then
    if math.type(v) == "integer" then return "i" .. v end
    return "f" .. string.format("%.17g", v)
  end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t ~= "table" then return "<" .. t .. ">" end
  seen = seen or {}
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = M.canonical(k, seen) .. "=" .. M.canonical(v[k], seen) end
  seen[v] = nil
  return "{" .. table.concat(parts, ",") .. "}"
end

--- FNV-1a, 64 bits (Lua integers wrap), as 16 hex digits.
function M.fnv1a64(s)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 1099511628211 -- 0x100000001b3
  end
  return string.format("%016x", h)
end

--- The hash of a spec's recipe (source table), command (argv or nil),
-- axes ({ { path, values }, ... } in order) and runs.
function M.spec_hash(recipe, command, axes, runs)
  local text = M.canonical { recipe = recipe, command = command or false, vary = axes, runs = runs }
  return "fnv1a64:" .. M.fnv1a64(text)
end

-- ------------------------------------------------------------ merge

-- JSON null and the floats lua-cjson gives for integers, back to Lua values.
local function plain(v, null)
  if v == null then return nil end
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = plain(x, null) end
  return out
end

-- A results file, decoded; or nil, message.
local function load(path)
  local f, msg = io.open(path, "r")
  if not f then return nil, "sweep merge: " .. msg end
  local text = f:read("a")
  f:close()
  local cjson = require("cjson").new()
  local ok, t = pcall(cjson.decode, text)
  if not ok or type(t) ~= "table" then
    return nil, string.format("sweep merge: %s: not a sweep results file (JSON: %s)", path, ok and type(t) or t)
  end
  t = plain(t, cjson.null)
  if type(t.rows) ~= "table" or type(t.paths) ~= "table" then
    return nil, string.format("sweep merge: %s: not a sweep results file (no paths and rows)", path)
  end
  return t
end

-- Results (from isol.sweep or a decoded file) as { name=, paths=, runs=,
-- rows=, spec_hash=, shard = {k=,n=}, combinations=, interrupted= }.
local function describe(x, name)
  local rows = {}
  if getmetatable(x) == results.Results then
    for i, r in ipairs(x) do rows[i] = r end
  else
    for i, r in ipairs(x.rows) do
      r.outcome = nil -- derived again from the fields
      rows[i] = r
    end
  end
  return { name = name, paths = x.paths, runs = x.runs, rows = rows, spec_hash = x.spec_hash,
    shard = x.shard or { k = 1, n = 1 }, combinations = x.combinations, interrupted = x.interrupted or nil,
    total = x.total or #rows }
end

--- Merge shard results into the results of one unsharded run.
-- `list`: file names (JSON written by `res:json` / `isol sweep --json`)
-- or results tables from `isol.sweep{..., shard=}`. Returns the results
-- (rows in the unsharded order), or nil, message naming the file that
-- does not fit: another spec, another shard count, a shard given twice or
-- missing, a row outside its shard.
function M.merge(list)
  util.check_type("sweep.merge", list, "table")
  if #list == 0 then util.fail("sweep.merge", "expected a list of shard files or results, got an empty list") end
  local parts = {}
  for i, x in ipairs(list) do
    local where = string.format("sweep.merge[%d]", i)
    if type(x) == "string" then
      local t, msg = load(x)
      if not t then return nil, msg end
      parts[i] = describe(t, x)
    elseif type(x) == "table" then
      parts[i] = describe(x, string.format("results #%d", i))
    else
      util.fail(where, "expected a file name or sweep results, got %s", util.show(x))
    end
  end
  local first = parts[1]
  local n = first.shard.n
  local by_k = {}
  for _, p in ipairs(parts) do
    if not p.spec_hash then
      return nil, string.format("sweep merge: %s has no spec_hash (written by an isol without sharding?)", p.name)
    end
    if p.spec_hash ~= first.spec_hash then
      return nil, string.format("sweep merge: %s is from a different sweep spec than %s (spec hash %s, not %s): "
        .. "recipe, command, vary or runs differ", p.name, first.name, p.spec_hash, first.spec_hash)
    end
    if p.shard.n ~= n then
      return nil, string.format("sweep merge: %s is shard %d/%d but %s is shard %d/%d: different shard counts",
        p.name, p.shard.k, p.shard.n, first.name, first.shard.k, n)
    end
    local k = p.shard.k
    if by_k[k] then
      return nil, string.format("sweep merge: shard %d/%d given twice (%s and %s)", k, n, by_k[k].name, p.name)
    end
    by_k[k] = p
    for j, r in ipairs(p.rows) do
      if math.type(r.combo) ~= "integer" or not M.mine(r.combo, k, n) then
        return nil, string.format("sweep merge: %s: row %d (combination %s) is not in shard %d/%d", p.name, j,
          tostring(r.combo), k, n)
      end
    end
  end
  local missing = {}
  for k = 1, n do
    if not by_k[k] then missing[#missing + 1] = string.format("%d/%d", k, n) end
  end
  if #missing > 0 then
    return nil, string.format("sweep merge: shard%s %s missing (given: %d of %d)", #missing > 1 and "s" or "",
      table.concat(missing, ", "), #parts, n)
  end
  local rows, total = {}, 0
  for _, p in ipairs(parts) do
    for _, r in ipairs(p.rows) do rows[#rows + 1] = r end
    total = total + p.total
  end
  table.sort(rows, function(a, b)
    if a.combo ~= b.combo then return a.combo < b.combo end
    return (a.run or 0) < (b.run or 0)
  end)
  local res = results.new(first.paths, first.runs, total)
  for i, r in ipairs(rows) do res[i] = r end
  res.spec_hash = first.spec_hash
  res.combinations = first.combinations
  for _, p in ipairs(parts) do
    if p.interrupted and not res.interrupted then res.interrupted = p.interrupted end
  end
  return res
end

return M
