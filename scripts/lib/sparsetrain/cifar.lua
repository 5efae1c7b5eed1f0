-- CIFAR-10's input transform for cifar10_WideResNet, as the original's loader
-- (torchvision: ToTensor, in training with --augment the reflection padding by 4, RandomCrop(32),
-- RandomHorizontalFlip, then Normalize(mean, std)), as the first module of the net:
--   nn.SparseTrainCIFARInput(augment): in training mode with augment = 1, each image x
--     (3x32x32) becomes x'[c, i, j] = x[c, r(i + dy − 4), r(j' + dx − 4)], with dy, dx drawn
--     uniformly from {0, ..., 8} (the crop's corner in the 40x40 padded image), j' = 33 − j when
--     the image is flipped (probability 1/2) and j otherwise, and r the reflection of a 1-based
--     index into 1..32 (r(0) = 2, r(−1) = 3, r(33) = 31: PyTorch's 'reflect' padding, the
--     edge not repeated); in evaluation mode (and with augment = 0) x' = x. Then per channel
--     y = (255·v − μ_c)/σ_c with v = the pixel in [0, 1] (the workbench's images hold
--     byte/256, so 255·v = 256·x), μ = (125.3, 123.0, 113.9), σ = (63.0, 62.1, 66.7): the
--     original's Normalize(mean = μ/255, std = σ/255).
-- The draws are torch's generator (3 per image: dy, dx, flip), so runs are deterministic and
-- --resume restores them. The module is the data's: no gradient flows into the images (its
-- input gradient is 0).
local cifar = {}

local mean, std = {125.3, 123.0, 113.9}, {63.0, 62.1, 66.7}
local C, H, W = 3, 32, 32

local Input, parent = torch.class('nn.SparseTrainCIFARInput', 'nn.Module')

function Input:__init(augment)
  parent.__init(self)
  self.augment = augment
  self.gathers = {}   -- the flat gather index of each (dy, dx, flip), made when first used
end

-- The reflection of a 1-based index into 1..n.
local function reflect(i, n)
  if i < 1 then return 2 - i end
  if i > n then return 2 * n - i end
  return i
end

-- Flat positions (1-based, over C·H·W) that the transformed image reads, for crop corner
-- (dy, dx) in 0..8 and a flip.
function cifar.gather(dy, dx, flip)
  local out, k = {}, 0
  for c = 0, C - 1 do
    for i = 1, H do
      local si = reflect(i + dy - 4, H)
      for j = 1, W do
        local jj = flip and (W + 1 - j) or j
        local sj = reflect(jj + dx - 4, W)
        k = k + 1
        out[k] = c * H * W + (si - 1) * W + sj
      end
    end
  end
  return torch.Tensor(out)
end

-- The per-element scale 256/σ_c and shift −μ_c/σ_c over one image (flat), repeated n times.
local function affine(n)
  local scale, shift = torch.Tensor(C * H * W), torch.Tensor(C * H * W)
  for c = 1, C do
    scale:narrow(1, (c - 1) * H * W + 1, H * W):fill(256 / std[c])
    shift:narrow(1, (c - 1) * H * W + 1, H * W):fill(-mean[c] / std[c])
  end
  return scale:repeatTensor(n, 1), shift:repeatTensor(n, 1)
end

function Input:updateOutput(input)
  local n = input:size(1)
  local x = input:view(n, C * H * W)
  local out
  if self.augment == 1 and self.isTraining then
    out = torch.Tensor(n, C * H * W)
    local r = torch.rand(n, 3)
    for b = 1, n do
      local dy, dx = math.min(math.floor(r[b][1] * 9), 8), math.min(math.floor(r[b][2] * 9), 8)
      local flip = r[b][3] < 0.5
      local key = (dy * 9 + dx) * 2 + (flip and 1 or 0)
      local g = self.gathers[key]
      if not g then g = cifar.gather(dy, dx, flip); self.gathers[key] = g end
      out[b]:copy(x[b]:index(1, g))
    end
  else
    out = x:clone()
  end
  if self.rows ~= n then
    self.scale, self.shift = affine(n)
    self.rows = n
  end
  self.output = out:cmul(self.scale):add(self.shift):view(n, C, H, W)
  return self.output
end

function Input:updateGradInput(input, gradOutput)
  self.gradInput = torch.zeros(input:size())
  return self.gradInput
end

return cifar
