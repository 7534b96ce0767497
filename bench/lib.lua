-- bench/lib.lua: what every bench/*/run shares: medians, and the rows of
-- issue 16's table, each with its target and a verdict (PASS/MISS), printed
-- and written to bench/out/<bench>.rows for the summary `make bench` prints
-- at the end (bench/summary).
local M = {}

function M.median(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  local n = #c
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return c[(n + 1) // 2] end
  return (c[n // 2] + c[n // 2 + 1]) / 2
end

--- The order of one round's contenders: 1..n in a new random order each
-- call. A fixed rotation keeps each contender behind the same other one
-- every round, and what that one leaves behind (a namespace or cgroup the
-- kernel is still tearing down on the other CPU) is then paid by the same
-- contender every time: a bias no median removes. Seeded once, so that a
-- run can be repeated.
local seeded = false
function M.order(n)
  if not seeded then
    math.randomseed(16)
    seeded = true
  end
  local t = {}
  for i = 1, n do t[i] = i end
  for i = n, 2, -1 do
    local j = math.random(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

local rows_file
--- Open bench/out/<name>.rows (emptied) for this bench's rows.
function M.rows(out_dir, name)
  os.execute("mkdir -p " .. out_dir)
  rows_file = assert(io.open(out_dir .. "/" .. name .. ".rows", "w"))
end

--- One row of the table: `value` against `target` (value <= target
-- passes); `figure` is the text shown (e.g. "1.18x (3.1 ms vs 2.6 ms)").
-- `order` sorts the summary (the issue's row order).
function M.row(order, measure, figure, value, target, unit)
  local ok = value == value and value <= target
  -- a miss that two decimals would round onto the target shows three
  local digits = string.format("%.2f", value) == string.format("%.2f", target) and "%.3f" or "%.2f"
  local line = string.format("%-64s %-40s <= %s%s  %s", measure, figure, tostring(target), unit or "x",
    ok and "PASS" or string.format("MISS (" .. digits .. "%s, %.1f%% over)", value, unit or "x",
      (value / target - 1) * 100))
  print("  ROW " .. line)
  if rows_file then
    rows_file:write(string.format("%02d\t%s\n", order, line))
    rows_file:flush()
  end
  return ok
end

--- A row without a target (peers, extra ratios).
function M.info(order, measure, figure)
  local line = string.format("%-64s %-40s", measure, figure)
  print("  ROW " .. line)
  if rows_file then
    rows_file:write(string.format("%02d\t%s\n", order, line))
    rows_file:flush()
  end
end

return M
