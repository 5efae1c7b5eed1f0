-- Iterative magnitude pruning with rewinding (phiandark/SiftingFeatures' IMP.py), run by
-- `workbench imp FILE.ini`, which checks the settings and gives them here as `opt` (every
-- key of the .ini, opt.layers, opt.rewind, opt.place[key] = "FILE:line: key").
--
-- Iteration it: start from the weights of the rewind mode under the mask, restart the batch
-- norm averages, a fresh optimiser; steps st = 0..steps, each: save the weights if st is a
-- saved step, validate every validate_step (before the step's update, as the original), one
-- training step on a minibatch drawn with replacement. Then, per pruned layer, the ratio
-- r <- r + prune_ratio*(1 - r) and the mask keeps the entries of W and b above the
-- floor(r*n)-th smallest |value| of the final (or prune_step) weights; stop when the smallest
-- fraction of connected units of a pruned layer is <= stop_ratio, or after max_iterations.
local network = require 'lib.imp.network'
local masks = require 'lib.imp.masks'
local data = require 'lib.imp.data'
local records = require 'lib.imp.records'
local svg = require 'lib.svg'
local tensorboard = require 'lib.tensorboard'

local function fail(key, msg) error(string.format('%s: %s', opt.place[key], msg), 0) end

wb.threads(opt.threads)
local seed = math.tointeger(opt.seed)
local function iterationSeed(it, salt) return (seed * 1009 + it * 2 + salt) % (1 << 53) end

local train, validation, shape = data.load(opt)
local arch = opt.arch:gsub('%s', '')
if #opt.rewind > 1 and opt.restart then
  fail('restart', 'a restart continues one run: give one rewind mode (rewind = ' .. opt.rewind[1] .. ')')
end
print(string.format('IMP %s on %s: %d training, %d validation images, %d classes; %d steps of %d per iteration',
  arch, opt.dataset, #train, #validation, shape.classes, opt.steps, opt.batch_size))

-- The saved steps of an iteration: 0 (where it starts), weights_step in iteration 0 (the
-- rewind point), prune_step when it is not the last step, and the last step.
local function savedSteps(it)
  local set, list = {}, {}
  for _, st in ipairs{0, it == 0 and opt.weights_step or 0, opt.prune_step, opt.steps} do
    if not set[st] then set[st] = true; list[#list + 1] = st end
  end
  table.sort(list)
  return list
end

-- A saved step of a record: a negative index counts from the end (-1: the last), otherwise the step.
local function pickStep(record, which, key)
  local list = record.saved_steps
  local st = which < 0 and list[#list + 1 + which] or which
  for _, s in ipairs(list) do if s == st then return s end end
  fail(key, string.format('step %d is not among the saved steps of iteration %d (%s)', which, record.iteration,
    table.concat(list, ', ')))
end

local function runMode(mode, base)
  -- --tensorboard DIR: DIR/<mode> has the per-iteration figures, DIR/<mode>/iteration_<it> the steps' errors.
  local tb = tensorboard.open(opt.tensorboard and (opt.tensorboard .. '/' .. mode))
  torch.manualSeed(seed)
  local net, layers = network.build(opt.layers, shape, opt.batch_norm_beta, opt.place.arch)
  network.initialise(layers)
  -- Nothing here reads a gradient under a mask, so the pruned layers may train on sparse
  -- kernels once their masks are sparse enough (the engine's rule, docs/sparse.md).
  net:sparseTraining(true)
  local pruned = {}
  for _, info in ipairs(layers) do if info.linear and info.prune then pruned[#pruned + 1] = info end end
  local weighted = {}
  for _, info in ipairs(layers) do if info.linear then weighted[#weighted + 1] = info end end

  local ratios, layerMasks = {}, {}
  local initPoint, rewindPoint, startPoint
  local it = 0
  local header = records.findataHeader(layers)
  local rows, log
  if opt.restart then
    it = math.tointeger(opt.rest_it)
    local first, firstSnaps = records.loadIteration(opt.rest_weights_file, layers, opt.place.rest_weights_file)
    initPoint = firstSnaps[pickStep(first, 0, 'rest_weights_file')]
    rewindPoint = firstSnaps[pickStep(first, math.tointeger(opt.weights_step), 'weights_step')]
    local record, snaps, old = records.loadIteration(opt.rest_mask_file, layers, opt.place.rest_mask_file)
    if record.iteration ~= it - 1 then
      fail('rest_mask_file', string.format('holds iteration %d; rest_it = %d continues after iteration %d', record.iteration, it, it - 1))
    end
    local from = snaps[pickStep(record, math.tointeger(opt.rest_file_step), 'rest_file_step')]
    for i, info in ipairs(pruned) do ratios[i] = record.ratios[i] + opt.prune_ratio * (1 - record.ratios[i]) end
    for l, info in ipairs(layers) do
      if info.linear then layerMasks[l] = old[l] end
    end
    for i, info in ipairs(pruned) do layerMasks[info.index] = masks.prune(info, from[info.index], old[info.index], ratios[i]) end
    startPoint = snaps[record.saved_steps[#record.saved_steps]]
    rows = records.findataBefore(base, it, header)
    log = records.openLog(base, records.logBefore(base, it))
  else
    for l, info in ipairs(layers) do
      if info.linear then layerMasks[l] = masks.current(info) end
    end
    for i, info in ipairs(pruned) do
      ratios[i] = opt.init_sparsity
      if opt.init_sparsity > 0 then layerMasks[info.index] = masks.random(info, opt.init_sparsity) end
    end
    rows = {}
    log = records.openLog(base, '')
  end

  local function connectivity(set)
    local c, each = math.huge, {}
    for i, info in ipairs(pruned) do
      each[i] = masks.connected(info, (set or layerMasks)[info.index])
      c = math.min(c, each[i])
    end
    return c, each
  end

  local nnconn, connected = connectivity()
  while nnconn > opt.stop_ratio and it < opt.max_iterations do
    -- What continues the run after Ctrl-C (read by `workbench imp`); nothing to continue in iteration 0.
    imp_resume = it > 0 and string.format('restart=T rest_it=%d%s', it,
      #opt.rewind > 1 and (' rewind=' .. mode .. ' prefix=' .. base:match('[^/]+$')) or '') or nil
    local started = wb.clock()
    -- The weights this iteration starts from, under its masks.
    if it > 0 then
      if mode == 'step' then network.load(layers, rewindPoint)
      elseif mode == 'init' then network.load(layers, initPoint)
      elseif mode == 'random' then torch.manualSeed(iterationSeed(it, 1)); network.initialise(layers)
      elseif mode == 'none' then network.load(layers, startPoint)
      end
    end
    for l, info in ipairs(layers) do
      if info.linear then masks.install(info, layerMasks[l]) end
    end
    network.restartAverages(layers)

    local optimizer = opt.minimizer == 'Adam' and wb.Adam{lr = opt.learning_rate} or wb.SGD{lr = opt.learning_rate}
    local trainer = wb.Trainer{model = net, optimizer = optimizer, batchSize = opt.batch_size,
                               seed = iterationSeed(it, 0), progress = true}
    local points = savedSteps(it)
    local isSaved = {}
    for _, st in ipairs(points) do isSaved[st] = true end
    local snapshots, steps, trainErrors, valSteps, valErrors = {}, {}, {}, {}, {}
    local ve
    local itb = tb:run(string.format('iteration_%d', it))
    trainer.beforeForward = function(s)
      local st = s.step - 1
      if isSaved[st] then snapshots[st] = network.snapshot(layers) end
      if st % opt.validate_step == 0 then
        ve = wb.test(net, validation, {batchSize = 1000}) / 100
        net:training()
      end
    end
    trainer.afterStep = function(s)
      local st = s.step - 1
      local te = s.wrong / opt.batch_size
      steps[#steps + 1] = st
      trainErrors[#trainErrors + 1] = te
      if st % opt.validate_step == 0 then
        valSteps[#valSteps + 1] = st
        valErrors[#valErrors + 1] = ve
        log:line(string.format('Step: %7d, TE: %5.3f, VE: %5.3f', st, te, ve))
        itb:scalar('train/error', te, st)
        itb:scalar('val/error', ve, st)
      end
    end
    io.write(string.format('Iteration %d (%s)\n', it, mode))
    trainer:steps(train, opt.steps + 1, {replacement = true})
    itb:close()

    local emin = math.huge
    for _, e in ipairs(valErrors) do emin = math.min(emin, e) end
    local ratioText = {}
    for i, r in ipairs(ratios) do ratioText[i] = string.format('%.8g', r) end
    log:line(string.format('Ratios: [%s]; more than 0 connections: %.8g; Emin: %.8g', table.concat(ratioText, ' '), nnconn, emin))
    log:finishIteration()

    local left, keptAll, sizeAll, keptPruned, sizePruned = {}, 0, 0, 0, 0
    for _, info in ipairs(weighted) do
      local d = masks.density(info, layerMasks[info.index])
      left[#left + 1] = d
      keptAll, sizeAll = keptAll + d * masks.size(info), sizeAll + masks.size(info)
      if info.prune then keptPruned, sizePruned = keptPruned + d * masks.size(info), sizePruned + masks.size(info) end
    end
    -- The next iteration's ratios and masks, from the final (or prune_step) weights.
    local from = snapshots[opt.prune_step]
    local nextRatios, nextMasks = {}, {}
    for l, m in pairs(layerMasks) do nextMasks[l] = m end
    for i, info in ipairs(pruned) do
      nextRatios[i] = ratios[i] + opt.prune_ratio * (1 - ratios[i])
      nextMasks[info.index] = masks.prune(info, from[info.index], layerMasks[info.index], nextRatios[i])
    end
    local nextConn, nextEach = connectivity(nextMasks)
    local layerInfo = {}
    for _, info in ipairs(layers) do
      layerInfo[#layerInfo + 1] = {index = info.index, kind = info.kind, prune = info.prune or false,
                                   inputs = info.inputs, outputs = info.outputs}
    end
    local record = {
      iteration = it, rewind = mode, arch = arch, layers = layerInfo, seed = seed,
      ratios = ratios, connected = connected, nnconn = nnconn,
      next_ratios = nextRatios, next_connected = nextEach, next_nnconn = nextConn,
      left = left, left_pruned = keptPruned / sizePruned, left_overall = keptAll / sizeAll,
      saved_steps = points, steps = steps, train_errors = trainErrors, val_steps = valSteps, val_errors = valErrors,
      best_val_error = emin, final_val_error = valErrors[#valErrors], seconds = wb.clock() - started,
      settings = {steps = opt.steps, batch_size = opt.batch_size, learning_rate = opt.learning_rate,
                  minimizer = opt.minimizer, prune_ratio = opt.prune_ratio, weights_step = opt.weights_step,
                  prune_step = opt.prune_step, validate_step = opt.validate_step, val_size = opt.val_size,
                  batch_norm_beta = opt.batch_norm_beta, dataset = opt.dataset, reclass = opt.reclass},
    }
    records.saveIteration(base, it, record, snapshots, points, layerMasks, layers)
    rows[#rows + 1] = records.findataRow(record)
    records.writeFindata(base, header, rows)
    tb:scalar('imp/best_val_error', emin, it)
    tb:scalar('imp/final_val_error', record.final_val_error, it)
    tb:scalar('imp/left_pruned_percent', 100 * record.left_pruned, it)
    tb:scalar('imp/left_overall_percent', 100 * record.left_overall, it)
    print(string.format('Iteration %d -- Ratio: %.6f; left %.2f%% of the pruned layers (%.2f%% overall); Emin: %.4f; %.1f s',
      it, ratios[1] or 0, 100 * record.left_pruned, 100 * record.left_overall, emin, record.seconds))

    -- The incoming connections per unit of each pruned layer, for this iteration's mask.
    local hist = {}
    for _, info in ipairs(pruned) do
      hist[#hist + 1] = {name = string.format('layer %d (%s)', info.index, info.kind), values = masks.incoming(info, layerMasks[info.index])}
    end
    wb.writeFile(records.path(base, 'connections.svg'), svg.histogram{
      title = string.format('Incoming connections per unit, iteration %d (%.2f%% left)', it, 100 * record.left_overall),
      xlabel = 'incoming connections', ylabel = 'fraction of units', series = hist})

    if it == 0 then initPoint, rewindPoint = snapshots[0], snapshots[opt.weights_step] end
    -- No rewinding continues from the saved last step (the original trains one step more,
    -- after its last save; that step is not kept).
    startPoint = snapshots[opt.steps]
    ratios, layerMasks, nnconn, connected = nextRatios, nextMasks, nextConn, nextEach
    it = it + 1
  end
  log:close()
  tb:close()
  imp_resume = nil
  print(string.format('Stopped after iteration %d: %s', it - 1,
    nnconn <= opt.stop_ratio and string.format('a pruned layer keeps %.4g of its units connected (stop_ratio %g)', nnconn, opt.stop_ratio)
    or string.format('max_iterations = %d', opt.max_iterations)))
  return records.accuracyPoints(header, rows)
end

local root = (opt.save_dir:gsub('/+$', '')) .. '/' .. opt.prefix
local series = {}
for _, mode in ipairs(opt.rewind) do
  local base = #opt.rewind > 1 and (root .. '_' .. mode) or root
  series[#series + 1] = {name = 'rewind: ' .. mode, points = runMode(mode, base)}
end
wb.writeFile(root .. '_accuracy.svg', svg.lines{
  title = string.format('IMP %s: best validation accuracy', arch), xlabel = 'fraction of weights and biases left (log)',
  ylabel = 'best validation accuracy', xlog = true, series = series})
print('Outputs in ' .. opt.save_dir .. ': ' .. opt.prefix .. '_*')
