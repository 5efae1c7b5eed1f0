-- The structured-pruning experiment of docs/structured.md: the shipped LeNet-5 with 50% and
-- 75% of conv2's filters (layer 4) and of fc1's neurons (layer 8) removed by each structured
-- criterion, tested, then retrained one epoch and tested again. Prints a markdown table:
-- criterion, layer, fraction, parameters, MFLOPs per image, test error without and with the
-- retraining epoch, scoring seconds. (The thinned models' speed depends only on their shapes:
-- `workbench bench --structured` times them, in the workbench and in ONNX Runtime.)
--
--   workbench run -threads 2 scripts/experiments/structured-grid.lua [key=value ...]
--     model=inp/lenet5.safetensors  criteria=l1,l2,activation,taylor,loss  cuts=4:0.5,4:0.75,8:0.5,8:0.75
--     score=1000 (scoring images from the training set)  epochs=1  lr=0.01  momentum=0.9  batch=128  seed=0
--     train=0 test=0 (0: all)
local cfg = {model = 'inp/lenet5.safetensors', criteria = 'l1,l2,activation,taylor,loss',
             cuts = '4:0.5,4:0.75,8:0.5,8:0.75', score = 1000, epochs = 1, lr = 0.01, momentum = 0.9,
             batch = 128, seed = 0, train = 0, test = 0}
for _, a in ipairs(arg) do
  local k, v = a:match('^([%w_]+)=(.*)$')
  if not k or cfg[k] == nil then error('unknown setting ' .. a, 0) end
  cfg[k] = tonumber(v) or v
end

local function list(text) local out = {} for x in tostring(text):gmatch('[^,]+') do out[#out + 1] = x end return out end

torch.manualSeed(cfg.seed)
local train, test = wb.loadData('fashion-mnist', {train = cfg.train, test = cfg.test})
local scoring = train:subset(math.min(cfg.score, #train), cfg.seed)
local original = wb.loadModel(cfg.model)

local function parameters(m)
  local n = 0
  for _, p in ipairs(m:parameters()) do n = n + p:nElement() end
  return n
end

local function mflops(m)
  local total = 0
  for _, f in ipairs(wb.forwardFLOPs(m, {input = {1, 28, 28}})) do total = total + f end
  return total / 1e6
end

print(string.format('%s on fashion-mnist: %d training, %d test images; scoring set %d training images; '
  .. 'retraining %d epoch(s), lr %g, momentum %g, batch %d, seed %d', cfg.model, #train, #test, #scoring,
  cfg.epochs, cfg.lr, cfg.momentum, cfg.batch, cfg.seed))
local baseError = wb.test(original, test)
print(string.format('\n| criterion | layer | units removed | parameters | MFLOPs/image | test error %% | '
  .. 'after %d epoch(s) %% | scoring s |', cfg.epochs))
print('|---|---:|---:|---:|---:|---:|---:|---:|')
print(string.format('| (original) | | 0 | %d | %.2f | %.2f | | |', parameters(original), mflops(original), baseError))
for _, criterion in ipairs(list(cfg.criteria)) do
  for _, cut in ipairs(list(cfg.cuts)) do
    local l, f = cut:match('^(%d+):([%d.]+)$')
    l, f = tonumber(l), tonumber(f)
    local thin, info = wb.pruneStructured(original, l, f, {criterion = criterion, data = scoring,
                                                          batchSize = cfg.batch, seed = cfg.seed})
    local before = wb.test(thin, test)
    wb.train(thin, train, {epochs = cfg.epochs, lr = cfg.lr, momentum = cfg.momentum, batchSize = cfg.batch,
                           seed = cfg.seed})
    local after = wb.test(thin, test)
    print(string.format('| %s | %d | %d of %d | %d | %.2f | %.2f | %.2f | %.2f |', criterion, l,
      info.units - info.remaining, info.units, parameters(thin), mflops(thin), before, after, info.seconds))
    io.stdout:flush()
  end
end
