--- `isol cgroup gc|layout`: cgroup housekeeping.
local M = {
  summary = "cgroup housekeeping: gc leftovers of crashed runs, show the layout",
  usage = [==[
usage: isol cgroup gc [--dry-run] [--kill] [--all]
       isol cgroup layout

gc      removes cgroups that isol made (named isol-<creator pid>-<seq>) whose
        creator process is gone. Groups that still hold processes are kept
        unless --kill is given (their processes are killed first). --all also
        takes groups whose creator still runs. --dry-run only lists.
layout  prints the cgroup version, the hierarchies, their controllers and
        this process's cgroup in each.]==],
}

function M.run(args)
  local isol = require "isol"
  local sub = args[1]
  if sub == "layout" then
    local lay = assert(isol.cgroup.layout())
    print("mode " .. lay.mode)
    for _, h in ipairs(lay.hierarchies) do
      print(string.format("v%d %-28s %-40s %s", h.version, h.mount, h.self, table.concat(h.controllers, ",")))
    end
    return 0
  elseif sub == "gc" then
    local opts = {}
    for i = 2, #args do
      local a = args[i]
      if a == "--dry-run" or a == "-n" then opts.dry_run = true
      elseif a == "--kill" then opts.kill = true
      elseif a == "--all" then opts.all = true
      else return require("isol.cli").die("cgroup gc: unknown option " .. a, 2) end
    end
    local r = isol.cgroup.gc(opts)
    for _, d in ipairs(r.removed) do print((opts.dry_run and "would remove " or "removed ") .. d) end
    for _, d in ipairs(r.kept) do print("kept " .. d) end
    return 0
  end
  return require("isol.cli").die("cgroup: expected `gc` or `layout` (see isol cgroup --help)", 2)
end

return M
