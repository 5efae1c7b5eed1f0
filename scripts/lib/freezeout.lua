-- FreezeOut (Brock et al. 2017) on the workbench's training loop: one optimiser group per
-- layer, each layer's rate annealed to 0 on its own cosine, then the layer frozen and pinned
-- to evaluation mode, so that the backward pass stops above it. The numbers (layers, their
-- forward FLOPs c_i, freeze points t_i, initial rates, the estimated speedup) come from the
-- Engine through wb.freezeOut; this file runs the schedule and the flow. See docs/freezeout.md.
--
--   t_i   = f(t_0 + (1 - t_0) i / L), f = x, x^2, x^3; t_L = 1 (the classifier is never frozen)
--   a_i(j) = 1/2 a_i(0) (1 + cos(pi j / (t_i J))), a_i(0) = lr / t_i (scaled) or lr
--   layer i is frozen before iteration j (from 0) once j >= t_i J (where a_i has reached 0)
local flow = require 'lib.flow'
local tensorboard = require 'lib.tensorboard'

local freezeout = {}

-- The defaults of the command (`workbench freezeout --help` states them).
freezeout.defaults = {
  t_0 = 0.8, how_scale = 'cubic', scale_lr = true, const_time = false, epochs = 10,
  model = 'lenet5', data = 'fashion-mnist', batch_size = 50, lr = 0.1, momentum = 0.9,
  weight_decay = 1e-4, seed = 0, train_size = 0, test_size = 0, out = 'out/freezeout',
  threads = 2, progress = true, quiet = false,
}

-- opt with every missing field from the defaults.
function freezeout.options(opt)
  local o = {}
  for k, v in pairs(freezeout.defaults) do o[k] = v end
  for k, v in pairs(opt or {}) do o[k] = v end
  if o.name == nil then o.name = freezeout.defaultName(o) end
  return o
end

-- The original's naming: <model>_ice<100 t_0>_<how_scale><scale_lr>_seed<s>_epochs<n>.
function freezeout.defaultName(o)
  local model = o.model:match('([^/]+)%.lua$') or o.model
  return string.format('%s_ice%d_%s%s_seed%d_epochs%d', model, math.floor(100 * o.t_0 + 0.5), o.how_scale,
    o.scale_lr and 'Scaled' or 'Unscaled', o.seed, o.epochs)
end

-- A model name of scripts/models/ or a FILE.lua that returns an nn.Sequential.
function freezeout.loadModel(name)
  local path = name:match('%.lua$') and name or flow.path(wb.scriptsDirectory(), 'models/' .. name .. '.lua')
  local net = dofile(path)
  if torch.type(net) ~= 'nn.Sequential' then
    error(string.format('%s must return an nn.Sequential, got %s', path, torch.type(net)), 0)
  end
  return net
end

