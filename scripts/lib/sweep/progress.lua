-- The progress bar of a sweep run in one process (`--jobs 1`): cells done of those to run,
-- the time so far and the time left at the mean pace of the cells done, redrawn in place on a
-- terminal, else a line every 10% and at the end (as the command's bar for --jobs N and --wait).
local progress = {}

-- 75 -> "1m15s", 5.2 -> "5s"
function progress.duration(s)
  s = math.floor(s + 0.5)
  if s < 60 then return string.format('%ds', s) end
  if s < 3600 then return string.format('%dm%02ds', s // 60, s % 60) end
  return string.format('%dh%02dm', s // 3600, s % 3600 // 60)
end

-- A bar for `total` cells; bar:update(done) after each.
function progress.new(total, terminal)
  local bar = {total = math.max(total, 1), start = wb.clock(), shown = -1}
  function bar:update(done)
    local elapsed = wb.clock() - self.start
    local width = 30
    local filled = width * done // self.total
    local left = done > 0 and done < self.total and string.format(', about %s left', progress.duration(elapsed / done * (self.total - done))) or ''
    local line = string.format(' [%s%s] %d/%d cells, %s%s', string.rep('=', filled), string.rep('.', width - filled),
                               done, self.total, progress.duration(elapsed), left)
    if terminal then
      io.stdout:write('\r', line, '   ', done >= self.total and '\n' or '')
    elseif done >= self.total or (100 * done // self.total) // 10 > self.shown // 10 then
      self.shown = 100 * done // self.total
      io.stdout:write(line, '\n')
    end
    io.stdout:flush()
  end
  return bar
end

return progress
