-- The cold halves of `isol run`'s modules: what a plain `isol run` never
-- runs lives in modules loaded on first use (outside build/lua/run.bundle).
-- A plain run loads none of them; what needs one loads it; the hot module
-- still serves the names that moved, as the same functions.
local h = require "support.helpers"

-- cold module -> its hot module and the names the hot one serves from it
local COLD = {
  ["isol.fs_fields"] = { "isol.fs", { "check_mount", "check_mounts", "check_root", "to_op", "resolve_images",
    "install" } },
  ["isol.security_fields"] = { "isol.security", { "names", "subid_range", "root_map", "explain_lines", "NOBODY",
    "SUBID_FILES" } },
  ["isol.rootless_help"] = { "isol.rootless", { "HINTS", "hint_for", "hint", "annotate" } },
  ["isol.kill_procs"] = { "isol.kill", { "check_sig", "kill_tree" } },
  ["isol.net_fields"] = { "isol.net", { "parse_rate", "parse_delay", "parse_loss", "check_shaping",
    "explain_lines" } },
  ["isol.policy_fields"] = { "isol.policy", { "check_seccomp", "check_rlimits", "check_landlock" } },
  ["isol.cli_run_extra"] = { "isol.cli.run", { "named_recipe", "status_record", "spawn_failure_code" } },
}

-- Run `src` in a fresh interpreter; the set of isol modules loaded after it.
local function loaded_after(src)
  local out, ok = h.lua(src .. [[

    local names = {}
    for name in pairs(package.loaded) do if name:match("^isol") then names[#names + 1] = name end end
    print("loaded: " .. table.concat(names, " "))
  ]])
  assert(ok, out)
  local set = {}
  for name in assert(out:match("loaded: ([^\n]*)"), out):gmatch("%S+") do set[name] = true end
  return set
end

local function cold_loaded(set)
  local list = {}
  for name in pairs(COLD) do if set[name] then list[#list + 1] = name end end
  table.sort(list)
  return list
end

describe("cold modules", function()
  it("a plain isol run (bench/spawn/recipe.lua) loads none of them #root", function()
    local set = loaded_after(string.format([[
      local code = require("isol.cli").main({ "run", %q })
      assert(code == 0, "isol run: " .. tostring(code))
    ]], h.root .. "/bench/spawn/recipe.lua"))
    assert.is_true(set["isol.fs"] and set["isol.kill"] and set["isol.security"] and set["isol.rootless"]
      and set["isol.net"] and set["isol.policy"] and set["isol.cli.run"])
    assert.same({}, cold_loaded(set))
  end)

  it("a recipe field, a hint or an unknown name loads only what it needs", function()
    local cases = {
      { 'isol.recipe.validate { namespaces = { "mount" }, mounts = { { type = "proc" } } }', { "isol.fs_fields" } },
      { 'isol.recipe.validate { namespaces = { "mount" }, root = {} }', { "isol.fs_fields" } },
      { 'isol.recipe.validate { caps = "none" }', { "isol.security_fields" } },
      { 'isol.recipe.validate { session_keyring = "inherit" }', { "isol.security_fields" } },
      { 'isol.recipe.validate { namespaces = { "net" }, net = { veth = {} } }', { "isol.net_fields" } },
      { 'isol.recipe.validate { seccomp = "default" }', { "isol.policy_fields" } },
      { 'isol.recipe.validate { timeout = 5 }', { "isol.policy_fields" } },
      { 'require("isol.rootless").annotate("clone3: x", isol.core.errno.EPERM)', { "isol.rootless_help" } },
      { 'assert(not pcall(isol.session.pids, 0))', { "isol.kill_procs" } },
      { 'assert(isol.fs.nope == nil and isol.security.nope == nil and isol.kill.nope == nil)', {} },
      { 'isol.recipe.explain { namespaces = { "mount" } }', { "isol.fs_fields", "isol.net_fields",
        "isol.policy_fields", "isol.rootless_help", "isol.security_fields" } },
    }
    for _, c in ipairs(cases) do
      local set = loaded_after('local isol = require "isol"; isol.kill = require "isol.kill"\n' .. c[1])
      assert.same(c[2], cold_loaded(set), c[1])
    end
  end)

  it("closing a box whose command still runs loads the kill half, which ends the command #root", function()
    local set = loaded_after([[
      local isol = require "isol"
      local box = isol.sandbox { namespaces = { "pid" } }
      local p = assert(box:spawn { "/bin/sleep", "60" })
      local pid = p:pid()
      assert(not package.loaded["isol.kill_procs"], "loaded by the spawn")
      assert(box:close())
      assert(not io.open("/proc/" .. pid .. "/stat"), "the sandbox's init is still there")
    ]])
    assert.same({ "isol.kill_procs" }, cold_loaded(set))
  end)

  it("the hot modules serve the names that moved, as the cold modules' own", function()
    require "isol"
    for cold, v in pairs(COLD) do
      local hot = require(v[1])
      for _, name in ipairs(v[2]) do
        assert.is_not_nil(hot[name], v[1] .. "." .. name)
        assert.equal(require(cold)[name], hot[name], v[1] .. "." .. name)
      end
    end
    local kill, procs = require "isol.kill", require "isol.kill_procs"
    for _, t in ipairs { "session", "pidns" } do
      for name, fn in pairs(procs[t]) do assert.equal(fn, kill[t][name], "isol.kill." .. t .. "." .. name) end
    end
  end)
end)
