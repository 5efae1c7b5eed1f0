-- The FreezeOut experiment of docs/freezeout.md: for each model, the baseline (t_0 = 1: no
-- freezing, every layer on the same cosine; two copies, whose difference is the noise of the
-- measurement) and t_0 in {0.5, 0.8} x {linear, cubic} x {scaled, unscaled}, trained side by
-- side in this one process (one epoch each in turn), same seed, data and threads. Then the
-- cost of the schedule per step. Prints a markdown table and writes the figures as a Lua table
-- (for scripts/experiments/freezeout-plot.lua).
--
--   workbench run -threads 2 scripts/experiments/freezeout-grid.lua [RESULTS.lua] [key=value ...]
--     models=lenet5,lenet300-100  epochs=10  lenet5_train=12000  train=0 (all)  test=0 (all)
--     seed=0  batch=50  lr=0.1
local freezeout = require 'lib.freezeout'

local resultsPath = 'docs/freezeout-results.lua'
local cfg = {models = 'lenet5,lenet300-100', epochs = 10, lenet5_train = 12000, train = 0, test = 0,
             seed = 0, batch = 50, lr = 0.1}
for _, a in ipairs(arg) do
  local k, v = a:match('^([%w_]+)=(.*)$')
  if k then
    if cfg[k] == nil then error('unknown setting ' .. k, 0) end
    cfg[k] = tonumber(v) or v
  else
    resultsPath = a
  end
end

local settings = {{t_0 = 1, how_scale = 'linear', scale_lr = false, label = 'baseline'},
                  {t_0 = 1, how_scale = 'linear', scale_lr = false, label = 'baseline (copy)'}}
for _, t0 in ipairs{0.5, 0.8} do
  for _, how in ipairs{'linear', 'cubic'} do
    for _, scaled in ipairs{true, false} do
      settings[#settings + 1] = {t_0 = t0, how_scale = how, scale_lr = scaled,
                                 label = string.format('%s %s %g', scaled and 'scaled' or 'unscaled', how, t0)}
    end
  end
end

