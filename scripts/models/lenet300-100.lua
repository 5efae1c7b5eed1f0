-- LeNet-300-100 (Han et al. 2015): a fully connected 784-300-100-10 net with tanh.
-- Input: 1x28x28 images, flattened by the first layer; output: 10 class scores for
-- nn.CrossEntropyCriterion. 266,200 weights.
local nn = require 'nn'

local model = nn.Sequential()
model:add(nn.View(28 * 28))
model:add(nn.Linear(28 * 28, 300))
model:add(nn.Tanh())
model:add(nn.Linear(300, 100))
model:add(nn.Tanh())
model:add(nn.Linear(100, 10))

return model
