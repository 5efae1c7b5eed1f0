-- The classic LeNet-5: 6 and 16 channels, 400-120-84-10, tanh activations.
-- Input: 1x28x28 images (padded by the first convolution); output: 10 class scores for
-- nn.CrossEntropyCriterion.
local nn = require 'nn'

local model = nn.Sequential()
model:add(nn.SpatialConvolution(1, 6, 5, 5, 1, 1, 2, 2))   -- 6x28x28
model:add(nn.Tanh())
model:add(nn.SpatialMaxPooling(2, 2, 2, 2))                -- 6x14x14
model:add(nn.SpatialConvolution(6, 16, 5, 5))              -- 16x10x10
model:add(nn.Tanh())
model:add(nn.SpatialMaxPooling(2, 2, 2, 2))                -- 16x5x5
model:add(nn.View(16 * 5 * 5))
model:add(nn.Linear(16 * 5 * 5, 120))
model:add(nn.Tanh())
model:add(nn.Linear(120, 84))
model:add(nn.Tanh())
model:add(nn.Linear(84, 10))

return model