-- The plan for `epochs` epochs of `train` in batches of opt.batch_size: wb.freezeOut's table
-- (speedup, layers with first, last, modules, cost, t, lr, freezeAt, classifier), plus
-- J (iterations), perEpoch and epochs.
function freezeout.plan(net, train, opt, epochs)
  local perEpoch = math.ceil(#train / opt.batch_size)
  local J = perEpoch * epochs
  local plan = wb.freezeOut(net, {input = {train.channels, train.height, train.width}, t0 = opt.t_0,
                                  howScale = opt.how_scale, scaleLR = opt.scale_lr, lr = opt.lr,
                                  iterations = J, epochs = epochs})
  plan.J, plan.perEpoch, plan.epochs = J, perEpoch, epochs
  return plan
end

-- SGD with one group per layer at its initial rate (Nesterov momentum and weight decay per group).
function freezeout.optimizer(plan, opt)
  local groups = {}
  for i, layer in ipairs(plan.layers) do groups[i] = {modules = layer.modules, lr = layer.lr} end
  return wb.SGD{momentum = opt.momentum, nesterov = opt.momentum > 0, weightDecay = opt.weight_decay, groups = groups}
end

-- Layer i's rate before iteration j (from 0): a_i(j) above.
function freezeout.rate(layer, j)
  return 0.5 * layer.lr * (1 + math.cos(math.pi * j / layer.freezeAt))
end

-- Installs the schedule and the freezing on `trainer` (whose optimiser is `optimizer`): before
-- each step, every layer still active either freezes (j >= t_i J; not the classifier) or gets
-- its rate a_i(j). `onFreeze(active, i, j)` is called when layer i freezes before iteration j.
-- by = 'schedule' (default): a function schedule per group (t:schedule) sets the rates and a
-- beforeForward hook freezes; by = 'hook': the hook sets the rates too (opt:group(i).lr = ...).
-- The same bits either way; the schedules measured cheaper (docs/freezeout.md).
function freezeout.install(trainer, optimizer, plan, onFreeze, by)
  local layers, groups = plan.layers, {}
  for i = 1, #layers do groups[i] = optimizer:group(i) end
  local active, n = #layers, #layers
  local frozen = {}
  local function freezeDue(j)
    for i = 1, n - 1 do
      local layer = layers[i]
      if not frozen[i] and j >= layer.freezeAt then
        for _, m in ipairs(layer.modules) do m:freeze{evaluate = true} end
        groups[i].lr = 0
        frozen[i] = true
        active = active - 1
        if onFreeze then onFreeze(active, i, j) end
      end
    end
  end
  if by ~= 'hook' then
    for i = 1, n do
      local layer = layers[i]
      trainer:schedule(function(step) return frozen[i] and 0 or freezeout.rate(layer, step - 1) end, {group = i})
    end
    trainer.beforeForward = function(s) freezeDue(s.step - 1) end
  else
    trainer.beforeForward = function(s)
      local j = s.step - 1
      freezeDue(j)
      for i = 1, n do
        if not frozen[i] then groups[i].lr = freezeout.rate(layers[i], j) end
      end
    end
  end
  return function() return active end
end

-- One JSON line: the original's fields (epoch from 1 here), `_stamp` in Unix seconds.
local function jsonLine(r)
  return string.format('{"epoch": %d, "train_loss": %.9g, "val_loss": %.9g, "val_err": %.9g, "_stamp": %d}\n',
    r.epoch, r.train_loss, r.val_loss, r.val_err, os.time())
end

local function say(o, fmt, ...)
  if not o.quiet then print(string.format(fmt, ...)); io.stdout:flush() end
end

-- The whole run: build the model, plan, train with FreezeOut (t_0 = 1: no freezing, every
-- layer on the same cosine: the baseline), test after every epoch, write
-- <out>/logs/<name>_log.jsonl and <out>/<name>.safetensors. Returns a table of results:
-- testError, trainSeconds (training steps only), evalSeconds, speedup, epochs, iterations, name.
function freezeout.run(opt)
  local o = freezeout.options(opt)
  wb.threads(o.threads)
  torch.manualSeed(o.seed)
  local net = freezeout.loadModel(o.model)
  local train, test = wb.loadData(o.data, {train = o.train_size, test = o.test_size})
  local plan = freezeout.plan(net, train, o, o.epochs)
  say(o, 'Estimated speedup is %.1f%%.', 100 * plan.speedup)
  if o.const_time then
    plan = freezeout.plan(net, train, o, plan.constTimeEpochs)
    say(o, 'Constant time: %d epochs instead of %d (%d / (1 - %.3f), rounded)', plan.epochs, o.epochs, o.epochs, plan.speedup)
  end
  say(o, 'FreezeOut on %s (%d layers), %s: %d training, %d test images; %d epochs of %d iterations (J = %d); '
    .. 't_0 %g, %s, %s; SGD lr %g, Nesterov momentum %g, weight decay %g, batch %d, seed %d',
    o.model, #plan.layers, o.data, #train, #test, plan.epochs, plan.perEpoch, plan.J, o.t_0, o.how_scale,
    o.scale_lr and 'scaled' or 'unscaled', o.lr, o.momentum, o.weight_decay, o.batch_size, o.seed)
  for i, layer in ipairs(plan.layers) do
    say(o, '  layer %d (modules %d-%d): %.0f FLOPs, t = %.4f, lr %.4g, %s', i, layer.first, layer.last, layer.cost,
      layer.t, layer.lr, layer.classifier and 'never frozen' or string.format('trained %d iterations, then frozen',
      math.ceil(layer.freezeAt)))
  end
  local optimizer = freezeout.optimizer(plan, o)
  local trainer = wb.Trainer{model = net, optimizer = optimizer, batchSize = o.batch_size, seed = o.seed,
                             progress = o.progress and not o.quiet}
  freezeout.install(trainer, optimizer, plan, function(active, i, j)
    say(o, 'Currently have %d active layers (layer %d frozen after %d of %d iterations)', active, i, j, plan.J)
  end, o.scheduleBy)

  local logs = flow.path(o.out, 'logs')
  flow.ensureFolder(logs)
  local logPath = flow.path(logs, o.name .. '_log.jsonl')
  local log = assert(io.open(logPath, 'w'))
  -- opt.tensorboard: event files in <tensorboard>/<name>, by epoch (the jsonl's figures).
  local tb = tensorboard.open(o.tensorboard and flow.path(o.tensorboard, o.name))
  local trainSeconds, evalSeconds, err = 0, 0, nil
  for epoch = 1, plan.epochs do
    local t0 = wb.clock()
    local loss = trainer:epoch(train)
    local t1 = wb.clock()
    local e, valLoss = wb.test(net, test)
    local t2 = wb.clock()
    trainSeconds, evalSeconds, err = trainSeconds + (t1 - t0), evalSeconds + (t2 - t1), e
    log:write(jsonLine{epoch = epoch, train_loss = loss, val_loss = valLoss, val_err = e})
    log:flush()
    tb:scalar('train/loss', loss, epoch)
    tb:scalar('val/loss', valLoss, epoch)
    tb:scalar('val/error', e, epoch)
    tb:scalar('train/seconds', t1 - t0, epoch)
    say(o, 'epoch %d/%d: training loss %.4f, validation loss %.4f, validation error %.2f%%, %.1f s training',
      epoch, plan.epochs, loss, valLoss, e, t1 - t0)
  end
  log:close()
  tb:close()
  flow.ensureFolder(o.out)
  local modelPath = flow.path(o.out, o.name .. '.safetensors')
  net:evaluate()
  for _, m in ipairs(net.modules) do m:unfreeze() end
  wb.saveModel(net, modelPath, {method = 'freezeout', t_0 = tostring(o.t_0), how_scale = o.how_scale,
                                scale_lr = tostring(o.scale_lr), epochs = tostring(plan.epochs),
                                test_error = string.format('%.2f', err)})
  say(o, 'Test error %.2f%%; training %.1f s (+ %.1f s testing); estimated speedup %.1f%%',
    err, trainSeconds, evalSeconds, 100 * plan.speedup)
  say(o, 'Log written to %s, model to %s', logPath, modelPath)
  return {testError = err, trainSeconds = trainSeconds, evalSeconds = evalSeconds, speedup = plan.speedup,
          epochs = plan.epochs, iterations = plan.J, name = o.name, layers = #plan.layers}
end

return freezeout
