-- Pieces of the default flow (scripts/main.lua): data, logs, .conf files, train and test.
local flow = {}

function flow.path(folder, name)
  if folder == '' or folder == '.' then return name end
  return folder .. '/' .. name
end

-- The model file <folder>/<model>.safetensors, or the compressed <folder>/<model>.wbz when
-- only that one exists (wb.loadModel reads either).
function flow.modelFile(folder, model)
  local standard = flow.path(folder, model .. '.safetensors')
  local compressed = flow.path(folder, model .. '.wbz')
  local f = io.open(standard, 'rb')
  if f then f:close() return standard end
  f = io.open(compressed, 'rb')
  if f then f:close() return compressed end
  return standard
end

function flow.ensureFolder(folder)
  if folder ~= '' and folder ~= '.' then wb.mkdir(folder) end
end

-- A number as the reference printed it: 30 rather than 30.0, 7 rather than 7.000000000000001.
function flow.number(x)
  return string.format('%.10g', x)
end

function flow.checkPruner(name)
  for _, known in ipairs(wb.pruners()) do
    if known == name then return end
  end
  error(string.format("unknown pruner '%s'; known: %s (or register one with -prunerFile)",
    name, table.concat(wb.pruners(), ', ')), 0)
end

-- -structure unit: the structured criterion -pruner names; mag (the default) is the unit's
-- L1 norm, l1.
function flow.unitCriterion(name)
  if name == 'mag' then return 'l1' end
  for _, known in ipairs(wb.structuredCriteria()) do
    if known == name then return name end
  end
  error(string.format("-structure unit: unknown structured criterion '%s'; known: %s (or register one with "
    .. "wb.registerPruner(name, fn, {structure = 'unit'}) in -prunerFile)", name, table.concat(wb.structuredCriteria(), ', ')), 0)
end

-- The loaded model's units of each layer to prune and its weight count (-structure unit).
function flow.unitCounts(model, layers)
  local counts = {weights = wb.weightCount(model), units = {}}
  for _, l in ipairs(layers) do counts.units[l] = model:get(l).weight:size(1) end
  return counts
end

-- 1 - nonzero weights of `model` / weights of the loaded model.
function flow.unitCompression(model, original)
  local nonzero = wb.weightCount(model) * (1 - wb.compression(model))
  return 1 - nonzero / original.weights
end

-- Removes units of layer l until round(target * its original units) are gone: the thinner
-- model and the fraction of the original units it keeps.
function flow.pruneUnits(model, l, target, original, opts)
  local units, now = original.units[l], model:get(l).weight:size(1)
  local goal = math.min(units, math.floor(target * units + 0.5))
  local remove = goal - (units - now)
  if remove > 0 then
    model = wb.pruneStructured(model, l, remove / now, opts)
  end
  return model, model:get(l).weight:size(1) / units
end

-- "hessian=fisher,lambda=0.001" -> {hessian = 'fisher', lambda = '0.001'}
function flow.parseOptions(text)
  local options = {}
  for pair in (text or ''):gmatch('[^,]+') do
    local k, v = pair:match('^%s*([%w_]+)%s*=%s*(.-)%s*$')
    if not k then error(string.format("-prunerOptions: '%s' is not name=value", pair), 0) end
    options[k] = v
  end
  return options
end

function flow.loadData(opt)
  return wb.loadData(opt.data, {train = opt.trainSize, test = opt.testSize})
end

