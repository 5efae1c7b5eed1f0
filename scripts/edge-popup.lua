-- Edge-popup (Ramanujan et al. 2020, "What's hidden in a randomly weighted neural network?"):
-- the weights W stay at their random init; each weight has a score s, and every training
-- forward pass uses, per layer, W ⊙ M with M keeping the k = opt.keep fraction of weights of
-- largest |s| (round(k·n) of them); backward trains the scores by the straight-through
-- gradient ∂L/∂s = (∂L/∂(W ⊙ M) ⊙ W)·sign(s) (m:setScores, docs/lua-api.md). With conv_type
-- DenseConv the same net trains its weights instead (the baseline).
-- Run by `workbench edge-popup --config FILE.yml`, which checks the config and sets `opt`.
local nets = require 'lib.edgepopup.nets'
local inits = require 'lib.edgepopup.inits'
local outputs = require 'lib.edgepopup.outputs'

local o = assert(opt, 'run through `workbench edge-popup --config FILE.yml`')
torch.manualSeed(o.seed)
wb.threads(o.threads)

-- Data.
local sets = {MNIST = 'mnist', FashionMNIST = 'fashion-mnist', CIFAR10 = 'cifar10'}
local source = o.data ~= '' and o.data or sets[o.set]
local ok, train, test = pcall(wb.loadData, source, {train = o.train_size, test = o.test_size})
if not ok then error(string.format('cannot load the %s data (%s): %s', o.set, source, tostring(train)), 0) end

-- The net, its init and its scores.
local net = nets.build(o.arch, train.channels, train.height, train.width)
local layers = nets.weightLayers(net)
local subnet = o.conv_type == 'SubnetConv'
for i, m in ipairs(layers) do
  inits.apply(m, o)
  if subnet and not (i == 1 and o.first_layer_dense) then
    m:setScores(inits.scores(m), o.keep)
  end
  if subnet and o.freeze_weights then m:freeze('weight') end
