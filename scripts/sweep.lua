-- `workbench sweep`: sensitivity analysis over layers x levels x pruners x seeds. A cell
-- prunes one layer of the loaded model to one level with one pruner and seed (one-shot, as the
-- reference's -reLoad), optionally retrains, and tests; its result goes to
-- <out>/cells/<name>.csv atomically. The command hands its flags as `opt`, with opt.mode:
--   plan    check the flags, keep <out>/sweep.json, list the cells without a result: returns
--           the number of cells and those to run as "index name" lines (for --jobs N, --slurm)
--   run     plan, then run those cells in this process (--jobs 1), then merge
--   worker  a local worker of --jobs N: reads cell indices on stdin, answers on stdout
--           "@sweep ready <start-up s>", "@sweep done <index> <s>", "@sweep failed <index> <why>"
--   task    Slurm array task opt.task: the cells of chunk opt.task (opt.cellsPerTask a chunk)
--   merge   the CSV, .plotlog, SVG and HTML from the cells' results (report.lua)
local flow = require 'lib.flow'
local json = require 'lib.json'
local grid = require 'lib.sweep.grid'
local cells = require 'lib.sweep.cells'
local report = require 'lib.sweep.report'
local progress = require 'lib.sweep.progress'

assert(opt, 'scripts/sweep.lua is run by `workbench sweep`, which sets the global `opt`')
local out = opt.out

-- Seconds from the process's start (opt.startedAgo: before the command's first line, e.g.
-- the Slurm task's shell) to now.
local function sinceStart() return (opt.startedAgo or 0) + wb.clock() - opt.startClock end

if opt.mode == 'merge' then
  return report.merge(grid.load(out), out)
end

if opt.mode == 'worker' then
  local S = grid.load(out)
  local all = grid.cells(S)
  local ctx = cells.context(S)
  io.stdout:write(string.format('@sweep ready %.6f\n', sinceStart()))
  io.stdout:flush()
  for line in io.stdin:lines() do
    local c = all[tonumber(line)]
    if not c then error(string.format('worker: no cell %q in this sweep of %d cells', line, #all), 0) end
    local seconds, why = cells.try(ctx, c, out)
    if seconds then
      io.stdout:write(string.format('@sweep done %d %.6f\n', c.index, seconds))
    else
      io.stdout:write(string.format('@sweep failed %d %s\n', c.index, (why:gsub('\n', ' '))))
    end
    io.stdout:flush()
  end
  return
end

if opt.mode == 'task' then
  local S = grid.load(out)
  local all = grid.cells(S)
  local task, size = math.tointeger(opt.task), math.tointeger(opt.cellsPerTask)
  local first = task * size + 1
  local chunk = {table.unpack(all, first, math.min(#all, first + size - 1))}
  if #chunk == 0 then error(string.format('task %d: no such chunk (%d cells, %d a chunk)', task, #all, size), 0) end
  local todo = cells.pending(out, chunk)
  local ctx = cells.context(S)
  local startup = sinceStart()
  print(string.format('task %d: cells %d..%d, %d to run; start-up %.3f s', task, first, first + #chunk - 1, #todo, startup))
  local work, failed = 0, {}
  for _, c in ipairs(todo) do
    local seconds, why = cells.try(ctx, c, out)
    if seconds then
      work = work + seconds
      print(string.format('%s: %.3f s', grid.describe(c), seconds))
    else
      failed[#failed + 1] = why
    end
  end
  local total = sinceStart()
  wb.mkdir(flow.path(out, 'tasks'))
  wb.writeFile(flow.path(out, string.format('tasks/task-%d.json', task)),
    json.encode({task = task, cells = #todo, startup = startup, cellSeconds = work, seconds = total,
                 overhead = total - work, failed = #failed}))
  print(string.format('task %d: %d cells in %.3f s, %.3f s beyond their work', task, #todo, total, total - work))
  if #failed > 0 then error(string.format('%d cells failed:\n%s', #failed, table.concat(failed, '\n')), 0) end
  return
end

-- plan and run: the flags checked (the model and the data too), then the settings kept and
-- the cells without a result listed.
local S = grid.settings(opt)
grid.keep(S, out)
wb.mkdir(cells.folder(out))
local all = grid.cells(S)
local todo, damaged = cells.pending(out, all)
local function plural(n, what) return string.format('%d %s%s', n, what, n == 1 and '' or 's') end
print(string.format('Sweep of %s: %d cells (%s x %s x %s x %s), %d with a result, %d to run', S.model, #all,
  plural(#S.layers, 'layer'), plural(#S.levels, 'level'), plural(#S.pruners, 'pruner'), plural(#S.seeds, 'seed'),
  #all - #todo, #todo))
if #damaged > 0 then
  print(string.format('Redoing %s whose result file is not a result: %s', plural(#damaged, 'cell'), table.concat(damaged, ', ')))
end

if opt.mode == 'plan' then
  local lines = {}
  for _, c in ipairs(todo) do lines[#lines + 1] = c.index .. ' ' .. c.name end
  return #all, table.concat(lines, '\n')
end

assert(opt.mode == 'run', 'opt.mode must be plan, run, worker, task or merge')
if #todo > 0 then
  local ctx = cells.context(S)
  print(string.format('Start-up (model and data load): %.2f s', sinceStart()))
  local bar = progress.new(#todo, opt.terminal)
  local failed = {}
  for k, c in ipairs(todo) do
    local seconds, why = cells.try(ctx, c, out)
    if not seconds then
      failed[#failed + 1] = why
      io.stderr:write('workbench: cell failed: ', why, '\n')
    end
    bar:update(k)
  end
  if #failed > 0 then
    error(string.format('%s failed (the others are kept; run the same command again to retry):\n%s',
      plural(#failed, 'cell'), table.concat(failed, '\n')), 0)
  end
end
report.merge(S, out)
