-- busted output: a dot per spec as it ends, then each failure and error with
-- its place and message, the skipped specs with their reasons (so that a skip
-- is never mistaken for a pass), and one plain closing line
-- "N passed, N failed, N skipped" (errors count as failed) that CI reads.
-- Built on busted's base handler rather than on utfTerminal, which prints
-- its own summary and pending list: each is printed once here.
return function(options)
  local busted = require "busted"
  local handler = require "busted.outputHandlers.base"()
  local pretty = require "pl.pretty"

  local function message(m)
    if type(m) == "string" then return m end
    if m == nil then return "Nil error" end
    return pretty.write(m)
  end

  local function place(element)
    local t = element and element.trace
    if t and t.short_src then return string.format("%s @ %s", t.short_src, t.currentline) end
    return "?"
  end

  local dots = { success = "+", pending = "o", failure = "F", error = "E" }

  handler.testEnd = function(_, _, status)
    if not options.deferPrint then
      io.write(dots[status] or "?")
      io.flush()
    end
    return nil, true
  end

  handler.suiteEnd = function()
    io.write("\n")
    for _, kind in ipairs { "failures", "errors" } do
      for _, f in ipairs(handler[kind]) do
        local text = message(f.message)
        if f.randomseed then text = "Random seed: " .. f.randomseed .. "\n" .. text end
        io.write(string.format("\n%s -> %s\n%s\n%s\n", kind == "failures" and "Failure" or "Error",
          place(f.element), f.name, text))
        if options.verbose and f.trace and f.trace.traceback then io.write(f.trace.traceback, "\n") end
      end
    end
    if #handler.pendings > 0 then
      io.write("\nskipped (with reasons):\n")
      for _, p in ipairs(handler.pendings) do
        io.write(string.format("  - %s%s\n", p.name, p.message and (": " .. message(p.message)) or ""))
      end
    end
    io.write(string.format("\n%d passed, %d failed, %d skipped\n", handler.successesCount,
      handler.failuresCount + handler.errorsCount, handler.pendingsCount))
    io.flush()
    return nil, true
  end

  handler.error = function()
    io.write(dots.error)
    io.flush()
    return nil, true
  end

  busted.subscribe({ "test", "end" }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ "suite", "end" }, handler.suiteEnd)
  busted.subscribe({ "error", "file" }, handler.error)
  busted.subscribe({ "failure", "file" }, handler.error)
  busted.subscribe({ "error", "describe" }, handler.error)
  busted.subscribe({ "failure", "describe" }, handler.error)
  return handler
end
