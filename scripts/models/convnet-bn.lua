-- A small convolutional net in the Torch7 style of 2016 model files: batch normalisation,
-- in-place ReLU, ceil-mode pooling and dropout. Input: 1x28x28 images; output: 10 class
-- scores for nn.CrossEntropyCriterion. The bridge tests run this file unchanged.
require 'nn'

local function convBlock(nIn, nOut, pad)
   local block = nn.Sequential()
   block:add(nn.SpatialConvolution(nIn, nOut, 3, 3, 1, 1, pad, pad))
   block:add(nn.SpatialBatchNormalization(nOut, 1e-3))
   block:add(nn.ReLU(true))
   return block
end

local net = nn.Sequential()
net:add(convBlock(1, 8, 1))                                   -- 8x28x28
   :add(nn.SpatialMaxPooling(3, 3, 2, 2):ceil())              -- 8x14x14 (13x13 with floor)
   :add(convBlock(8, 16, 0))                                  -- 16x12x12
   :add(nn.SpatialMaxPooling(2, 2, 2, 2))                     -- 16x6x6

net:add(nn.View(16 * 6 * 6):setNumInputDims(3))
net:add(nn.Dropout(0.5))
net:add(nn.Linear(16 * 6 * 6, 64))
net:add(nn.BatchNormalization(64))
net:add(nn.ReLU(true))
net:add(nn.Linear(64, 10))

return net
