-- What a sweep writes from its cells' results (`workbench sweep`, and `--merge DIR`):
--   <out>/sensitivity.csv        Distiller's columns parameter,sparsity,top1,top5,loss, then
--                                layer,pruner,seed,retrain_epochs,error_before_retrain,seconds
--   <out>/<pruner>_seed<s>.plotlog  the reference tool's LayerNo,Retained%,TestError
--   <out>/<pruner>.svg           top-1 accuracy against the fraction pruned, one line per layer
--                                (mean over the seeds); a second panel after retraining
--   <out>/index.html             the plots and links to the files
-- Every file is written atomically, and only when every cell has a result: otherwise the
-- cells without one are listed (with the Slurm task that had them) and the merge fails.
local flow = require 'lib.flow'
local json = require 'lib.json'
local svg = require 'lib.svg'
local grid = require 'lib.sweep.grid'
local cells = require 'lib.sweep.cells'

local report = {}

-- The Slurm submission recorded by the command (<out>/slurm/submitted.json), or nil.
local function submission(out)
  local f = io.open(flow.path(out, 'slurm/submitted.json'), 'r')
  if not f then return nil end
  local ok, s = pcall(json.decode, f:read('a'))
  f:close()
  return ok and s or nil
end

-- The last non-empty line of a file, or nil.
local function lastLine(path)
  local f = io.open(path, 'r')
  if not f then return nil end
  local last
  for line in f:lines() do if line:match('%S') then last = line end end
  f:close()
  return last
end

-- "no result: layer 8, ... (Slurm task 3 of job 17: DIR/slurm/17_3.out: its last line)"
local function whyMissing(out, c, why, slurm)
  local where = ''
  if slurm then
    local task = (c.index - 1) // slurm.cellsPerTask
    local log = flow.path(out, string.format('slurm/%s_%d.out', slurm.job or '<job>', task))
    local last = slurm.job and lastLine(log)
    where = string.format(' (Slurm task %d%s: %s%s)', task, slurm.job and ' of job ' .. slurm.job or '', log,
                          last and ': ' .. last or slurm.job and ', no output' or '')
  end
  return string.format('  %s: %s%s', grid.describe(c), why, where)
end

