-- The IMP network of an architecture string (phiandark/SiftingFeatures' Network.py), built
-- from the layer list `workbench imp` parsed ({kind = 'f', units = 300, prune = true}, ...):
--   f<n>: [View(flatten)] BatchNormalization(in, eps 1e-10) -> Linear(in, n) -> ReLU
--   x:    BatchNormalization(in, eps 1e-10) -> Linear(in, classes)
--   c<k>,<cout>[,<s>]: SpatialConvolution(cin, cout, k, k, s, s), VALID, no bias -> ReLU
--   p<k>,<s>: SpatialMaxPooling(k, k, s, s), VALID
-- Batch norm is on each fully connected layer's input, with the running average
-- amv <- beta*amv + (1 - beta)*batch (module momentum 1 - beta), restarted every iteration.
local network = {}

-- Output side of a VALID window k with stride s over `side`: floor((side - k)/s) + 1.
local function valid(side, k, s, where)
  if side < k then error(string.format('%s: a %dx%d window does not fit the %dx%d input', where, k, k, side, side), 0) end
  return (side - k) // s + 1
end

-- net, layers: the model and, per architecture layer, {index = l, kind, prune, linear = the
-- module with W and b, bn = its input batch norm, inputs = fan in, outputs = fan out}.
-- `shape` = {channels, height, width, classes}; `place` names the arch key in errors.
function network.build(layers, shape, beta, place)
  local net = nn.Sequential()
  local c, h, w = shape.channels, shape.height, shape.width
  local flat = nil              -- the feature count once flattened
  local out = {}
  for l, layer in ipairs(layers) do
    local where = string.format('%s: layer %d (%s)', place, l, layer.kind)
    local info = {index = l, kind = layer.kind, prune = layer.prune}
    if layer.kind == 'f' or layer.kind == 'x' then
      if not flat then
        flat = c * h * w
        net:add(nn.View(flat))
      end
      local units = layer.kind == 'f' and layer.units or shape.classes
      info.bn = nn.BatchNormalization(flat, 1e-10, 1 - beta)
      info.linear = nn.Linear(flat, units)
      info.inputs, info.outputs = flat, units
      net:add(info.bn):add(info.linear)
      if layer.kind == 'f' then net:add(nn.ReLU()) end
      flat = units
    elseif layer.kind == 'c' then
      local k, s = layer.kernel, layer.stride
      local nh, nw = valid(h, k, s, where), valid(w, k, s, where)
      info.linear = nn.SpatialConvolution(c, layer.channels, k, k, s, s)
      -- The original's convolutions have no bias: a bias held at 0 by an all-zero mask.
      info.linear:setMask(torch.zeros(layer.channels), 'bias')
      info.inputs, info.outputs = k * k * c, layer.channels
      info.noBias = true
      net:add(info.linear):add(nn.ReLU())
      c, h, w = layer.channels, nh, nw
    elseif layer.kind == 'p' then
      h, w = valid(h, layer.kernel, layer.stride, where), valid(w, layer.kernel, layer.stride, where)
      net:add(nn.SpatialMaxPooling(layer.kernel, layer.kernel, layer.stride, layer.stride))
    end
    out[l] = info
  end
  return net, out
end

-- The original's initialisation, drawn from torch's generator (torch.manualSeed):
-- W ~ N(0, 2/(fan_in + fan_out)) (fully connected: in + out; convolution: k*k*cin + cout),
-- b = 0, batch norm gamma = 1, beta = 0; running averages restarted.
function network.initialise(layers)
  for _, info in ipairs(layers) do
    if info.linear then
      info.linear.weight = torch.Tensor(info.linear.weightOrig:size()):normal(0, math.sqrt(2 / (info.inputs + info.outputs)))
      info.linear.bias = torch.zeros(info.outputs)
    end
    if info.bn then
      info.bn.weight = torch.ones(info.inputs)
      info.bn.bias = torch.zeros(info.inputs)
      info.bn:restartRunningAverage()
    end
  end
end

-- Restarts every batch norm's running average (the next training batch starts it).
function network.restartAverages(layers)
  for _, info in ipairs(layers) do
    if info.bn then info.bn:restartRunningAverage() end
  end
end

-- The state of the network at a step, copied: per layer W (stored, under the mask too), b,
-- gamma, beta, and the running averages (what validation used at that step).
function network.snapshot(layers)
  local s = {}
  for l, info in ipairs(layers) do
    if info.linear then
      local t = {W = info.linear.weightOrig, b = info.linear.biasOrig}
      if info.bn then
        t.gamma, t.beta = info.bn.weight:clone(), info.bn.bias:clone()
        t.mean, t.var = info.bn.runningMean:clone(), info.bn.runningVar:clone()
      end
      s[l] = t
    end
  end
  return s
end

-- Loads W, b, gamma and beta of a snapshot (the masks stay: W_eff = W * M).
function network.load(layers, snap)
  for l, info in ipairs(layers) do
    local t = snap[l]
    if info.linear then
      info.linear.weight = t.W
      info.linear.bias = t.b
      if info.bn then info.bn.weight, info.bn.bias = t.gamma, t.beta end
    end
  end
end

return network
