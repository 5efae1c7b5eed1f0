-- The accuracy plot of `workbench imp` from any findata files, one line per file:
--   workbench run scripts/imp-plot.lua OUT.svg [label=]P_findata.csv ... 
-- best validation accuracy against the fraction of weights and biases left (log x axis).
local records = require 'lib.imp.records'
local svg = require 'lib.svg'

local out = arg[1]
if not out or #arg < 2 then
  error('usage: workbench run scripts/imp-plot.lua OUT.svg [label=]P_findata.csv ...', 0)
end
local series = {}
for i = 2, #arg do
  local label, path = arg[i]:match('^([^=]+)=(.+)$')
  path = path or arg[i]
  label = label or path:match('([^/]+)_findata%.csv$') or path
  local f = io.open(path, 'r')
  if not f then error(string.format('%s: cannot read it', path), 0) end
  local header = f:read('l')
  local rows = {}
  for line in f:lines() do if line ~= '' then rows[#rows + 1] = line end end
  f:close()
  if not header or not header:match('left_overall') or not header:match('best_val_error') then
    error(string.format('%s:1: not a findata file of workbench imp (no left_overall, best_val_error columns)', path), 0)
  end
  series[#series + 1] = {name = label, points = records.accuracyPoints(header, rows)}
end
wb.writeFile(out, svg.lines{title = 'IMP: best validation accuracy', xlabel = 'fraction of weights and biases left (log)',
                            ylabel = 'best validation accuracy', xlog = true, series = series})
print('wrote ' .. out)
