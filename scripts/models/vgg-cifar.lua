-- VGG-11 and VGG-16 for CIFAR-10 (Simonyan & Zisserman 2015, configurations A and D, in the
-- CIFAR form of kuangliu/pytorch-cifar): 3x3 convolutions with padding 1, each followed by
-- batch norm and ReLU, 2x2 max pooling where the configuration says M, down to 512x1x1, then
-- Linear(512, 10). Input 3x32x32.
-- Parameters (Tests/BridgeTests/ModelZooTests): VGG-11 9,231,114, VGG-16 14,728,266, as
-- PyTorch counts the same nets.
--
--   dofile('scripts/models/vgg-cifar.lua')            -- VGG-16
--   loadfile('scripts/models/vgg-cifar.lua')(11)      -- VGG-11
require 'nn'

-- The argument may be a number or a string (`workbench run FILE 11`); a require gives none.
local depth = tonumber((...)) or 16
local configurations = {
  [11] = {64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'},
  [13] = {64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'},
  [16] = {64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'},
  [19] = {64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'},
}
local cfg = assert(configurations[depth], 'VGG for CIFAR: depth 11, 13, 16 or 19, got ' .. tostring(depth))

local net = nn.Sequential()
local planes = 3
for _, v in ipairs(cfg) do
  if v == 'M' then
    net:add(nn.SpatialMaxPooling(2, 2, 2, 2))
  else
    net:add(nn.SpatialConvolution(planes, v, 3, 3, 1, 1, 1, 1))
    net:add(nn.SpatialBatchNormalization(v))
    net:add(nn.ReLU(true))
    planes = v
  end
end
net:add(nn.View(512):setNumInputDims(3))
net:add(nn.Linear(512, 10))
return net
