-- The outputs of a sparse-train run, as the original's checkpoints
-- (runs/{model}_{job_idx}[_target_<fc>,<conv>], plus _initial and _StopRewiringPoint_<e>):
-- <base>.safetensors (the model: W ⊙ M, masks as N.weight_mask) and <base>.json with the
-- per-epoch lists train/val/test loss, prec1, prec5 (val_prec5 holds the validation list,
-- not the train one as in the original), model_size {sparse, tied, fixed, learnable},
-- per-layer density, best_prec1 (kept up to date), epoch and the arguments.
local json = require 'lib.json'
local masks = require 'lib.sparsetrain.masks'
local records = {}

-- The original's get_model_size: sparse = active entries of the sparse layers, tied = values
-- of the tied layers, fixed = every other parameter (batch norm γ and β, biases).
function records.modelSize(net, layers, method)
  local sparse, tiedCount, weights = 0, 0, 0
  for _, L in ipairs(layers) do
    weights = weights + L.n
    if method == 'tied' then tiedCount = tiedCount + L.values else sparse = sparse + masks.weights(L) end
  end
  local total = 0
  local params = net:parameters()
  for _, p in ipairs(params) do total = total + p:nElement() end
  local fixed = total - weights
  return {sparse = sparse, tied = tiedCount, fixed = fixed, learnable = sparse + tiedCount + fixed}
end

-- As Python prints the dict.
function records.sizeText(s)
  return string.format("{'sparse': %d, 'tied': %d, 'fixed': %d, 'learnable': %d}", s.sparse, s.tied, s.fixed, s.learnable)
end

-- Per-layer density: active weights (or tied values) over the layer's weights (with units of
-- several weights, active units × their size).
function records.densities(layers, method)
  local d = {}
  for l, L in ipairs(layers) do
    d[l] = (method == 'tied' and L.values or masks.weights(L)) / L.n
  end
  return d
end

function records.save(base, net, state)
  wb.saveModel(net, base .. '.safetensors', {model_name = state.model_name, epoch = tostring(math.tointeger(state.epoch or 0))})
  wb.writeFile(base .. '.json', json.encode(state) .. '\n')
end

return records
