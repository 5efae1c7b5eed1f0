-- IMP's masks (phiandark/SiftingFeatures' Utils.get_mask), over the weights W and the biases
-- b of each pruned layer together (a convolution: W only, it has no bias).
local masks = {}

-- Number of entries a layer's mask covers: W and b (a convolution: W).
function masks.size(info)
  return info.linear.weight:numel() + (info.noBias and 0 or info.outputs)
end

-- The layer's current masks {W = ..., b = ...} (ones where there is none).
function masks.current(info)
  local m = info.linear
  return {W = m.mask and m.mask:clone() or torch.ones(m.weight:size()),
          b = m.biasMask and m.biasMask:clone() or torch.ones(info.outputs)}
end

-- Installs {W, b} on the layer (a convolution's bias mask stays all zero).
function masks.install(info, mask)
  info.linear:setMask(mask.W)
  if not info.noBias then info.linear:setMask(mask.b, 'bias') end
end

-- The mask that prunes the fraction `ratio` of the layer (pruned entries count): with
-- s = |W| * M_W and |b| * M_b of the snapshot ranked together (n entries) and
-- k = floor(ratio * n), the threshold is the (k+1)-th smallest s, and an entry is kept when
-- s >= threshold (the original's rule: exactly k pruned unless values tie at it), and when
-- the old mask kept it (what was pruned stays pruned). k = n prunes everything.
function masks.prune(info, snap, old, ratio)
  local nW = info.linear.weight:numel()
  local nb = info.noBias and 0 or info.outputs
  local n = nW + nb
  local scores = torch.Tensor(n)
  local w = snap.W:clone():abs():cmul(old.W)
  scores:narrow(1, 1, nW):copy(w)
  local b
  if nb > 0 then
    b = snap.b:clone():abs():cmul(old.b)
    scores:narrow(1, nW + 1, nb):copy(b)
  end
  local k = math.floor(ratio * n)
  if k >= n then
    return {W = torch.zeros(old.W:size()), b = torch.zeros(info.outputs)}
  end
  local threshold = k == 0 and -1 or scores:kthvalue(k + 1)
  local mask = {W = w:ge(threshold):cmul(old.W)}
  mask.b = nb > 0 and b:ge(threshold):cmul(old.b) or old.b:clone()
  return mask
end

-- A random initial mask on W (init_sparsity s): each weight removed with probability s
-- (uniform < s), biases kept; from torch's generator.
function masks.random(info, sparsity)
  return {W = torch.rand(info.linear.weight:size()):ge(sparsity), b = torch.ones(info.outputs)}
end

-- Fraction of the layer's entries the mask keeps (W and b together).
function masks.density(info, mask)
  local kept = mask.W:sum() + (info.noBias and 0 or mask.b:sum())
  return kept / masks.size(info)
end

-- Fraction of the layer's output units that keep at least one incoming weight (biases
-- ignored): the original's NNConn for one layer.
function masks.connected(info, mask)
  return mask.W:view(info.outputs, -1):sum(2):gt(0):sum() / info.outputs
end

-- Incoming connections kept per output unit, as a table.
function masks.incoming(info, mask)
  local per = mask.W:view(info.outputs, -1):sum(2):view(-1)
  local t = {}
  for i = 1, info.outputs do t[i] = math.floor(per[i] + 0.5) end
  return t
end

return masks
