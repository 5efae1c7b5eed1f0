-- DeepR (Bellec et al. 2018, as the original runs it with --DeepR), every iteration while
-- epoch < --stop-rewire-epoch:
--   after backward: g_i += N(0, 2·eta·T) on the active entries (eta = --DeepR_eta, T the
--     schedule's temperature);
--   after the optimiser step: an active entry whose sign flipped since the last step
--     (sign(θ_now)·sign(θ_before) < 0) is deactivated (set to 0), and as many inactive
--     entries of the same layer, drawn uniformly (not the ones just deactivated), are
--     activated at 0 (N(0, 1/fan_in) with --big-new-weights; a convolution's N(0, 2/(kh·kw·out))),
--     with no optimiser state.
-- The per-layer active count never changes. The work is the engine's fused wb.DeepR (one
-- pass over the active entries, O(active) per step; Sources/Engine/Pruning/DeepRConnections):
-- L.deepr keeps the layer's active positions in their order and their signs at the last step.
local repr = require('lib.sparsetrain.rewire').repr   -- Python's float repr
local deepr = {}

-- savedActive(L): the active positions in a checkpoint's order (nil: the mask's, ascending).
function deepr.init(layers, savedActive)
  for _, L in ipairs(layers) do
    local ok, d = pcall(wb.DeepR, L.module, savedActive and savedActive(L) or nil)
    if not ok then error(string.format('%s: %s', L.name, tostring(d):gsub('^[^:]*:%d+: ', '')), 0) end
    L.deepr = d
  end
end

-- The gradient noise, std sqrt(2·eta·T).
function deepr.noise(layers, std)
  if std <= 0 then return end
  for _, L in ipairs(layers) do L.deepr:noise(std) end
end

-- The sign-flip rewiring after a step; returns the number of connections moved. With `log`,
-- each layer prints the original's lines (prune_sign_change, then grow_random):
--   pruned K  connections
--   pruned J (P %) just grown weights      (J of the K grown by the step before, P = 100·J/its
--                                           count, 0.0 when it grew none; not at the first step)
--   grown K  connections
function deepr.rewire(layers, optimizer, big, log)
  local moved = 0
  for _, L in ipairs(layers) do
    local k, justGrown, grownBefore = L.deepr:rewire(optimizer, big and (L.newStd or 1 / math.sqrt(L.fanIn)) or nil)
    if log then
      log(string.format('pruned %d  connections', k))
      if justGrown then
        log(string.format('pruned %d (%s %%) just grown weights', justGrown, repr(grownBefore > 0 and justGrown * 100.0 / grownBefore or 0.0)))
      end
      log(string.format('grown %d  connections', k))
    end
    moved = moved + k
  end
  return moved
end

return deepr