end
local scored = {}
for _, m in ipairs(layers) do if m.scores then scored[#scored + 1] = m end end

-- Choose every mask from the current scores (the original does so at every forward pass,
-- evaluation too; the workbench in training passes only).
local function refreshMasks()
  for _, m in ipairs(scored) do m:setScores(m.scores, o.keep) end
end

local dir = outputs.runFolder(o)
wb.writeFile(dir .. '/settings.txt', o.settings)
local writer = wb.SummaryWriter(dir .. '/logs')

if subnet then
  print(string.format('edge-popup: %s on %s, init %s%s; keeping k = %s of each layer\'s weights (pruning %s%%): '
    .. 'prune_rate is the fraction KEPT', o.arch, o.set, o.init, o.scale_fan and ' (fan scaled)' or '',
    outputs.number(o.keep), tostring(math.floor((1 - o.keep) * 1000 + 0.5) / 10)))
else
  print(string.format('dense baseline: %s on %s, init %s, every weight trained', o.arch, o.set, o.init))
end
print('run folder: ' .. dir)

local criterion = nn.CrossEntropyCriterion()
local optimizer
if o.optimizer == 'adam' then
  optimizer = wb.Adam{lr = o.lr, weightDecay = o.weight_decay}
else
  optimizer = wb.SGD{lr = o.lr, momentum = o.momentum, weightDecay = o.weight_decay, nesterov = o.nesterov}
end
local trainer = wb.Trainer{model = net, optimizer = optimizer, criterion = criterion, batchSize = o.batch_size,
                           seed = o.seed}
if o.lr_policy == 'cosine_lr' then
  trainer:schedule('cosine', {per = 'epoch', total = o.epochs - o.warmup_length,
                              warmup = o.warmup_length > 0 and o.warmup_length or nil})
end

-- Evaluation: loss, Acc@1 and Acc@5 (percent) over `data`, in evaluation mode.
local function evaluate(data)
  net:evaluate()
  local n, loss, c1, c5 = #data, 0, 0, 0
  for i = 1, n, 250 do
    local x, y = data:batch(i, math.min(i + 249, n))
    local out = net:forward(x)
    local b = y:size(1)
    loss = loss + criterion:forward(out, y) * b
    c1 = c1 + wb.topkCorrect(out, y, 1)
    c5 = c5 + wb.topkCorrect(out, y, 5)
  end
  return loss / n, 100 * c1 / n, 100 * c5 / n
end

local function save(name, meta)
  refreshMasks()
  wb.saveModel(net, dir .. '/checkpoints/' .. name .. '.safetensors', meta, {originals = true})
end

local function meta(epoch, extra)
  local m = {arch = o.arch, epoch = tostring(epoch), prune_rate = outputs.number(o.prune_rate),
             kept_fraction = outputs.number(o.keep), config = o.config}
  for k, v in pairs(extra or {}) do m[k] = string.format('%.4f', v) end
  return m
end

save('initial', meta(0))

-- Train scalars, as the original's ProgressMeter: every print_freq batches (from the first),
-- <tag>_val (this batch) and <tag>_avg (the epoch so far), at step (batches·epoch + i)·batch_size.
local meter
trainer.beforeForward = function() meter.start = wb.clock() end
trainer.afterStep = function(s)
  local out, y = net.output, trainer.batchTargets
  local b = y:size(1)
  local a1, a5 = 100 * wb.topkCorrect(out, y, 1) / b, 100 * wb.topkCorrect(out, y, 5) / b
  local time = wb.clock() - meter.start
  meter.n = meter.n + b
  meter.loss = meter.loss + s.loss * b
  meter.c1 = meter.c1 + a1 * b
  meter.c5 = meter.c5 + a5 * b
  meter.time = meter.time + time
  meter.batches = meter.batches + 1
  if (s.batch - 1) % o.print_freq == 0 then
    local step = (s.batches * (s.epoch - 1) + s.batch - 1) * o.batch_size
    for tag, v in pairs{Time = {time, meter.time / meter.batches}, Loss = {s.loss, meter.loss / meter.n},
                        ['Acc@1'] = {a1, meter.c1 / meter.n}, ['Acc@5'] = {a5, meter.c5 / meter.n}} do
      writer:scalar('train/' .. tag .. '_val', v[1], step)
      writer:scalar('train/' .. tag .. '_avg', v[2], step)
    end
  end
end

local best = {acc1 = 0, acc5 = 0, train1 = 0, train5 = 0}
local acc1, acc5
local started = wb.clock()
for epoch = 0, o.epochs - 1 do
  local epochStart = wb.clock()
  meter = {n = 0, loss = 0, c1 = 0, c5 = 0, time = 0, batches = 0}
  trainer:epoch(train)
  local lr = optimizer:group().lr   -- the rate this epoch trained with
  local trainTime = wb.clock() - epochStart
  local trainAcc1, trainAcc5 = meter.c1 / meter.n, meter.c5 / meter.n
  refreshMasks()
  local valStart = wb.clock()
  local loss
  loss, acc1, acc5 = evaluate(test)
  local valTime = wb.clock() - valStart
  writer:scalar('test/Loss_avg', loss, epoch)
  writer:scalar('test/Acc@1_avg', acc1, epoch)
  writer:scalar('test/Acc@5_avg', acc5, epoch)
  local isBest = acc1 > best.acc1
  best.acc1, best.acc5 = math.max(best.acc1, acc1), math.max(best.acc5, acc5)
  best.train1, best.train5 = math.max(best.train1, trainAcc1), math.max(best.train5, trainAcc5)
  local m = meta(epoch + 1, {curr_acc1 = acc1, curr_acc5 = acc5, best_acc1 = best.acc1})
  if isBest then save('model_best', m) end
  if o.save_every > 0 and epoch % o.save_every == 0 then save('epoch_' .. epoch, m) end
  if epoch == o.epochs - 1 then save('model_last', m) end
  -- diagnostics in minutes, as the original's
  writer:scalar('diagnostics/epoch_time_val', (wb.clock() - epochStart) / 60, epoch)
  writer:scalar('diagnostics/validation_time_val', valTime / 60, epoch)
  writer:scalar('diagnostics/train_time_val', trainTime / 60, epoch)
  writer:scalar('test/lr', lr, epoch)
  print(string.format('epoch %d/%d  lr %.5f  train loss %.4f acc@1 %.2f  test loss %.4f acc@1 %.2f acc@5 %.2f  (%.1f s)',
    epoch + 1, o.epochs, lr, meter.loss / meter.n, trainAcc1, loss, acc1, acc5, wb.clock() - epochStart))
end
writer:close()

local kept, total = 0, 0
for _, m in ipairs(layers) do
  total = total + m.weight:nElement()
  kept = kept + (m.mask and m.mask:sum() or m.weight:nElement())
end
local results = outputs.appendResult(o, {acc1 = acc1, acc5 = acc5, bestAcc1 = best.acc1, bestAcc5 = best.acc5,
                                         bestTrainAcc1 = best.train1, bestTrainAcc5 = best.train5})
print(string.format('done in %.1f s: test acc@1 %.2f (best %.2f), acc@5 %.2f; %d of %d weights kept (%.1f%%); %s',
  wb.clock() - started, acc1, best.acc1, acc5, kept, total, 100 * kept / total, results))
