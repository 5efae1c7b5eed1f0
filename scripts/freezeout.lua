-- `workbench freezeout ...`: FreezeOut training (scripts/lib/freezeout.lua). The command line
-- checks the flags and hands them here as the global table `opt` (t_0, how_scale, scale_lr,
-- const_time, epochs, model, data, batch_size, lr, momentum, weight_decay, seed, name,
-- train_size, test_size, out, threads); see `workbench freezeout --help` and docs/freezeout.md.
local freezeout = require 'lib.freezeout'

assert(opt, 'scripts/freezeout.lua is run by `workbench freezeout`, which sets the global `opt`')
freezeout.run(opt)
