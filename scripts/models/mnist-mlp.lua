-- mnist_mlp of the dynamic sparse training seed (workbench sparse-train), built by
-- scripts/lib/sparsetrain/model.lua (the one definition): 784-300-100-10 with batch norm after
-- every Linear, the logits' too, and no biases; with `false`, no batch norm and biases.
--
--   dofile('scripts/models/mnist-mlp.lua')            -- with batch norm
--   loadfile('scripts/models/mnist-mlp.lua')(false)   -- --no-batch-norm
local batchNorm = ...
batchNorm = not (batchNorm == false or batchNorm == 'false')
return (require('lib.sparsetrain.model').mnistMLP(batchNorm))
