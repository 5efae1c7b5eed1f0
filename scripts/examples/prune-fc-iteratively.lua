-- Prune every fully connected layer of a model iteratively: 5 steps to 90% of each layer's
-- weights, one epoch of retraining (SGD, lr 0.01, as the reference tool) after each step.
--
--   workbench run scripts/examples/prune-fc-iteratively.lua [model.safetensors] [dataset] [trainImages]
local modelPath = arg[1] or 'inp/lenet5.safetensors'
local dataset = arg[2] or 'fashion-mnist'
local trainImages = tonumber(arg[3] or '0')   -- 0: all

local model = wb.loadModel(modelPath)
local train, test = wb.loadData(dataset, {train = trainImages})

local fc = {}
for i = 1, #model do
  if torch.type(model:get(i)) == 'nn.Linear' then fc[#fc + 1] = i end
end
print(string.format('%s: fully connected layers %s; test error %.2f%%', modelPath, table.concat(fc, ', '),
  (wb.test(model, test))))

local steps, final = 5, 0.9
for step = 1, steps do
  local target = final * step / steps
  for _, l in ipairs(fc) do wb.prune(model, l, target) end
  local before = wb.test(model, test)
  wb.train(model, train, {epochs = 1, lr = 0.01, momentum = 0.9, progress = false})
  local after = wb.test(model, test)
  print(string.format('step %d: %2.0f%% of each fc layer pruned, compression %.3f, error %.2f%% -> %.2f%% after retraining',
    step, 100 * target, wb.compression(model), before, after))
end
