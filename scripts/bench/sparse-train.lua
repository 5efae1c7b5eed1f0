-- The targets of `workbench sparse-train` on mnist_mlp at sparsity 0.98 (batch 100,
-- Fashion-MNIST, the original's SGD with Nesterov momentum): the median time of a training
-- step (on the sparse training kernels, as scripts/sparse-train.lua runs static, SET, DSR and
-- DeepR; tied weights dense), of one DSR rewiring over all
-- layers (prune + regrow) as a fraction of the 100 steps between two of them (target ≤ 5%),
-- of DeepR's per-step work (noise + sign-flip rewiring) and of tied weights' gradient sums
-- as fractions of a step (target ≤ 20%), and one 20-epoch run's time estimated from them and
-- a timed evaluation (target ≤ 30 s).
-- workbench run -threads 2 scripts/bench/sparse-train.lua [steps=60] [rounds=5]
local model = require 'lib.sparsetrain.model'
local masks = require 'lib.sparsetrain.masks'
local rewire = require 'lib.sparsetrain.rewire'
local deepr = require 'lib.sparsetrain.deepr'
local tied = require 'lib.sparsetrain.tied'
local steps, rounds = tonumber(arg[1]) or 60, tonumber(arg[2]) or 5
local train, test = wb.loadData('fashion-mnist')

local function median(t) table.sort(t) return t[(#t + 1) // 2] end

-- A net of the method, its layers, optimiser and trainer.
local function setup(method)
  torch.manualSeed(0)
  local net, layers = model.mnistMLP(true)
  model.initialise(layers)
  for _, L in ipairs(layers) do
    if method == 'tied' then tied.init(L, 0.98) else masks.initial(L, 0.98); L.module:sparseTraining(true) end
  end
  local opt = wb.SGD{lr = 0.1, momentum = 0.9, nesterov = true, weightDecay = 1e-4}
  local t = wb.Trainer{model = net, optimizer = opt, batchSize = 100, seed = 1}
  return net, layers, opt, t
end

-- Median seconds per step over the rounds, and the seconds the hooks spent per step.
local function time(t, hooked)
  t:steps(train, 5)
  local per, extra = {}, {}
  for r = 1, rounds do
    hooked.seconds = 0
    local t0 = wb.clock()
    t:steps(train, steps)
    per[r] = (wb.clock() - t0) / steps
    extra[r] = hooked.seconds / steps
  end
  return median(per), median(extra)
end

local function timed(hooked, f)
  return function(...)
    local t0 = wb.clock()
    f(...)
    hooked.seconds = hooked.seconds + wb.clock() - t0
  end
end

local out = {}
-- a static sparse step
local net, layers, opt, t = setup('static')
local none = {seconds = 0}
out.step = time(t, none)

-- DSR: rewirings over all layers, after some training so that the threshold has work
local state, rw = {threshold = 1e-3}, {}
for r = 1, rounds * 2 do
  t:steps(train, 20)
  local t0 = wb.clock()
  rewire.step(layers, state, {threshold = true, scaling = true, nPrune = 600, optimizer = opt})
  rw[r] = wb.clock() - t0
end
out.rewire = median(rw)

-- DeepR: noise after backward, sign-flip rewiring after the step
net, layers, opt, t = setup('deepr')
deepr.init(layers)
local d = {seconds = 0}
t.afterBackward = timed(d, function() deepr.noise(layers, math.sqrt(2 * 0.001 * 1e-3)) end)
t.afterStep = timed(d, function() deepr.rewire(layers, opt) end)
local deeprStep, deeprExtra = time(t, d)

-- Tied: the per-value gradient sums
net, layers, opt, t = setup('tied')
local g = {seconds = 0}
t.afterBackward = timed(g, function() for _, L in ipairs(layers) do tied.gradient(L, false, 0) end end)
local tiedStep, tiedExtra = time(t, g)

-- Evaluation of the test set (and of the training set, which the original evaluates every epoch)
net:evaluate()
local t0 = wb.clock()
for i = 1, #test, 1000 do net:forward((test:batch(i, math.min(i + 999, #test)))) end
local evalTest = wb.clock() - t0
local evalTrain = evalTest * #train / #test

local batches = math.ceil(#train / 100)
local run = 20 * (batches * out.step + evalTest)
print(string.format('mnist_mlp at 0.98, batch 100, %d threads, %d steps x %d rounds (median):', wb.threads(), steps, rounds))
print(string.format('  training step                  %7.2f ms', 1000 * out.step))
print(string.format('  DSR rewiring (all layers)      %7.2f ms = %.2f%% of 100 steps (target <= 5%%)', 1000 * out.rewire,
  100 * out.rewire / (100 * out.step)))
print(string.format('  DeepR per step                 %7.2f ms = %.1f%% of a step (target <= 20%%)', 1000 * deeprExtra,
  100 * deeprExtra / deeprStep))
print(string.format('  tied gradient sums per step    %7.2f ms = %.1f%% of a step', 1000 * tiedExtra, 100 * tiedExtra / tiedStep))
print(string.format('  evaluation: test %.2f s, train (estimated) %.2f s', evalTest, evalTrain))
print(string.format('  one 20-epoch run: %.1f s with --no-validate-train, %.1f s evaluating the training set too (target <= 30 s)',
  run, run + 20 * evalTrain))
