-- The nets of edge-popup's small-scale experiments (allenai/hidden-networks, models/frankle.py),
-- as nn.Sequential: every convolution and linear layer without bias (as the original's
-- builder), ReLU after all but the last, 2x2 max pooling after each pair of 3x3 convolutions
-- (padding 1), then 256-256-10 fully connected layers.
--   FC:    784-300-100-10 (the input's C·H·W features: 784 for (Fashion-)MNIST)
--   Conv2: 64,64,pool                          | 64·16·16-256-256-10
--   Conv4: 64,64,pool,128,128,pool             | 128·8·8-256-256-10
--   Conv6: 64,64,pool,128,128,pool,256,256,pool | 256·4·4-256-256-10
--   Conv8: ... 512,512,pool                    | 512·2·2-256-256-10
local nets = {}

local convPairs = {Conv2 = {64}, Conv4 = {64, 128}, Conv6 = {64, 128, 256}, Conv8 = {64, 128, 256, 512}}

local function head(net, features)
  net:add(nn.View(features):setNumInputDims(3))
  net:add(nn.Linear(features, 256, false)):add(nn.ReLU())
  net:add(nn.Linear(256, 256, false)):add(nn.ReLU())
  net:add(nn.Linear(256, 10, false))
  return net
end

--- The net `arch` for images of channels x height x width.
function nets.build(arch, channels, height, width)
  if arch == 'FC' then
    local n = channels * height * width
    return nn.Sequential():add(nn.View(n):setNumInputDims(3))
      :add(nn.Linear(n, 300, false)):add(nn.ReLU())
      :add(nn.Linear(300, 100, false)):add(nn.ReLU())
      :add(nn.Linear(100, 10, false))
  end
  local pairs_ = convPairs[arch]
  if not pairs_ then error('unknown net ' .. tostring(arch) .. ' (FC, Conv2, Conv4, Conv6, Conv8)') end
  if channels ~= 3 or height ~= 32 or width ~= 32 then
    error(string.format('%s is a CIFAR-10 net: it needs 3x32x32 images, the data has %dx%dx%d', arch, channels, height, width))
  end
  local net, c, size = nn.Sequential(), 3, 32
  for _, planes in ipairs(pairs_) do
    net:add(nn.SpatialConvolution(c, planes, 3, 3, 1, 1, 1, 1, false)):add(nn.ReLU())
    net:add(nn.SpatialConvolution(planes, planes, 3, 3, 1, 1, 1, 1, false)):add(nn.ReLU())
    net:add(nn.SpatialMaxPooling(2, 2, 2, 2))
    c, size = planes, size // 2
  end
  return head(net, c * size * size)
end

--- The layers with weights (convolutions and linear layers), in order.
function nets.weightLayers(net)
  local layers = {}
  for i = 1, net:size() do
    local t = torch.type(net:get(i))
    if t == 'nn.Linear' or t == 'nn.SpatialConvolution' then layers[#layers + 1] = net:get(i) end
  end
  return layers
end

return nets
