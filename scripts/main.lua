-- The workbench's default flow: the reference Torch7 pruner's main.lua, flag for flag.
-- The command line (`workbench -l 8 -p 0.7 -reTrain ...`) hands its options here as the
-- global table `opt`; see `workbench --help` for each flag.
--
--   1. load the model, test it: init_err
--   2. for i = 1..iPruning, for each (layer l, fraction p): prune p/iPruning*i of layer l,
--      print "Layer<l>: <retained>% retained" and the per-layer sparsity table, test; with
--      -reTrain retrain and test again; if the error exceeds init_err + acctradeoff, undo the
--      step and stop pruning l; with -reLoad start the next step from the original model
--      (sensitivity data). -pruneSchedule s1,...,sn: step i prunes s_i*p instead.
--      -global: each step prunes all the layers together, ranked as one (flow.globalTargets);
--      an undo then stops them all. -scaleDropout: Han et al.'s dropout rates after each step
--   3. with -reTrain and -finalEpochs N: N more epochs of retraining (at -LRfinal; with
--      -LRdecayFinal on a cosine to 0), test
--   4. print "Total Compression: <fraction of all weights that are zero>", save the model
-- With -tensorboard DIR the same figures go to TensorBoard event files in DIR, by pruning step
-- (0 = the model as loaded): test/error (after retraining, with -reTrain), prune/error_after_pruning,
-- prune/layer<l>_retained_percent, prune/compression (before an undo or -reLoad); retraining adds
-- train/loss by epoch (counted over the whole run).
-- With -structure unit the steps remove whole units instead of weights (wb.pruneStructured:
-- a Linear's neurons, a convolution's filters, and the next layer's inputs that read them):
-- the fraction counts the layer's original units, -pruner names a structured criterion, the
-- retained percentage is of the units, and Total Compression is 1 - nonzero weights left /
-- weights of the loaded model.

local flow = require 'lib.flow'
local tensorboard = require 'lib.tensorboard'
local dropout = require 'lib.dropout'

assert(opt, 'scripts/main.lua is run by the workbench command, which sets the global `opt`')
wb.threads(opt.threads)
torch.manualSeed(opt.manualSeed)

if opt.train then return flow.trainFromScratch(opt) end
if opt.test then return flow.testPruned(opt) end

if opt.prunerFile then dofile(opt.prunerFile) end
local structured = opt.structure == 'unit'
local criterion = structured and flow.unitCriterion(opt.pruner) or opt.pruner
if not structured then flow.checkPruner(opt.pruner) end
local prunerOptions = flow.parseOptions(opt.prunerOptions)

local modelPath = flow.modelFile(opt.inp, opt.model)
local model = wb.loadModel(modelPath)
local layers, fractions = flow.layersAndFractions(opt, model)
local train, test = flow.loadData(opt)
local scoring = flow.scoringSet(opt, train, test)

local log = flow.openLogs(opt)
local tb = tensorboard.open(opt.tensorboard)
print(string.format('Model %s: %d layers, %d weights; data %s: %d training, %d test images',
  modelPath, #model, wb.weightCount(model), opt.data, #train, #test))

local original = structured and flow.unitCounts(model, layers) or nil
local function compression(m)
  return structured and flow.unitCompression(m, original) or wb.compression(m)
end

local initErr = flow.test(model, test, opt)
local stopped = {}
local step, epochs = 0, 0
local dropouts = opt.scaleDropout and dropout.rates(model) or nil
tb:scalar('test/error', initErr, 0)
tb:scalar('prune/compression', compression(model), 0)
local function onEpoch(e)
  epochs = epochs + 1
  tb:scalar('train/loss', e.loss, epochs)
end
local pruneOpts = {pruner = opt.pruner, data = scoring, seed = opt.manualSeed, batchSize = opt.batchsize,
                   options = prunerOptions}

-- One pruning step of the layers `ls` (one layer, or all of them with -global): prune(model)
-- prunes and returns the pruned model (a thinner one with -structure unit, the same one
-- otherwise) and each layer's retained fraction; then test, retrain, test, undo or log.
local function pruneStep(i, ls, prune)
  local before = structured and model or model:clone()   -- wb.pruneStructured leaves it as it is
  local retained
  model, retained = prune(model)
  for _, l in ipairs(ls) do print(string.format('Layer%d: %.4g%% retained', l, retained[l] * 100)) end
  print((wb.sparsity(model)))
  if dropouts then dropout.scale(model, dropouts) end
  local err = flow.test(model, test, opt)
  step = step + 1
  tb:scalar('prune/error_after_pruning', err, step)
  for _, l in ipairs(ls) do tb:scalar(string.format('prune/layer%d_retained_percent', l), retained[l] * 100, step) end
  local what = #ls == 1 and string.format('layer %d', ls[1]) or 'layers ' .. table.concat(ls, ',')
  if opt.reTrain and opt.nEpochs > 0 then
    flow.retrain(model, train, opt, onEpoch)
    flow.checkFinite(model, opt, string.format('%s, step %d, after retraining', what, i))
    err = flow.test(model, test, opt)
  end
  tb:scalar('test/error', err, step)
  tb:scalar('prune/compression', compression(model), step)
  if err > initErr + opt.acctradeoff then
    print(string.format('Layer%s: error %.4f exceeds %.4f + %g: step undone, %s stops here',
      table.concat(ls, ','), err, initErr, opt.acctradeoff, what))
    model = before
    for _, l in ipairs(ls) do stopped[l] = true; log.plot(string.format('%d,stop', l)) end
  else
    for _, l in ipairs(ls) do log.plot(string.format('%d,%s,%.4f', l, flow.number(retained[l] * 100), err)) end
  end
  if opt.reLoad then model = wb.loadModel(modelPath) end
end

local shares = flow.stepShares(opt)
local total, caps = flow.globalTargets(opt, layers, fractions)
for i, share in ipairs(shares) do
  if opt.global then
    if not stopped[layers[1]] then
      pruneStep(i, layers, function(m) return m, flow.pruneGlobal(m, layers, total * share, caps, share, pruneOpts) end)
    end
  else
    for k, l in ipairs(layers) do
      if not stopped[l] then
        pruneStep(i, {l}, function(m)
          if structured then
            local thinner, retained = flow.pruneUnits(m, l, fractions[k] * share, original, {criterion = criterion, data = scoring,
                                                      seed = opt.manualSeed, batchSize = opt.batchsize})
            return thinner, {[l] = retained}
          end
          return m, {[l] = wb.prune(m, l, fractions[k] * share, pruneOpts)}
        end)
      end
    end
  end
end

if opt.reTrain and opt.finalEpochs > 0 then
  print(string.format('Final retraining: %d epochs', opt.finalEpochs))
  flow.retrainFinal(model, train, opt, onEpoch, opt.finalEpochs)
  flow.checkFinite(model, opt, 'after the final retraining')
  local err = flow.test(model, test, opt)
  tb:scalar('test/error', err, step + 1)
end

print('Total Compression: ' .. string.format('%.14g', compression(model)))
local outPath = flow.path(opt.out, opt.model .. '.safetensors')
flow.ensureFolder(opt.out)
wb.saveModel(model, outPath, {source = modelPath, pruner = criterion, structure = opt.structure})
if structured then print(model) end
print('Pruned model written to ' .. outPath)
log.close()
tb:close()
