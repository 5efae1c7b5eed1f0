-- Sparse layers: W = M ⊙ θ with a 0/1 mask M over the flat weight (the original's
-- SparseTensor), kept by `m:setMask`. Positions are 1-based over the flat view; a set of
-- positions is a 1D tensor of them (t:nonzero(), t:index, t:indexFill).
--
-- A convolution's mask may be coarser (the original's --sub-kernel-granularity g): a 0/1
-- mask B over the first g dimensions of the weight [out, in, kh, kw], each entry covering
-- the u = ∏_{d>g} size_d weights that share those indices (lib/sparsetrain/granularity.lua).
-- Then L.unit = u, L.units = n/u, positions number the units (B's flat entries), counts are
-- of units, and a unit's magnitude is its mean |θ|. Layers without these fields (every
-- Linear) have u = 1: a unit is a weight and everything below is the per-weight rule.
local granularity = require 'lib.sparsetrain.granularity'
local masks = {}

local function units(L) return L.units or L.n end
local function coarse(L) return (L.unit or 1) > 1 end

-- The number of active entries of a layer of n weights at sparsity s: int((1 - s)·n + 0.1).
function masks.budget(n, s) return math.floor((1 - s) * n + 0.1) end

-- Installs a random mask with exactly budget(units, s) active units (torch.randperm).
function masks.initial(L, s)
  local n = units(L)
  local k = masks.budget(n, s)
  if k < 1 then
    error(string.format('%s: sparsity %g leaves no %s of its %d (int((1 - s)·n + 0.1) = 0)', L.name, s,
      coarse(L) and 'block' or 'weight', n), 0)
  end
  local mask = torch.zeros(n)
  mask:indexFill(1, torch.randperm(n):narrow(1, 1, k), 1)
  if coarse(L) then
    L.blocks = mask
    mask = granularity.expand(mask, L.unit)
  end
  L.module:setMask(mask:view(L.shape))
  L.module.weight:view(-1):cmul(mask)   -- inactive entries are 0 (the original zeroes them)
end

-- The live flat 0/1 mask over units (the module's mask itself when a unit is a weight).
local function unitMask(L) return coarse(L) and L.blocks or L.module.mask:view(-1) end

-- The flat mask over units (a copy) and the active positions.
-- A layer without a mask (dense) has every entry active.
function masks.flat(L) return L.module.mask and unitMask(L):clone() or torch.ones(units(L)) end
function masks.active(L) return L.module.mask and unitMask(L):nonzero() or torch.range(1, units(L)) end
function masks.count(L) return L.module.mask and math.floor(unitMask(L):sum() + 0.5) or units(L) end
-- Active weights (units × their size): the layer's share of the model size.
function masks.weights(L) return masks.count(L) * (L.unit or 1) end

-- |θ| at the given positions (a unit's mean |θ|: the original's sum of |θ| over the trailing
-- dimensions divided by their size).
function masks.magnitudes(L, positions)
  if coarse(L) then return granularity.means(L.module.weight, L.unit):index(1, positions) end
  return L.module.weight:view(-1):index(1, positions):abs()
end

-- The active positions with |θ| < threshold (DSR's prune_threshold), keeping at least one
-- (the largest) so that a layer never loses all its connections.
function masks.belowThreshold(L, threshold)
  local A = masks.active(L)
  if #A == 0 then return A end
  local v = masks.magnitudes(L, A)
  local small = v:lt(threshold):nonzero()
  if #small == #A then
    local _, order = v:sort(true)                 -- descending: keep order[1]
    small = order:narrow(1, 2, #A - 1)
  end
  return #small > 0 and A:index(1, small) or small
end

-- The k active positions of smallest |θ| (ties to the lower position), at most all but one.
function masks.smallest(L, k)
  local A = masks.active(L)
  k = math.min(k, #A - 1)
  if k <= 0 then return torch.Tensor() end
  local _, order = masks.magnitudes(L, A):sort()
  return A:index(1, order:narrow(1, 1, k))
end

-- k positions drawn uniformly without replacement where `eligible` (flat 0/1) is 1.
function masks.draw(eligible, k)
  if k <= 0 then return torch.Tensor() end
  local E = eligible:nonzero()
  assert(#E >= k, 'fewer free positions than connections to grow')
  return E:index(1, torch.randperm(#E):narrow(1, 1, k))
end

-- k positions drawn uniformly without replacement among L's inactive ones (mask 0 now, so
-- never one of this rewiring's just-pruned positions, which are still active). When most
-- positions are free (a sparse layer), by rejection: uniform positions, kept when inactive
-- and new, O(k) work; otherwise over the list of free positions.
function masks.drawFree(L, k)
  if k <= 0 then return torch.Tensor() end
  local n = units(L)
  local free = n - masks.count(L)
  assert(free >= k, 'fewer free positions than connections to grow')
  if free < n / 2 or free < 4 * k then return masks.draw(masks.flat(L):mul(-1):add(1), k) end
  local mask = unitMask(L)
  local out, taken = {}, {}
  while #out < k do
    local u = torch.rand(2 * (k - #out) + 8)
    for i = 1, #u do
      local p = math.min(math.floor(u[i] * n) + 1, n)
      if not taken[p] and mask[p] == 0 then
        taken[p] = true
        out[#out + 1] = p
        if #out == k then break end
      end
    end
  end
  return torch.Tensor(out)
end

-- The value of new connections: 0, or with `big` N(0, 1/fan_in) (the original's
-- --big-new-weights: normal(0, 1/sqrt(fan_in))).
-- A convolution's are N(0, 2/(kh·kw·out)) (L.newStd, the original's reinitialisation of a
-- conv tensor's unused entries).
function masks.newValues(L, k, big)
  if big then return torch.randn(k):mul(L.newStd or 1 / math.sqrt(L.fanIn)) end
  return torch.zeros(k)
end

-- Prunes `pruned` and grows `grown` (disjoint position sets) in one mask change: pruned
-- entries become 0 (the original zeroes every unused entry), grown ones start at their new
-- value with no optimiser state. The change is written into the installed mask (m.mask) and
-- the effective weights in place, O(k) for k positions: the stored values the Parameter
-- kept aside at setMask are never let through again (nothing here calls removeMask), so
-- every inactive entry is 0 and a grown one has exactly the value written here. With units of
-- several weights the positions are units: the unit mask changes and so do all their weights.
function masks.rewire(L, pruned, grown, optimizer, big)
  if not L.module.mask then
    L.module:setMask(torch.ones(L.shape))
    if coarse(L) then L.blocks = torch.ones(L.units) end
  end
  if coarse(L) then
    if #pruned > 0 then L.blocks:indexFill(1, pruned, 0) end
    if #grown > 0 then L.blocks:indexFill(1, grown, 1) end
    pruned, grown = granularity.positions(pruned, L.unit), granularity.positions(grown, L.unit)
  end
  local mask, w = L.module.mask:view(-1), L.module.weight:view(-1)
  if #pruned > 0 then
    mask:indexFill(1, pruned, 0)
    w:indexFill(1, pruned, 0)
  end
  if #grown > 0 then
    mask:indexFill(1, grown, 1)
    w:indexCopy(1, grown, masks.newValues(L, #grown, big))
    if optimizer then optimizer:resetState(L.module, 'weight', grown:totable()) end
  end
end

-- The free positions of a layer once `pruned` is removed, excluding `pruned` itself (the
-- original regrows elsewhere than where it just pruned).
function masks.freeExcept(L, pruned)
  local free = masks.flat(L):mul(-1):add(1)
  if #pruned > 0 then free:indexFill(1, pruned, 0) end
  return free
end

return masks
