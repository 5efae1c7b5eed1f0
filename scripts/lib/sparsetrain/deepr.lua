-- DeepR (Bellec et al. 2018, as the original runs it with --DeepR), every iteration while
-- epoch < --stop-rewire-epoch:
--   after backward: g_i += N(0, 2·eta·T) on the active entries (eta = --DeepR_eta, T the
--     schedule's temperature);
--   after the optimiser step: an active entry whose sign flipped since the last step
--     (sign(θ_now)·sign(θ_before) < 0) is deactivated (set to 0), and as many inactive
--     entries of the same layer, drawn uniformly (not the ones just deactivated), are
--     activated at 0 (N(0, 1/fan_in) with --big-new-weights), with no optimiser state.
-- The per-layer active count never changes. State per layer: the active positions A and
-- their signs at the last step, so that a step touches the active entries only.
local masks = require 'lib.sparsetrain.masks'
local deepr = {}

-- savedActive(L): the active positions in a checkpoint's order (nil: the mask's, ascending).
function deepr.init(layers, savedActive)
  for _, L in ipairs(layers) do
    L.active = savedActive and savedActive(L) or masks.active(L)
    if #L.active ~= masks.count(L) then
      error(string.format('%s: %d saved DeepR positions for %d active weights', L.name, #L.active, masks.count(L)), 0)
    end
    L.sign = L.module.weight:view(-1):index(1, L.active):sign()
  end
end

-- The gradient noise, std sqrt(2·eta·T).
function deepr.noise(layers, std)
  if std <= 0 then return end
  for _, L in ipairs(layers) do
    L.module.gradWeight:view(-1):indexAdd(1, L.active, torch.randn(#L.active):mul(std))
  end
end

-- The sign-flip rewiring after a step; returns the number of connections moved.
function deepr.rewire(layers, optimizer, big)
  local moved = 0
  for l, L in ipairs(layers) do
    local now = L.module.weight:view(-1):index(1, L.active):sign()
    local flipped = torch.cmul(now, L.sign):lt(-0.5):nonzero()
    local k = #flipped
    if k > 0 then
      local pruned = L.active:index(1, flipped)
      local grown = masks.drawFree(L, k)
      masks.rewire(L, pruned, grown, optimizer, big)
      L.active:indexCopy(1, flipped, grown)
      now:indexCopy(1, flipped, L.module.weight:view(-1):index(1, grown):sign())
      moved = moved + k
    end
    L.sign = now
  end
  return moved
end

return deepr
