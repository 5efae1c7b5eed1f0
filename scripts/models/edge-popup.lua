-- The nets of edge-popup's small-scale experiments (Conv2, Conv4, Conv6, Conv8, FC), built
-- by scripts/lib/edgepopup/nets.lua (the one definition; read it for the layers).
--
--   dofile('scripts/models/edge-popup.lua')                         -- Conv4 on 3x32x32
--   loadfile('scripts/models/edge-popup.lua')('Conv6' [, 3, 32, 32]) -- arch, C, H, W
--   loadfile('scripts/models/edge-popup.lua')('FC', 1, 28, 28)
local arch, channels, height, width = ...
local known = {FC = true, Conv2 = true, Conv4 = true, Conv6 = true, Conv8 = true}
if not known[arch] then arch, channels, height, width = 'Conv4', nil, nil, nil end
return require('lib.edgepopup.nets').build(arch, tonumber(channels) or 3, tonumber(height) or 32, tonumber(width) or 32)
