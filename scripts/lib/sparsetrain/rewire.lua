-- Prune-and-regrow every rewire period (the original's `--rewire`):
--   SET (Mocanu et al.): each layer prunes its int(ζ·active) + 1 smallest |θ| (ζ =
--     --rewire-fraction) and regrows as many at random free positions of the same layer.
--   DSR (Mostafa & Wang; --threshold-prune --rewire-scaling): each layer prunes its active
--     |θ| < H (keeping at least one); K = Σ pruned is regrown at random free positions not
--     just pruned, shared across layers in proportion to each layer's survivors S_l
--     (g_l = K·S_l/ΣS, largest remainders, capped by the layer's free positions); then H
--     halves if K > 1.1·Np and doubles if K < 0.9·Np (Np = --n-prune-params).
-- Without --rewire-scaling every layer regrows what it pruned; with --threshold-prune the
-- layer's rule is the threshold, else the fraction. Counts, positions and magnitudes are of a
-- layer's mask units (a weight, or with --sub-kernel-granularity a block: its mean |θ|).
local masks = require 'lib.sparsetrain.masks'
local rewire = {}

-- Shares of k among the layers in proportion to weights[l], each at most cap[l], summing to
-- k when the caps allow it: floors, then the largest remainders (ties to the lower layer),
-- then what a cap cut off goes to the layers with room, largest weight first.
function rewire.apportion(k, weights, cap)
  local total, n = 0, #weights
  for _, w in ipairs(weights) do total = total + w end
  local share, rest, given = {}, {}, 0
  for l = 1, n do
    local q = total > 0 and k * weights[l] / total or k / n
    share[l] = math.floor(q)
    rest[l] = {l = l, r = q - share[l]}
    given = given + share[l]
  end
  table.sort(rest, function(a, b) if a.r ~= b.r then return a.r > b.r end return a.l < b.l end)
  for i = 1, k - given do share[rest[(i - 1) % n + 1].l] = share[rest[(i - 1) % n + 1].l] + 1 end
  local over = 0
  for l = 1, n do
    if share[l] > cap[l] then over = over + share[l] - cap[l]; share[l] = cap[l] end
  end
  if over > 0 then
    local order = {}
    for l = 1, n do order[l] = l end
    table.sort(order, function(a, b) if weights[a] ~= weights[b] then return weights[a] > weights[b] end return a < b end)
    for _, l in ipairs(order) do
      local room = math.min(cap[l] - share[l], over)
      share[l], over = share[l] + room, over - room
    end
  end
  return share
end

-- One rewiring of `layers` (state: {threshold = H}); returns K pruned and the number grown.
-- o: fraction, threshold (bool), scaling (bool), nPrune, big (bool), optimizer, log(function).
function rewire.step(layers, state, o)
  local pruned, survivors, cap, K = {}, {}, {}, 0
  for l, L in ipairs(layers) do
    local active = masks.count(L)
    if o.threshold then pruned[l] = masks.belowThreshold(L, state.threshold)
    else pruned[l] = masks.smallest(L, math.floor(o.fraction * active) + 1) end
    survivors[l] = active - #pruned[l]
    cap[l] = (L.units or L.n) - active   -- free positions (units: lib/sparsetrain/masks.lua)
    K = K + #pruned[l]
  end
  local grow
  if o.scaling then
    grow = rewire.apportion(K, survivors, cap)
  else
    grow = {}
    for l = 1, #layers do grow[l] = math.min(#pruned[l], cap[l]) end
  end
  local grown = 0
  for l, L in ipairs(layers) do
    local positions = masks.drawFree(L, grow[l])
    masks.rewire(L, pruned[l], positions, o.optimizer, o.big)
    grown = grown + grow[l]
  end
  if o.log then o.log(string.format('n_grown : %d , n_pruned : %d', grown, K)) end
  if o.threshold then
    if K > 1.1 * o.nPrune then state.threshold = state.threshold / 2
    elseif K < 0.9 * o.nPrune then state.threshold = state.threshold * 2 end
    if o.log then o.log('threshold is ' .. rewire.repr(state.threshold)) end
  end
  return K, grown
end

-- A number as Python's repr writes it: the shortest digits that read back the same.
function rewire.repr(x)
  if x == math.floor(x) and math.abs(x) < 1e16 then return string.format('%.1f', x) end
  for digits = 1, 17 do
    local s = string.format('%.' .. digits .. 'g', x)
    if tonumber(s) == x then
      -- Python writes 1e-05 as 1e-05 and 0.0001 as 0.0001 (%g agrees)
      return s
    end
  end
  return string.format('%.17g', x)
end

return rewire
