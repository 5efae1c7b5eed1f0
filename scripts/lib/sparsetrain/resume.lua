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

-- Every parameter of the net's leaf modules (depth first), named as the model file names it:
-- the Torch path '5.1.1.1' is '4.0.0.0' (a flat net's module i is 'i-1').
local function parameters(net)
  local out = {}
  local leaves, paths = wb.layers(net)
  for i, m in ipairs(leaves) do
    local key = {}
    for part in paths[i]:gmatch('%d+') do key[#key + 1] = tostring(tonumber(part) - 1) end
    for _, which in ipairs{'weight', 'bias'} do
      if m[which] then out[#out + 1] = {module = m, which = which, name = table.concat(key, '.') .. '.' .. which} end
    end
  end
  return out
end

-- A layer record's model-file name (the wide ResNet's records carry it, mnist_mlp's position).
local function key(L) return L.key or tostring(L.position - 1) end

-- s: {epoch, iteration, threshold, prunesDone}; layers' L.active when DeepR runs.
function resume.save(base, net, layers, optimizer, trainer, s)
  local tensors = {}
  for _, p in ipairs(parameters(net)) do
    local v = optimizer:velocity(p.module, p.which)
    if v then tensors[#tensors + 1] = {p.name .. '.momentum_buffer', v} end
  end
  for _, L in ipairs(layers) do
    if L.deepr then tensors[#tensors + 1] = {key(L) .. '.weight.deepr_active', L.deepr.active} end
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

-- --resume (what = 'all') or --copy-mask-from (what = 'masks') of a nested net (the wide
-- ResNet) from the model `saved`: leaf by leaf, depth first, each of the same type and sizes;
-- 'all' copies every weight and bias, the batch norms' statistics and the sparse layers'
-- masks (rebuilding a coarse layer's unit mask: a unit is active when its weights are),
-- 'masks' the sparse layers' masks only. `what` names the file in errors.
function resume.loadNested(saved, net, layers, where, what)
  local mine, theirs = wb.layers(net), wb.layers(saved)
  local _, paths = wb.layers(net)
  if #mine ~= #theirs then error(string.format('%s: %d layers, this net has %d', where, #theirs, #mine), 0) end
  for i, m in ipairs(mine) do
    local t = theirs[i]
    local same = torch.type(m) == torch.type(t)
    for _, which in ipairs{'weight', 'bias'} do
      if same and (m[which] ~= nil) == (t[which] ~= nil) and m[which] then same = m[which]:nElement() == t[which]:nElement() end
    end
    if not same then
      error(string.format('%s: layer %s is %s, this net has %s there (another --layers or --widen-factor?)', where, paths[i],
        torch.type(t), torch.type(m)), 0)
    end
  end
  local sparse = {}
  for _, L in ipairs(layers) do sparse[L.module] = L end
  for i, m in ipairs(mine) do
    local t, L = theirs[i], sparse[m]
    if L then
      if what == 'masks' and not t.mask then error(string.format('%s: the %s has no mask', where, L.name), 0) end
      if t.mask then
        m:setMask(t.mask)
        if (L.unit or 1) > 1 then L.blocks = t.mask:view(L.units, L.unit):sum(2):view(-1):gt(0) end
      elseif what == 'all' and m.mask then
        m:removeMask()
        L.blocks = nil
      end
    end
    if what == 'all' then
      if m.weight then m.weight = t.weight end
      if m.bias then m.bias = t.bias end
      if m.runningMean then m.runningMean:copy(t.runningMean); m.runningVar:copy(t.runningVar) end
    end
  end
end

-- Puts the velocities back (every parameter: none where the file has none).
function resume.restoreOptimizer(s, net, optimizer)
  for _, p in ipairs(parameters(net)) do
    optimizer:setVelocity(p.module, p.which, s.tensors[p.name .. '.momentum_buffer'])
  end
end

-- DeepR's active positions of layer L in the saved order (nil: none saved).
function resume.deeprActive(s, L)
  return s and s.tensors[key(L) .. '.weight.deepr_active']
end

-- The generators, last: after every draw the setup makes.
function resume.restoreGenerators(s, trainer)
  torch.setRNGState(s.rng)
  trainer.orderState = s.order
end

return resume
