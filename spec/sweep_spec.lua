-- Limit sweeps: isol.sweep and `isol sweep`.
local isol = require "isol"
local sweep = require "isol.sweep"
local h = require "support.helpers"
local leak = require "support.leak"

local assert_clean = leak.assert_clean

local function wait_for(path, seconds)
  local deadline = isol.core.now() + seconds
  while isol.core.now() < deadline do
    local f = io.open(path, "r")
    if f then f:close() return true end
    isol.core.poll({}, 0.02)
  end
  return false
end

-- pids of processes whose command line contains `token`
local function pids_with(token)
  local out = {}
  for pid in h.sh("ls /proc"):gmatch("%d+") do
    local c = h.read("/proc/" .. pid .. "/cmdline")
    if c and c:find(token, 1, true) then out[#out + 1] = tonumber(pid) end
  end
  return out
end

local BASE = { namespaces = { "user", "uts", "pid" }, user = { map_root = true } }

describe("isol.sweep", function()
  it("runs every combination of a 2x2 sweep, runs times each, with per-run status and wall time", function()
    local snap = leak.snapshot()
    local res = isol.sweep {
      recipe = BASE,
      command = { "/bin/sh", "-c", 'test "$(hostname)" = fail && exit 3; sleep "$NAP"' },
      vary = { hostname = { "ok", "fail" }, ["env.NAP"] = { "0", "0.2" } },
      runs = 3,
    }
    assert.equal(12, #res)
    assert.same({ "env.NAP", "hostname" }, res.paths)
    assert.is_nil(res.interrupted)
    local seen = {}
    for _, row in ipairs(res) do
      local key = row.vary["env.NAP"] .. "/" .. row.vary.hostname
      seen[key] = (seen[key] or 0) + 1
      assert.is_true(row.wall > 0)
      if row.vary.hostname == "fail" then
        assert.equal(3, row.code)
        assert.equal("exit 3", sweep.outcome(row))
      else
        assert.equal(0, row.code)
        if row.vary["env.NAP"] == "0.2" then assert.is_true(row.wall >= 0.2, tostring(row.wall)) end
      end
      if row.stats then assert.is_table(row.stats) end
    end
    assert.same({ ["0/ok"] = 3, ["0/fail"] = 3, ["0.2/ok"] = 3, ["0.2/fail"] = 3 }, seen)
    -- first axis slowest, runs consecutive
    assert.same({ "0", "ok", 1 }, { res[1].vary["env.NAP"], res[1].vary.hostname, res[1].run })
    assert.same({ "0", "ok", 3 }, { res[3].vary["env.NAP"], res[3].vary.hostname, res[3].run })
    assert.same({ "0", "fail", 1 }, { res[4].vary["env.NAP"], res[4].vary.hostname, res[4].run })

    local summary = res:summary()
    assert.equal(4, #summary)
    assert.equal(3, summary[1].ok)
    assert.equal(0, summary[2].ok)
    assert.equal("exit 3", summary[2].outcomes)
    assert.is_true(summary[3].wall >= 0.2)

    local text = res:format()
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(6, #lines) -- header, rule, 4 combinations
    assert.matches("^env%.NAP%s+hostname%s+runs%s+outcome%s+wall%(med%)", lines[1])
    -- the median wall time, 3 decimals: at least the 0.2 s nap (no upper
    -- bound: with the sandbox's start it is ~0.43 s in the TCG VM)
    local med = lines[5]:match("^0%.2%s+ok%s+3/3 ok%s+ok%s+(%d+%.%d%d%d)s")
    assert.is_truthy(med, lines[5])
    assert.is_true(tonumber(med) >= 0.2, lines[5])
    -- aligned: every column starts at the same offset
    local col = lines[1]:find("runs", 1, true)
    for i = 3, 6 do assert.equal(col, lines[i]:find("%d/3 ok"), lines[i]) end

    local csv = res:csv()
    local n = 0
    for _ in csv:gmatch("[^\n]+") do n = n + 1 end
    assert.equal(13, n)
    assert.matches("^env%.NAP,hostname,run,outcome,code,signal", csv)
    assert.matches("\n0,fail,1,exit 3,3,", csv, 1, true)

    local f = os.tmpname()
    assert.is_true(res:json(f))
    local js = h.read(f)
    os.remove(f)
    assert.matches('"paths":["env.NAP","hostname"]', js, 1, true)
    local rows = 0
    for _ in js:gmatch('"outcome":') do rows = rows + 1 end
    assert.equal(12, rows)
    assert.is_true(res:csv(f))
    assert.equal(csv, h.read(f))
    os.remove(f)
    assert_clean(snap)
  end)

  it("a 2x2 memory x pids sweep with a real allocation shows the OOM and the stats #root", function()
    local snap = leak.snapshot()
    local res = isol.sweep {
      recipe = { namespaces = { "user", "pid" }, user = { map_root = true } },
      command = { "lua5.4", "-e", 'local s = string.rep("x", 48 * 1024 * 1024) print(#s)' },
      vary = { ["limits.memory.max"] = { "16M", "256M" }, ["limits.pids.max"] = { 8, 64 } },
      runs = 2,
      timeout = 60,
    }
    assert.equal(8, #res)
    for _, row in ipairs(res) do
      if row.vary["limits.memory.max"] == "16M" then
        assert.is_true(row.oom, "16M row should be OOM-killed: " .. sweep.outcome(row))
        assert.equal("oom", sweep.outcome(row))
      else
        assert.equal(0, row.code, sweep.outcome(row))
      end
      if type(isol.Sandbox.stats) == "function" then
        assert.is_table(row.stats)
        if row.mem_peak then
          assert.is_true(row.mem_peak > 0)
          if row.vary["limits.memory.max"] == "256M" then assert.is_true(row.mem_peak >= 48 * 1024 * 1024) end
        end
        if row.oom_kills and row.vary["limits.memory.max"] == "16M" then assert.is_true(row.oom_kills >= 1) end
      end
    end
    assert.matches("oom", res:format(), 1, true)
    assert_clean(snap)
  end)

  it("kills a run past its timeout", function()
    local snap = leak.snapshot()
    local t0 = isol.core.now()
    local res = isol.sweep { recipe = BASE, command = { "/bin/sleep", "30" }, timeout = 0.3 }
    assert.equal(1, #res)
    assert.is_true(res[1].timeout)
    assert.equal("timeout", sweep.outcome(res[1]))
    assert.is_true(isol.core.now() - t0 < 5)
    assert_clean(snap)
  end)

  it("reports a spawn failure in the row and goes on", function()
    local res = isol.sweep { recipe = BASE, command = { "/nonexistent/cmd" }, vary = { hostname = { "a", "b" } } }
    assert.equal(2, #res)
    assert.equal("error", sweep.outcome(res[1]))
    assert.matches("/nonexistent/cmd", res[1].error, 1, true)
  end)

  it("shows why runs failed: the first error of each combination and each distinct message once", function()
    local snap = leak.snapshot()
    -- a command that cannot be found: both combinations fail the same way
    local res = isol.sweep { recipe = BASE, command = { "/nonexistent/cmd" }, runs = 2,
      vary = { { "hostname", { "a", "b" } } } }
    local text = res:format()
    assert.matches("hostname%s+runs.*%s+error\n", text)
    assert.matches("\na%s+0/2 ok%s+error%s.*%[1%]\n", text)
    assert.matches("\nb%s+0/2 ok%s+error%s.*%[1%]\n", text)
    local _, n = text:gsub("/nonexistent/cmd", "")
    assert.equal(1, n, text)
    assert.matches("\nerrors:\n  %[1%] [^\n]*/nonexistent/cmd[^\n]* %(4 runs%)\n$", text)
    assert.is_true(res:all_failed())
    local js = require("cjson").decode(res:json())
    assert.equal(4, #js.rows)
    assert.equal(1, #js.errors)
    assert.equal(4, js.errors[1].runs)
    assert.equal(res[1].error, js.summary[1].error)
    assert_clean(snap)
  end)

  it("a table without failures has no error column", function()
    local res = isol.sweep { recipe = BASE, command = { "true" }, vary = { hostname = { "a" } } }
    assert.is_false(res:all_failed())
    assert.not_matches("error", res:format())
    assert.same({}, require("cjson").decode(res:json()).errors)
  end)

  describe("bad specs give clear errors naming the field, and run nothing", function()
    local cases = {
      { "not a table", "sweep: expected table" },
      { {}, "sweep.recipe: required" },
      { { recipe = 5, command = { "true" } }, "sweep.recipe: expected table, got number 5" },
      { { recipe = BASE }, "sweep.command: required" },
      { { recipe = BASE, command = {} }, "sweep.command: expected a non-empty argv list" },
      { { recipe = BASE, command = { "true", 5 } }, "sweep.command[2]: expected string, got number 5" },
      { { recipe = BASE, command = { "true" }, runs = 0 }, "sweep.runs: expected an integer >= 1, got 0" },
      { { recipe = BASE, command = { "true" }, runs = 1.5 }, "sweep.runs: expected an integer >= 1, got 1.5" },
      { { recipe = BASE, command = { "true" }, timeout = -1 }, "sweep.timeout: expected seconds > 0, got -1" },
      { { recipe = BASE, command = { "true" }, varry = {} }, "sweep.varry: unknown field" },
      { { recipe = BASE, command = { "true" }, vary = 3 }, "sweep.vary: expected table, got number 3" },
      { { recipe = BASE, command = { "true" }, vary = { hostname = {} } },
        'sweep.vary["hostname"]: expected a non-empty list of values' },
      { { recipe = BASE, command = { "true" }, vary = { hostname = "a" } },
        'sweep.vary["hostname"]: expected a non-empty list of values, got "a"' },
      { { recipe = BASE, command = { "true" }, vary = { ["limits..max"] = { 1 } } },
        'sweep.vary["limits..max"]: bad field path "limits..max"' },
      { { recipe = BASE, command = { "true" }, vary = { [""] = { 1 } } },
        'sweep.vary[""]: expected a field path' },
      { { recipe = BASE, command = { "true" }, vary = { hostname = { "a", 7 } } },
        'with sweep.vary["hostname"][2] = 7: hostname: expected string, got number 7' },
      { { recipe = BASE, command = { "true" }, vary = { namespaces = { { "netw" } } } },
        'with sweep.vary["namespaces"][1] = {netw}: namespaces[1]: unknown namespace "netw"' },
      { { recipe = { namespaces = { "uts" }, hostname = "h" }, command = { "true" },
          vary = { ["hostname.x"] = { 1 } } },
        'sweep.vary["hostname.x"][1]: cannot set hostname.x: hostname is a string, not a table' },
      { { recipe = BASE, command = { "true" }, vary = { { "hostname", { "a" } }, { "hostname", { "b" } } } },
        'sweep.vary[2]: field path "hostname" given twice' },
      { { recipe = BASE, command = { "true" }, stdout = "loud" }, 'sweep.stdout: expected "inherit"' },
    }
    cases[#cases + 1] = { { recipe = BASE, command = { "true" },
        vary = { ["limits.memory.max"] = { "16M", "lots" } } },
      'with sweep.vary["limits.memory.max"][2] = lots: limits.memory.max' }
    for i, c in ipairs(cases) do
      it(string.format("#%d %s", i, c[2]), function()
        local snap = leak.snapshot()
        local ran = false
        if type(c[1]) == "table" then c[1].on_start = function() ran = true end end
        local ok, err = pcall(isol.sweep, c[1])
        if type(c[1]) == "table" then c[1].on_start = nil end
        assert.is_false(ok)
        assert.matches(c[2], err, 1, true)
        assert.is_false(ran)
        assert_clean(snap)
      end)
    end
  end)
end)

describe("isol sweep (CLI)", function()
  local function spec_file(src)
    local f = os.tmpname()
    local fh = io.open(f, "w")
    fh:write(src)
    fh:close()
    return f
  end

  it("prints the table and writes CSV and JSON", function()
    local f = spec_file([[return { recipe = { namespaces = { "user", "uts" }, user = { map_root = true } },
      command = { "/bin/true" },
      vary = { hostname = { "a", "b" }, ["env.X"] = { "1", "2" } }, runs = 2 }]])
    local csv, js = f .. ".csv", f .. ".json"
    local out, ok, code = h.sh(string.format("bin/isol sweep --csv %s --json %s %s 2>%s.err", csv, js, f, f))
    local err = h.read(f .. ".err")
    assert.is_true(ok, tostring(code) .. out .. err)
    assert.matches("env%.X%s+hostname%s+runs", out)
    assert.matches("2/2 ok", out, 1, true)
    -- not a tty: one plain progress line per run
    local n = 0
    for _ in err:gmatch("run %d/8: [^\n]*: ok in") do n = n + 1 end
    assert.equal(8, n, err)
    local lines = 0
    for _ in h.read(csv):gmatch("[^\n]+") do lines = lines + 1 end
    assert.equal(9, lines)
    assert.matches('"rows":[', h.read(js), 1, true)
    for _, x in ipairs { f, csv, js, f .. ".err" } do os.remove(x) end
  end)

  it("shows a progress bar on a terminal #root", function()
    if h.sh("command -v script") == "" then
      pending("script(1) from util-linux is needed to give the sweep a terminal")
      return
    end
    local f = spec_file([[return { recipe = { namespaces = { "user", "uts" }, user = { map_root = true } },
      command = { "/bin/true" },
      vary = { hostname = { "a", "b" } }, runs = 2 }]])
    local out, ok = h.sh("script -qec " .. h.shq("bin/isol sweep " .. f) .. " /dev/null")
    os.remove(f)
    assert.is_true(ok, out)
    assert.matches("\r\27%[K%[%.+%] 1/4 hostname=a run 1", out)
    assert.matches("\r\27%[K%[#+%.+%] 4/4 hostname=b run 2", out)
    assert.matches("\r\27%[Khostname%s+runs", out) -- the bar is cleared before the table
    assert.is_nil(out:find("run 1/4:", 1, true)) -- no plain lines on a terminal
  end)

  it("sweeps a plain recipe file with --vary axes and the command after --", function()
    local f = spec_file([[return { namespaces = { "uts", "user" }, user = { map_root = true } }]])
    local out, ok = h.sh("bin/isol sweep -q " .. f .. " --vary hostname=a,b --vary env.N=1,2 --runs 2 -- "
      .. "/bin/sh -c 'test $(hostname) = a' 2>&1")
    os.remove(f)
    assert.is_true(ok, out)
    assert.matches("hostname%s+env%.N%s+runs", out)
    assert.matches("\na%s+1%s+2/2 ok%s+ok", out)
    assert.matches("\nb%s+2%s+0/2 ok%s+exit 1", out)
    local _, ok2, code = h.sh("bin/isol sweep " .. f .. " --vary hostname 2>/dev/null")
    assert.is_falsy(ok2)
    assert.equal(2, code)
  end)

  it("exits 1 when no run could start, with the reason in the table", function()
    local f = spec_file([[return { recipe = { namespaces = { "user", "uts" }, user = { map_root = true } },
      command = { "no-such-command-isol" }, vary = { hostname = { "a", "b" } } }]])
    local out, ok, code = h.sh("bin/isol sweep " .. f .. " 2>" .. f .. ".err")
    local err = h.read(f .. ".err")
    os.remove(f)
    os.remove(f .. ".err")
    assert.is_falsy(ok)
    assert.equal(1, code, out .. err)
    assert.matches("\nerrors:\n  %[1%] [^\n]*no%-such%-command%-isol: [^\n]*%(2 runs%)", out)
    assert.matches("none of the 2 runs could start", err, 1, true)
  end)

  it("a bad spec file exits 1 with the field named", function()
    local f = spec_file([[return { recipe = {}, command = { "true" }, runs = "many" }]])
    local out, ok, code = h.sh("bin/isol sweep " .. f .. " 2>&1")
    os.remove(f)
    assert.is_falsy(ok)
    assert.equal(1, code)
    assert.matches('isol: sweep.runs: expected an integer >= 1, got "many"', out, 1, true)
  end)

  it("SIGINT stops cleanly: the running sandbox is killed, results so far kept, no cgroup or process left #root",
    function()
    local snap = leak.snapshot()
    local token = string.format("%d.%d", os.time() % 100000, math.random(1000, 9999))
    local marker = os.tmpname()
    os.remove(marker)
    local limits = "limits = { pids = { max = 32 }, memory = { max = '64M' } },"
    local f = spec_file(string.format([[return {
      recipe = { namespaces = { "user", "pid" }, user = { map_root = true }, %s },
      command = { "/bin/sh", "-c", 'if [ "$N" = 2 ]; then touch %s; exec sleep %s; fi' },
      vary = { ["env.N"] = { "1", "2", "3" } }, runs = 1 }]], limits, marker, token))
    local out = f .. ".out"
    local p <close> = assert(isol.spawn { argv = { h.lua_bin, "bin/isol", "sweep", "--csv", f .. ".csv", f },
      stdout = { path = out, mode = "w" }, stderr = { path = out .. ".err", mode = "w" } })
    assert.is_true(wait_for(marker, 20), "the sweep's second run did not start")
    local sleepers = pids_with(token)
    assert.equal(1, #sleepers, "the sandboxed sleep should be running")
    -- the cgroups the sandboxed process is in (only isol's own, if any)
    local cgs = {}
    for line in (h.read("/proc/" .. sleepers[1] .. "/cgroup") or ""):gmatch("[^\n]+") do
      local ctrl, path = line:match("^%d+:([^:]*):(.*)$")
      if path and path:find("isol", 1, true) then
        local c = ctrl:gsub("^name=", "")
        cgs[#cgs + 1] = ctrl == "" and ("/sys/fs/cgroup" .. path) or ("/sys/fs/cgroup/" .. c .. path)
      end
    end
    if limits ~= "" then assert.is_true(#cgs > 0, "the sandbox should be in isol cgroups") end
    assert(p:kill("SIGINT"))
    local st = assert(p:wait())
    assert.equal(130, st.code, (h.read(out) or "") .. (h.read(out .. ".err") or ""))
    local text = h.read(out)
    assert.matches("interrupted by SIGINT after 2 of 3 runs", text, 1, true)
    assert.matches("\n1%s+1/1 ok", text)
    assert.matches("\n2%s+0/1 ok%s+interrupted", text)
    assert.matches("sweep interrupted by SIGINT", h.read(out .. ".err"), 1, true)
    local csv = h.read(f .. ".csv")
    assert.matches("\n1,1,ok,0,", csv, 1, true)
    assert.matches("\n2,1,interrupted,", csv, 1, true)
    assert.same({}, pids_with(token))
    for _, cg in ipairs(cgs) do
      local d = io.open(cg .. "/cgroup.procs", "r")
      if d then d:close() end
      assert.is_nil(d, "cgroup left behind: " .. cg)
    end
    for _, x in ipairs { f, f .. ".csv", out, out .. ".err", marker } do os.remove(x) end
    p:close()
    assert_clean(snap)
  end)
end)

describe("isol.sweep.find_min #root", function()
  -- the probe list shows the answer: it passed, and the probe just below
  -- (within the precision) failed
  local function check_answer(v, probes, precision)
    local at, below
    for _, p in ipairs(probes) do
      if p.value == v then at = p end
      if p.value < v and p.value >= v - precision and not p.ok then below = p end
    end
    assert.truthy(at and at.ok, "no passing probe at the answer")
    assert.truthy(below, "no failing probe within " .. precision .. " below " .. v)
  end

  it("finds the smallest pids.max (an integer) at which the command succeeds", function()
    local snap = leak.snapshot()
    local v, probes = isol.sweep.find_min { recipe = { namespaces = { "pid" } }, field = "limits.pids.max",
      range = { 1, 64 }, runs = 2,
      command = { "/bin/sh", "-c", "sleep 0.05 & sleep 0.05 & sleep 0.05 & wait" } }
    -- init, the shell and its three sleeps
    assert.are.equal(5, v)
    check_answer(v, probes, 1)
    for _, p in ipairs(probes) do assert.are.equal(2, p.runs) end
    assert_clean(snap)
  end)

  it("finds the smallest memory.max (a size) for a 20 MB buffer, to 1%", function()
    local snap = leak.snapshot()
    local seen = 0
    local v, probes = isol.sweep.find_min { recipe = { limits = { memory = { swap = 0 } } },
      field = "limits.memory.max", range = { "4M", "1G" },
      command = { "/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=20M", "count=1" },
      on_probe = function() seen = seen + 1 end }
    assert.is_true(v > 20 * 1024 * 1024 and v < 64 * 1024 * 1024, "answer: " .. tostring(v))
    check_answer(v, probes, math.max(4096, v // 100))
    assert.are.equal(#probes, seen)
    assert.are.equal("oom", probes[2].outcome) -- 4M
    assert_clean(snap)
  end)

  it("says when even the top of the range fails, and rejects bad specs naming the field", function()
    local v, msg = isol.sweep.find_min { recipe = {}, field = "limits.pids.max", range = { 1, 3 },
      command = { "/bin/sh", "-c", "exit 3" } }
    assert.is_nil(v)
    assert.matches("the command fails even with limits%.pids%.max=3 %(exit 3%)", msg)
    assert.has_error(function()
      isol.sweep.find_min { recipe = {}, field = "limits.pids.max", range = { 8, 2 }, command = { "true" } }
    end, "find_min.range: expected 0 <= lo < hi, got 8..2")
    assert.has_error(function()
      isol.sweep.find_min { recipe = {}, field = "limits.memory.max", range = { "4M", "lots" }, command = { "true" } }
    end, 'find_min.range[2]: expected an integer or a size like "4M", got "lots"')
    assert.has_error(function()
      isol.sweep.find_min { recipe = {}, field = "limits..max", range = { 1, 2 }, command = { "true" } }
    end)
    -- every value is validated as a recipe before anything runs
    assert.has_error(function()
      isol.sweep.find_min { recipe = {}, field = "limits.pids.max", range = { 1, 2 }, command = { "true" }, runs = 0 }
    end, "sweep.runs: expected an integer >= 1, got 0")
  end)

  it("isol sweep --find-min prints each probe and the answer", function()
    local out = h.sh("bin/isol sweep --find-min limits.pids.max --range 1..32 -- /bin/sh -c 'sleep 0.05 & wait' 2>&1;"
      .. " echo rc=$?")
    assert.matches("probe 1: limits%.pids%.max=32: ok %(1/1 runs ok%)\n", out)
    assert.matches("probe 2: limits%.pids%.max=1: fails %(0/1 runs ok%)", out)
    -- init, the shell, its sleep (no pid namespace: isol's init supervises)
    assert.matches("smallest limits%.pids%.max at which the command succeeds: 3\nrc=0", out)
    out = h.sh("bin/isol sweep --find-min limits.memory.max --range 4M..8M -- /bin/dd if=/dev/zero of=/dev/null"
      .. " bs=20M count=1 2>&1; echo rc=$?")
    assert.matches("probe 1: limits%.memory%.max=8%.0M %(8388608%): fails %(0/1 runs ok%): oom", out)
    assert.matches("the command fails even with limits%.memory%.max=8%.0M %(oom%)\nrc=1", out)
    assert.matches("%-%-find%-min and %-%-range go together.*rc=2",
      (h.sh("bin/isol sweep --find-min limits.pids.max -- true 2>&1; echo rc=$?")))
    assert.matches("%-%-range: expected LO%.%.HI",
      (h.sh("bin/isol sweep --find-min limits.pids.max --range 5 -- true 2>&1; echo rc=$?")))
  end)
end)
