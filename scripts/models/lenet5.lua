-- The reference tool's LeNet-5: 96 channels in the second convolution, tanh activations.
-- Input: 1x28x28 images (MNIST, pixels / 256); output: 10 class scores, to be used with
-- nn.CrossEntropyCriterion (so no LogSoftMax at the end). 313,470 weights, 316 biases.
-- Layer indices as the pruner's -l flag uses them: 1, 4 (convolutions), 8, 10, 12 (linear).
local nn = require 'nn'

local model = nn.Sequential()
model:add(nn.SpatialConvolution(1, 6, 5, 5, 1, 1, 2, 2))   -- 6x28x28
model:add(nn.Tanh())
model:add(nn.SpatialMaxPooling(2, 2, 2, 2))                -- 6x14x14
model:add(nn.SpatialConvolution(6, 96, 5, 5))              -- 96x10x10
model:add(nn.Tanh())
model:add(nn.SpatialMaxPooling(2, 2, 2, 2))                -- 96x5x5
model:add(nn.View(25 * 96))
model:add(nn.Linear(25 * 96, 120))
model:add(nn.Tanh())
model:add(nn.Linear(120, 84))
model:add(nn.Tanh())
model:add(nn.Linear(84, 10))

return model
