-- The `isol` command, both as the Lua script (bin/isol) and as the native
-- launcher `make` builds (build/bin/isol): same behaviour.
local h = require "support.helpers"

for _, exe in ipairs { "bin/isol", "build/bin/isol" } do
  describe(exe .. " #root", function()
    local tmp
    before_each(function() tmp = os.tmpname() end)
    after_each(function() os.remove(tmp) end)

    local function recipe(src)
      local f = assert(io.open(tmp, "w"))
      f:write(src)
      f:close()
      return tmp
    end

    it("collects a recipe script's garbage (the collector runs for scripts)", function()
      -- 1.2 GB of short-lived tables: without a collection this would not fit
      local r = recipe([[
        local x = {}
        for i = 1, 3e6 do x[i % 10] = { i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i } end
        io.write(collectgarbage("isrunning") and "running" or "stopped", " ",
          math.floor(collectgarbage("count") / 1024), "\n")]])
      local out, ok = h.sh(exe .. " run " .. r .. " 2>&1")
      assert(ok, out)
      local state, mib = out:match("^(%a+) (%d+)\n$")
      assert.are.equal("running", state, out)
      assert.is_true(tonumber(mib) < 64, out)
    end)

    it("exits with the command's status, 128+N for a signal", function()
      local r = recipe('return { namespaces = { "pid" }, command = { "/bin/sh", "-c", "exit 7" } }')
      local _, _, code = h.sh(exe .. " run " .. r)
      assert.are.equal(7, code)
      _, _, code = h.sh(exe .. " run " .. r .. " -- /bin/sh -c 'kill -TERM $$'")
      assert.are.equal(128 + 15, code)
    end)

    it("gives a recipe function the words before --, the command those after", function()
      local r = recipe('return function(...) return { namespaces = { "uts" }, '
        .. 'hostname = "cli-" .. select("#", ...) .. "-" .. table.concat({ ... }, "-"), '
        .. 'command = { "hostname" } } end')
      local out, ok = h.sh(exe .. " run " .. r .. " a b -- hostname 2>&1")
      assert(ok, out)
      assert.are.equal("cli-2-a-b\n", out)
      -- without --: the words are the function's, the command the recipe's
      out, ok = h.sh(exe .. " run " .. r .. " x 2>&1")
      assert(ok, out)
      assert.are.equal("cli-1-x\n", out)
      -- a table recipe takes the words as the command, options included
      out, ok = h.sh(exe .. " run " .. recipe('return { namespaces = { "pid" } }') .. " ls -la /dev/null 2>&1")
      assert(ok, out)
      assert.matches("^crw", out)
      local _, code
      out, _, code = h.sh(exe .. " run " .. recipe('return { namespaces = { "pid" } }') .. " a -- true 2>&1")
      assert.are.equal(125, code)
      assert.matches("takes no arguments", out, 1, true)
    end)

    it("reports usage errors and bad recipes clearly", function()
      local out, _, code = h.sh(exe .. " frobnicate 2>&1")
      assert.are.equal(2, code)
      assert.matches('unknown command "frobnicate"', out)
      out, _, code = h.sh(exe .. " run " .. recipe('return { namespaces = { "netw" } }') .. " -- true 2>&1")
      assert.are.equal(125, code) -- isol's own failure, not the command's
      assert.matches('namespaces%[1%]: unknown namespace "netw"', out)
      out, _, code = h.sh(exe .. " run " .. recipe('return {}') .. " -- /nonexistent 2>&1")
      assert.are.equal(127, code)
      assert.matches("exec /nonexistent: not found", out)
    end)

    it("helps: `help run` is `run --help`, --version is listed, typos get a suggestion", function()
      local a, ok1 = h.sh(exe .. " help run")
      local b, ok2 = h.sh(exe .. " run --help")
      assert(ok1 and ok2)
      assert.are.equal(b, a)
      assert.matches("-- CMD", a, 1, true)
      local out = h.sh(exe .. " --help")
      assert.matches("--version", out, 1, true)
      local _, code
      out, _, code = h.sh(exe .. " rnu 2>&1")
      assert.are.equal(2, code)
      assert.matches('unknown command "rnu"; did you mean "run"?', out, 1, true)
      out, _, code = h.sh(exe .. " run --memroy 1M -- true 2>&1")
      assert.are.equal(2, code)
      assert.matches('unknown option --memroy (did you mean "--memory"?)', out, 1, true)
      out, _, code = h.sh(exe .. " check extra 2>&1")
      assert.are.equal(2, code)
      assert.matches("check: takes no arguments, got extra", out, 1, true)
    end)

    it("checks the kernel", function()
      local out, ok = h.sh(exe .. " check 2>&1")
      assert(ok, out)
      for _, ns in ipairs { "mount", "uts", "ipc", "net", "pid", "user", "cgroup", "time" } do
        assert.matches("\n  " .. ns .. "%s+yes", out)
      end
      assert.matches("loop devices%s+yes", out)
    end)

    it("runs the finalizers on exit: a sandbox the recipe file left open loses its cgroup", function()
      -- (bin/isol used to leave through os.exit(code) without closing the state)
      local r = recipe([[
        local isol = require "isol"
        KEEP = isol.sandbox { limits = { pids = { max = 10 } } }
        local p = assert(KEEP:spawn { "/bin/true" })
        p:wait()
        io.stderr:write("cgroup ", KEEP.cgroup:path("pids"), "\n")
        return { namespaces = { "uts" } }]])
      local out, ok = h.sh(exe .. " run " .. r .. " -- /bin/true 2>&1")
      assert(ok, out)
      local dir = out:match("cgroup (%S+)")
      assert.is_not_nil(dir, out)
      local left = h.read(dir .. "/cgroup.procs")
      if left then h.sh("rmdir /sys/fs/cgroup/*/" .. h.shq(dir:match("[^/]+$")) .. " 2>/dev/null") end
      assert.is_nil(left, "cgroup left behind: " .. dir)
    end)

    it("image info takes a file name with shell syntax as a name, running nothing", function()
      local dir = h.sh("mktemp -d /tmp/isol-cli-spec.XXXXXX"):gsub("%s+$", "")
      local img = dir .. "/x$(touch INJECTED).img"
      local out, ok = h.sh(string.format("cd %s && %s/%s image create %s --size 8M 2>&1", h.shq(dir), h.root, exe,
        h.shq(img)))
      assert(ok, out)
      out, ok = h.sh(string.format("cd %s && %s/%s image info %s 2>&1", h.shq(dir), h.root, exe, h.shq(img)))
      local injected = h.read(dir .. "/INJECTED")
      h.sh("rm -rf " .. h.shq(dir))
      assert.is_nil(injected, "the file name ran as a command")
      assert(ok, out)
      assert.equal(1, out:find(img .. ": ext4, 8.00 MiB apparent, ", 1, true), out)
      assert.matches("%d+%.%d%d MiB allocated\n$", out)
    end)
  end)
