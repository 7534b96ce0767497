-- The sweep the cluster examples shard: memory.max x cpu.quota for a small
-- allocate-and-compute program, 3 runs per combination (4 x 3 = 12
-- combinations; with --shard K/3 each machine runs 4 of them).
--
--   isol sweep examples/cluster/sweep.lua                       -- all here
--   isol sweep examples/cluster/sweep.lua --shard 2/3 --json shard-2.json
--   isol sweep --merge shard-*.json --csv all.csv --plot all.svg
--
-- Every shard must run this same file (recipe, command, vary and runs are
-- hashed into each result file; --merge refuses shards of another spec).
return {
  recipe = { namespaces = { "user", "pid", "mount", "ipc", "uts" }, user = { map_root = true } },
  command = { "lua5.4", "-e", [[
    local s = string.rep("x", 24 * 1024 * 1024)
    local n = 0
    for i = 1, 40000000 do n = n + i % 7 end
    print(#s, n)]] },
  vary = {
    { "limits.memory.max", { "16M", "32M", "64M", "128M" } },
    { "limits.cpu.quota", { "25%", "50%", "100%" } },
  },
  runs = 3,
  timeout = 120,
}
