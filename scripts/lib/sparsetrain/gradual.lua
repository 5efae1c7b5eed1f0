-- Gradual magnitude pruning from a dense model (the original's --prune): after epochs
-- e = start, start + freq, ..., (n prunes, 0-based epochs, --start-pruning-after-epoch,
-- --prune-epoch-frequency, --prune-iterations) each layer prunes the fraction f_k of its
-- active weights of smallest |θ| (int(f_k·active) of them), k = 0..n-1:
--   exponential: f = 1 - (1 - s)^(1/n) every time, so the density after prune k is (1 - s)^((k+1)/n);
--   cubic (--cubic-prune-schedule, Zhu & Gupta): the density after prune k is
--     d_k = 1 - s + s·(1 - (k+1)/n)³, so f_k = 1 - d_k/d_{k-1} (d_{-1} = 1).
-- mnist_mlp with s > 0.9: the 100 -> 10 layer stops at sparsity 0.9 (100 weights) and the
-- other two take the rest of the budget, s' = 1 - ((1 - s)·266200 - 100)/265200.
-- Training lasts start + freq·(n - 1) + --post-prune-epochs epochs.
local masks = require 'lib.sparsetrain.masks'
local gradual = {}

-- The fraction pruned at prune k (0-based) of n for the final sparsity s.
function gradual.fraction(k, n, s, cubic)
  if not cubic then return 1 - (1 - s) ^ (1 / n) end
  local function d(j) return 1 - s + s * (1 - j / n) ^ 3 end
  return 1 - d(k + 1) / d(k)
end

-- The final sparsity of each layer: {s, s, s} or the mnist_mlp special case.
function gradual.targets(layers, s, isMnistMLP)
  local t = {}
  if isMnistMLP and s > 0.9 and #layers == 3 then
    local available = (1 - s) * (784 * 300 + 300 * 100 + 100 * 10) - 100
    local fc = 1 - available / (784 * 300 + 300 * 100)
    t = {fc, fc, 0.9}
  else
    for l = 1, #layers do t[l] = s end
  end
  return t
end

-- Whether to prune after 0-based epoch e, given the prunes done.
function gradual.due(e, done, o)
  return e >= o.start and (e - o.start) % o.freq == 0 and done < o.n
end

-- Prune k (0-based): each layer loses int(f·active) of its smallest |θ|.
function gradual.prune(layers, targets, k, n, cubic)
  for l, L in ipairs(layers) do
    local f = gradual.fraction(k, n, targets[l], cubic)
    local cut = masks.smallest(L, math.floor(f * masks.count(L)))
    masks.rewire(L, cut, torch.Tensor())
  end
end

return gradual