end

describe("build/bin/isol's hardening", function()
  it("is linked with full RELRO (bound at start, its GOT read-only)", function()
    local out = h.sh("readelf -dlW build/bin/isol 2>&1")
    assert.matches("GNU_RELRO", out)
    assert.matches("FLAGS%)%s+BIND_NOW", out)
    assert.matches("Flags: NOW PIE", out, 1, true)
  end)
end)

-- build/bin/isol loads the modules of every `isol run` from one bundle of
-- stripped bytecode (build/lua/run.bundle), but only while that bundle is
-- at least as new as each source in it, and not under ISOL_DEBUG. A copy
-- of the tree shows which copy of a module ran: bytecode without debug
-- information has no source name ("=?"), the per-module bytecode has the
-- name luac gave it ("@lua/..."), a module read from source its path.
describe("build/bin/isol's run bundle", function()
  local dir
  local probe = 'io.write(debug.getinfo(require("isol.recipe").validate, "S").source, "\\n")'
  before_each(function()
    dir = h.sh("mktemp -d /tmp/isol-bundle-spec.XXXXXX"):gsub("%s+$", "")
    assert(h.sh(string.format("mkdir -p %s/build/bin && cp -a lua %s/ && cp -a build/lua %s/build/ && "
      .. "cp build/bin/isol %s/build/bin/ && printf '%%s' %s > %s/probe.lua", dir, dir, dir, dir,
      h.shq(probe), dir)))
  end)
  after_each(function() h.sh("rm -rf " .. h.shq(dir)) end)
  local function source(env)
    local out, ok = h.sh(string.format("%s %s/build/bin/isol run %s/probe.lua 2>&1", env or "", dir, dir))
    assert(ok, out)
    return (out:gsub("\n$", ""))
  end

  it("serves isol run's modules while fresh, the sources once one is newer", function()
    assert.are.equal("=?", source())
    -- ISOL_DEBUG: per-module bytecode with line information
    assert.are.equal("@lua/isol/recipe.lua", source("ISOL_DEBUG=1"))
    -- an edited source outdates the bundle (and that module's bytecode)
    assert(h.sh(string.format("sleep 0.01; touch %s/lua/isol/policy.lua", dir)))
    assert.are.equal("@lua/isol/recipe.lua", source())
    assert(h.sh(string.format("echo '-- edited' >> %s/lua/isol/recipe.lua", dir)))
    assert.are.equal("@" .. dir .. "/build/../lua/isol/recipe.lua", source())
  end)

  it("falls back to the modules' files when the bundle is damaged", function()
    for _, damage in ipairs {
      "head -c 5000 %s/build/lua/run.bundle > %s/t && mv %s/t %s/build/lua/run.bundle", -- truncated
      "printf 'isol-bundle 1\\nisol.recipe 99999999\\n' > %s/build/lua/run.bundle",   -- size past the end
      "printf 'isol-bundle 1\\nisol.recipe 4\\nxxxx' > %s/build/lua/run.bundle",       -- not bytecode
      "printf 'not a bundle' > %s/build/lua/run.bundle",
    } do
      assert(h.sh(damage:gsub("%%s", dir)))
      assert.are.equal("@lua/isol/recipe.lua", source())
    end
  end)
end)

-- What a plain `isol run` never uses is loaded on first use only
-- (isol.cli_run_extra, isol.cli_extra): the run bundle carries less.
describe("isol run's cold parts #root", function()
  local r
  setup(function()
    r = os.tmpname()
    local f = assert(io.open(r, "w"))
    f:write('return { namespaces = { "user", "uts", "pid" }, user = { map_root = true }, command = { "/bin/true" } }')
    f:close()
  end)
  teardown(function() os.remove(r) end)

  -- isol.cli.main(args) in a fresh interpreter: its exit status, then
  -- which of the two modules it loaded
  local function loaded(args)
    local q = {}
    for i, a in ipairs(args) do q[i] = string.format("%q", a) end
    local out = h.lua(string.format([[
      local code = require("isol.cli").main({ %s })
      io.stdout:flush()
      io.stderr:write("status ", code, " run_extra ", tostring(package.loaded["isol.cli_run_extra"] ~= nil),
        " cli_extra ", tostring(package.loaded["isol.cli_extra"] ~= nil), "\n")]], table.concat(q, ", ")))
    return out:match("status (%d+) run_extra (%a+) cli_extra (%a+)\n$")
  end

  it("a plain run loads neither", function()
    assert.are.same({ "0", "false", "false" }, { loaded { "run", r } })
    assert.are.same({ "1", "false", "false" }, { loaded { "run", r, "/bin/false" } })
  end)

  it("--help, options, a failed spawn, a typo load them", function()
    assert.are.same({ "0", "true", "false" }, { loaded { "run", "--help" } })
    assert.are.same({ "0", "true", "false" }, { loaded { "run", "-n", r } })
    assert.are.same({ "127", "true", "false" }, { loaded { "run", r, "/nonexistent" } })
    assert.are.same({ "2", "true", "true" }, { loaded { "run", "--dry-rnu", r } })
    assert.are.same({ "0", "false", "true" }, { loaded { "--help" } })
  end)
end)
