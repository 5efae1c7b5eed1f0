-- Tied weights (the original's TiedTensor, HashedNet-like, --tied): a layer of n weights has
-- B = round((1 - s)·n) values θ_1..θ_B; position i reads θ_{h(i)}, with h a shuffled balanced
-- cyclic map (the j-th position of a random permutation gets value (j - 1) mod B + 1, so each
-- value covers n/B positions, ±1). The loss gradient of a value is the sum over its positions,
-- ∂L/∂θ_b = Σ_{h(i)=b} ∂L/∂W_i (divided by the count n_b with --rescale-tied-gradient, before
-- the step: the original divides after it, where it has no effect). Every position of a value
-- then gets that same gradient, and the optimiser (SGD, momentum, Nesterov, weight decay:
-- elementwise) moves them identically, so they stay one value; L1 adds λ·sign(θ_b) once per value.
local tied = {}

-- The values are drawn U(±1/√fan_in), or N(0, std²) when `std` is given (the wide ResNet's).
function tied.init(L, s, std)
  local B = math.floor((1 - s) * L.n + 0.5)
  if B < 1 then error(string.format('%s: sparsity %g leaves no tied value', L.name, s), 0) end
  local order = torch.randperm(L.n)
  local h = torch.zeros(L.n)
  local cyclic = {}
  for j = 1, L.n do cyclic[j] = (j - 1) % B + 1 end
  h:indexCopy(1, order, torch.Tensor(cyclic))
  L.buckets, L.values = h, B
  L.tied = wb.TiedWeights(h, B)   -- the map, kept in the engine: one pass per step below
  L.counts = L.tied.counts
  local stdv = 1 / math.sqrt(L.fanIn)
  local bank = std and torch.Tensor(B):normal(0, std) or torch.Tensor(B):uniform(-stdv, stdv)
  L.module.weight = bank:index(1, h):view(L.shape)
end

-- The values θ_b (the positions of a value hold the same number; the last one read wins).
function tied.bank(L)
  return torch.zeros(L.values):indexCopy(1, L.buckets, L.module.weight:view(-1))
end

-- Sums each value's gradient over its positions and gives every position the sum:
-- G = zeros(B):indexAdd(1, buckets, g) (÷ counts with rescale; + l1·sign(bank)), then
-- g = G:index(1, buckets), in one engine pass (wb.TiedWeights, the same bits).
function tied.gradient(L, rescale, l1)
  L.tied:sumGradients(L.module.gradWeight, L.module.weight, rescale, l1)
end

return tied
