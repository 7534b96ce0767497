-- Sweep charts (isol.sweep_plot, res:plot, --plot), table bars, and sharded
-- sweeps (shard = {K, N}, --shard, merge).
local isol = require "isol"
local sweep = require "isol.sweep"
local results = require "isol.sweep_results"
local plot = require "isol.sweep_plot"
local h = require "support.helpers"
local leak = require "support.leak"

local BASE = { namespaces = { "user", "uts" }, user = { map_root = true } }

-- Temporary names, removed after each test (also when it fails).
local made = {}
local function tmp(suffix)
  local f = os.tmpname()
  os.remove(f)
  made[#made + 1] = f .. (suffix or "")
  return made[#made]
end
local function remove_made()
  for _, f in ipairs(made) do
    if f:match("^/tmp/isol%-cluster%-spec%.") then h.sh("rm -rf " .. h.shq(f)) else os.remove(f) end
  end
  made = {}
end

-- A temporary spec file with `src`; its name.
local function spec_file(src)
  local f = tmp(".lua")
  local fh = assert(io.open(f, "w"))
  fh:write(src)
  fh:close()
  return f
end

-- The series of an SVG gnuplot wrote: { {title=, body=}, ... } in order;
-- a body runs to the </g> that closes its <g id="gnuplot_plot_N"> group.
local function series(svg)
  local out = {}
  local pos = 1
  while true do
    local s, e, title = svg:find('<g id="gnuplot_plot_%w+" ><title>(.-)</title>', pos)
    if not s then break end
    local depth, at = 1, e + 1
    while depth > 0 do
      local o = svg:find("<g[%s>]", at)
      local c = assert(svg:find("</g>", at, true), "unclosed group " .. title)
      if o and o < c then depth, at = depth + 1, o + 2
      else depth, at = depth - 1, c + 4 end
    end
    out[#out + 1] = { title = title, body = svg:sub(e + 1, at - 1) }
    pos = e + 1
  end
  return out
end

local function count(s, pat)
  local _, n = s:gsub(pat, "")
  return n
end

-- Marks of the series titled `title` (every panel), by SVG pattern.
local function marks(svg, title, pat)
  local n, found = 0, 0
  for _, s in ipairs(series(svg)) do
    if s.title == title then
      found = found + 1
      n = n + count(s.body, pat)
    end
  end
  return n, found
end

local DOT = "xlink:href='#gpPt6'" -- pt 7, a filled circle: one per measured combination
local CROSS = "xlink:href='#gpPt1'" -- pt 2, a cross: one per failed combination

local function by_gnuplot(svg)
  assert.matches("<desc>Produced by GNUPLOT [%d.]+", svg)
end

describe("sweep charts (gnuplot) #plot", function()
  after_each(remove_made)

  it("a one-axis sweep: a line chart with one median mark per combination and the axis named", function()
    local snap = leak.snapshot()
    local res = isol.sweep { recipe = BASE, command = { "/bin/sh", "-c", "sleep 0.0$N" },
      vary = { ["env.N"] = { "1", "2", "4", "8" } }, runs = 3 }
    local f = tmp(".svg")
    assert.is_true(res:plot(f, { quantity = "wall" }))
    local svg = assert(h.read(f))
    os.remove(f)
    by_gnuplot(svg)
    assert.matches("<text>env.N</text>", svg, 1, true)
    assert.matches("<text>wall time (s)</text>", svg, 1, true)
    for _, v in ipairs { "1", "2", "4", "8" } do assert.matches("<text>" .. v .. "</text>", svg, 1, true) end
    local n, panels = marks(svg, "median (min-max)", DOT)
    assert.equal(1, panels)
    assert.equal(4, n)
    assert.equal(0, select(2, marks(svg, "failed", CROSS))) -- nothing failed: no failed series
    leak.assert_clean(snap)
  end)

  it("failed combinations get a cross (counted) and their outcome", function()
    local res = isol.sweep { recipe = BASE, command = { "/bin/sh", "-c", 'case "$(hostname)" in c|e) exit 3;; esac' },
      vary = { hostname = { "a", "b", "c", "d", "e" } }, runs = 2 }
    local f = tmp(".svg")
    assert.is_true(res:plot(f))
    local svg = h.read(f)
    os.remove(f)
    by_gnuplot(svg)
    assert.equal(5, (marks(svg, "median (min-max)", DOT)))
    assert.equal(2, (marks(svg, "failed", CROSS)))
    local _, outcome = marks(svg, "outcome", "")
    assert.equal(1, outcome)
    assert.equal(2, (marks(svg, "outcome", ">exit 3<")))
    -- a category axis: the values as tic labels
    assert.matches("<text>hostname</text>", svg, 1, true)
    assert.matches("<text>e</text>", svg, 1, true)
  end)

  it("a two-axis sweep: a heatmap with one value per combination, failures crossed", function()
    local res = isol.sweep { recipe = BASE,
      command = { "/bin/sh", "-c", 'test "$(hostname)" = c && test "$N" = 2 && exit 4; true' },
      vary = { { "hostname", { "a", "b", "c" } }, { "env.N", { "1", "2" } } } }
    local f = tmp(".svg")
    assert.is_true(res:plot(f, { quantity = "wall" }))
    local svg = h.read(f)
    os.remove(f)
    by_gnuplot(svg)
    assert.matches("<text>hostname</text>", svg, 1, true)
    assert.matches("<text>env.N</text>", svg, 1, true)
    assert.equal(6, (marks(svg, "values", "<text>")))
    assert.equal(6, (marks(svg, "cells", "<polygon")))
    assert.equal(1, (marks(svg, "failed", CROSS)))
    assert.equal(1, (marks(svg, "values", ">exit 4<")))
  end)

  it("every measured quantity gets a panel; one axis of a 3-axis sweep draws a line per other combination", function()
    local res = isol.sweep { recipe = BASE, command = { "true" },
      vary = { { "hostname", { "a", "b" } }, { "env.A", { "1", "2" } }, { "env.B", { "x", "y", "z" } } } }
    local f = tmp(".svg")
    local ok, msg = res:plot(f)
    assert.is_nil(ok)
    assert.matches("3 axes varied (hostname, env.A, env.B): choose one or two", msg, 1, true)
    assert.matches("--plot-axes", msg, 1, true)
    ok, msg = res:plot(f, { axes = { "hostname", "env.B" } })
    assert.is_nil(ok)
    assert.matches("cannot show the other axes", msg, 1, true)
    assert.has_error(function() res:plot(f, { axes = { "nope" } }) end,
      'plot opts.axes[1]: "nope" is not a varied path (varied: hostname, env.A, env.B)')
    assert.has_error(function() res:plot(f, { quantity = "speed" }) end)
    assert.is_true(res:plot(f, { axes = { "env.B" }, quantity = "wall" }))
    local svg = h.read(f)
    os.remove(f)
    -- 2 x 2 lines of 3 points each
    for _, key in ipairs { "hostname=a env.A=1", "hostname=a env.A=2", "hostname=b env.A=1", "hostname=b env.A=2" } do
      local n, lines = marks(svg, "median (min-max) " .. key, DOT)
      assert.equal(1, lines, key)
      assert.equal(3, n, key)
    end
    assert.matches("<text>env.B</text>", svg, 1, true)
  end)

  it("with a cgroup, one SVG with a panel per measured quantity #root", function()
    local snap = leak.snapshot()
    local res = isol.sweep { recipe = { namespaces = { "user", "pid" }, user = { map_root = true } },
      command = { "lua5.4", "-e", 'local s = string.rep("x", 24 * 1024 * 1024) print(#s)' },
      vary = { ["limits.memory.max"] = { "8M", "128M" } }, timeout = 60 }
    local f = tmp(".svg")
    assert.is_true(res:plot(f))
    local svg = h.read(f)
    os.remove(f)
    local quantities = 0
    for _, q in ipairs(plot.QUANTITIES) do
      for _, g in ipairs(res:summary()) do
        if g.rows[1][q.key] then quantities = quantities + 1 break end
      end
    end
    assert.is_true(quantities >= 2, "a cgroup sweep measures more than wall time")
    local n, panels = marks(svg, "median (min-max)", DOT)
    assert.equal(quantities, panels)
    assert.equal(2 * quantities, n)
    assert.equal(quantities, (marks(svg, "failed", CROSS))) -- 8M is OOM-killed: one cross per panel
    assert.matches("<text>8M</text>", svg, 1, true) -- sizes placed as numbers, labelled as written
    assert.matches("<text>memory peak (MiB)</text>", svg, 1, true)
    leak.assert_clean(snap)
  end)

  it("a list of quantities in its order, and a title over the panels", function()
    local res = results.new({ "hostname" }, 1, 2)
    res[1] = { vary = { hostname = "a" }, run = 1, code = 0, wall = 0.5, mem_peak = 4 * 1048576, cpu_usec = 10 }
    res[2] = { vary = { hostname = "b" }, run = 1, code = 0, wall = 0.25, mem_peak = 8 * 1048576, cpu_usec = 20 }
    local f = tmp(".svg")
    assert.is_true(res:plot(f, { quantity = { "mem_peak", "wall" }, title = "two_panels 50%" }))
    local svg = h.read(f)
    os.remove(f)
    local mem = svg:find("<text>memory peak (MiB)</text>", 1, true)
    local wall = svg:find("<text>wall time (s)</text>", 1, true)
    assert.truthy(mem and wall and mem < wall, "memory first, then wall")
    assert.is_nil(svg:find("CPU time", 1, true))
    assert.matches("<text>two_panels 50%</text>", svg, 1, true)
    assert.equal(2, select(2, marks(svg, "median (min-max)", DOT)))
    assert.has_error(function() res:plot(f, { quantity = { "wall", "speed" } }) end,
      'plot opts.quantity[2]: unknown quantity "speed" (known: wall, cpu_usec, throttled_usec, mem_peak, oom_kills)')
    local ok, msg = res:plot(f, { quantity = "oom_kills" })
    assert.is_nil(ok)
    assert.matches("no run measured oom_kills", msg, 1, true)
  end)

  it("draws search probes (the limit at each step, ok or not)", function()
    local f = tmp(".svg")
    assert.is_true(plot.probes(f, { { value = "64M", ok = true }, { value = "16M", ok = false, outcome = "oom" },
      { value = "32M", ok = true }, { value = "24M", ok = true } }, { axis = "limits.memory.max" }))
    local svg = h.read(f)
    os.remove(f)
    by_gnuplot(svg)
    assert.equal(3, (marks(svg, "ok", DOT)))
    assert.equal(1, (marks(svg, "failed", CROSS)))
    assert.matches("<text>limits.memory.max</text>", svg, 1, true)
    assert.matches(">oom<", svg, 1, true)
  end)

  it("values reach gnuplot as quoted strings only: no command or file from them", function()
    local marker = tmp()
    local res = isol.sweep { recipe = BASE, command = { "true" },
      vary = { ["env.X"] = { "a'b", 'q"q', "`touch " .. marker .. "`", "x\nset output '" .. marker .. "'",
        "\1p1l1\1", "50%" } } }
    local f = tmp(".svg")
    assert.is_true(res:plot(f))
    local svg = h.read(f)
    os.remove(f)
    assert.is_nil(h.read(marker))
    assert.matches("<text>a'b</text>", svg, 1, true)
    assert.equal(6, (marks(svg, "median (min-max)", DOT)))
    assert.has_error(function() res:plot("a\nb.svg") end)
  end)

  it("without gnuplot: the documented error, before a CLI sweep runs", function()
    local out, ok = h.lua([[
      local isol = require "isol"
      local res = isol.sweep { recipe = { namespaces = { "uts" } }, command = { "true" } }
      print(res:plot("/tmp/never.svg"))]], "ISOL_GNUPLOT=/nonexistent")
    assert.is_true(ok, out)
    assert.matches("nil\tgnuplot not found: install Debian's gnuplot-nox", out, 1, true)
    local spec = spec_file(
      [[return { recipe = { namespaces = { "uts" } }, command = { "true" }, vary = { hostname = { "a" } } }]])
    local lua = h.sh("command -v " .. h.lua_bin):gsub("%s+$", "")
    local text, ok2, code = h.sh("env PATH=/nonexistent " .. lua .. " bin/isol sweep " .. spec
      .. " --plot /tmp/never.svg 2>&1")
    os.remove(spec)
    assert.is_falsy(ok2)
    assert.equal(1, code)
    assert.matches("isol: gnuplot not found: install Debian's gnuplot-nox (no gnuplot in PATH)", text, 1, true)
    assert.is_nil(text:find("runs", 1, true)) -- nothing ran
  end)

  it("isol sweep --plot writes the chart", function()
    local spec = spec_file([[return { recipe = { namespaces = { "user", "uts" }, user = { map_root = true } },
      command = { "/bin/true" }, vary = { hostname = { "a", "b", "c" } } }]])
    local f = tmp(".svg")
    local out, ok = h.sh("bin/isol sweep -q " .. spec .. " --plot " .. f .. " --quantity wall 2>&1")
    assert.is_true(ok, out)
    local svg = h.read(f)
    assert.equal(3, (marks(svg, "median (min-max)", DOT)))
    local _, ok2, code = h.sh("bin/isol sweep -q " .. spec .. " --plot " .. f .. " --plot-axes env.X 2>&1")
    assert.is_falsy(ok2)
    assert.equal(1, code)
    for _, x in ipairs { spec, f } do os.remove(x) end
  end)
end)

describe("sweep table bars", function()
  after_each(remove_made)

  local function fake()
    local res = results.new({ "hostname" }, 1, 3)
    for i, v in ipairs { "a", "b", "c" } do
      res[i] = { vary = { hostname = v }, run = 1, code = 0, wall = ({ 0.5, 1.0, 0.25 })[i] }
    end
    return res
  end

  it("a bar per row scaled to the largest, in unicode blocks", function()
    local text = fake():format { bars = "wall" }
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("bar: wall$", lines[1])
    assert.matches(" " .. string.rep("\u{2588}", 6) .. "$", lines[3])
    assert.matches(" " .. string.rep("\u{2588}", 12) .. "$", lines[4])
    assert.matches(" " .. string.rep("\u{2588}", 3) .. "$", lines[5])
    assert.not_matches("bar", fake():format())
    assert.has_error(function() fake():format { bars = "speed" } end)
  end)

  it("on a terminal only, and not with --no-bars #root", function()
    if h.sh("command -v script") == "" then
      pending("script(1) from util-linux is needed to give the sweep a terminal")
      return
    end
    local spec = spec_file([[return { recipe = { namespaces = { "user", "uts" }, user = { map_root = true } },
      command = { "/bin/true" }, vary = { hostname = { "a", "b" } } }]])
    local out = h.sh("script -qec " .. h.shq("bin/isol sweep -q " .. spec) .. " /dev/null")
    assert.matches("bar: wall", out, 1, true)
    assert.matches("\u{2588}", out, 1, true)
    out = h.sh("script -qec " .. h.shq("bin/isol sweep -q --no-bars " .. spec) .. " /dev/null")
    assert.not_matches("bar: wall", out, 1, true)
    out = h.sh("bin/isol sweep -q " .. spec)
    assert.not_matches("bar: wall", out, 1, true)
    os.remove(spec)
  end)
end)

describe("sharded sweeps", function()
  after_each(remove_made)

  local SPEC = { recipe = BASE, command = { "/bin/sh", "-c", 'test "$(hostname)" = c && exit 5; test "$N" = 3' },
    vary = { { "hostname", { "a", "b", "c" } }, { "env.N", { "1", "3" } } }, runs = 2 }
  local function with(extra)
    local s = {}
    for k, v in pairs(SPEC) do s[k] = v end
    for k, v in pairs(extra or {}) do s[k] = v end
    return s
  end
  -- what must match between runs: combination, run, outcome, code
  local function shape(res)
    local t = {}
    for i, r in ipairs(res) do
      t[i] = string.format("%s/%s#%d %s %s", r.vary.hostname, r.vary["env.N"], r.run, sweep.outcome(r),
        tostring(r.code))
    end
    return t
  end

  it("3 shards merged equal the unsharded run: combinations, order and statuses", function()
    local snap = leak.snapshot()
    local whole = isol.sweep(with())
    local parts, files, seen = {}, {}, {}
    for k = 1, 3 do
      parts[k] = isol.sweep(with { shard = { k, 3 } })
      assert.equal(#whole // 3, #parts[k])
      for _, r in ipairs(parts[k]) do
        local key = r.vary.hostname .. r.vary["env.N"]
        assert.is_nil(seen[key .. r.run], "in two shards: " .. key)
        seen[key .. r.run] = true
      end
      files[k] = tmp(".json")
      assert.is_true(parts[k]:json(files[k]))
    end
    local merged = assert(sweep.merge(parts))
    assert.same(shape(whole), shape(merged))
    -- from the files, in any order: the same, and the same table and CSV shape
    local fromfiles = assert(sweep.merge { files[3], files[1], files[2] })
    assert.same(shape(whole), shape(fromfiles))
    assert.equal(whole.spec_hash, fromfiles.spec_hash)
    local function strip(text) return (text:gsub("%d+%.%d+", "T")) end
    local function cols(csv) -- drop the timing columns
      local out = {}
      for l in csv:gmatch("[^\n]+") do out[#out + 1] = l:match("^([^,]*,[^,]*,[^,]*,[^,]*,[^,]*)") end
      return out
    end
    assert.same(cols(whole:csv()), cols(fromfiles:csv()))
    local wl, ml = {}, {}
    for l in strip(whole:format()):gmatch("[^\n]+") do wl[#wl + 1] = l:match("^(.-ok%s+%S+)") or l end
    for l in strip(fromfiles:format()):gmatch("[^\n]+") do ml[#ml + 1] = l:match("^(.-ok%s+%S+)") or l end
    assert.same(wl, ml)
    local js = require("cjson").decode(fromfiles:json())
    assert.equal(12, #js.rows)
    assert.equal(6, js.combinations)
    for _, f in ipairs(files) do os.remove(f) end
    leak.assert_clean(snap)
  end)

  it("refuses shards of another spec, a missing, a repeated shard, another count", function()
    local a = isol.sweep(with { shard = { 1, 2 } })
    local b = isol.sweep(with { shard = { 2, 2 } })
    local other = isol.sweep(with { shard = { 2, 2 }, runs = 1 })
    local third = isol.sweep(with { shard = { 2, 3 } })
    assert.not_equal(a.spec_hash, other.spec_hash)
    assert.equal(a.spec_hash, b.spec_hash)
    local ok, msg = sweep.merge { a, other }
    assert.is_nil(ok)
    assert.matches("results #2 is from a different sweep spec than results #1", msg, 1, true)
    ok, msg = sweep.merge { a }
    assert.is_nil(ok)
    assert.matches("shard 2/2 missing", msg, 1, true)
    ok, msg = sweep.merge { a, b, a }
    assert.is_nil(ok)
    assert.matches("shard 1/2 given twice", msg, 1, true)
    ok, msg = sweep.merge { a, third }
    assert.is_nil(ok)
    assert.matches("results #2 is shard 2/3 but results #1 is shard 1/2", msg, 1, true)
    assert.truthy(sweep.merge { b, a })
  end)

  it("the spec hash covers recipe, command, vary and runs, not the order of keys", function()
    local h1 = sweep.check(with()).spec_hash
    assert.equal(h1, sweep.check(with { timeout = 5 }).spec_hash)
    assert.not_equal(h1, sweep.check(with { command = { "true" } }).spec_hash)
    assert.not_equal(h1, sweep.check(with { recipe = { namespaces = { "uts" } } }).spec_hash)
    assert.not_equal(h1, sweep.check(with { vary = { { "env.N", { "1", "3" } }, { "hostname", { "a", "b", "c" } } } })
      .spec_hash)
    assert.not_equal(h1, sweep.check(with { runs = 3 }).spec_hash)
    local shard = require "isol.sweep_shard"
    assert.equal(shard.canonical { a = 1, b = { 2, "x" } }, shard.canonical { b = { 2, "x" }, a = 1 })
    assert.not_equal(shard.canonical { a = 1 }, shard.canonical { a = 1.0 })
  end)

  it("bad shards are refused naming the field or flag, before anything runs", function()
    for _, bad in ipairs { { 0, 3 }, { 4, 3 }, { 1, 0 }, { 1.5, 3 }, "1/3" } do
      local ok, err = pcall(isol.sweep, with { shard = bad, on_start = function() error("ran") end })
      assert.is_false(ok)
      assert.matches("^sweep.shard: ", err)
    end
    for _, bad in ipairs { "0/3", "4/3", "x", "1/0" } do
      local out, ok, code = h.sh("bin/isol sweep --shard " .. bad .. " /nonexistent.lua 2>&1")
      assert.is_falsy(ok)
      assert.equal(2, code)
      assert.matches("isol: sweep: --shard: ", out, 1, true)
    end
  end)

  it("isol sweep --shard K/N --json, then --merge: the unsharded table and CSV", function()
    local spec = spec_file([[return { recipe = { namespaces = { "user", "uts" }, user = { map_root = true } },
      command = { "/bin/sh", "-c", 'test "$(hostname)" != b' }, vary = { hostname = { "a", "b", "c", "d", "e" } } }]])
    local files = {}
    for k = 1, 3 do
      files[k] = tmp(".json")
      local out, ok = h.sh(string.format("bin/isol sweep -q --shard %d/3 --json %s %s 2>&1", k, files[k], spec))
      assert.is_true(ok, out)
    end
    local csv = tmp(".csv")
    local out, ok = h.sh(string.format("bin/isol sweep --merge %s %s %s --csv %s 2>&1", files[2], files[3], files[1],
      csv))
    assert.is_true(ok, out)
    local names = {}
    for name, outcome in out:gmatch("\n(%a)%s+%d/1 ok%s+(%a+ ?%d*)") do
      names[#names + 1] = name .. "=" .. outcome:gsub("%s+$", "")
    end
    assert.same({ "a=ok", "b=exit 1", "c=ok", "d=ok", "e=ok" }, names)
    local lines = 0
    for _ in h.read(csv):gmatch("[^\n]+") do lines = lines + 1 end
    assert.equal(6, lines)
    local out2, ok2, code = h.sh(string.format("bin/isol sweep --merge %s %s 2>&1", files[1], files[3]))
    assert.is_falsy(ok2)
    assert.equal(1, code)
    assert.matches("isol: sweep merge: shard 2/3 missing", out2, 1, true)
    for _, x in ipairs { spec, csv, files[1], files[2], files[3] } do os.remove(x) end
  end)
end)

describe("examples/cluster: the scripts shard and merge for real", function()
  after_each(remove_made)

  local LIGHT = [[return { recipe = { namespaces = { "user", "uts" }, user = { map_root = true } },
    command = { "/bin/sh", "-c", 'test "$(hostname)" != c' }, vary = { hostname = { "a", "b", "c", "d" } }, runs = 2 }]]

  local function tmpdir()
    local d = h.sh("mktemp -d /tmp/isol-cluster-spec.XXXXXX"):gsub("%s+$", "")
    assert(d ~= "")
    made[#made + 1] = d
    local f = io.open(d .. "/sweep.lua", "w")
    f:write(LIGHT)
    f:close()
    return d
  end

  local function merged_outcomes(out)
    local t = {}
    for name, outcome in out:gmatch("\n(%a)%s+%d/2 ok%s+(%a+ ?%d*)") do
      t[#t + 1] = name .. "=" .. outcome:gsub("%s+$", "")
    end
    return t
  end

  it("the Indexed Job's container script: index i runs shard i+1, its stdout is the shard's JSON", function()
    local yaml = h.read("examples/cluster/sweep-job.yaml")
    local okl, lyaml = pcall(require, "lyaml")
    if okl then
      local job = lyaml.load(yaml)
      assert.equal("Indexed", job.spec.completionMode)
      local c = job.spec.template.spec.containers[1]
      local shards
      for _, e in ipairs(c.env) do if e.name == "SHARDS" then shards = tonumber(e.value) end end
      assert.equal(job.spec.completions, shards)
    else
      print("(lyaml not installed: the manifest's YAML is not parsed, only its script is run)")
    end
    -- the literal block after `args:` / `- |`
    local block = yaml:match("\n%s+args:\n%s+%- |\n(.-)\n%s+resources:")
    assert.is_string(block)
    assert.matches("JOB_COMPLETION_INDEX", block, 1, true)
    local d = tmpdir()
    local script = block:gsub("/spec/sweep.lua", d .. "/sweep.lua"):gsub("/tmp/shard.json", d .. "/out.json")
    local sf = io.open(d .. "/pod.sh", "w")
    sf:write(script)
    sf:close()
    local files = {}
    for i = 0, 2 do
      files[#files + 1] = string.format("%s/shard-%d.json", d, i)
      local _, ok = h.sh(string.format("PATH=%s/bin:$PATH JOB_COMPLETION_INDEX=%d SHARDS=3 sh %s/pod.sh > %s",
        h.root, i, d, files[#files]))
      assert.is_true(ok)
      assert.matches('"shard":{', h.read(files[#files]), 1, true)
    end
    local out, ok = h.sh("bin/isol sweep --merge " .. table.concat(files, " ") .. " 2>&1")
    assert.is_true(ok, out)
    assert.same({ "a=ok", "b=ok", "c=exit 1", "d=ok" }, merged_outcomes(out))
    h.sh("rm -rf " .. h.shq(d))
  end)

  it("the Slurm array script: task K of N writes results/shard-K.json", function()
    local d = tmpdir()
    for k = 1, 2 do
      local out, ok = h.sh(string.format("cd %s && PATH=%s/bin:$PATH SLURM_ARRAY_TASK_ID=%d SLURM_ARRAY_TASK_MIN=1 "
        .. "SLURM_ARRAY_TASK_COUNT=2 bash %s/examples/cluster/sweep-array.sbatch sweep.lua 2>&1", d, h.root, k, h.root))
      assert.is_true(ok, out)
    end
    local out, ok = h.sh(string.format("cd %s && %s/bin/isol sweep --merge results/shard-1.json results/shard-2.json "
      .. "2>&1", d, h.root))
    assert.is_true(ok, out)
    assert.same({ "a=ok", "b=ok", "c=exit 1", "d=ok" }, merged_outcomes(out))
    h.sh("rm -rf " .. h.shq(d))
  end)
end)
