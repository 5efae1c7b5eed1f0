-- Sparse layers: W = M ⊙ θ with a 0/1 mask M over the flat weight (the original's
-- SparseTensor), kept by `m:setMask`. Positions are 1-based over the flat view; a set of
-- positions is a 1D tensor of them (t:nonzero(), t:index, t:indexFill).
local masks = {}

-- The number of active entries of a layer of n weights at sparsity s: int((1 - s)·n + 0.1).
function masks.budget(n, s) return math.floor((1 - s) * n + 0.1) end

-- Installs a random mask with exactly budget(n, s) active entries (torch.randperm).
function masks.initial(L, s)
  local k = masks.budget(L.n, s)
  if k < 1 then
    error(string.format('%s: sparsity %g leaves no weight of its %d (int((1 - s)·n + 0.1) = 0)', L.name, s, L.n), 0)
  end
  local mask = torch.zeros(L.n)
  mask:indexFill(1, torch.randperm(L.n):narrow(1, 1, k), 1)
  L.module:setMask(mask:view(L.shape))
  L.module.weight:view(-1):cmul(mask)   -- inactive entries are 0 (the original zeroes them)
end

-- The flat mask (a copy) and the active positions.
-- A layer without a mask (dense) has every entry active.
function masks.flat(L) return L.module.mask and L.module.mask:clone():view(-1) or torch.ones(L.n) end
function masks.active(L) return L.module.mask and L.module.mask:view(-1):nonzero() or torch.range(1, L.n) end
function masks.count(L) return L.module.mask and math.floor(L.module.mask:sum() + 0.5) or L.n end

-- |θ| at the given positions.
function masks.magnitudes(L, positions) return L.module.weight:view(-1):index(1, positions):abs() end

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
  local free = L.n - masks.count(L)
  assert(free >= k, 'fewer free positions than connections to grow')
  if free < L.n / 2 or free < 4 * k then return masks.draw(masks.flat(L):mul(-1):add(1), k) end
  local mask = L.module.mask:view(-1)
  local out, taken, n = {}, {}, L.n
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
function masks.newValues(L, k, big)
  if big then return torch.randn(k):mul(1 / math.sqrt(L.fanIn)) end
  return torch.zeros(k)
end

-- Prunes `pruned` and grows `grown` (disjoint position sets) in one mask change: pruned
-- entries become 0 (the original zeroes every unused entry), grown ones start at their new
-- value with no optimiser state. The change is written into the installed mask (m.mask) and
-- the effective weights in place, O(k) for k positions: the stored values the Parameter
-- kept aside at setMask are never let through again (nothing here calls removeMask), so
-- every inactive entry is 0 and a grown one has exactly the value written here.
function masks.rewire(L, pruned, grown, optimizer, big)
  if not L.module.mask then L.module:setMask(torch.ones(L.shape)) end
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
