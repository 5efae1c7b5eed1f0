-- The reference tool's course model conv48-2 (evcu/cv2016 hw3): a VGG-style net for 3x48x48
-- images and 43 classes, 13 3x3 convolutions each followed by batch normalisation (eps 1e-3)
-- and ReLU, in blocks of 32,32 | 64,64 | 128,128 | 256x3 | 512x3 | 512x3 channels with a
-- ceil-mode 2x2 max pooling after each block (48 -> 24 -> 12 -> 6 -> 3 -> 2 -> 1), dropout
-- inside the blocks, then a 512-512-43 classifier.
require 'nn'

local net = nn.Sequential()

-- conv 3x3 (pad 1) + batch norm + ReLU, with a dropout after it when `drop` is given.
local function convBNReLU(nIn, nOut, drop)
   net:add(nn.SpatialConvolution(nIn, nOut, 3, 3, 1, 1, 1, 1))
   net:add(nn.SpatialBatchNormalization(nOut, 1e-3))
   net:add(nn.ReLU(true))
   if drop then net:add(nn.Dropout(drop)) end
end

local function pool() net:add(nn.SpatialMaxPooling(2, 2, 2, 2):ceil()) end

local blocks = {
   {32, 32}, {64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512},
}
local drops = { 0.3, 0.4, 0.4, 0.4, 0.4, 0.4 }
local nIn = 3
for b, widths in ipairs(blocks) do
   for i, nOut in ipairs(widths) do
      -- every convolution of a block but its last is followed by a dropout
      convBNReLU(nIn, nOut, i < #widths and drops[b] or nil)
      nIn = nOut
   end
   pool()
end

net:add(nn.View(512))
net:add(nn.Dropout(0.5))
net:add(nn.Linear(512, 512))
net:add(nn.BatchNormalization(512))
net:add(nn.ReLU(true))
net:add(nn.Dropout(0.5))
net:add(nn.Linear(512, 43))

return net
