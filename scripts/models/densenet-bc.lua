-- DenseNet-BC for CIFAR-10 (Huang et al. 2017, "Densely Connected Convolutional Networks":
-- bottleneck layers and compression 0.5; growth rate k = 12 by default, as FreezeOut uses it):
-- a 3x3 convolution to 2k planes, three dense blocks of n = (depth - 4)/6 bottleneck layers
-- with a transition after the first two, then batch norm, ReLU, 8x8 average pooling and
-- Linear(planes, 10). A bottleneck layer keeps its input and adds k planes:
--   x -> ConcatTable{Identity, BN-ReLU-conv1x1(4k)-BN-ReLU-conv3x3(k)} -> JoinTable(1, 3)
-- (channels of 3D images and of 4D batches); a transition is BN-ReLU-conv1x1 to
-- ⌊planes/2⌋ planes and 2x2 average pooling. Convolutions have no bias. Input 3x32x32.
-- Parameters (Tests/BridgeTests/ModelZooTests): DenseNet-BC-100 (k = 12) 769,162 (the
-- paper's 0.8M), DenseNet-BC-40 176,122.
--
--   dofile('scripts/models/densenet-bc.lua')              -- depth 100, k = 12
--   loadfile('scripts/models/densenet-bc.lua')(40 [, 12])  -- depth, growth rate
require 'nn'

-- Arguments may be numbers or strings (`workbench run FILE 40 12`); a require gives none.
local depth, k = ...
depth = tonumber(depth)
if not depth then k = nil end
depth, k = depth or 100, tonumber(k) or 12
assert((depth - 4) % 6 == 0 and depth >= 10, 'DenseNet-BC: depth must be 6n+4 (40, 100, 190, 250), got ' .. tostring(depth))
local n = (depth - 4) / 6

local function bottleneck(planes)
  local branch = nn.Sequential()
    :add(nn.SpatialBatchNormalization(planes)):add(nn.ReLU(true))
    :add(nn.SpatialConvolution(planes, 4 * k, 1, 1, 1, 1, 0, 0, false))
    :add(nn.SpatialBatchNormalization(4 * k)):add(nn.ReLU(true))
    :add(nn.SpatialConvolution(4 * k, k, 3, 3, 1, 1, 1, 1, false))
  return nn.Sequential()
    :add(nn.ConcatTable():add(nn.Identity()):add(branch))
    :add(nn.JoinTable(1, 3))
end

local function transition(planes, out)
  return nn.Sequential()
    :add(nn.SpatialBatchNormalization(planes)):add(nn.ReLU(true))
    :add(nn.SpatialConvolution(planes, out, 1, 1, 1, 1, 0, 0, false))
    :add(nn.SpatialAveragePooling(2, 2, 2, 2))
end

local net = nn.Sequential()
local planes = 2 * k
net:add(nn.SpatialConvolution(3, planes, 3, 3, 1, 1, 1, 1, false))
for b = 1, 3 do
  local dense = nn.Sequential()
  for _ = 1, n do
    dense:add(bottleneck(planes))
    planes = planes + k
  end
  net:add(dense)
  if b < 3 then
    local out = math.floor(planes * 0.5)
    net:add(transition(planes, out))
    planes = out
  end
end
net:add(nn.SpatialBatchNormalization(planes)):add(nn.ReLU(true))
net:add(nn.SpatialAveragePooling(8, 8))
net:add(nn.View(planes):setNumInputDims(3))
net:add(nn.Linear(planes, 10))
return net
