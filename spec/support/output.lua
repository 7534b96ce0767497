-- busted output: the usual terminal output, then one plain closing line
-- "N passed, N failed, N skipped" (errors count as failed) that CI reads,
-- and the reasons of skipped specs, so that a skip is never mistaken for a pass.
return function(options)
  local busted = require "busted"
  local handler = require "busted.outputHandlers.utfTerminal"(options)
  busted.subscribe({ "suite", "end" }, function()
    local failed = handler.failuresCount + handler.errorsCount
    if handler.pendingsCount > 0 then
      io.write("\nskipped (with reasons):\n")
      for _, p in ipairs(handler.pendings) do
        io.write(string.format("  - %s: %s\n", p.name, p.message or ""))
      end
    end
    io.write(string.format("\n%d passed, %d failed, %d skipped\n",
      handler.successesCount, failed, handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
