-- The workbench's default flow: the reference Torch7 pruner's main.lua, flag for flag.
-- The command line (`workbench -l 8 -p 0.7 -reTrain ...`) hands its options here as the
-- global table `opt`; see `workbench --help` for each flag.
--
--   1. load the model, test it: init_err
--   2. for i = 1..iPruning, for each (layer l, fraction p): prune p/iPruning*i of layer l,
--      print "Layer<l>: <retained>% retained", test; with -reTrain retrain and test again;
--      if the error exceeds init_err + acctradeoff, undo the step and stop pruning l;
--      with -reLoad start the next step from the original model (sensitivity data)
--   3. print "Total Compression: <fraction of all weights that are zero>", save the model
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
tb:scalar('test/error', initErr, 0)
tb:scalar('prune/compression', compression(model), 0)

for i = 1, opt.iPruning do
  for k, l in ipairs(layers) do
    if not stopped[l] then
      local target = fractions[k] / opt.iPruning * i
      local before, retained
      if structured then
        before = model   -- wb.pruneStructured leaves it as it is
        model, retained = flow.pruneUnits(model, l, target, original, {criterion = criterion, data = scoring,
                                          seed = opt.manualSeed, batchSize = opt.batchsize})
      else
        before = model:clone()
        retained = wb.prune(model, l, target, {pruner = opt.pruner, data = scoring, seed = opt.manualSeed,
                                               batchSize = opt.batchsize, options = prunerOptions})
      end
      print(string.format('Layer%d: %.4g%% retained', l, retained * 100))
      local err = flow.test(model, test, opt)
      step = step + 1
      tb:scalar('prune/error_after_pruning', err, step)
      tb:scalar(string.format('prune/layer%d_retained_percent', l), retained * 100, step)
      if opt.reTrain and opt.nEpochs > 0 then
        flow.retrain(model, train, opt, function(e)
          epochs = epochs + 1
          tb:scalar('train/loss', e.loss, epochs)
        end)
        flow.checkFinite(model, opt, string.format('layer %d, step %d, after retraining', l, i))
        err = flow.test(model, test, opt)
      end
      tb:scalar('test/error', err, step)
      tb:scalar('prune/compression', compression(model), step)
      if err > initErr + opt.acctradeoff then
        print(string.format('Layer%d: error %.4f exceeds %.4f + %g: step undone, layer %d stops here',
          l, err, initErr, opt.acctradeoff, l))
        model = before
        stopped[l] = true
        log.plot(string.format('%d,stop', l))
      else
        log.plot(string.format('%d,%s,%.4f', l, flow.number(retained * 100), err))
      end
      if opt.reLoad then model = wb.loadModel(modelPath) end
    end
  end
end

print('Total Compression: ' .. string.format('%.14g', compression(model)))
local outPath = flow.path(opt.out, opt.model .. '.safetensors')
flow.ensureFolder(opt.out)
wb.saveModel(model, outPath, {source = modelPath, pruner = criterion, structure = opt.structure})
if structured then print(model) end
print('Pruned model written to ' .. outPath)
log.close()
tb:close()
