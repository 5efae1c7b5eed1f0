-- Wide ResNet WRN-d-k for CIFAR-10 (Zagoruyko & Komodakis 2016, "Wide Residual Networks";
-- the DSR seed's cifar10_WideResNet, IntelAI/dynamic-reparameterization, in the layout of
-- xternalz/WideResNet-pytorch): a 3x3 convolution to 16 planes, three stages of
-- n = (d - 4)/6 pre-activation blocks with 16k, 32k and 64k planes (stride 2 at the start of
-- stages 2 and 3), batch norm, ReLU, 8x8 average pooling, Linear(64k, 10). A block is
--   BN-ReLU -> ConcatTable{conv3x3-BN-ReLU-[Dropout]-conv3x3, shortcut} -> CAddTable,
-- the shortcut the identity, or a 1x1 convolution where the planes change. The shared
-- BN-ReLU is where the original applies it to both paths when the planes change; an
-- identity shortcut takes x itself (so the first BN-ReLU is inside the residual path there).
-- Convolutions have no bias. Input 3x32x32.
-- Parameters (Tests/BridgeTests/ModelZooTests): WRN-28-10 36,479,194 (the paper's 36.5M),
-- WRN-16-4 2,748,890 (2.7M), WRN-28-2 1,467,610.
--
--   dofile('scripts/models/wide-resnet.lua')                   -- WRN-28-10
--   loadfile('scripts/models/wide-resnet.lua')(16, 4 [, 0.3])  -- depth, widen factor (may be fractional), dropout
require 'nn'

-- Arguments may be numbers or strings (`workbench run FILE 16 4`); a require gives none.
local depth, widen, dropout = ...
depth = tonumber(depth)
if not depth then widen, dropout = nil, nil end
depth, widen, dropout = depth or 28, tonumber(widen) or 10, tonumber(dropout) or 0
assert((depth - 4) % 6 == 0 and depth >= 10, 'Wide ResNet: depth must be 6n+4 (16, 22, 28, 40), got ' .. tostring(depth))
assert(widen > 0, 'Wide ResNet: the widen factor must be positive, got ' .. tostring(widen))
local n = (depth - 4) / 6

-- A fractional widen factor (the DSR seed's thin dense baselines, e.g. 0.75) gives widths
-- rounded as numpy's round, half to even: 16k, 32k, 64k.
local function round(x)
  local f = math.floor(x)
  if x - f ~= 0.5 then return math.floor(x + 0.5) end
  return f % 2 == 0 and f or f + 1
end

local function block(nIn, nOut, stride)
  local residual = nn.Sequential()
  if nIn == nOut then
    residual:add(nn.SpatialBatchNormalization(nIn)):add(nn.ReLU(true))
  end
  residual:add(nn.SpatialConvolution(nIn, nOut, 3, 3, stride, stride, 1, 1, false))
    :add(nn.SpatialBatchNormalization(nOut)):add(nn.ReLU(true))
  if dropout > 0 then residual:add(nn.Dropout(dropout)) end
  residual:add(nn.SpatialConvolution(nOut, nOut, 3, 3, 1, 1, 1, 1, false))
  local s = nn.Sequential()
  local shortcut
  if nIn == nOut then
    shortcut = nn.Identity()
  else
    s:add(nn.SpatialBatchNormalization(nIn)):add(nn.ReLU(true))
    shortcut = nn.SpatialConvolution(nIn, nOut, 1, 1, stride, stride, 0, 0, false)
  end
  return s:add(nn.ConcatTable():add(residual):add(shortcut)):add(nn.CAddTable(true))
end

local widths = {round(16 * widen), round(32 * widen), round(64 * widen)}
assert(widths[1] >= 1, 'Wide ResNet: the widen factor ' .. tostring(widen) .. ' leaves a stage without planes')
local net = nn.Sequential()
net:add(nn.SpatialConvolution(3, 16, 3, 3, 1, 1, 1, 1, false))
local planes = 16
for stage, width in ipairs(widths) do
  for i = 1, n do
    net:add(block(planes, width, (stage > 1 and i == 1) and 2 or 1))
    planes = width
  end
end
net:add(nn.SpatialBatchNormalization(planes)):add(nn.ReLU(true))
net:add(nn.SpatialAveragePooling(8, 8))
net:add(nn.View(planes):setNumInputDims(3))
net:add(nn.Linear(planes, 10))
return net
