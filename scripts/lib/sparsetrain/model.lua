-- The networks of `workbench sparse-train` (the original's model.py), and the original's
-- initialisation (cifar10_WideResNet: model.wideResNet below):
--   mnist_mlp: View(784) -> Linear(784, 300) -> BN(300) -> ReLU -> Linear(300, 100) -> BN(100)
--              -> ReLU -> Linear(100, 10) -> BN(10): batch norm after every Linear, the logits'
--              too, and no biases; with --no-batch-norm no batch norm, biases instead, and the
--              input normalised (x - 0.1307)/0.3081 as the original's loader does.
--   Weights θ ~ U(±1/sqrt(fan_in)) with the dense fan-in; batch norm γ ~ U(0, 1), β = 0
--   (PyTorch 0.4.1's BatchNorm1d, the original's version; eps 1e-5, momentum 0.1).
-- With batch norm the input normalisation is left out: BN(W((x - μ)/σ)) = BN(Wx) as a function
-- of W (a bias-free Linear followed by batch norm is invariant to that affine map, up to eps).
local model = {}

local Normalize, parent = torch.class('nn.SparseTrainNormalize', 'nn.Module')
-- y = (x - mean)/std, elementwise (the loader's transforms.Normalize, in the net).
function Normalize:__init(mean, std)
  parent.__init(self)
  self.mean, self.std = mean, std
end
function Normalize:updateOutput(input)
  self.output = (input - self.mean) / self.std
  return self.output
end
function Normalize:updateGradInput(input, gradOutput)
  self.gradInput = gradOutput / self.std
  return self.gradInput
end

-- Hidden widths {h1, h2} of the thin dense mnist_mlp: 784·300a + 300a·100a + 100a·10 = budget
-- solved for a (the width factor of both hidden layers), rounded, at least 1 each.
function model.thinWidths(budget)
  local A, B, C = 300 * 100, 784 * 300 + 100 * 10, -budget
  local a = (-B + math.sqrt(B * B - 4 * A * C)) / (2 * A)
  return {math.max(1, math.floor(300 * a + 0.5)), math.max(1, math.floor(100 * a + 0.5))}
end

-- net, layers: the model and its weight layers {module = Linear, position = index in net,
-- fanIn, n = elements, shape}. `widths` = {h1, h2} (default {300, 100}).
function model.mnistMLP(batchNorm, widths)
  widths = widths or {300, 100}
  local sizes = {784, widths[1], widths[2], 10}
  local net = nn.Sequential():add(nn.View(784))
  if not batchNorm then net:add(nn.SparseTrainNormalize(0.1307, 0.3081)) end
  local layers = {}
  for l = 1, 3 do
    local fc = nn.Linear(sizes[l], sizes[l + 1], not batchNorm)
    net:add(fc)
    layers[l] = {module = fc, position = #net, fanIn = sizes[l], n = sizes[l] * sizes[l + 1],
                 shape = fc.weight:size(), name = string.format('fc%d (%d -> %d)', l, sizes[l], sizes[l + 1])}
    if batchNorm then
      local bn = nn.BatchNormalization(sizes[l + 1], 1e-5, 0.1)
      net:add(bn)
      layers[l].bn = bn
    end
    if l < 3 then net:add(nn.ReLU()) end
  end
  return net, layers
end

-- The original's initialisation (drawn from torch's generator).
function model.initialise(layers)
  for _, L in ipairs(layers) do
    local stdv = 1 / math.sqrt(L.fanIn)
    L.module.weight = torch.Tensor(L.shape):uniform(-stdv, stdv)
    if L.module.bias then L.module.bias = torch.Tensor(L.module.bias:size()):uniform(-stdv, stdv) end
    if L.bn then
      L.bn.weight = torch.Tensor(L.bn.weight:size()):uniform(0, 1)
      L.bn.bias = torch.zeros(L.bn.bias:size())
    end
  end
end

-- cifar10_WideResNet (the original's model.py; the net of scripts/models/wide-resnet.lua,
-- WRN-depth-widen, with widths round(16k), round(32k), round(64k)), behind the input transform
-- of lib/sparsetrain/cifar.lua. Its layers as the original parameterises them:
--   sparse: every 3x3 convolution of the residual blocks (its DynamicConv2d), masked at the
--     granularity g (lib/sparsetrain/granularity.lua);
--   dense: the first convolution (3 -> 16), the 1x1 shortcut convolutions (nn.Conv2d; sparse
--     too with `sparseShortcuts`, --sparse-resnet-downsample, which the original reads for its
--     ResNet-50 only), batch norm and the Linear (nn.Linear: the original's DynamicLinear for
--     it is commented out).
-- Returns net and the sparse layers' records {module, path (Torch path in net), key (the
-- model file's 0-based name), fanIn = in·kh·kw, n, shape, unit, units, newStd =
-- sqrt(2/(kh·kw·out)), name}.
function model.wideResNet(depth, widen, g, augment, sparseShortcuts)
  local granularity = require 'lib.sparsetrain.granularity'
  require 'lib.sparsetrain.cifar'
  local path = assert(package.searchpath('models.wide-resnet', package.path), 'cannot find scripts/models/wide-resnet.lua')
  local wrn = assert(loadfile(path))(depth, widen)
  local net = nn.Sequential():add(nn.SparseTrainCIFARInput(augment and 1 or 0))
  for i = 1, #wrn do net:add(wrn:get(i)) end
  local leaves, paths = wb.layers(net)
  local layers, convs = {}, 0
  for i, m in ipairs(leaves) do
    if torch.type(m) == 'nn.SpatialConvolution' then
      convs = convs + 1
      local s = m.weight:size()
      local out, inp, kh, kw = s[1], s[2], s[3], s[4]
      local first, shortcut = convs == 1, kh == 1 and kw == 1
      if not first and (not shortcut or sparseShortcuts) then
        local _, unit, units = granularity.layout({out, inp, kh, kw}, g)
        local key = {}
        for part in paths[i]:gmatch('%d+') do key[#key + 1] = tostring(tonumber(part) - 1) end
        layers[#layers + 1] = {module = m, path = paths[i], key = table.concat(key, '.'), fanIn = inp * kh * kw,
                               n = out * inp * kh * kw, shape = s, unit = unit, units = units,
                               newStd = math.sqrt(2 / (kh * kw * out)),
                               name = string.format('conv%d (%d -> %d, %dx%d) at %s', convs, inp, out, kh, kw, paths[i])}
      end
    end
  end
  return net, layers
end

-- The original's initialisation of the wide ResNet (its reset_parameters): every convolution
-- θ ~ N(0, 2/(kh·kw·out)) (He et al.'s, fan-out), batch norm γ = 1, β = 0, the Linear's
-- weight U(±1/√fan_in) (PyTorch 0.4.1's default) and its bias 0.
function model.initialiseWideResNet(net)
  for _, m in ipairs(wb.layers(net)) do
    local t = torch.type(m)
    if t == 'nn.SpatialConvolution' then
      local s = m.weight:size()
      m.weight = torch.Tensor(s):normal(0, math.sqrt(2 / (s[3] * s[4] * s[1])))
    elseif t == 'nn.SpatialBatchNormalization' then
      m.weight = torch.ones(m.weight:size())
      m.bias = torch.zeros(m.bias:size())
    elseif t == 'nn.Linear' then
      local stdv = 1 / math.sqrt(m.weight:size(2))
      m.weight = torch.Tensor(m.weight:size()):uniform(-stdv, stdv)
      m.bias = torch.zeros(m.bias:size())
    end
  end
end

return model
