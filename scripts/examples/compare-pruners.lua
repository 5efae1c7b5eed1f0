-- Compares the pruning criteria on one layer: test error after pruning, then after one epoch
-- of retraining, and the time each pruner took. Prints a Markdown table (docs/pruners.md has
-- the one measured on the shipped LeNet-5).
--
--   workbench run scripts/examples/compare-pruners.lua [model] [dataset] [layer] [fraction] [scoreSize] [pruners]
--   workbench run scripts/examples/compare-pruners.lua inp/lenet5.safetensors fashion-mnist 8 0.9 1000
local modelPath = arg[1] or 'inp/lenet5.safetensors'
local dataset = arg[2] or 'fashion-mnist'
local layer = tonumber(arg[3] or '8')
local fraction = tonumber(arg[4] or '0.9')
local scoreSize = tonumber(arg[5] or '1000')
local names = {}
for name in (arg[6] or 'mag,random,taylor1,taylor2,taylor12,l1,l2,emp'):gmatch('[^,]+') do names[#names + 1] = name end

local train, test = wb.loadData(dataset)
local scoring = train:subset(scoreSize, 0)
local baseline = wb.test(wb.loadModel(modelPath), test)
print(string.format('%s, layer %d at %g%%, scoring set: %d training images; error before pruning %.2f%%',
  modelPath, layer, 100 * fraction, #scoring, baseline))
print()
print('| pruner | test error after pruning | after 1 epoch of retraining | pruner time (s) |')
print('|---|---:|---:|---:|')
for _, name in ipairs(names) do
  local model = wb.loadModel(modelPath)
  local _, info = wb.prune(model, layer, fraction, {pruner = name, data = scoring, seed = 0})
  local pruned = wb.test(model, test)
  wb.train(model, train, {epochs = 1, lr = 0.01, momentum = 0.9, progress = false})
  local retrained = wb.test(model, test)
  print(string.format('| %s | %.2f%% | %.2f%% | %.2f |', name, pruned, retrained, info.seconds))
end
