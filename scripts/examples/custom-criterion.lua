-- A pruning criterion written in Lua: |w| scaled by the root mean square of the input that
-- each weight multiplies (for a Linear layer, weight (o, i) sees input feature i), so that a
-- large weight on an input that is almost always 0 still counts as unimportant.
-- All the arithmetic runs in Swift on whole tensors; there is no per-weight Lua loop.
--
--   workbench run scripts/examples/custom-criterion.lua [model.safetensors] [dataset] [layer] [fraction]
-- The same criterion from the command line (this file registers it when given as -prunerFile):
--   workbench -l 8 -p 0.9 -pruner activation-weighted -prunerFile scripts/examples/custom-criterion.lua

wb.registerPruner('activation-weighted', function(ctx)
  -- ctx.weight: the layer's weights [out, ...]; ctx:inputSecondMoment(): E[x^2] over the
  -- scoring set of the input each row of weights multiplies (shape of one row: [in] for a
  -- Linear layer, [planes, kH, kW] for a convolution).
  local rms = ctx:inputSecondMoment():sqrt()
  local scores = torch.abs(ctx.weight)
  for o = 1, scores:size(1) do scores[o]:cmul(rms) end   -- one call per output unit, not per weight
  return scores
end)

-- Run as a script: compare the criterion with magnitude pruning on one layer.
if arg and arg[0] and arg[0]:match('custom%-criterion%.lua$') then
  local modelPath = arg[1] or 'inp/lenet5.safetensors'
  local train, test = wb.loadData(arg[2] or 'fashion-mnist')
  local layer, fraction = tonumber(arg[3] or '8'), tonumber(arg[4] or '0.9')
  local scoring = train:subset(1000, 0)
  for _, pruner in ipairs({'mag', 'activation-weighted'}) do
    local model = wb.loadModel(modelPath)
    wb.prune(model, layer, fraction, {pruner = pruner, data = scoring})
    print(string.format('%-20s layer %d at %.0f%%: test error %.2f%%', pruner, layer, 100 * fraction,
      (wb.test(model, test))))
  end
end
