-- The training state of a sparse-train checkpoint, beside its model file:
-- <base>.state.safetensors holds
--   tensors  <i>.weight.momentum_buffer, <i>.bias.momentum_buffer: SGD's velocity of module i
--            (0-based, the model file's names), for every parameter that has one;
--            <i>.weight.deepr_active: DeepR's active positions of layer i in their order
--            (1-based; the order decides which noise draw goes to which weight);
--   metadata epoch (the next epoch to run), iteration (the optimiser steps done: the
--            original's current_iteration, which places the rewire period), threshold (DSR's
--            H, %.17g), prunes_done (gradual pruning), rng (torch's generator) and order (the
--            trainer's shuffling generator), both as 64 hex digits.
-- With all of it, a run of k epochs resumed for the rest gives the bits of the unbroken run
-- (same seed and threads). DeepR's signs at the last step are the active weights' signs, so
-- they are recomputed, not stored.
local resume = {}

function resume.path(modelPath) return (modelPath:gsub('%.safetensors$', '')) .. '.state.safetensors' end

local function parameters(net)
  local out = {}
  for i = 1, #net do
    local m = net:get(i)
    for _, which in ipairs{'weight', 'bias'} do
      if m[which] then out[#out + 1] = {module = m, which = which, name = string.format('%d.%s', i - 1, which)} end
    end
  end
  return out
end

-- s: {epoch, iteration, threshold, prunesDone}; layers' L.active when DeepR runs.
function resume.save(base, net, layers, optimizer, trainer, s)
  local tensors = {}
  for _, p in ipairs(parameters(net)) do
    local v = optimizer:velocity(p.module, p.which)
    if v then tensors[#tensors + 1] = {p.name .. '.momentum_buffer', v} end
  end
  for _, L in ipairs(layers) do
    if L.deepr then tensors[#tensors + 1] = {string.format('%d.weight.deepr_active', L.position - 1), L.deepr.active} end
  end
  wb.saveTensors(base .. '.state.safetensors', tensors, {
    epoch = tostring(math.tointeger(s.epoch)), iteration = tostring(math.tointeger(s.iteration)),
    threshold = string.format('%.17g', s.threshold), prunes_done = tostring(math.tointeger(s.prunesDone or 0)),
    rng = torch.getRNGState(), order = trainer.orderState})
end

-- The state beside `modelPath`, or nil when there is none (a model file alone, an _initial
-- checkpoint): {epoch, iteration, threshold, prunesDone, rng, order, tensors}.
function resume.read(modelPath, flag)
  local path = resume.path(modelPath)
  local f = io.open(path, 'rb')
  if not f then return nil end
  f:close()
  local ok, tensors, meta = pcall(wb.loadTensors, path)
  if not ok then error(string.format('%s %s: %s: %s', flag, modelPath, path, tostring(tensors)), 0) end
  local s = {tensors = tensors, rng = meta.rng, order = meta.order, path = path}
  for _, k in ipairs{'epoch', 'iteration', 'threshold', 'prunes_done'} do
    local x = tonumber(meta[k] or '')
    if not x then error(string.format('%s %s: %s has no %s in its metadata', flag, modelPath, path, k), 0) end
    s[k] = x
  end
  s.prunesDone = math.tointeger(s.prunes_done)
  s.epoch, s.iteration = math.tointeger(s.epoch), math.tointeger(s.iteration)
  return s
end

-- Puts the velocities back (every parameter: none where the file has none).
function resume.restoreOptimizer(s, net, optimizer)
  for _, p in ipairs(parameters(net)) do
    optimizer:setVelocity(p.module, p.which, s.tensors[p.name .. '.momentum_buffer'])
  end
end

-- DeepR's active positions of layer L in the saved order (nil: none saved).
function resume.deeprActive(s, L)
  return s and s.tensors[string.format('%d.weight.deepr_active', L.position - 1)]
end

-- The generators, last: after every draw the setup makes.
function resume.restoreGenerators(s, trainer)
  torch.setRNGState(s.rng)
  trainer.orderState = s.order
end

return resume