-- One setting's model, optimiser and trainer, built as `workbench freezeout` builds them.
local function setup(model, s, train)
  local o = freezeout.options{model = model, t_0 = s.t_0, how_scale = s.how_scale, scale_lr = s.scale_lr,
                              epochs = cfg.epochs, batch_size = cfg.batch, lr = cfg.lr, seed = cfg.seed}
  torch.manualSeed(cfg.seed)
  local net = freezeout.loadModel(model)
  local plan = freezeout.plan(net, train, o, cfg.epochs)
  local opt = freezeout.optimizer(plan, o)
  local trainer = wb.Trainer{model = net, optimizer = opt, batchSize = cfg.batch, seed = cfg.seed}
  freezeout.install(trainer, opt, plan)
  return {net = net, trainer = trainer, trainSeconds = 0, speedup = plan.speedup, iterations = plan.J,
          layers = #plan.layers, label = s.label, t_0 = s.t_0, how_scale = s.how_scale, scale_lr = s.scale_lr}
end

-- Every setting of a model trains side by side, one epoch each in turn (the order rotated
-- every epoch), so that a change in the machine's load falls on all of them alike.
local all = {}
for model in cfg.models:gmatch('[^,]+') do
  local trainSize = model == 'lenet5' and cfg.lenet5_train or cfg.train
  local train, test = wb.loadData('fashion-mnist', {train = trainSize, test = cfg.test})
  local rows = {}
  for _, s in ipairs(settings) do rows[#rows + 1] = setup(model, s, train) end
  for epoch = 1, cfg.epochs do
    for k = 0, #rows - 1 do
      local r = rows[(k + epoch - 1) % #rows + 1]
      local t0 = wb.clock()
      r.loss = r.trainer:epoch(train)
      r.trainSeconds = r.trainSeconds + (wb.clock() - t0)
    end
    io.stderr:write(string.format('%s: epoch %d of %d done\n', model, epoch, cfg.epochs))
  end
  for _, r in ipairs(rows) do
    r.testError = wb.test(r.net, test)
    io.stderr:write(string.format('%-14s %-22s test error %6.2f%%  training %7.2f s  estimate %5.1f%%\n', model, r.label,
      r.testError, r.trainSeconds, 100 * r.speedup))
  end
  local base = (rows[1].trainSeconds + rows[2].trainSeconds) / 2
  for _, r in ipairs(rows) do
    r.saving = 1 - r.trainSeconds / base
    r.ratio = r.speedup > 0 and r.saving / r.speedup or nil
    r.net, r.trainer = nil, nil
  end
  all[#all + 1] = {model = model, train = #train, baseSeconds = base, rows = rows, iterations = rows[1].iterations,
                   stepSeconds = base / rows[1].iterations, layers = rows[1].layers}
  collectgarbage()
end

-- The schedule's cost per step: a 5-layer net so small that a step is little but the
-- trainer's own work (784 -> 1 -> 1 -> 1 -> 1 -> 10, 1-image batches), timed without a schedule
-- and with each way of setting the rates (nothing freezes in the timed steps), on 1 thread; the
-- best of 5 rounds in alternating order.
local function secondsPerStep(by, steps)
  torch.manualSeed(0)
  local net = nn.Sequential():add(nn.View(784)):add(nn.Linear(784, 1))
  for _ = 1, 3 do net:add(nn.Linear(1, 1)) end
  net:add(nn.Linear(1, 10))
  local data = wb.loadData('fashion-mnist', {train = 256, test = 1})
  local o = freezeout.options{batch_size = 1, lr = 1e-4}
  local plan = freezeout.plan(net, data, o, math.ceil(4 * (steps + 200) / #data))
  local opt = freezeout.optimizer(plan, o)
  local t = wb.Trainer{model = net, optimizer = opt, batchSize = 1, seed = 0}
  if by then freezeout.install(t, opt, plan, nil, by) end
  t:steps(data, 200)
  local t0 = wb.clock()
  t:steps(data, steps)
  return (wb.clock() - t0) / steps
end

local steps = tonumber(os.getenv("FREEZEOUT_SCHEDULE_STEPS") or "") or 30000
local best = {}
local threads = wb.threads()
wb.threads(1)   -- no worker-pool wake-ups in so small a step: less noise
for round = 1, 5 do
  local order = round % 2 == 1 and {'none', 'hook', 'schedule'} or {'schedule', 'hook', 'none'}
  for _, by in ipairs(order) do
    local s = secondsPerStep(by ~= 'none' and by or nil, steps)
    best[by] = math.min(best[by] or math.huge, s)
  end
end
wb.threads(threads)
local lenetStep
for _, m in ipairs(all) do if m.model == 'lenet5' then lenetStep = m.stepSeconds end end
if not lenetStep then
  -- no LeNet-5 in this grid: time 40 of its steps at the same batch size
  torch.manualSeed(0)
  local net = freezeout.loadModel('lenet5')
  local data = wb.loadData('fashion-mnist', {train = 2000, test = 1})
  local t = wb.Trainer{model = net, optimizer = wb.SGD{lr = 0.01, momentum = 0.9}, batchSize = cfg.batch}
  t:steps(data, 5)
  local t0 = wb.clock()
  t:steps(data, 40)
  lenetStep = (wb.clock() - t0) / 40
end
local cost = {stepSeconds = lenetStep, none = best.none, hook = best.hook - best.none, schedule = best.schedule - best.none}

-- The table.
local function pct(x) return x and string.format('%.1f%%', 100 * x) or '' end
local lines = {}
local function out(fmt, ...) lines[#lines + 1] = string.format(fmt, ...) end
for _, m in ipairs(all) do
  out('')
  out('%s, %s training images, %d epochs of batch %d (J = %d), %d threads; baseline %.1f s of training (%.2f ms a step)',
    m.model, tostring(m.train), cfg.epochs, cfg.batch, m.iterations, wb.threads(),
    m.baseSeconds, 1000 * m.stepSeconds)
  out('')
  out('| setting | test error | training s | measured saving | estimate | measured / estimate |')
  out('|---|---:|---:|---:|---:|---:|')
  for _, r in ipairs(m.rows) do
    out('| %s | %.2f%% | %.1f | %s | %s | %s |', r.label, r.testError, r.trainSeconds, pct(r.saving), pct(r.speedup),
      r.ratio and string.format('%.0f%%', 100 * r.ratio) or '')
  end
end
out('')
out('Schedule per step (5 groups; best of 5 x %d steps of a 5-layer net with 1-image batches, 1 thread): %.2f us by the '
  .. 'beforeForward hook, %.2f us by t:schedule functions (+ the freezing hook); a step without either %.2f us; '
  .. 'a LeNet-5 step (batch %d) %.2f ms: the hook costs %.3f%% of it, the schedules %.3f%%',
  steps, 1e6 * cost.hook, 1e6 * cost.schedule, 1e6 * cost.none, cfg.batch, 1000 * lenetStep,
  100 * cost.hook / lenetStep, 100 * cost.schedule / lenetStep)
print(table.concat(lines, '\n'))

-- The figures, as a Lua table.
local function serialise(v, indent)
  if type(v) == 'table' then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) == 'number'
    end)
    local parts = {}
    for _, k in ipairs(keys) do
      local key = type(k) == 'number' and '' or (k .. ' = ')
      parts[#parts + 1] = indent .. '  ' .. key .. serialise(v[k], indent .. '  ')
    end
    return '{\n' .. table.concat(parts, ',\n') .. '\n' .. indent .. '}'
  elseif type(v) == 'string' then
    return string.format('%q', v)
  elseif type(v) == 'number' then
    return string.format('%.10g', v)
  end
  return tostring(v)
end
local results = {config = cfg, models = all, schedule = cost, threads = wb.threads()}
for _, m in ipairs(all) do for _, r in ipairs(m.rows) do r.layers = nil end end
wb.writeFile(resultsPath, '-- Written by scripts/experiments/freezeout-grid.lua; plotted by freezeout-plot.lua.\nreturn '
  .. serialise(results, '') .. '\n')
io.stderr:write('figures written to ' .. resultsPath .. '\n')
