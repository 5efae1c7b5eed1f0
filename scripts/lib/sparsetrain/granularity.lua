-- Sub-kernel granularity (the original's --sub-kernel-granularity g, its SparseTensor's
-- mask of size tensor_size[:g]): a convolution weight θ of shape [out, in, kh, kw] is masked
-- by a 0/1 tensor B over its first g dimensions,
--   W[o, i, y, x] = B[o, i, y, x restricted to the first g indices] · θ[o, i, y, x],
-- so g = 4 masks each weight, g = 3 each kernel row (kw weights), g = 2 each kernel patch
-- (kh·kw weights: the original's default), g = 1 each output filter (in·kh·kw weights).
-- A unit of B covers u = ∏_{d>g} size_d weights which, the weight being contiguous
-- row-major, are the u consecutive flat positions (b − 1)·u + 1 .. b·u of unit b (1-based).
-- A unit's magnitude, for pruning, is its mean |θ|: (Σ over its weights |θ|)/u, as the
-- original's prune_small_connections and prune_threshold compute it. Its active weight
-- count is (active units)·u (the original's get_sparsity).
local granularity = {}

-- The mask's shape (the first g sizes of `shape`, a table), the unit size u and the number
-- of units; g must be 1..#shape.
function granularity.layout(shape, g)
  if g < 1 or g > #shape or g ~= math.floor(g) then
    error(string.format('sub-kernel granularity %s: a %d-dimensional weight is masked over its first 1 to %d dimensions',
      tostring(g), #shape, #shape), 0)
  end
  local maskShape, unit, n = {}, 1, 1
  for d = 1, #shape do
    if d <= g then maskShape[d] = shape[d]; n = n * shape[d] else unit = unit * shape[d] end
  end
  return maskShape, unit, n
end

-- The flat per-weight mask of a flat unit mask: each entry repeated u times.
function granularity.expand(blocks, unit)
  if unit == 1 then return blocks:clone() end
  return blocks:view(blocks:nElement(), 1):repeatTensor(1, unit):view(-1)
end

-- The weight positions of the unit positions P (a 1D tensor, 1-based), unit by unit.
function granularity.positions(P, unit)
  if unit == 1 or #P == 0 then return P end
  local out, k = {}, 0
  for j = 1, #P do
    local base = (math.tointeger(P[j]) - 1) * unit
    for i = 1, unit do k = k + 1; out[k] = base + i end
  end
  return torch.Tensor(out)
end

-- Each unit's mean |θ| (a flat tensor over units) of the weight tensor w.
function granularity.means(w, unit)
  local n = w:nElement() // unit
  return torch.abs(w:view(n, unit)):sum(2):view(-1):div(unit)
end

return granularity
