-- Han et al. 2015, "Learning both Weights and Connections for Efficient Neural Networks":
-- iterative magnitude pruning of every layer to the .conf's fractions, each step followed by
-- retraining at a reduced learning rate with L2 weight decay, the dropout before each pruned
-- layer scaled to D_o·sqrt(C_r/C_o) (their eq. 2; nets without dropout are left as they are),
-- then a final retraining. Han et al.'s per-layer form of the recipe of docs/recipes.md (the
-- shipped command ranks the layers globally under the .conf's caps instead), written out with
-- wb.prune and wb.train: a starting point for variants. Prints the per-layer table beside the
-- paper's kept fractions.
--
--   workbench run scripts/examples/han2015.lua [model] [dataset] [conf] [steps] [epochs] [lr] [weightDecay] [finalEpochs] [trainImages] [out]
--   workbench run scripts/examples/han2015.lua inp/lenet5.safetensors fashion-mnist inp/lenet5-han2015.conf 4 1 0.001 0.0001 4
local flow = require 'lib.flow'
local dropout = require 'lib.dropout'

local modelPath = arg[1] or 'inp/lenet5.safetensors'
local dataset = arg[2] or 'fashion-mnist'
local conf = arg[3] or 'inp/lenet5-han2015.conf'
local steps = tonumber(arg[4] or '4')
local epochs = tonumber(arg[5] or '1')
local lr = tonumber(arg[6] or '0.001')
local weightDecay = tonumber(arg[7] or '0.0001')
local finalEpochs = tonumber(arg[8] or '4')
local trainImages = tonumber(arg[9] or '0')   -- 0: all
local out = arg[10]

local model = wb.loadModel(modelPath)
local train, test = wb.loadData(dataset, {train = trainImages})
local layers, fractions = flow.readConf(conf)
local rates = dropout.rates(model)
local retrain = {lr = lr, momentum = 0.9, weightDecay = weightDecay, batchSize = 128, seed = 0, progress = false}
local t0 = wb.clock()
local initial = wb.test(model, test)
print(string.format('%s on %s, layers %s to %s; %d steps, %d epoch(s) each at lr %g, weight decay %g; error %.2f%%',
  modelPath, dataset, table.concat(layers, ','), table.concat(fractions, ','), steps, epochs, lr, weightDecay, initial))

for step = 1, steps do
  for k, l in ipairs(layers) do
    wb.prune(model, l, fractions[k] * step / steps)
    dropout.scale(model, rates)
    retrain.epochs = epochs
    wb.train(model, train, retrain)
  end
  print(string.format('step %d: compression %.4f, error %.2f%% (%.0f s)', step, wb.compression(model), wb.test(model, test),
    wb.clock() - t0))
end
if finalEpochs > 0 then
  retrain.epochs = finalEpochs
  wb.train(model, train, retrain)
end
local final = wb.test(model, test)

-- The kept fractions of Han et al.'s Caffe LeNet-5 (20-50-500-10, MNIST), by layer kind.
local paper = {[1] = '66% (conv1)', [4] = '12% (conv2)', [8] = '8% (fc1)', [10] = '19% (fc2)'}
local text, rows = wb.sparsity(model)
print(text)
print('| layer | kept here | Han et al. LeNet-5 |')
print('|---|---:|---:|')
for _, r in ipairs(rows) do
  print(string.format('| %d %s | %.2f%% | %s |', r.layer, r.type, 100 * r.kept / r.weights, paper[r.layer] or '-'))
end
print(string.format('final: %.2f%% of the weights left (%.1fx), test error %.2f%% (was %.2f%%), %.0f s',
  100 * (1 - wb.compression(model)), 1 / (1 - wb.compression(model)), final, initial, wb.clock() - t0))
if out then wb.saveModel(model, out, {source = modelPath, recipe = 'han2015'}) end
