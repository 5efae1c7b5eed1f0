-- The reference tool's course model conv4 (evcu/cv2016 hw3, traffic signs): an AlexNet-like
-- net for 3x64x64 images and 43 classes. Large kernels: 11x11 stride 2, then 5x5.
-- `workbench bench --nets conv4` times it beside PyTorch's equivalent (../shared/bench).
require 'nn'

local net = nn.Sequential()
net:add(nn.SpatialConvolution(3, 64, 11, 11, 2, 2, 2, 2))   -- 64x29x29
net:add(nn.ReLU(true))
net:add(nn.SpatialMaxPooling(3, 3, 2, 2))                   -- 64x14x14
net:add(nn.SpatialConvolution(64, 192, 5, 5))               -- 192x10x10
net:add(nn.ReLU(true))
net:add(nn.SpatialMaxPooling(2, 2, 2, 2))                   -- 192x5x5
net:add(nn.View(192 * 5 * 5))
net:add(nn.Dropout(0.5))
net:add(nn.Linear(192 * 5 * 5, 1000))
net:add(nn.ReLU())
net:add(nn.Dropout(0.5))
net:add(nn.Linear(1000, 43))

return net