-- The start-up seconds of the Slurm tasks (<out>/tasks/task-<k>.json): a line, or nil.
local function taskSummary(out, slurm)
  if not slurm then return nil end
  local startups, overheads = {}, {}
  for _, k in ipairs(slurm.array or {}) do
    local f = io.open(flow.path(out, string.format('tasks/task-%d.json', k)), 'r')
    if f then
      local ok, t = pcall(json.decode, f:read('a'))
      f:close()
      if ok and t.startup then startups[#startups + 1] = t.startup; overheads[#overheads + 1] = t.overhead end
    end
  end
  if #startups == 0 then return nil end
  local function stats(xs)
    local sum, most = 0, 0
    for _, x in ipairs(xs) do sum, most = sum + x, math.max(most, x) end
    return sum / #xs, most
  end
  local s, sMax = stats(startups)
  local o, oMax = stats(overheads)
  return string.format('Slurm tasks: %d; start-up (process start, model and data load) mean %.2f s, max %.2f s; '
    .. 'overhead beyond their cells mean %.2f s, max %.2f s', #startups, s, sMax, o, oMax)
end

-- The per-layer series of one pruner: mean top-1 over the seeds at each level, after pruning
-- (`field` top1Before) or after retraining (top1).
local function series(S, results, pruner, field)
  local out = {}
  for _, layer in ipairs(S.layers) do
    local points = {}
    for _, level in ipairs(S.levels) do
      local sum, n = 0, 0
      for _, r in ipairs(results) do
        if r.cell.pruner == pruner and r.cell.layer == layer and r.cell.level == level then
          sum, n = sum + r[field], n + 1
        end
      end
      points[#points + 1] = {level, sum / n}
    end
    out[#out + 1] = {name = string.format('layer %d (%d.weight)', layer, layer - 1), points = points}
  end
  return out
end

-- The plot of one pruner: one panel after pruning, a second after retraining (when it retrains).
function report.plot(S, results, pruner)
  local lo = 100
  for _, r in ipairs(results) do lo = math.min(lo, r.top1Before, r.top1) end
  local function panel(title, field)
    return {title = title, xlabel = 'fraction of the layer pruned', ylabel = 'top-1 accuracy (%)',
            yrange = {math.floor(lo / 10) * 10, 100}, series = series(S, results, pruner, field)}
  end
  local seeds = #S.seeds > 1 and string.format(', mean of %d seeds', #S.seeds) or ''
  local first = panel(string.format('%s: after pruning%s', pruner, seeds), 'top1Before')
  if S.retrainEpochs == 0 then return svg.panels{first} end
  return svg.panels{first, panel(string.format('%s: after %d epoch%s of retraining%s', pruner, S.retrainEpochs,
                                               S.retrainEpochs == 1 and '' or 's', seeds), 'top1')}
end

local function esc(s) return (tostring(s):gsub('&', '&amp;'):gsub('<', '&lt;'):gsub('>', '&gt;')) end

-- index.html: the settings, the plots, the files.
local function index(S, files)
  local lines = {'<!DOCTYPE html>', '<html><head><meta charset="utf-8"><title>Sensitivity sweep</title></head><body>',
                 string.format('<h1>Sensitivity sweep of %s</h1>', esc(S.model)),
                 string.format('<p>Data %s; layers %s; %d levels; pruners %s; seeds %s; %d retraining epochs.</p>',
                               esc(S.data), table.concat(S.layers, ', '), #S.levels, esc(table.concat(S.pruners, ', ')),
                               table.concat(S.seeds, ', '), S.retrainEpochs)}
  for _, p in ipairs(S.pruners) do
    lines[#lines + 1] = string.format('<h2>%s</h2><p><img src="%s.svg" alt="sensitivity of each layer to %s"></p>', esc(p), esc(p), esc(p))
  end
  lines[#lines + 1] = '<ul>'
  for _, f in ipairs(files) do lines[#lines + 1] = string.format('<li><a href="%s">%s</a></li>', esc(f), esc(f)) end
  lines[#lines + 1] = '</ul></body></html>'
  return table.concat(lines, '\n') .. '\n'
end

-- Collects every cell's result and writes the files; fails, listing the cells without a
-- result, when some are missing. Returns the number of rows.
function report.merge(S, out)
  local all = grid.cells(S)
  local results, missing = {}, {}
  local slurm = submission(out)
  for _, c in ipairs(all) do
    local r, why = cells.read(out, c)
    if r then r.cell = c; results[#results + 1] = r else missing[#missing + 1] = whyMissing(out, c, why, slurm) end
  end
  local tasks = taskSummary(out, slurm)
  if tasks then print(tasks) end
  if #missing > 0 then
    local shown = {table.unpack(missing, 1, math.min(#missing, 20))}
    if #missing > 20 then shown[#shown + 1] = string.format('  ... and %d more', #missing - 20) end
    error(string.format('%d of %d cells have no result, so %s is not written:\n%s\n'
      .. 'run the same command again to run them (cells with a result are kept)', #missing, #all,
      flow.path(out, 'sensitivity.csv'), table.concat(shown, '\n')), 0)
  end
  local rows = {cells.header}
  for _, r in ipairs(results) do rows[#rows + 1] = r.row end
  wb.writeFile(flow.path(out, 'sensitivity.csv'), table.concat(rows, '\n') .. '\n')
  local files = {'sensitivity.csv'}
  for _, pruner in ipairs(S.pruners) do
    for _, seed in ipairs(S.seeds) do
      local lines = {'LayerNo,Retained%,TestError'}
      for _, r in ipairs(results) do
        local c = r.cell
        if c.pruner == pruner and c.seed == seed then
          lines[#lines + 1] = string.format('%d,%s,%.4f', c.layer, flow.number((1 - c.level) * 100), r.error)
        end
      end
      local name = string.format('%s_seed%d.plotlog', pruner, seed)
      wb.writeFile(flow.path(out, name), table.concat(lines, '\n') .. '\n')
      files[#files + 1] = name
    end
    wb.writeFile(flow.path(out, pruner .. '.svg'), report.plot(S, results, pruner))
    files[#files + 1] = pruner .. '.svg'
  end
  files[#files + 1] = grid.settingsFile
  wb.writeFile(flow.path(out, 'index.html'), index(S, files))
  print(string.format('Wrote %s (%d cells), %d plot%s and %s', flow.path(out, 'sensitivity.csv'), #results,
    #S.pruners, #S.pruners == 1 and '' or 's', flow.path(out, 'index.html')))
  return #results
end

return report
