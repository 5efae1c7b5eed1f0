-- Dynamic sparse training and its peers at one parameter budget (IntelAI/dynamic-
-- reparameterization's main.py; Mostafa & Wang, ICML 2019), run by `workbench sparse-train`,
-- which checks the flags and gives them here as `opt` (the original's argparse names, plus
-- opt.method: dense, static, set, dsr, deepr, tied, prune or thin-dense; docs/sparse-train.md).
--
-- One iteration: forward; loss (+ L1·Σ|θ|); backward; DeepR's noise on the active gradients;
-- tied weights' gradients summed per value; the SGD step (momentum, Nesterov, weight decay);
-- then DeepR's sign-flip rewiring every iteration, or SET/DSR's prune-and-regrow when the
-- 0-based iteration count is a nonzero multiple of the rewire period. Per epoch: the
-- schedule's learning rate, rewire period and temperature, training, gradual pruning when
-- due, evaluation (train unless --no-validate-train, validation with --validate-set, test),
-- and the checkpoint runs/<run_name>.{safetensors,json} with its training state
-- (.state.safetensors: momentum, counters, DSR's threshold, generators), which --resume reads.
local model = require 'lib.sparsetrain.model'
local masks = require 'lib.sparsetrain.masks'
local rewire = require 'lib.sparsetrain.rewire'
local deepr = require 'lib.sparsetrain.deepr'
local tied = require 'lib.sparsetrain.tied'
local gradual = require 'lib.sparsetrain.gradual'
local schedule = require 'lib.sparsetrain.schedule'
local records = require 'lib.sparsetrain.records'
local resume = require 'lib.sparsetrain.resume'
local tensorboard = require 'lib.tensorboard'

local o = assert(opt, 'run through `workbench sparse-train`')
wb.threads(o.threads)
torch.manualSeed(o.seed)
local method = o.method
local repr = rewire.repr

-- Data: the training set (its first 5/6 with --validate-set, the rest validates), the test set.
local ok, train, test = pcall(wb.loadData, o.data, {train = o.train_size, test = o.test_size})
if not ok then error(string.format('--data %s: %s', o.data, tostring(train):gsub('^[^:]*:%d+: ', '')), 0) end
local wrn = o.model == 'cifar10_WideResNet'
if wrn and (train.channels ~= 3 or train.height ~= 32 or train.width ~= 32 or train.classes ~= 10) then
  error(string.format('--data %s: cifar10_WideResNet takes 3x32x32 images of 10 classes (CIFAR-10), the set has %dx%dx%d images of %d classes',
    o.data, train.channels, train.height, train.width, train.classes), 0)
elseif not wrn and (train.channels * train.height * train.width ~= 784 or train.classes ~= 10) then
  error(string.format('--data %s: mnist_mlp takes 28x28 images of 10 classes, the set has %dx%dx%d images of %d classes',
    o.data, train.channels, train.height, train.width, train.classes), 0)
end
local validation
if o.validate_set then
  -- the original's split: MNIST's last 10,000 of 60,000, CIFAR-10's last 5,000 of 50,000
  local nv = math.floor(#train / (wrn and 10 or 6))
  validation, train = train:tail(nv), train:head(#train - nv)
end

-- The net and its method's parameterisation.
local widths
if method == 'thin-dense' then
  local budget = 0
  for _, n in ipairs{784 * 300, 300 * 100, 100 * 10} do budget = budget + masks.budget(n, o.initial_sparsity_fc) end
  widths = model.thinWidths(budget)
end
local net, layers
-- the sparse layers' initial sparsity: the convolutions' in the wide ResNet, the Linears' in mnist_mlp
local initialSparsity = wrn and o.initial_sparsity_conv or o.initial_sparsity_fc
if wrn then
  net, layers = model.wideResNet(o.layers, o.widen_factor, o.sub_kernel_granularity, o.augment, o.sparse_resnet_downsample)
  model.initialiseWideResNet(net)
else
  net, layers = model.mnistMLP(not o.no_batch_norm, widths)
  model.initialise(layers)
end
if method == 'tied' then
  -- the wide ResNet's tied values are drawn as its convolutions' weights, N(0, 2/(kh·kw·out))
  for _, L in ipairs(layers) do tied.init(L, initialSparsity, L.newStd) end
elseif method ~= 'dense' and method ~= 'thin-dense' and method ~= 'prune' then
  for _, L in ipairs(layers) do masks.initial(L, initialSparsity) end
elseif method == 'prune' and initialSparsity > 0 then
  for _, L in ipairs(layers) do masks.initial(L, initialSparsity) end
end
-- The sparse methods train on sparse kernels (forward, input gradient and the weight gradient
-- at the active entries only; docs/sparse.md) where the mask is sparse enough: nothing they
-- do reads the gradient under the mask (static: none; SET, DSR: magnitudes and random
-- positions; DeepR: noise on the active entries, sign flips). Tied weights sum the gradient
-- over every position, and gradual pruning starts dense: both stay on the dense path.
-- WORKBENCH_SPARSE_TRAINING=dense turns it off.
-- (Linear layers only: the wide ResNet's sparse convolutions train dense-with-mask.)
if not wrn and (method == 'static' or method == 'set' or method == 'dsr' or method == 'deepr') then
  for _, L in ipairs(layers) do L.module:sparseTraining(true) end
end

-- --resume: weights, masks and batch norm statistics of a saved run, and its training state
-- when the checkpoint has one (lib/sparsetrain/resume.lua); --copy-mask-from: its masks.
local function fromFile(path, flag, what)
  local okLoad, saved = pcall(wb.loadModel, path)
  if not okLoad then error(string.format('%s %s: %s', flag, path, tostring(saved)), 0) end
  if wrn then
    resume.loadNested(saved, net, layers, flag .. ' ' .. path, what)
    print(string.format("=> loaded %s '%s'", what == 'all' and 'checkpoint' or 'masks from', path))
    return
  end
  if #saved ~= #net then error(string.format('%s %s: %d modules, this mnist_mlp has %d', flag, path, #saved, #net), 0) end
  for _, L in ipairs(layers) do
    local m = saved:get(L.position)
    if not m.weight or m.weight:nElement() ~= L.n then
      error(string.format('%s %s: module %d is not the %s of this net', flag, path, L.position, L.name), 0)
    end
    if what == 'all' then
      if m.mask then L.module:setMask(m.mask) elseif L.module.mask then L.module:removeMask() end
      L.module.weight = m.weight
      if m.bias and L.module.bias then L.module.bias = m.bias end
      if L.bn then
        local b = saved:get(L.position + 1)
        L.bn.weight, L.bn.bias = b.weight, b.bias
        L.bn.runningMean:copy(b.runningMean)
        L.bn.runningVar:copy(b.runningVar)
      end
    else
      if not m.mask then error(string.format('%s %s: the %s has no mask', flag, path, L.name), 0) end
      L.module:setMask(m.mask)
    end
  end
  print(string.format("=> loaded %s '%s'", what == 'all' and 'checkpoint' or 'masks from', path))
end
if o.resume ~= '' then fromFile(o.resume, '--resume', 'all') end
local saved = o.resume ~= '' and resume.read(o.resume, '--resume') or nil
local startEpoch = o.start_epoch
if saved then
  if o.start_epoch ~= 0 and o.start_epoch ~= saved.epoch then
    error(string.format('--start-epoch %d: the training state of --resume %s is at epoch %d (leave --start-epoch out to continue it)',
      o.start_epoch, o.resume, saved.epoch), 0)
  end
  startEpoch = saved.epoch
  print(string.format("=> loaded training state '%s' (epoch %d, iteration %d)", saved.path, saved.epoch, saved.iteration))
elseif o.resume ~= '' then
  print(string.format("=> no training state '%s': the optimiser, counters and generators start anew", resume.path(o.resume)))
end
if o.copy_mask_from ~= '' then fromFile(o.copy_mask_from, '--copy-mask-from', 'masks') end

local sched = schedule.read(o.schedule_file)
local function lrAt(e) return sched.lr and sched.lr(e) or o.lr end
local optimizer = wb.SGD{lr = lrAt(startEpoch), momentum = o.momentum, nesterov = o.nesterov, weightDecay = o.weight_decay}
local criterion = nn.CrossEntropyCriterion()
-- TensorBoard event files with --tensorboard DIR (nothing is written without it)
local tb = tensorboard.open(o.tensorboard)
local trainer = wb.Trainer{model = net, optimizer = optimizer, criterion = criterion, batchSize = o.batch_size,
                           seed = o.seed, progress = o.progress}
if o.L1_loss_coeff > 0 and method ~= 'tied' and o.conv_group_lasso then
  -- --conv-group-lasso: λ·Σ over each convolution's kernel patches of √(Σ θ² + 1e-12) in
  -- place of λ·Σ|θ| (the original's term over its sparse conv tensors), one penalty per patch size
  local bySize, sizes = {}, {}
  for _, L in ipairs(layers) do
    local patch = L.shape[3] * L.shape[4]
    if not bySize[patch] then bySize[patch] = {}; sizes[#sizes + 1] = patch end
    table.insert(bySize[patch], L.module.weight)
  end
  for _, patch in ipairs(sizes) do trainer:penalty{groupLasso = o.L1_loss_coeff, groupSize = patch, parameters = bySize[patch]} end
elseif o.L1_loss_coeff > 0 and method ~= 'tied' then
  local weights = {}
  for l, L in ipairs(layers) do weights[l] = L.module.weight end
  trainer:penalty{l1 = o.L1_loss_coeff, parameters = weights}
end

-- What each iteration does beyond the step.
local epoch = startEpoch
local rewirePeriod, temperature = 0, 0
local state = {threshold = saved and saved.threshold or 1.0e-3}
local iterationBase = saved and saved.iteration or 0   -- optimiser steps of the run before this process
if saved then resume.restoreOptimizer(saved, net, optimizer) end
local timing = {rewire = 0, deepr = 0, tied = 0}
local rewiring = method == 'set' or method == 'dsr' or method == 'deepr'
if method == 'deepr' then deepr.init(layers, function(L) return resume.deeprActive(saved, L) end) end
local function log(line) print(line) end

trainer.afterBackward = function()
  if method == 'deepr' and epoch < o.stop_rewire_epoch then
    local t0 = wb.clock()
    deepr.noise(layers, math.sqrt(2 * o.DeepR_eta * temperature))
    timing.deepr = timing.deepr + wb.clock() - t0
  elseif method == 'tied' then
    local t0 = wb.clock()
    for _, L in ipairs(layers) do tied.gradient(L, o.rescale_tied_gradient, o.L1_loss_coeff) end
    timing.tied = timing.tied + wb.clock() - t0
  end
end
trainer.afterStep = function(s)
  local iteration = iterationBase + math.tointeger(s.step - 1)   -- the original's i + current_iteration
  if epoch >= o.stop_rewire_epoch then return end
  if method == 'deepr' then
    local t0 = wb.clock()
    -- the original's per-layer lines every --print-freq batches of an epoch (from its first)
    deepr.rewire(layers, optimizer, o.big_new_weights, (s.batch - 1) % o.print_freq == 0 and log or nil)
    timing.deepr = timing.deepr + wb.clock() - t0
  elseif (method == 'set' or method == 'dsr') and iteration ~= 0 and iteration % rewirePeriod == 0 then
    local t0 = wb.clock()
    print('rewiring at iteration ' .. iteration)
    local pruned, grown = rewire.step(layers, state, {fraction = o.rewire_fraction, threshold = o.threshold_prune, scaling = o.rewire_scaling,
                                nPrune = o.n_prune_params, big = o.big_new_weights, optimizer = optimizer, log = log})
    tb:scalar('rewire/pruned', pruned, iteration)
    tb:scalar('rewire/grown', grown, iteration)
    if method == 'dsr' then tb:scalar('rewire/threshold', state.threshold, iteration) end
    timing.rewire = timing.rewire + wb.clock() - t0
  end
end

-- Evaluation in evaluation mode: mean loss, Prec@1 and Prec@5 in percent.
-- (Batches of 1000, of --batch-size for the wide ResNet, whose activations are large.)
local evalBatch = wrn and o.batch_size or 1000
local function evaluate(data, label)
  net:evaluate()
  local n, loss, c1, c5 = #data, 0, 0, 0
  for i = 1, n, evalBatch do
    local x, y = data:batch(i, math.min(i + evalBatch - 1, n))
    local out = net:forward(x)
    loss = loss + criterion:forward(out, y) * y:size(1)
    c1, c5 = c1 + wb.topkCorrect(out, y, 1), c5 + wb.topkCorrect(out, y, 5)
  end
  local p1, p5 = 100 * c1 / n, 100 * c5 / n
  print(string.format('%s * Prec@1 %.3f Prec@5 %.3f', label, p1, p5))
  return p1, p5, loss / n
end

-- Outputs.
wb.mkdir(o.runs_dir)
local base = o.runs_dir .. '/' .. o.run_name
local args = {}
for k, v in pairs(o) do if k ~= 'threads' then args[k] = v end end
local lists = {train_loss = {}, val_loss = {}, test_loss = {}, train_prec1 = {}, val_prec1 = {}, test_prec1 = {},
               train_prec5 = {}, val_prec5 = {}, test_prec5 = {}, layer_density = {}, lr = {}, epoch_seconds = {}}
local names = {}
for l, L in ipairs(layers) do names[l] = L.name end
local best = {prec1 = 0, val = -1, epoch = 0}
local started = wb.clock()
local function snapshot(e)
  local s = {model_name = o.model, method = method, model_size = records.modelSize(net, layers, method),
             density = records.densities(layers, method), layers = names, epoch = e, args = args,
             best_prec1 = best.prec1, best_epoch = best.epoch, hidden_widths = widths,
             seconds = {rewire = timing.rewire, deepr = timing.deepr, tied = timing.tied, total = wb.clock() - started}, threshold = state.threshold}
  for k, v in pairs(lists) do s[k] = v end
  return s
end

local size = records.modelSize(net, layers, method)
print(string.format('sparse-train: %s, method %s on %s (%d training, %d test images), seed %d', o.model, method, o.data,
  #train, #test, o.seed))
if widths then print(string.format('thin dense: hidden widths %d and %d (%d weights)', widths[1], widths[2], size.sparse)) end
print(records.sizeText(size))
print(net)

local epochs = method == 'prune' and o.prune_epochs or o.epochs
if startEpoch >= epochs then
  error(string.format('--resume %s: its training state is at epoch %d, which leaves none of the %d epochs', o.resume, startEpoch, epochs), 0)
end
local pruneTargets, prunesDone
if method == 'prune' then
  pruneTargets = gradual.targets(layers, wrn and o.prune_target_sparsity_conv or o.prune_target_sparsity_fc, o.model == 'mnist_mlp')
  prunesDone = saved and saved.prunesDone or 0
  local fcTarget = wrn and o.prune_target_sparsity_fc or pruneTargets[1]
  print(string.format('prune fraction fc : %s , prune_fraction conv : %s ', repr(gradual.fraction(0, o.prune_iterations, fcTarget, false)),
    repr(1 - (1 - o.prune_target_sparsity_conv) ^ (1 / o.prune_iterations))))
  print('nepochs ' .. math.tointeger(epochs) .. (epochs ~= o.epochs and ' (--prune: start + frequency·(iterations - 1) + post-prune epochs; --epochs is not used)' or ''))
  evaluate(test, 'validate')
end
records.save(base .. '_initial', net, snapshot(startEpoch))
local function saveState(path, e)
  resume.save(path, net, layers, optimizer, trainer,
              {epoch = e, iteration = iterationBase + trainer.stepsDone, threshold = state.threshold, prunesDone = prunesDone})
end
if saved then resume.restoreGenerators(saved, trainer) end

started = wb.clock()
for e = startEpoch, epochs - 1 do
  epoch = e
  if rewiring and e == o.stop_rewire_epoch and e > startEpoch then
    records.save(base .. '_StopRewiringPoint_' .. e, net, snapshot(e))
    saveState(base .. '_StopRewiringPoint_' .. e, e)
  end
  local lr = lrAt(e)
  optimizer:group().lr = lr
  print('setting learning rate to ' .. repr(lr))
  rewirePeriod = sched.rewirePeriod and math.tointeger(sched.rewirePeriod(e)) or 0
  temperature = sched.temperature and sched.temperature(e) or 0
  if rewirePeriod > 0 then print(string.format('rewiring every %d iterations', rewirePeriod)) end
  local t1 = wb.clock()
  trainer:epoch(train)
  local seconds = wb.clock() - t1
  print('epoch time ' .. repr(seconds))
  if method == 'prune' and gradual.due(e, prunesDone, {start = o.start_pruning_after_epoch, freq = o.prune_epoch_frequency, n = o.prune_iterations}) then
    gradual.prune(layers, pruneTargets, prunesDone, o.prune_iterations, o.cubic_prune_schedule)
    prunesDone = prunesDone + 1
    print(records.sizeText(records.modelSize(net, layers, method)))
  end
  local p1, p5, loss = 0.0, 0.0, 0.0
  if not o.no_validate_train then p1, p5, loss = evaluate(train, 'train') end
  lists.train_prec1[#lists.train_prec1 + 1], lists.train_prec5[#lists.train_prec5 + 1], lists.train_loss[#lists.train_loss + 1] = p1, p5, loss
  local v1, v5, vl = 0.0, 0.0, 0.0
  if validation then v1, v5, vl = evaluate(validation, 'validate') end
  lists.val_prec1[#lists.val_prec1 + 1], lists.val_prec5[#lists.val_prec5 + 1], lists.val_loss[#lists.val_loss + 1] = v1, v5, vl
  local t1p, t5p, tl = evaluate(test, 'test')
  lists.test_prec1[#lists.test_prec1 + 1], lists.test_prec5[#lists.test_prec5 + 1], lists.test_loss[#lists.test_loss + 1] = t1p, t5p, tl
  lists.layer_density[#lists.layer_density + 1] = records.densities(layers, method)
  lists.lr[#lists.lr + 1] = lr
  lists.epoch_seconds[#lists.epoch_seconds + 1] = seconds
  -- best_prec1: the test top-1 of the best epoch (by validation top-1 with --validate-set)
  local score = validation and v1 or t1p
  if score > best.val then best.val, best.prec1, best.epoch = score, t1p, e + 1 end
  records.save(base, net, snapshot(e + 1))
  saveState(base, e + 1)
  -- TensorBoard (--tensorboard DIR): the epoch's figures at step e + 1, as the JSON lists them
  if not o.no_validate_train then tb:scalar('train/loss', loss, e + 1); tb:scalar('train/prec1', p1, e + 1) end
  if validation then tb:scalar('val/loss', vl, e + 1); tb:scalar('val/prec1', v1, e + 1) end
  tb:scalar('test/loss', tl, e + 1)
  tb:scalar('test/prec1', t1p, e + 1)
  tb:scalar('test/prec5', t5p, e + 1)
  tb:scalar('lr', lr, e + 1)
  for l, d in ipairs(lists.layer_density[#lists.layer_density]) do tb:scalar('density/' .. names[l]:match('^%S+'), d, e + 1) end
end
tb:close()
local total = wb.clock() - started
print('Best accuracy: ', best.prec1)
local d = records.densities(layers, method)
local dt = {}
for l, x in ipairs(d) do dt[l] = string.format('%.4f', x) end
print(string.format('done in %.1f s: test error %.2f%%; per-layer density %s; rewiring %.2f s, DeepR %.2f s; %s.{safetensors,json}',
  total, 100 - lists.test_prec1[#lists.test_prec1], table.concat(dt, ' '), timing.rewire, timing.deepr, base))
