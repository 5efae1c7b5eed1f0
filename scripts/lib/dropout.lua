-- Han et al. 2015's dropout adjustment (their eq. 2): pruning leaves a layer fewer connections,
-- so less dropout regularises it. For a layer i with C_io weights before pruning and C_ir kept,
-- the dropout on its inputs goes from the original rate D_o to
--
--   D_r = D_o * sqrt(C_ir / C_io).
--
-- "The dropout on its inputs": the nn.Dropout modules between the previous layer with weights
-- and layer i (in a Sequential, those that drop layer i's connections).
local dropout = {}

-- The original rates: {{layer = i, weights = C_io, dropouts = {{index = j, p = D_o}, ...}}, ...}
-- for every top-level layer with weights that has dropout before it (empty for nets without).
function dropout.rates(model)
  local out, pending = {}, {}
  for j = 1, #model do
    local m = model:get(j)
    if m.__typename == 'nn.Dropout' then
      pending[#pending + 1] = {index = j, p = m.p}
    elseif m.weight then
      if #pending > 0 then out[#out + 1] = {layer = j, weights = m.weight:numel(), dropouts = pending} end
      pending = {}
    end
  end
  return out
end

-- Sets each such dropout's rate to D_o * sqrt(C_r / C_o), C_r the layer's kept weights now
-- (wb.sparsity: its mask's count). Returns the rates set, {[index] = D_r}.
function dropout.scale(model, rates)
  local kept = {}
  local _, rows = wb.sparsity(model)
  for _, r in ipairs(rows) do kept[r.layer] = r.kept end
  local set = {}
  for _, r in ipairs(rates) do
    local factor = math.sqrt(kept[r.layer] / r.weights)
    for _, d in ipairs(r.dropouts) do
      set[d.index] = d.p * factor
      model:get(d.index):setp(set[d.index])
    end
  end
  return set
end

return dropout