-- The pruners' scoring set: a seeded subset of the training data (or of the test data).
function flow.scoringSet(opt, train, test)
  local source = opt.scoreSet == 'test' and test or train
  return source:subset(math.min(opt.scoreSize, #source), opt.manualSeed)
end

-- A number with the digits that tell it apart (1.0000001, not 1; 0.1, not 0.10000000000000001).
function flow.exact(x)
  for digits = 6, 17 do
    local s = string.format('%.' .. digits .. 'g', x)
    if tonumber(s) == x then return s end
  end
  return tostring(x)
end

-- Layers and fractions: -l/-p, or the two CSV lines of inp/<model>.conf. Errors in a .conf
-- name the file and the line ("inp/lenet5.conf:1: layer 13 does not exist ...").
function flow.layersAndFractions(opt, model)
  local layers, fractions
  local layerWhere, fractionWhere = '', ''
  if opt.l > 0 then
    layers, fractions = {opt.l}, {opt.p}
  else
    local conf = flow.confFile(opt)
    local layerLine, fractionLine
    layers, fractions, layerLine, fractionLine = flow.readConf(conf, opt.global)
    layerWhere, fractionWhere = conf .. ':' .. layerLine .. ': ', conf .. ':' .. fractionLine .. ': '
  end
  local seen = {}
  for k, l in ipairs(layers) do
    if opt.global and seen[l] then error(string.format('%slayer %d is listed twice', layerWhere, l), 0) end
    seen[l] = true
    local leaves = wb.layers(model)
    if l < 1 or l > #leaves then
      error(string.format('%slayer %d does not exist: the model has layers 1..%d', layerWhere, l, #leaves), 0)
    end
    if not leaves[l].weight then
      error(string.format('%slayer %d (%s) has no weights to prune', layerWhere, l, tostring(leaves[l])), 0)
    end
    local p = fractions[k] or fractions[1]
    if not (p >= 0 and p <= 1) then
      error(string.format('%sthe fraction for layer %d must be in [0, 1], got %s', fractionWhere, l, flow.exact(p)), 0)
    end
  end
  return layers, fractions
end

local function csvNumbers(line, conf, lineNo, integers)
  local out = {}
  for field in (line .. ','):gmatch('([^,]*),') do
    local s = field:match('^%s*(.-)%s*$')
    local x = tonumber(s)
    if not x or (integers and math.type(x) ~= 'integer') then
      error(string.format('%s:%d: %q is not %s', conf, lineNo, s, integers and 'a layer index' or 'a number'), 0)
    end
    out[#out + 1] = x
  end
  return out
end

-- The .conf file: -conf, or <inp>/<model>.conf.
function flow.confFile(opt)
  return opt.conf or flow.path(opt.inp, opt.model .. '.conf')
end

-- singleFraction: a second line of one number is allowed (-global's total or common cap).
function flow.readConf(conf, singleFraction)
  local f, why = io.open(conf, 'r')
  if not f then
    error(string.format('no layer given (-l) and cannot read %s: %s', conf, why), 0)
  end
  local lines, lineNos, n = {}, {}, 0
  for line in f:lines() do
    n = n + 1
    if line:match('%S') then lines[#lines + 1] = line; lineNos[#lines] = n end
  end
  f:close()
  if #lines ~= 2 then
    error(string.format('%s: expected two CSV lines (layer indices, then fractions), found %d', conf, #lines), 0)
  end
  local layers = csvNumbers(lines[1], conf, lineNos[1], true)
  local fractions = csvNumbers(lines[2], conf, lineNos[2], false)
  if #layers ~= #fractions and not (singleFraction and #fractions == 1) then
    error(string.format('%s: %d layers but %d fractions', conf, #layers, #fractions), 0)
  end
  return layers, fractions, lineNos[1], lineNos[2]
end

function flow.openLogs(opt)
  flow.ensureFolder(opt.logDir)
  local optsFile = flow.path(opt.logDir, opt.jobID .. '.opts')
  local keys = {}
  for k in pairs(opt) do keys[#keys + 1] = k end
  table.sort(keys)
  local lines = {}
  for _, k in ipairs(keys) do
    local v = opt[k]
    lines[#lines + 1] = k .. '=' .. (type(v) == 'number' and flow.exact(v) or tostring(v))
  end
  wb.writeFile(optsFile, table.concat(lines, '\n') .. '\n')
  local plotFile = flow.path(opt.logDir, opt.jobID .. '.plotlog')
  local plot = assert(io.open(plotFile, 'w'))
  plot:write('LayerNo,Retained%,TestError\n')
  plot:flush()
  return {
    plot = function(line) plot:write(line, '\n'); plot:flush() end,
    close = function() plot:close() end,
  }
end

-- Refuses a model with a NaN or infinite weight after training (the sum of a tensor with a
-- NaN or an inf is not finite), with a message that names -LR and -momentum. (Loading refuses
-- such files, training stops at a non-finite loss, and saving refuses non-finite tensors.)
function flow.checkFinite(model, opt, what)
  local params = model:parameters()
  for _, p in ipairs(params) do
    local s = p:sum()
    if s ~= s or s == math.huge or s == -math.huge then
      error(string.format('%s: the model has NaN or infinite weights (training diverged); '
        .. 'try a smaller -LR (now %s) or -momentum (now %s); no model written',
        what, flow.exact(opt.LR), flow.exact(opt.momentum)), 0)
    end
  end
end

function flow.test(model, test, opt)
  local t0 = wb.clock()
  local err, loss = wb.test(model, test, {progress = not opt.verbose})
  print(string.format('test: avg. loss: %.4f; avg. error: %.4f, time: %.4f', loss, err, wb.clock() - t0))
  return err
end

-- `epochs` of SGD at rate `lr` (-momentum, -weightDecay, -batchsize, -manualSeed); with
-- `cosine` the rate falls along a cosine from lr to 0 over their steps (wb.Trainer with a
-- 'cosine' schedule, per step), the epochs' losses printed.
local function sgdEpochs(model, train, opt, onEpoch, epochs, lr, cosine)
  if not cosine then
    return wb.train(model, train, {epochs = epochs, lr = lr, momentum = opt.momentum, weightDecay = opt.weightDecay or 0,
                                   batchSize = opt.batchsize, seed = opt.manualSeed, verbose = opt.verbose, onEpoch = onEpoch})
  end
  local sgd = wb.SGD{lr = lr, momentum = opt.momentum, weightDecay = opt.weightDecay or 0}
  local trainer = wb.Trainer{model = model, optimizer = sgd, batchSize = opt.batchsize, seed = opt.manualSeed,
                             progress = not opt.verbose}
  trainer:schedule('cosine', {total = epochs * math.ceil(#train / opt.batchsize), per = 'step'})
  for e = 1, epochs do
    local loss = trainer:epoch(train)
    print(string.format('epoch %d/%d (cosine from lr %g): loss %.4f', e, epochs, lr, loss))
    if onEpoch then onEpoch({epoch = e, loss = loss}) end
  end
end

-- onEpoch(e) (optional) after each epoch: e.epoch, e.loss (wb.train's table). Retraining runs
-- at -LRretrain (default -LR) with -weightDecay, for `epochs` (default -nEpochs) epochs; with
-- -LRdecaySteps on a cosine from -LRretrain to 0.
function flow.retrain(model, train, opt, onEpoch, epochs)
  return sgdEpochs(model, train, opt, onEpoch, epochs or opt.nEpochs, opt.LRretrain or opt.LR, opt.LRdecaySteps)
end

-- The -finalEpochs: `epochs` of retraining at -LRfinal (default -LRretrain, then -LR) with
-- -weightDecay; with -LRdecayFinal on a cosine from that rate to 0 over their steps.
function flow.retrainFinal(model, train, opt, onEpoch, epochs)
  return sgdEpochs(model, train, opt, onEpoch, epochs, opt.LRfinal or opt.LRretrain or opt.LR, opt.LRdecayFinal)
end

-- The share of each layer's fraction that step i reaches: i/iPruning, or -pruneSchedule's s_i
-- (checked by the command: nondecreasing, in (0, 1], the last 1).
function flow.stepShares(opt)
  local shares = {}
  if opt.pruneSchedule then
    for s in opt.pruneSchedule:gmatch('[^,]+') do shares[#shares + 1] = tonumber(s) end
  else
    for i = 1, opt.iPruning do shares[i] = i / opt.iPruning end
  end
  return shares
end

-- -global: the total fraction and the per-layer caps (nil: none). With -l: -p, no caps. With a
-- .conf: a single fraction on its second line is the total (or, with -p, every layer's cap);
-- one fraction per layer are caps, and -p the total.
function flow.globalTargets(opt, layers, fractions)
  if not opt.global then return nil, nil end
  if opt.l > 0 then return opt.p, nil end
  if #fractions == 1 and #layers > 1 then
    if opt.p == 0 then return fractions[1], nil end
    local caps = {}
    for k = 1, #layers do caps[k] = fractions[1] end
    return opt.p, caps
  end
  if opt.p == 0 then
    error(string.format('-global with one cap per layer in %s needs the total fraction -p', flow.confFile(opt)), 0)
  end
  return opt.p, fractions
end

-- One global step: `fraction` of all the weights of `layers`, each layer at most share*cap.
-- Returns each layer's retained fraction by layer index.
function flow.pruneGlobal(model, layers, fraction, caps, share, pruneOpts)
  local o = {}
  for k, v in pairs(pruneOpts) do o[k] = v end
  if caps then
    o.caps = {}
    for k, c in ipairs(caps) do o.caps[k] = c * share end
  end
  local _, perLayer = wb.pruneGlobal(model, layers, fraction, o)
  local retained = {}
  for _, r in ipairs(perLayer) do retained[r.layer] = 1 - r.pruned / r.weights end
  return retained
end

-- -train: build scripts/models/<model>.lua, train it -nEpochs epochs, write inp/<model>.safetensors.
function flow.trainFromScratch(opt)
  local definition = flow.path(wb.scriptsDirectory(), 'models/' .. opt.model .. '.lua')
  local model = dofile(definition)
  local train, test = flow.loadData(opt)
  local tb = require('lib.tensorboard').open(opt.tensorboard)
  print(string.format('Training %s (%s) on %s: %d epochs, lr %g, momentum %g, batch %d, seed %d',
    opt.model, definition, opt.data, opt.nEpochs, opt.LR, opt.momentum, opt.batchsize, opt.manualSeed))
  print(model)
  local err
  wb.train(model, train, {epochs = opt.nEpochs, lr = opt.LR, momentum = opt.momentum, batchSize = opt.batchsize,
                          seed = opt.manualSeed, verbose = opt.verbose,
                          onEpoch = function(e)
                            err = flow.test(model, test, opt)
                            print(string.format('epoch %d: train loss %.4f, test error %.2f%%', e.epoch, e.loss, err))
                            tb:scalar('train/loss', e.loss, e.epoch)
                            tb:scalar('test/error', err, e.epoch)
                            model:training()
                          end})
  local path = flow.path(opt.inp, opt.model .. '.safetensors')
  flow.checkFinite(model, opt, 'after training')
  flow.ensureFolder(opt.inp)
  wb.saveModel(model, path, {dataset = opt.data, epochs = tostring(opt.nEpochs), lr = tostring(opt.LR),
                             momentum = tostring(opt.momentum), seed = tostring(opt.manualSeed),
                             test_error = err and string.format('%.2f', err) or 'not tested'})
  print('Model written to ' .. path)
  tb:close()
end

-- -test: total compression and error of the pruned model in out/.
function flow.testPruned(opt)
  local path = flow.modelFile(opt.out, opt.model)
  local model = wb.loadModel(path)
  local _, test = flow.loadData(opt)
  print(wb.describe(model, {file = path}))
  print((wb.sparsity(model)))
  print('Total Compression: ' .. string.format('%.14g', wb.compression(model)))
  local err = flow.test(model, test, opt)
  print(string.format('Error: %.2f', err))
end

return flow
