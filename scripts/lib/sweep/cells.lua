-- The cells of a sweep: what one process loads once (model, data, scoring sets), one cell's
-- work (prune one layer of a copy of the loaded model to one level with one pruner and seed,
-- test, optionally retrain and test again), and the cell's result file
-- <out>/cells/<name>.csv, written atomically and read back with every line checked, so that a
-- file cut short is never taken for a result.
local flow = require 'lib.flow'
local grid = require 'lib.sweep.grid'

local cells = {}

-- Distiller's columns, then ours.
cells.header = 'parameter,sparsity,top1,top5,loss,layer,pruner,seed,retrain_epochs,error_before_retrain,seconds'
local columns = 11
local trailer = '# complete'

function cells.folder(out) return flow.path(out, 'cells') end
function cells.file(out, c) return flow.path(cells.folder(out), c.name .. '.csv') end

-- What a process loads once for all its cells: the model as loaded, the data and (by seed)
-- the pruners' scoring sets. `startup` is set by the caller once this is ready.
function cells.context(S)
  wb.threads(S.threads)
  local train, test = wb.loadData(S.data, {train = S.trainSize, test = S.testSize})
  local ctx = {S = S, model = wb.loadModel(S.model), train = train, test = test, scoring = {}, inputs = {},
               options = flow.parseOptions(S.prunerOptions)}
  return ctx
end

-- The test set as the input of `layer`, computed once per process: pruning a layer leaves
-- the modules before it as they were, so a cell's test after pruning runs from that layer on
-- (the same numbers as a whole test, wb.layerInputs). Computed from the inputs of the nearest
-- earlier layer already computed, when there is one.
local function testInputs(ctx, layer)
  if not ctx.inputs[layer] then
    local from = ctx.test
    for k = layer - 1, 2, -1 do
      if ctx.inputs[k] then from = ctx.inputs[k] break end
    end
    ctx.inputs[layer] = wb.layerInputs(ctx.model, from, layer)
  end
  return ctx.inputs[layer]
end

local function scoringSet(ctx, seed)
  if not ctx.scoring[seed] then
    local source = ctx.S.scoreSet == 'test' and ctx.test or ctx.train
    ctx.scoring[seed] = source:subset(math.min(ctx.S.scoreSize, #source), seed)
  end
  return ctx.scoring[seed]
end

-- Runs cell `c` and writes its result file; returns its seconds. The cell starts from a copy
-- of the loaded model and reseeds the global generator, so nothing carries over from the
-- cells a process ran before: each cell's numbers are the same in any process, in any order.
function cells.run(ctx, c, out)
  local S, t0 = ctx.S, wb.clock()
  torch.manualSeed(c.seed)
  local m = ctx.model:clone()
  wb.prune(m, c.layer, c.level, {pruner = c.pruner, data = scoringSet(ctx, c.seed), seed = c.seed,
                                 batchSize = S.batchSize, options = ctx.options})
  local before, loss, top5err = wb.test(m, testInputs(ctx, c.layer), {topk = 5})
  local err = before
  if S.retrainEpochs > 0 then
    wb.train(m, ctx.train, {epochs = S.retrainEpochs, lr = S.lr, momentum = S.momentum, weightDecay = S.weightDecay,
                            batchSize = S.batchSize, seed = c.seed, progress = false})
    err, loss, top5err = wb.test(m, ctx.test, {topk = 5})
  end
  local seconds = wb.clock() - t0
  -- Accuracy from the count of errors (77.21, not 100 - 22.79 = 77.21000000000001).
  local n = #ctx.test
  local function accuracy(e) return 100 * (n - math.floor(e * n / 100 + 0.5)) / n end
  local row = table.concat({c.parameter, flow.exact(c.level), flow.exact(accuracy(err)), flow.exact(accuracy(top5err)),
                            flow.exact(loss), c.layer, c.pruner, c.seed, S.retrainEpochs, flow.exact(before),
                            string.format('%.3f', seconds)}, ',')
  wb.writeFile(cells.file(out, c), cells.header .. '\n' .. row .. '\n' .. trailer .. '\n')
  return seconds
end

-- The result of cell `c` read from its file: {row = the CSV line, top1, top1Before, retained,
-- error, seconds}; nil and why when the file is missing, cut short or not this cell's.
function cells.read(out, c)
  local f = io.open(cells.file(out, c), 'r')
  if not f then return nil, 'missing' end
  local text = f:read('a')
  f:close()
  if not text then return nil, 'unreadable' end
  local header, row, last, rest = text:match('^([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$')
  if header ~= cells.header or last ~= trailer or rest ~= '' then return nil, 'cut short or damaged' end
  local v = {}
  for field in (row .. ','):gmatch('([^,]*),') do v[#v + 1] = field end
  if #v ~= columns or v[1] ~= c.parameter or tonumber(v[2]) ~= c.level or tonumber(v[6]) ~= c.layer
      or v[7] ~= c.pruner or tonumber(v[8]) ~= c.seed then
    return nil, 'not this cell'
  end
  for _, k in ipairs{3, 4, 5, 9, 10, 11} do
    if not tonumber(v[k]) then return nil, 'cut short or damaged' end
  end
  return {row = row, top1 = tonumber(v[3]), top1Before = 100 - tonumber(v[10]), error = 100 - tonumber(v[3]),
          seconds = tonumber(v[11])}
end

-- The cells of `all` without a valid result, and the names of those whose file was there but
-- is not a result (cut short, damaged): these are redone.
function cells.pending(out, all)
  local pending, damaged = {}, {}
  for _, c in ipairs(all) do
    local r, why = cells.read(out, c)
    if not r then
      pending[#pending + 1] = c
      if why ~= 'missing' then damaged[#damaged + 1] = string.format('%s (%s)', c.name, why) end
    end
  end
  return pending, damaged
end

-- Runs `c` in protected mode: its seconds, or nil and the message. A Ctrl-C is not a cell's
-- failure: it stops the run.
function cells.try(ctx, c, out)
  local ok, r = pcall(cells.run, ctx, c, out)
  if ok then return r end
  local msg = tostring(r)
  if msg:find('interrupted (Ctrl-C)', 1, true) then error(msg, 0) end
  return nil, string.format('%s: %s', grid.describe(c), msg)
end

return cells
