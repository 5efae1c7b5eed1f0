-- Compares the pruning criteria on one layer: test error after pruning, then after one epoch
-- of retraining, and the time each pruner took. Prints a Markdown table (docs/pruners.md has
-- the one measured on the shipped LeNet-5).
--
--   workbench run scripts/examples/compare-pruners.lua [model] [dataset] [layer] [fraction] [scoreSize] [pruners] [epochs] [lr] [scoreBatch]
--   workbench run scripts/examples/compare-pruners.lua inp/lenet5.safetensors fashion-mnist 8 0.9 1000
--   workbench run scripts/examples/compare-pruners.lua inp/lenet5.safetensors fashion-mnist 8 0.9 1000 emp/rank=abs,l1/lr=10/epochs=5 0
-- pruners: names separated by commas, each with pruner options after '/' (name/rank=abs/lambda=0.001);
-- epochs: retraining epochs after pruning (default 1; 0: none, the column shows '-'); lr: their
-- learning rate (default 0.01, the reference's; Han et al. retrain at a tenth of it); scoreBatch:
-- the scoring passes' batch size (default 128; the batches of the option accumulate=batch).
local modelPath = arg[1] or 'inp/lenet5.safetensors'
local dataset = arg[2] or 'fashion-mnist'
local layer = tonumber(arg[3] or '8')
local fraction = tonumber(arg[4] or '0.9')
local scoreSize = tonumber(arg[5] or '1000')
local specs = {}
for spec in (arg[6] or 'mag,random,taylor1,taylor2,taylor12,l1,l2,emp'):gmatch('[^,]+') do specs[#specs + 1] = spec end
local epochs = tonumber(arg[7] or '1')
local lr = tonumber(arg[8] or '0.01')
local scoreBatch = tonumber(arg[9] or '128')

local train, test = wb.loadData(dataset)
local scoring = train:subset(scoreSize, 0)
local baseline = wb.test(wb.loadModel(modelPath), test)
print(string.format('%s, layer %d at %g%%, scoring set: %d training images in batches of %d; error before pruning %.2f%%',
  modelPath, layer, 100 * fraction, #scoring, scoreBatch, baseline))
print()
print(string.format('| pruner | test error after pruning | after %d epoch(s) of retraining at lr %g | pruner time (s) |', epochs, lr))
print('|---|---:|---:|---:|')
for _, spec in ipairs(specs) do
  local name, options = spec:match('^([^/]+)'), {}
  for k, v in spec:gmatch('/([%w_]+)=([^/]+)') do options[k] = v end
  local model = wb.loadModel(modelPath)
  local _, info = wb.prune(model, layer, fraction, {pruner = name, data = scoring, seed = 0, batchSize = scoreBatch, options = options})
  local pruned = wb.test(model, test)
  local retrained = '-'
  if epochs > 0 then
    wb.train(model, train, {epochs = epochs, lr = lr, momentum = 0.9, progress = false})
    retrained = string.format('%.2f%%', wb.test(model, test))
  end
  print(string.format('| %s | %.2f%% | %s | %.2f |', spec:gsub('/', ' '), pruned, retrained, info.seconds))
  io.stdout:flush()
end
