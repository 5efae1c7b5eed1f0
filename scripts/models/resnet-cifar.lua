-- ResNet-(6n+2) for CIFAR-10 (He et al. 2016, "Deep Residual Learning for Image Recognition",
-- section 4.2): a 3x3 convolution to 16 planes, three stages of n basic blocks with 16, 32 and
-- 64 planes (the first block of stages 2 and 3 with stride 2), global average pooling over
-- the 8x8 planes, Linear(64, 10). A basic block is
--   x -> ConcatTable{conv3x3-BN-ReLU-conv3x3-BN, shortcut} -> CAddTable -> ReLU.
-- Shortcut option A (the paper's CIFAR choice, the default): identity, and where the block
-- halves the planes' size and doubles their number, subsampling by 2 and zero channels
-- (SpatialAveragePooling(1,1,2,2), then {x, 0·x} joined along the channels); no parameter.
-- Option B: a 1x1 convolution with stride 2 and batch norm there instead.
-- Convolutions have no bias (batch norm follows). Input 3x32x32.
-- Parameters (Tests/BridgeTests/ModelZooTests): option A 269,722 (n = 3, ResNet-20; the
-- paper's "0.27M"), 464,154 (ResNet-32, "0.46M"), 853,018 (ResNet-56, "0.85M"), as
-- akamaster/pytorch_resnet_cifar10 prints them; option B 272,474 for ResNet-20.
--
--   dofile('scripts/models/resnet-cifar.lua')                  -- ResNet-20, option A
--   loadfile('scripts/models/resnet-cifar.lua')(56, 'B')       -- ResNet-56, option B
require 'nn'

-- Arguments may be numbers or strings (`workbench run FILE 56 B`); a require gives none.
local depth, option = ...
depth = tonumber(depth)
if not depth then depth, option = 20, nil end
option = option or 'A'
assert((depth - 2) % 6 == 0 and depth >= 8, 'ResNet for CIFAR: depth must be 6n+2 (20, 32, 44, 56, 110), got ' .. tostring(depth))
assert(option == 'A' or option == 'B', "ResNet for CIFAR: the shortcut option is 'A' or 'B', got " .. tostring(option))
local n = (depth - 2) / 6

local function shortcut(nIn, nOut, stride)
  if nIn == nOut and stride == 1 then return nn.Identity() end
  if option == 'B' then
    return nn.Sequential()
      :add(nn.SpatialConvolution(nIn, nOut, 1, 1, stride, stride, 0, 0, false))
      :add(nn.SpatialBatchNormalization(nOut))
  end
  assert(nOut == 2 * nIn, 'option A doubles the planes')
  return nn.Sequential()
    :add(nn.SpatialAveragePooling(1, 1, stride, stride))
    :add(nn.ConcatTable():add(nn.Identity()):add(nn.MulConstant(0)))
    :add(nn.JoinTable(1, 3))
end

local function basicBlock(nIn, nOut, stride)
  local residual = nn.Sequential()
    :add(nn.SpatialConvolution(nIn, nOut, 3, 3, stride, stride, 1, 1, false))
    :add(nn.SpatialBatchNormalization(nOut))
    :add(nn.ReLU(true))
    :add(nn.SpatialConvolution(nOut, nOut, 3, 3, 1, 1, 1, 1, false))
    :add(nn.SpatialBatchNormalization(nOut))
  return nn.Sequential()
    :add(nn.ConcatTable():add(residual):add(shortcut(nIn, nOut, stride)))
    :add(nn.CAddTable(true))
    :add(nn.ReLU(true))
end

local net = nn.Sequential()
net:add(nn.SpatialConvolution(3, 16, 3, 3, 1, 1, 1, 1, false))
net:add(nn.SpatialBatchNormalization(16))
net:add(nn.ReLU(true))
local planes = 16
for stage, width in ipairs({16, 32, 64}) do
  for i = 1, n do
    net:add(basicBlock(planes, width, (stage > 1 and i == 1) and 2 or 1))
    planes = width
  end
end
net:add(nn.SpatialAveragePooling(8, 8))
net:add(nn.View(64):setNumInputDims(3))
net:add(nn.Linear(64, 10))
return net
